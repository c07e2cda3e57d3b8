// Periodic work: every(interval, fn) runs fn on a fixed grid of loop time, one run at a time,
// skipping the ticks a slow run missed. See docs/reference/every.md.
//
//     auto expiry = aio::create_task(aio::task_options{.name = "expiry"}, [&] {
//         aio::every(1min, [&] { sessions.expire_old(); });
//     });
#pragma once

#include <aio/detail/callable.hpp>
#include <aio/errors.hpp>
#include <aio/loop.hpp>
#include <aio/sleep.hpp>

#include <concepts>
#include <cstdint>
#include <type_traits>

namespace aio {

/// When every() runs its function the first time.
enum class first_run : std::uint8_t {
    now,             ///< at once (tick 0, at the call), then one interval apart
    after_interval,  ///< one interval after the call (tick 1)
};

/// Options of every().
struct every_options {
    /// first_run::now (the default): run at once, then on the grid. after_interval: wait one
    /// interval first.
    first_run first = first_run::now;
};

/// What every() tells its function about the run it makes, when the function takes it.
struct tick {
    /// The tick's number on the grid: this run is due at start + number × interval. Tick 0 is
    /// the call to every() itself (with first_run::now).
    std::uint64_t number = 0;
    /// The loop time this run was due (start + number × interval). The run starts at this time
    /// or just after it: lateness is loop time() - scheduled.
    time_point scheduled{};
    /// How many ticks were skipped since every() was called because a run overran them.
    std::uint64_t skipped = 0;
};

namespace detail {

/// The number of the first tick at or after `now` and after tick `last`, on the grid
/// start + k × interval. Never throws.
[[nodiscard]] std::uint64_t next_tick_number(time_point start, duration interval,
                                             std::uint64_t last, time_point now) noexcept;
/// Checks every()'s arguments and returns the loop time now, the start of the grid. Throws
/// value_error unless interval > 0, usage_error outside a task.
[[nodiscard]] time_point every_start(duration interval);

template <class Fn>
decltype(auto) call_every_fn(Fn& fn, const tick& t) {
    if constexpr (std::is_invocable_v<Fn&, const tick&>) {
        return fn(t);
    } else {
        return fn();
    }
}

}  // namespace detail

/// Runs `fn()` (or `fn(const tick&)`) every `interval` of loop time, in the calling task,
/// until `fn` returns `false` (when it returns bool), throws, or the task is cancelled
/// (Python's `while True: ...; await asyncio.sleep(...)`, without its drift).
///
/// - The runs are due on a fixed grid, start + k × interval (start: the call), not
///   `interval` after the previous run ended: a body that takes 30 % of the interval does not
///   make the schedule drift.
/// - One run at a time: a run that overruns the next tick is never overlapped; the ticks it
///   missed are **skipped**, and the next run is due at the next tick on the grid (a run of
///   2.5 intervals skips 2 ticks). `tick::skipped` counts them. (tokio's
///   MissedTickBehavior::Skip; no burst of catch-up runs after a stall.)
/// - Between runs every() waits with sleep_until, a yield point and a cancellation point,
///   also when a run overran (the loop gets a turn even if `fn` never suspends).
///
/// Returns when `fn` returns false. Throws value_error if interval <= 0, usage_error outside
/// a task; an exception from `fn` ends every() and propagates; cancelled_error (from the
/// wait or from inside `fn`) propagates untouched: every() never catches it.
/// To run it in the background, give it its own task (that is where the name goes):
/// `aio::create_task(aio::task_options{.name = "expiry"}, [&] { aio::every(1min, expire); })`.
template <class Fn>
void every(duration interval, Fn&& fn, every_options options = {}) {
    using F = std::remove_reference_t<Fn>;
    if constexpr (!std::is_invocable_v<F&> && !std::is_invocable_v<F&, const tick&>) {
        static_assert(detail::dependent_false<Fn>,
                      "every(interval, fn) takes a callable: fn() or fn(const aio::tick&), "
                      "e.g. aio::every(1s, [&] { expire_sessions(); })");
    } else {
        using R = decltype(detail::call_every_fn(fn, tick{}));
        static_assert(std::is_void_v<R> || std::same_as<std::remove_cvref_t<R>, bool>,
                      "every(interval, fn): fn returns void (run until cancelled) or bool "
                      "(false stops every())");
        const time_point start = detail::every_start(interval);
        loop& l = get_running_loop();
        tick t;
        if (options.first == first_run::after_interval) {
            t.number = 1;
        }
        t.scheduled = start + interval * static_cast<duration::rep>(t.number);
        bool first = true;
        for (;;) {
            if (!first || options.first == first_run::after_interval) {
                sleep_until(t.scheduled);  // yield point, cancellation point
            }
            first = false;
            if constexpr (std::is_void_v<R>) {
                detail::call_every_fn(fn, t);
            } else {
                if (!detail::call_every_fn(fn, t)) {
                    return;
                }
            }
            std::uint64_t next = detail::next_tick_number(start, interval, t.number, l.time());
            t.skipped += next - t.number - 1;
            t.number = next;
            t.scheduled = start + interval * static_cast<duration::rep>(next);
        }
    }
}

}  // namespace aio
