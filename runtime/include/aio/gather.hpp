// gather: wait for several tasks and collect their results (asyncio.gather).
// See docs/reference/gather.md.
#pragma once

#include <aio/errors.hpp>
#include <aio/task.hpp>

#include <array>
#include <cstddef>
#include <exception>
#include <optional>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace aio {

/// The result of one task when gathered with return_exceptions: a value or the exception
/// (a cancelled task holds a cancelled_error).
template <class T>
class outcome {
public:
    explicit outcome(T value)
        : v_(std::in_place_index<0>, std::move(value)) {}
    explicit outcome(std::exception_ptr e)
        : v_(std::in_place_index<1>, std::move(e)) {}
    [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
    /// The value; rethrows the exception if there is one.
    T& value() {
        if (v_.index() == 1) {
            std::rethrow_exception(std::get<1>(v_));
        }
        return std::get<0>(v_);
    }
    /// The exception, or nullptr.
    [[nodiscard]] std::exception_ptr exception() const noexcept {
        return v_.index() == 1 ? std::get<1>(v_) : nullptr;
    }

private:
    std::variant<T, std::exception_ptr> v_;
};

/// What a task<void> contributes to a gathered tuple.
using nothing = std::monostate;

/// Tag for the return_exceptions form of gather.
struct return_exceptions_t {
    explicit return_exceptions_t() = default;
};
inline constexpr return_exceptions_t return_exceptions{};

namespace detail {

/// Suspends until every task is done, or (unless `keep_going`) one failed. Returns the index
/// of the failure to raise, or -1. Cancelling the caller cancels every task not yet done,
/// waits for all of them, then raises cancelled_error.
std::ptrdiff_t gather_wait(std::span<task_base* const> tasks, bool keep_going);

template <class T>
auto gathered_value(task<T>& t) {
    if constexpr (std::is_void_v<T>) {
        t.result();
        return nothing{};
    } else {
        return t.result();
    }
}

template <class T>
auto gathered_outcome(task<T>& t) {
    using V = std::conditional_t<std::is_void_v<T>, nothing, T>;
    detail::task_base* b = t.base();
    b->observed_ = true;
    if (b->outcome_ == task_outcome::value) {
        return outcome<V>(gathered_value(t));
    }
    b->exception_retrieved_ = true;
    if (b->outcome_ == task_outcome::cancelled) {
        return outcome<V>(std::make_exception_ptr(cancelled_error(b->cancel_message_)));
    }
    return outcome<V>(b->exception_);
}

template <class X>
concept task_handle = std::is_base_of_v<task_ref, std::remove_cvref_t<X>> && requires {
    typename std::remove_cvref_t<X>::value_type;
};

/// What the variadic gather accepts: a task handle, or a function to start as a task.
template <class X>
concept gatherable = task_handle<X> || std::is_invocable_v<std::decay_t<X>>;

template <class X>
auto to_task(X&& x) {
    if constexpr (task_handle<X>) {
        return std::remove_cvref_t<X>(x);  // another handle to the same task
    } else {
        return aio::create_task(std::forward<X>(x));
    }
}

}  // namespace detail

namespace detail {

template <class Tuple>
auto bases_of(Tuple& tasks) {
    return std::apply(
        [](auto&... t) { return std::array<task_base*, std::tuple_size_v<Tuple>>{t.base()...}; },
        tasks);
}

template <class T>
auto bases_of(const std::vector<task<T>>& tasks) {
    std::vector<task_base*> out;
    out.reserve(tasks.size());
    for (auto& t : tasks) {
        if (!t) {
            throw invalid_state_error("aio::gather: an empty task handle was passed");
        }
        out.push_back(t.base());
    }
    return out;
}

[[noreturn]] inline void raise_failure(task_base* b) {
    b->observed_ = true;
    b->exception_retrieved_ = true;
    b->rethrow_failure();
}

}  // namespace detail

/// Waits for every task and returns their values as a tuple, in argument order (asyncio
/// gather). Arguments are task handles, or functions, which are started as tasks. If a task
/// fails, its exception is raised at once; the others keep running. Yield point and
/// cancellation point while some task is pending (it returns at once when all are done or one
/// has failed): cancelling the caller cancels every task not yet done, waits for them to
/// finish, and raises cancelled_error. A task<void> contributes aio::nothing.
template <class... Xs>
requires(sizeof...(Xs) > 0 && (detail::gatherable<Xs> && ...)) auto gather(Xs&&... xs) {
    // Braced initialization: tasks are created left to right, in argument order.
    auto tasks = std::tuple<decltype(detail::to_task(std::forward<Xs>(xs)))...>{
        detail::to_task(std::forward<Xs>(xs))...};
    auto bases = detail::bases_of(tasks);
    std::ptrdiff_t failed = detail::gather_wait(bases, false);
    if (failed >= 0) {
        detail::raise_failure(bases[static_cast<std::size_t>(failed)]);
    }
    return std::apply([](auto&... t) { return std::make_tuple(detail::gathered_value(t)...); },
                      tasks);
}

/// gather(return_exceptions, ...): waits for every task and returns a tuple of outcome<T>, so
/// failures are returned rather than raised. Same cancellation contract as gather.
template <class... Xs>
requires(sizeof...(Xs) > 0 && (detail::gatherable<Xs> && ...)) auto gather(return_exceptions_t,
                                                                           Xs&&... xs) {
    // Braced initialization: tasks are created left to right, in argument order.
    auto tasks = std::tuple<decltype(detail::to_task(std::forward<Xs>(xs)))...>{
        detail::to_task(std::forward<Xs>(xs))...};
    auto bases = detail::bases_of(tasks);
    detail::gather_wait(bases, true);
    return std::apply([](auto&... t) { return std::make_tuple(detail::gathered_outcome(t)...); },
                      tasks);
}

/// Range form: waits for every task of `tasks` and returns their values in order.
/// Same contract as the variadic form; an empty vector returns an empty vector at once.
template <class T>
auto gather(const std::vector<task<T>>& tasks) {
    using V = std::conditional_t<std::is_void_v<T>, nothing, T>;
    auto bases = detail::bases_of(tasks);
    std::vector<V> out;
    if (tasks.empty()) {
        return out;
    }
    std::ptrdiff_t failed = detail::gather_wait(bases, false);
    if (failed >= 0) {
        detail::raise_failure(bases[static_cast<std::size_t>(failed)]);
    }
    out.reserve(tasks.size());
    for (auto t : tasks) {
        out.push_back(detail::gathered_value(t));
    }
    return out;
}

/// Range form with return_exceptions: a vector of outcome<T>.
template <class T>
auto gather(return_exceptions_t, const std::vector<task<T>>& tasks) {
    using V = std::conditional_t<std::is_void_v<T>, nothing, T>;
    auto bases = detail::bases_of(tasks);
    std::vector<outcome<V>> out;
    if (tasks.empty()) {
        return out;
    }
    detail::gather_wait(bases, true);
    out.reserve(tasks.size());
    for (auto t : tasks) {
        out.push_back(detail::gathered_outcome(t));
    }
    return out;
}

}  // namespace aio
