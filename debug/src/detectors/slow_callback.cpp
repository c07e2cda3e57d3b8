// slow-callback: one step of a task (from resuming it to its next suspension) ran longer than
// `slow` (100 ms by default, asyncio's slow_callback_duration). Every other task waited. The
// finding's "where" is the line the stall watchdog sampled while the step ran, if it did, and
// otherwise the yield point at which the step ended, when the task is parked there.
#include "detectors.hpp"

namespace aio::debug::detectors {

void slow_callback(session& s, const task_ref& t, duration step, raw_stack sampled) {
    raw_finding r = task_finding(s, t, "slow-callback", "warning");
    r.f.duration_ms = std::chrono::duration<double, std::milli>(step).count();
    r.f.message = "one step took " + format_duration(step) + " (threshold " +
                  format_duration(s.settings().slow) + ")" +
                  (t.done() ? "; the task finished at the end of it" : "");
    r.title = "task '" + t.name() + "' held the loop for " + format_duration(step);
    r.f.why = "while one task computes or blocks between two yield points, no other task runs: "
              "timers fire late, sockets are not served, the program looks frozen";
    r.f.fix = "move CPU-heavy or blocking work to a thread with aio::to_thread(fn), or split it "
              "and call aio::sleep(0) between the pieces";
    r.f.lesson = "02-blocking-call";
    // When the stall watchdog sampled the step while it ran, that line is the culprit, and
    // where the step ended is the context; otherwise the place it ended (the yield point the
    // task is parked at now, reported by the task itself at the next iteration) is the culprit.
    r.context_label = "the step ended at";
    if (!sampled.empty()) {
        r.culprit = std::move(sampled);
        r.f.message += "; the line above was sampled while the step ran";
    }
    s.report_when_parked(t, std::move(r));
}

}  // namespace aio::debug::detectors
