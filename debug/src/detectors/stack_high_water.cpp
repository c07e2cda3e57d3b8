// stack-high-water: a task used more than 75 % of its fiber stack (seen when it ends). The next
// call a little deeper overflows it, and an overflow ends the program.
//
// How: with this detector on, the runtime writes a marker word at 75 % of each task's stack
// depth when the task starts and checks it when the task ends (enable_stack_watermarks). A
// frame that skips over the marker without writing it is not seen; the marker costs one
// stack page per task in debug mode.
#include "detectors.hpp"

namespace aio::debug::detectors {

void stack_high_water(session& s, const task_ref& t) {
    raw_finding r = task_finding(s, t, "stack-high-water", "warning");
    r.f.message = "the task used more than 75 % of its " + std::to_string(t.stack_size() / 1024) +
                  " KiB stack";
    r.title = "task '" + t.name() + "' came close to overflowing its stack";
    r.f.why = "a fiber's stack does not grow: a little more depth (recursion, a large local "
              "array, a deeper library call) overflows it and the program aborts";
    r.f.fix = "keep large buffers off the stack (std::vector), avoid deep recursion in tasks, or "
              "give this task a bigger stack: aio::task_options{.stack_size = ...}";
    r.f.lesson = "23-fiber-stack-overflow";
    s.report(std::move(r));
}

}  // namespace aio::debug::detectors
