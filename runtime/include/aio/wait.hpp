// Waiting on several tasks: wait, wait_for, as_completed (asyncio.wait, wait_for,
// as_completed). See docs/reference/wait.md.
#pragma once

#include <aio/detail/callable.hpp>
#include <aio/errors.hpp>
#include <aio/task.hpp>
#include <aio/timeout.hpp>

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

namespace aio {

/// When wait() returns.
enum class return_when {
    first_completed,  ///< as soon as any task is done
    first_exception,  ///< as soon as any task fails (raises), or all are done
    all_completed,    ///< when every task is done
};

/// What wait() returns: the tasks done and the tasks still pending, each in input order.
template <class T>
struct wait_result {
    std::vector<task<T>> done;
    std::vector<task<T>> pending;
};

namespace detail {
/// Suspends until the condition holds or loop time `deadline` passes. Cancellation point;
/// cancelling the caller does not cancel the tasks.
void wait_core(std::span<task_base* const> tasks, return_when when, time_point deadline);
/// Suspends until one of the tasks not marked in `taken` is done; returns its index, or -1 at
/// the deadline. Cancellation point.
std::ptrdiff_t wait_any(std::span<task_base* const> tasks, const std::vector<bool>& taken,
                        time_point deadline);
}  // namespace detail

/// Waits until `when` holds for `tasks`, or `timeout` passes, and returns the tasks split into
/// done and pending (asyncio.wait). Never raises timeout_error and never retrieves results:
/// call get() or result() on the done tasks. Yield point and cancellation point unless the
/// condition already holds (cancelling the caller does not cancel the tasks). Throws
/// value_error if `tasks` is empty.
template <class T>
wait_result<T> wait(const std::vector<task<T>>& tasks,
                    return_when when = return_when::all_completed, duration timeout = no_timeout) {
    if (tasks.empty()) {
        throw value_error("aio::wait: the set of tasks is empty; pass at least one task");
    }
    std::vector<detail::task_base*> bases;
    bases.reserve(tasks.size());
    for (auto& t : tasks) {
        bases.push_back(t.base());
    }
    detail::wait_core(bases, when, detail::deadline_after(timeout));
    wait_result<T> r;
    for (auto& t : tasks) {
        (t.done() ? r.done : r.pending).push_back(t);
    }
    return r;
}

/// Waits for `t` for at most `d` (asyncio.wait_for): returns its value or rethrows its
/// exception; on timeout cancels `t`, waits for it to unwind and raises timeout_error.
/// Cancelling the caller cancels `t` too. Yield point and cancellation point.
template <class T>
T wait_for(task<T>& t, duration d) {
    return timeout(d, [&]() -> T { return t.get(); });
}

/// Runs `fn` in the current task with a deadline `d` (asyncio.wait_for on a coroutine):
/// same as timeout(d, fn). `fn` is a callable: `aio::wait_for([&] { return fetch(url); }, 1s)`.
template <class Fn>
auto wait_for(Fn&& fn, duration d) {
    if constexpr (!std::is_invocable_v<Fn>) {
        // asyncio's wait_for(fetch(url), t) habit: here fetch() would run before the deadline.
        static_assert(detail::dependent_false<Fn>,
                      "wait_for() takes a task variable or a callable: aio::wait_for(t, 1s) or "
                      "aio::wait_for([&] { return fetch(url); }, 1s)");
    } else {
        return timeout(d, std::forward<Fn>(fn));
    }
}

/// Iterates over tasks in the order they finish (asyncio.as_completed):
///     for (auto t : aio::as_completed(tasks)) { use(t.get()); }
/// Each step of the iteration is a yield point and a cancellation point; when `timeout`
/// passes before every task is done, the step raises timeout_error, and so does every step
/// after it (the tasks keep running).
template <class T>
class as_completed {
public:
    explicit as_completed(std::vector<task<T>> tasks, duration timeout = no_timeout)
        : tasks_(std::move(tasks))
        , taken_(tasks_.size(), false)
        , deadline_(detail::deadline_after(timeout))
        , timeout_(timeout) {
        for (auto& t : tasks_) {
            bases_.push_back(t.base());
        }
    }

    /// Tasks not yet returned by next().
    [[nodiscard]] std::size_t remaining() const noexcept { return tasks_.size() - yielded_; }

    /// Suspends until the next task is done and returns it. Throws timeout_error at the
    /// deadline and invalid_state_error when every task was already returned.
    task<T> next() {
        if (remaining() == 0) {
            throw invalid_state_error("as_completed::next: every task was already returned");
        }
        std::ptrdiff_t i = timed_out_ ? -1 : detail::wait_any(bases_, taken_, deadline_);
        if (i < 0) {
            timed_out_ = true;  // as asyncio: once timed out, every further step times out
            throw timeout_error("aio::as_completed: timed out after " + format_duration(timeout_) +
                                " with " + std::to_string(remaining()) + " task(s) not done");
        }
        taken_[static_cast<std::size_t>(i)] = true;
        ++yielded_;
        return tasks_[static_cast<std::size_t>(i)];
    }

    class iterator {
    public:
        using value_type = task<T>;
        using difference_type = std::ptrdiff_t;
        explicit iterator(as_completed* owner)
            : owner_(owner) {}
        task<T> operator*() const { return owner_->next(); }
        iterator& operator++() { return *this; }
        bool operator==(std::default_sentinel_t) const { return owner_->remaining() == 0; }

    private:
        as_completed* owner_;
    };
    iterator begin() { return iterator(this); }
    std::default_sentinel_t end() { return {}; }

private:
    std::vector<task<T>> tasks_;
    std::vector<detail::task_base*> bases_;
    std::vector<bool> taken_;
    std::size_t yielded_ = 0;
    bool timed_out_ = false;
    time_point deadline_;
    duration timeout_;
};

}  // namespace aio
