// Sleeping and yielding. See docs/reference/sleep.md.
#pragma once

#include <aio/loop.hpp>

namespace aio {

/// Suspends the current task for at least `d` of loop time (asyncio.sleep). `sleep(0)` (or any
/// d <= 0) gives the other ready tasks one turn and comes back in the next iteration.
/// Yield point and cancellation point: throws cancelled_error if the task is cancelled before
/// or while it sleeps. `sleep(no_timeout)` sleeps until cancelled. Throws usage_error outside
/// a task.
void sleep(duration d);

/// Suspends the current task until loop time `when` (returns after one turn if it has passed).
/// Yield point and cancellation point, as sleep().
void sleep_until(time_point when);

/// Same as sleep(0): lets every other ready task run once. Yield point, cancellation point.
void yield();

}  // namespace aio
