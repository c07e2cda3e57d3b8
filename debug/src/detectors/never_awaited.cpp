// never-awaited: the last task<T> handle of a task was dropped, and nobody called get(),
// result() or exception() on it, nor detach(). Its result and its failure are then lost.
#include "detectors.hpp"

namespace aio::debug::detectors {

void never_awaited(session& s, const task_ref& t) {
    raw_finding r = task_finding(s, t, "never-awaited", "warning");
    r.f.message = t.done() ? "the task had already finished"
                           : "the task keeps running with nobody waiting for it";
    r.title = "task '" + t.name() + "' was never awaited";
    r.f.why = "nobody waits for the task: its result is lost, an exception in it goes unseen, "
              "and it may still be running when the program assumes it is done";
    r.f.fix = "keep the handle and call get() on it (or gather the tasks); if fire-and-forget is "
              "meant, call detach(), or better spawn it on an aio::jobs::scheduler";
    r.f.lesson = "10-fire-and-forget";
    s.report(std::move(r));
}

}  // namespace aio::debug::detectors
