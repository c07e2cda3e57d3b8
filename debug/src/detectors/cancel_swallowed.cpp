// cancel-swallowed: a task was cancelled (the cancellation was delivered to it) and returned
// normally anyway, without uncancel(): some catch (...) or catch (const cancelled_error&)
// ate it. The canceller believes the task stopped; it did not.
#include "detectors.hpp"

namespace aio::debug::detectors {

void cancel_swallowed(session& s, const task_ref& t) {
    const detail::task_base* b = t.base();
    if (b->outcome_ != detail::task_outcome::value || b->cancels_delivered_ == 0 ||
        t.cancelling() == 0) {
        return;
    }
    raw_finding r = task_finding(s, t, "cancel-swallowed", "error");
    r.f.message = "cancelled " + std::to_string(b->cancels_delivered_) +
                  " time(s), cancelling() is " + std::to_string(t.cancelling()) +
                  ", and the task returned a value";
    r.title = "task '" + t.name() + "' swallowed its cancellation";
    // Where the cancellation was delivered (the yield point inside the try whose catch ate
    // it) is the culprit; where the task went on after it is the context.
    if (const auto* trail = s.cancel_trail_of(t)) {
        r.culprit = trail->delivered;
        r.f.message += "; the cancellation was delivered at the yield point below";
        r.context = trail->ran_on;
        r.context_label = "after it the task ran on at";
        r.context_unknown = trail->went_on && !trail->ran_on.empty()
                                ? "after it the task ran on to its return"
                                : "after it the task returned without another yield point";
    }
    r.f.why = "whoever cancelled the task (a timeout, a task_group, shutdown) believes it stopped; "
              "timeouts stop working and shutdown waits for a task that keeps going";
    r.f.fix = "rethrow aio::cancelled_error after cleanup (catch (...) { cleanup(); throw; }); if "
              "stopping the cancellation is really meant, call aio::current_task().uncancel()";
    r.f.lesson = "17-cancel-swallowed";
    s.report(std::move(r));
}

}  // namespace aio::debug::detectors
