// shield: protect an operation from the caller's cancellation (asyncio.shield).
// See docs/reference/shield.md.
#pragma once

#include <aio/task.hpp>

#include <type_traits>
#include <utility>

namespace aio {

/// Waits for `t` and returns its value or rethrows its exception, like t.get(), except that
/// cancelling the caller does not cancel `t`: the caller gets cancelled_error at once and
/// `t` runs on. Yield point and cancellation point (of the caller only) unless `t` is done.
template <class T>
T shield(task<T>& t) {
    t.wait_done();
    return t.result();
}

/// Runs `fn` in a new task and waits for it, shielded: if the caller is cancelled, the task
/// goes on to its end on its own (detached); a failure nobody then retrieves reaches the loop's
/// exception handler, so it is never lost. Yield point and cancellation point.
template <class Fn>
requires std::is_invocable_v<Fn>
auto shield(Fn&& fn) {
    auto t = aio::create_task(std::forward<Fn>(fn));
    try {
        t.wait_done();
    } catch (...) {
        t.detach();
        throw;
    }
    return t.result();
}

}  // namespace aio
