// Timeouts: timeout, timeout_at and the scope object they run under (asyncio.timeout,
// asyncio.Timeout). See docs/reference/timeout.md.
#pragma once

#include <aio/detail/callable.hpp>
#include <aio/detail/task_base.hpp>
#include <aio/errors.hpp>
#include <aio/loop.hpp>

#include <concepts>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

namespace aio {

/// "No deadline": pass it where a duration is expected to disable a timeout explicitly.
inline constexpr duration no_timeout = duration::max();
/// "No deadline" as a point in time.
inline constexpr time_point no_deadline = time_point::max();

namespace detail {
struct timeout_timer;
struct inspect_layout;
/// now + d on the running loop, saturating; no_timeout gives no_deadline.
time_point deadline_after(duration d);
}  // namespace detail

/// The deadline of one timeout()/timeout_at() call, handed to the function when it takes a
/// `timeout_scope&` (asyncio.Timeout). When the deadline passes, the scope cancels its task;
/// when that cancellation comes back out of the function, the scope turns it into
/// timeout_error. A cancellation from anywhere else passes through untouched.
class timeout_scope {
public:
    /// Enters the scope in the running task. Throws usage_error outside a task.
    explicit timeout_scope(time_point when);
    ~timeout_scope();
    timeout_scope(const timeout_scope&) = delete;
    timeout_scope& operator=(const timeout_scope&) = delete;

    /// The deadline (no_deadline when there is none).
    [[nodiscard]] time_point when() const noexcept { return when_; }
    /// Moves the deadline; no_deadline disables it. A deadline already past fires at the next
    /// loop iteration. Throws invalid_state_error once the scope has expired or exited.
    void reschedule(time_point when);
    /// True once the deadline has passed and the scope cancelled its task.
    [[nodiscard]] bool expired() const noexcept {
        return state_ != state::active && state_ != state::exited_clean;
    }

    // Called by timeout()/timeout_at() when the function ends; not for users.
    /// Returns true when the cancellation that ended the function is this scope's own and
    /// must become timeout_error.
    bool exit(bool cancelled_exit) noexcept;
    [[noreturn]] void throw_timeout() const;

private:
    friend struct detail::timeout_timer;
    friend struct detail::inspect_layout;  // aio ps: a task's deadline
    enum class state : std::uint8_t { active, expiring, expired, exited_clean };
    void arm();
    void disarm() noexcept;
    void fire() noexcept;

    detail::task_base* task_;
    time_point when_;
    time_point entered_;
    std::uint32_t cancelling_at_entry_;
    state state_ = state::active;
    alignas(16) unsigned char timer_[48];  // a detail::timer_node, constructed in the .cpp
};

namespace detail {

/// The body of timeout_at, once `fn` is known to be callable.
template <class Fn>
auto timeout_at_impl(time_point when, Fn&& fn) {
    timeout_scope scope(when);
    try {
        if constexpr (std::is_invocable_v<Fn, timeout_scope&>) {
            using R = std::invoke_result_t<Fn, timeout_scope&>;
            if constexpr (std::is_void_v<R>) {
                std::forward<Fn>(fn)(scope);
                scope.exit(false);
            } else {
                R r = std::forward<Fn>(fn)(scope);
                scope.exit(false);
                return r;
            }
        } else {
            using R = std::invoke_result_t<Fn>;
            if constexpr (std::is_void_v<R>) {
                std::forward<Fn>(fn)();
                scope.exit(false);
            } else {
                R r = std::forward<Fn>(fn)();
                scope.exit(false);
                return r;
            }
        }
    } catch (const cancelled_error&) {
        if (scope.exit(true)) {
            scope.throw_timeout();
        }
        throw;
    } catch (...) {
        scope.exit(false);
        throw;
    }
}

}  // namespace detail

/// Runs `fn()` (or `fn(scope)`) in the current task with a deadline at loop time `when`
/// (asyncio.timeout_at). If the deadline passes, the task is cancelled and, once `fn` has
/// unwound, timeout_error is thrown saying how long it waited. Nested timeouts and an outer
/// cancel() behave as in asyncio 3.11+: only this scope's own cancellation is converted.
/// Suspends only inside `fn`. Throws whatever `fn` throws, or timeout_error.
template <class Fn>
auto timeout_at(time_point when, Fn&& fn) {
    if constexpr (!std::is_invocable_v<Fn> && !std::is_invocable_v<Fn, timeout_scope&>) {
        // The asyncio habit wait_for(fetch(url), t) calls fetch() at once, with no deadline.
        static_assert(detail::dependent_false<Fn>,
                      "timeout_at() takes a callable, not the result of a call: "
                      "aio::timeout_at(when, [&] { return fetch(url); })");
    } else {
        return detail::timeout_at_impl(when, std::forward<Fn>(fn));
    }
}

/// timeout_at(now + d, fn) (asyncio.timeout). `no_timeout` disables the deadline. `fn` is a
/// callable, called inside the scope: `aio::timeout(1s, [&] { return fetch(url); })`.
template <class Fn>
auto timeout(duration d, Fn&& fn) {
    if constexpr (!std::is_invocable_v<Fn> && !std::is_invocable_v<Fn, timeout_scope&>) {
        // `aio::timeout(1s, fetch(url))` would run fetch() before the deadline exists.
        static_assert(detail::dependent_false<Fn>,
                      "timeout() takes a callable: aio::timeout(1s, [&] { return fetch(url); }) "
                      "(aio::timeout(1s, fetch(url)) would call fetch() before the timeout "
                      "starts)");
    } else {
        return detail::timeout_at_impl(detail::deadline_after(d), std::forward<Fn>(fn));
    }
}

}  // namespace aio
