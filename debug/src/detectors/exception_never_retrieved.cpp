// exception-never-retrieved: a task failed and is being destroyed without anyone having seen
// its exception (asyncio's "Task exception was never retrieved"), detached tasks included.
#include "detectors.hpp"

namespace aio::debug::detectors {

void exception_never_retrieved(session& s, const task_ref& t) {
    raw_finding r = task_finding(s, t, "exception-never-retrieved", "error");
    r.f.message = describe_exception(t.base()->exception_);
    r.title = "task '" + t.name() + "' failed and nobody saw it: " + r.f.message;
    r.f.why = "the task's exception was dropped: the failure is silent and whatever the task was "
              "doing is left half done";
    r.f.fix = "get() the task (or gather it) where the error can be handled, or run it on an "
              "aio::jobs::scheduler whose exception_handler sees every failure";
    r.f.lesson = "10-fire-and-forget";
    s.report(std::move(r));
}

}  // namespace aio::debug::detectors
