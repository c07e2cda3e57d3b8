// Error types of the runtime. See docs/reference/errors.md.
//
// The policy (style.md §4): cancellation is not an error and does not derive from
// std::exception; timeouts are runtime errors; API misuse is a std::logic_error whose
// message says how to fix the code; OS failures are std::system_error.
#pragma once

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace aio {

/// Thrown at a yield point of a task that was cancelled (asyncio.CancelledError).
///
/// It deliberately does not derive from std::exception, so `catch (const std::exception&)`
/// cannot swallow it. Code that catches it (or `...`) must rethrow it, or call
/// `current_task().uncancel()` if it really means to stop the cancellation.
class cancelled_error {
public:
    cancelled_error() = default;
    /// Carries the message given to `task::cancel(msg)` (empty when none was given).
    explicit cancelled_error(std::string message)
        : message_(std::move(message)) {}
    /// The message given to `cancel`, or "" (never null).
    [[nodiscard]] const char* what() const noexcept { return message_.c_str(); }
    [[nodiscard]] const std::string& message() const noexcept { return message_; }

private:
    std::string message_;
};

/// A timeout expired (asyncio.TimeoutError). Raised by `timeout`, `timeout_at` and `wait_for`
/// when they turn *their own* cancellation into an error, and by `as_completed` when its
/// deadline passes.
class timeout_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// An operation was asked of an object in the wrong state, e.g. `task::result()` before the
/// task is done (asyncio.InvalidStateError).
class invalid_state_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// The program used the API in a way it does not allow (a loop call outside a loop, `run`
/// inside a running loop, releasing a lock that is not held...). The message says how to fix it.
class usage_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// A value given to the API is out of the accepted range; the message says what is accepted.
class value_error : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

/// A broken invariant inside aio itself: a bug to report, not something to handle.
class internal_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// `aio::run` ended because the program was interrupted (SIGINT, Ctrl-C): the main task was
/// cancelled and has unwound (asyncio.run raises KeyboardInterrupt in the same place).
class interrupted_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Several tasks of a `task_group` failed (asyncio's ExceptionGroup). Holds every failure in
/// the order they happened; `what()` lists them.
class exception_group : public std::exception {
public:
    exception_group(std::string message, std::vector<std::exception_ptr> exceptions);
    [[nodiscard]] const char* what() const noexcept override { return what_.c_str(); }
    /// The failures, in the order they happened. Never empty.
    [[nodiscard]] const std::vector<std::exception_ptr>& exceptions() const noexcept {
        return exceptions_;
    }

private:
    std::vector<std::exception_ptr> exceptions_;
    std::string what_;
};

/// Describes any exception for messages: "std::runtime_error: boom", "aio::cancelled_error".
/// Never throws.
std::string describe_exception(const std::exception_ptr& e) noexcept;

/// Formats a duration for humans: "250 ms", "1.5 s", "40 us". Never throws.
std::string format_duration(std::chrono::nanoseconds d) noexcept;

}  // namespace aio
