// Retries: retry(fn, options) calls fn until it returns, with exponential backoff and jitter
// between attempts, and never retries or swallows a cancellation. See docs/reference/retry.md.
//
//     auto body = aio::retry([&] { return session.get(url).text(); },
//                            {.attempts = 5, .backoff = 100ms, .max_backoff = 5s});
#pragma once

#include <aio/detail/callable.hpp>
#include <aio/errors.hpp>
#include <aio/loop.hpp>
#include <aio/sleep.hpp>
#include <aio/timeout.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <type_traits>
#include <utility>

namespace aio {

/// How retry() spreads its delays (AWS Architecture Blog, "Exponential Backoff and Jitter").
enum class jitter_mode : std::uint8_t {
    none,   ///< exactly the backoff: every client that failed together retries together
    full,   ///< uniform in [0, backoff): the default, the least contention
    equal,  ///< backoff/2 + uniform in [0, backoff/2): never much shorter than the backoff
};

/// One failed attempt that retry() is about to retry, for retry_options::on_retry.
struct retry_event {
    /// The attempt that failed, from 1.
    int attempt = 0;
    /// Its exception (a std::exception: only those are retried).
    const std::exception& error;
    /// How long retry() sleeps before the next attempt (jitter included).
    duration delay{};
};

/// The default retry_options::retry_on: retries every std::exception except std::logic_error
/// and its subclasses (usage_error, invalid_state_error, value_error, std::invalid_argument...),
/// which are programming or input errors that fail the same way every time.
[[nodiscard]] bool retry_by_default(const std::exception& e) noexcept;

/// Options of retry(). Designated initializers: `{.attempts = 5, .backoff = 200ms}`.
struct retry_options {
    /// How many times fn is called at most, the first call included (>= 1; 1: no retry).
    int attempts = 3;
    /// The backoff before the second attempt; it is multiplied by `multiplier` after each
    /// failed attempt, up to `max_backoff`: attempt n+1 waits about
    /// min(max_backoff, backoff × multiplier^(n-1)), spread by `jitter`. >= 0.
    duration backoff = std::chrono::milliseconds(100);
    /// The cap of the backoff (before jitter). >= 0.
    duration max_backoff = std::chrono::seconds(10);
    /// Growth of the backoff per attempt (>= 1; 1: a constant backoff).
    double multiplier = 2.0;
    /// How the delay is spread around the backoff.
    jitter_mode jitter = jitter_mode::full;
    /// Stop retrying once this much loop time has passed since retry() was called: an attempt
    /// that fails when the next one could not start in time (now + delay past the budget)
    /// ends retry() with its exception at once, without sleeping. An attempt in flight is not
    /// interrupted: for a hard limit, wrap the retry (or each attempt) in aio::timeout.
    duration max_elapsed = no_timeout;
    /// Which std::exception is worth another attempt; empty: retry_by_default. Exceptions
    /// that do not derive from std::exception are never retried, and cancelled_error never.
    std::function<bool(const std::exception&)> retry_on{};
    /// Called before each backoff sleep (for logs and metrics). Must not suspend.
    std::function<void(const retry_event&)> on_retry{};
    /// The random source of the jitter: returns a number in [0, 1). Empty: a generator seeded
    /// once per thread from std::random_device. Set it for deterministic tests.
    std::function<double()> random{};
};

namespace detail {

/// Throws value_error for options retry() cannot use, naming the field and what is accepted.
void check_retry_options(const retry_options& o);
/// The delay after failed attempt `attempt` (from 1), jitter included.
[[nodiscard]] duration retry_delay(const retry_options& o, int attempt);

}  // namespace detail

/// Calls `fn()` until it returns, at most `options.attempts` times, and returns its value.
/// After a failed attempt whose exception is retried (see retry_options::retry_on), it
/// sleeps the backoff (exponential, capped, with jitter) and calls `fn` again.
///
/// - **Cancellation is never retried or swallowed**: a cancelled_error from `fn` propagates
///   at once, and so does one delivered during the backoff sleep (a yield point and a
///   cancellation point). So an aio::timeout around retry() stops it.
/// - After the last attempt, or when the exception is not retried, or when `max_elapsed`
///   leaves no time for another attempt, the **last attempt's own exception** is rethrown
///   unchanged (no wrapper: `catch (const http_error&)` still works).
/// - A timeout per attempt is the caller's: `aio::retry([&] { return aio::timeout(2s, [&] {
///   return fetch(url); }); })` retries the timeout_error of one slow attempt.
///
/// Throws value_error for bad options (before calling fn), usage_error outside a task when a
/// backoff sleep is needed, and what `fn` throws.
template <class Fn>
auto retry(Fn&& fn, retry_options options = {}) {
    using F = std::remove_reference_t<Fn>;
    if constexpr (!std::is_invocable_v<F&>) {
        static_assert(detail::dependent_false<Fn>,
                      "retry() takes a callable that it can call again: "
                      "aio::retry([&] { return fetch(url); }, {.attempts = 5}) "
                      "(retry(fetch(url)) would call fetch() once, before retry starts)");
    } else {
        detail::check_retry_options(options);
        const time_point budget_end = options.max_elapsed == no_timeout
                                          ? no_deadline
                                          : detail::deadline_after(options.max_elapsed);
        for (int attempt = 1;; ++attempt) {
            try {
                return fn();
            } catch (const cancelled_error&) {
                throw;  // never retried, never swallowed (it does not derive from std::exception)
            } catch (const std::exception& e) {
                if (attempt >= options.attempts) {
                    throw;
                }
                if (!(options.retry_on ? options.retry_on(e) : retry_by_default(e))) {
                    throw;
                }
                const duration delay = detail::retry_delay(options, attempt);
                if (budget_end != no_deadline && (get_running_loop().time() >= budget_end ||
                                                  delay > budget_end - get_running_loop().time())) {
                    throw;
                }
                if (options.on_retry) {
                    options.on_retry(retry_event{attempt, e, delay});
                }
                // Sleeping inside the handler keeps `e` alive without copying it; the sleep
                // is a cancellation point, and its cancelled_error leaves the handler as is.
                sleep(delay);
            }
        }
    }
}

}  // namespace aio
