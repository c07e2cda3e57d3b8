// shield: protect an operation from the caller's cancellation (asyncio.shield).
// See docs/reference/shield.md.
#pragma once

#include <aio/detail/callable.hpp>
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
auto shield(Fn&& fn) {
    if constexpr (!std::is_invocable_v<Fn>) {
        // shield(save(order)) would run save() unshielded, before shield() is even called.
        static_assert(detail::dependent_false<Fn>,
                      "shield() takes a task variable or a callable: aio::shield(t) or "
                      "aio::shield([&] { return save(order); })");
    } else {
        auto t = aio::create_task(std::forward<Fn>(fn));
        try {
            t.wait_done();
        } catch (...) {
            t.detach();
            throw;
        }
        return t.result();
    }
}

}  // namespace aio
