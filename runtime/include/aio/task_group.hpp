// Structured concurrency: task_group and with_task_group (asyncio.TaskGroup).
// See docs/reference/task_group.md.
#pragma once

#include <aio/errors.hpp>
#include <aio/task.hpp>

#include <cstddef>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio {

namespace detail {
struct inspect_layout;
}

template <class Body>
auto with_task_group(Body&& body);

/// A group of child tasks that all end before the group's scope does. Made only by
/// with_task_group, which hands it to its body.
///
/// The first child to fail cancels its siblings and the body; once every child has ended,
/// the failures are raised together as one exception_group. Children that end by cancellation
/// are not failures.
class task_group {
public:
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;
    ~task_group();

    /// Starts `fn(args...)` as a child task. Does not suspend. Throws usage_error if the group
    /// has finished or is shutting down after a failure.
    template <class Fn, class... Args>
    requires(!std::same_as<std::remove_cvref_t<Fn>, task_options>) auto create_task(
        Fn&& fn, Args&&... args) {
        check_open();
        auto t = aio::create_task(std::forward<Fn>(fn), std::forward<Args>(args)...);
        adopt(t);
        return t;
    }
    /// Same, with task options.
    template <class Fn, class... Args>
    auto create_task(task_options opts, Fn&& fn, Args&&... args) {
        check_open();
        auto t =
            aio::create_task(std::move(opts), std::forward<Fn>(fn), std::forward<Args>(args)...);
        adopt(t);
        return t;
    }

    /// Children not finished yet (a child that just finished counts until its done callback
    /// has run, in the next loop iteration).
    [[nodiscard]] std::size_t size() const noexcept { return children_.size(); }

private:
    template <class Body>
    friend auto with_task_group(Body&& body);
    friend struct detail::inspect_layout;  // aio pstree: the children a parent waits for

    explicit task_group(detail::task_base& parent) noexcept
        : parent_(&parent) {}
    void check_open() const;
    void adopt(const task_ref& child);
    void on_child_done(detail::task_base* child) noexcept;
    void abort() noexcept;
    /// The body has ended (with `body_error`, or nullptr): wait for the children, then raise
    /// what asyncio's TaskGroup.__aexit__ raises.
    void exit(std::exception_ptr body_error);

    detail::task_base* parent_;
    std::vector<detail::task_ptr> children_;
    std::vector<std::exception_ptr> errors_;
    detail::waiter* joiner_ = nullptr;
    bool exiting_ = false;
    bool aborting_ = false;
    bool parent_cancel_requested_ = false;
    std::size_t callbacks_pending_ = 0;
};

/// Runs `body(group)` in the current task with a new task_group, then waits for every child
/// (asyncio's `async with TaskGroup() as tg:`). Returns what the body returns.
/// Raises exception_group holding every failure of the children and of the body (a body that
/// throws is treated like a failed child, as asyncio does); cancelled_error if the caller was
/// cancelled from outside and nothing failed. Yield point and cancellation point while
/// children are pending: cancelling the caller cancels the children.
template <class Body>
auto with_task_group(Body&& body) {
    using R = std::invoke_result_t<Body, task_group&>;
    task_group group(detail::require_task("aio::with_task_group()"));
    std::exception_ptr body_error;
    if constexpr (std::is_void_v<R>) {
        try {
            std::forward<Body>(body)(group);
        } catch (...) {
            body_error = std::current_exception();
        }
        group.exit(body_error);
    } else {
        std::optional<R> result;
        try {
            result.emplace(std::forward<Body>(body)(group));
        } catch (...) {
            body_error = std::current_exception();
        }
        group.exit(body_error);
        return std::move(*result);
    }
}

}  // namespace aio
