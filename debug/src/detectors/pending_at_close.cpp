// pending-at-close: tasks still pending when the main task returned; aio::run cancels them,
// but the program left them running: their work is cut short at an arbitrary point.
#include "detectors.hpp"

namespace aio::debug::detectors {

void pending_at_close(session& s, loop&) {
    for (const task_ref& t : aio::all_tasks()) {
        raw_finding r = task_finding(s, t, "pending-at-close", "warning");
        r.f.message = "still pending when the main task returned; aio::run cancels it now";
        r.title = "task '" + t.name() + "' was still pending when the loop closed";
        r.culprit = s.suspension_of(t);
        r.f.why = "the task is cancelled at whatever yield point it waits in: its work is cut "
                  "short and nobody learns whether it finished";
        r.f.fix = "wait for the task before main returns (get(), gather, a task_group), or cancel "
                  "it on purpose and get() it to let it unwind";
        r.f.lesson = "10-fire-and-forget";
        s.report(std::move(r));
    }
}

}  // namespace aio::debug::detectors
