// Tasks: create_task, the task<T> handle, current_task, all_tasks.
// See docs/reference/task.md. A task is a fiber with its own stack; a *step* is the stretch
// from resuming it to its next suspension.
#pragma once

#include <aio/detail/callable.hpp>
#include <aio/detail/config.hpp>
#include <aio/detail/task_base.hpp>
#include <aio/errors.hpp>
#include <aio/loop.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio {

/// Options for create_task. Build it at the call site (`aio::task_options{.name = "fetch"}`)
/// so that `where` records that line.
struct task_options {
    /// The task's name; empty means "task-<id>".
    std::string name;
    /// Fiber stack size in bytes; 0 means the loop's default. Rounded up to whole pages.
    std::size_t stack_size = 0;
    /// The creation site; the default captures where these options were built.
    std::source_location where = std::source_location::current();
};

/// Where a task was created, resolved for printing.
struct source_site {
    std::string file;      ///< source file, or "" when unknown
    std::uint32_t line{};  ///< line, or 0 when unknown
    std::string function;  ///< function name, or "" when unknown
    /// "file:line" (or "function" or "?" when less is known).
    [[nodiscard]] std::string to_string() const;
};

/// An untyped reference to a task: everything but its result. Cheap to copy; holding one
/// keeps the task object (not the task) alive. An empty task_ref refers to nothing.
class task_ref {
public:
    task_ref() noexcept = default;
    explicit task_ref(detail::task_base* t) noexcept
        : t_(t) {}

    /// Requests cancellation (asyncio Task.cancel): a cancelled_error carrying `message` is
    /// raised in the task at its next yield point (at once if it is suspended). A task that
    /// never started never runs its function. Returns false if the task is already done.
    /// Increments cancelling(). Does not suspend. A parked task is taken out of every wait
    /// list at once: nothing (a lock, a permit, a queue item) is handed to it any more.
    /// Throws usage_error when called from a thread that does not run the task's loop.
    bool cancel(std::string_view message = {}) const;
    /// Number of pending cancellation requests (asyncio Task.cancelling()).
    [[nodiscard]] std::uint32_t cancelling() const noexcept;
    /// Decrements cancelling() and returns the new count; when it reaches 0 a cancellation
    /// not yet delivered is withdrawn (asyncio 3.13 Task.uncancel()).
    std::uint32_t uncancel() const noexcept;

    /// True once the task has returned, failed or been cancelled.
    [[nodiscard]] bool done() const noexcept;
    /// What the task waits on while it is parked at a yield point: the call or primitive, a
    /// string literal such as "aio::sleep", "aio::event", "aio::lock", "aio::queue::get",
    /// "aio::stream::read_line", "aio::task::get", "aio::gather", "aio::to_thread"; "" when it
    /// is not parked (running, ready to run, or done) or the handle is empty. Never null. Does
    /// not suspend. Loop thread (instruments and debug tools read it).
    [[nodiscard]] const char* waiting_on() const noexcept;
    /// True if the task ended by cancellation: a cancelled_error escaped its function, it was
    /// cancelled before it started, or it returned while a cancellation was still owed (its
    /// value is then dropped, as asyncio does).
    [[nodiscard]] bool cancelled() const noexcept;
    /// The task's name ("task-<id>" unless one was given).
    [[nodiscard]] std::string name() const;
    /// Renames the task.
    void set_name(std::string name) const;
    /// A number unique within the process, in creation order.
    [[nodiscard]] std::uint64_t id() const noexcept;
    /// Where the task was created (symbolized on first use; may read debug info from disk).
    [[nodiscard]] source_site creation_site() const;
    /// The raw creation record (cheap; for instruments).
    [[nodiscard]] const detail::creation_site& raw_creation_site() const noexcept;
    /// The task's fiber stack size in bytes.
    [[nodiscard]] std::size_t stack_size() const noexcept;

    /// Calls `fn(task)` on the loop once the task is done (at once, via call_soon, if it
    /// already is). Does not suspend.
    void add_done_callback(std::function<void(task_ref)> fn) const;

    /// Declares fire-and-forget on purpose: the task keeps running, dropping its handles is
    /// not reported as never-awaited. A failure nobody retrieves still reaches the loop's
    /// exception handler ("Task exception was never retrieved").
    void detach() const noexcept;

    /// Suspends until the task is done, without retrieving its result (returns at once if it
    /// is). Cancellation point while it waits: cancelling the caller does *not* cancel this
    /// task.
    void wait_done() const;

    [[nodiscard]] explicit operator bool() const noexcept { return static_cast<bool>(t_); }
    friend bool operator==(const task_ref& a, const task_ref& b) noexcept { return a.t_ == b.t_; }

    /// The underlying task object (for aio's own templates and instruments).
    [[nodiscard]] detail::task_base* base() const noexcept { return t_.get(); }

protected:
    detail::task_ptr t_;
};

namespace detail {

template <class T>
class task_result : public task_base {
public:
    std::optional<T> value_;
    bool value_taken_ = false;
};

template <>
class task_result<void> : public task_base {};

template <class R, class Fn, class... Args>
class task_impl final : public task_result<R> {
public:
    template <class F, class... A>
    explicit task_impl(F&& fn, A&&... args)
        : body_(std::in_place, std::forward<F>(fn), std::forward<A>(args)...) {}

    void run_body() override {
        // The function object and its arguments are released as soon as the body ends, the
        // way a finished coroutine frame releases its locals.
        struct release_guard {
            std::optional<std::tuple<Fn, Args...>>& b;
            ~release_guard() { b.reset(); }
        } guard{body_};
        if constexpr (std::is_void_v<R>) {
            std::apply(std::move(std::get<0>(*body_)), rest());
        } else {
            this->value_.emplace(std::apply(std::move(std::get<0>(*body_)), rest()));
        }
    }

private:
    auto rest() {
        return std::apply([](auto&, auto&... a) { return std::forward_as_tuple(std::move(a)...); },
                          *body_);
    }
    std::optional<std::tuple<Fn, Args...>> body_;
};

template <class Fn, class... Args>
using task_result_t = std::invoke_result_t<std::decay_t<Fn>, std::decay_t<Args>...>;
/// task_result_t, or void when fn cannot be called (create_task's static_assert says why).
template <class Fn, class... Args>
using checked_task_result_t = invoke_result_or_void_t<std::decay_t<Fn>, std::decay_t<Args>...>;

void apply_options(task_base* t, task_options&& opts) noexcept;

}  // namespace detail

/// Handle of a task that produces a T (asyncio.Task). Copies share the task. Dropping every
/// handle of a task that nobody awaited (get/result/exception) nor detached is reported by
/// debug mode as never-awaited; the task itself keeps running either way.
template <class T>
class task : public task_ref {
    static_assert(!std::is_reference_v<T>,
                  "a task cannot return a reference; return a value, a pointer or std::ref");

public:
    using value_type = T;

    task() noexcept = default;
    explicit task(detail::task_base* t) noexcept
        : task_ref(t) {
        if (t != nullptr) {
            t->add_handle();
        }
    }
    task(const task& o) noexcept
        : task_ref(o) {
        if (t_) {
            t_->add_handle();
        }
    }
    task(task&& o) noexcept
        : task_ref(std::move(o)) {}
    task& operator=(task o) noexcept {
        std::swap(t_, o.t_);
        return *this;
    }
    ~task() {
        if (t_) {
            t_->drop_handle();
        }
    }

    /// Suspends until the task is done and returns its value or rethrows its exception
    /// (asyncio's `await task`); returns at once, without suspending, if it is already done.
    /// Cancellation point while it waits: cancelling the caller while it waits
    /// cancels this task too (as in asyncio) and keeps waiting for it to finish; use
    /// `shield` to prevent that. Throws cancelled_error if the task was cancelled.
    /// A move-only T can be taken once; a second take throws invalid_state_error.
    T get() {
        require();
        t_->join();
        return take();
    }

    /// The value or the rethrown exception of a done task; throws invalid_state_error if the
    /// task is not done (asyncio Task.result()). Does not suspend.
    T result() {
        require();
        t_->require_done("task::result()");
        return take();
    }

    /// The exception of a done task, or nullptr if it succeeded; throws cancelled_error if it
    /// was cancelled and invalid_state_error if it is not done. Does not suspend.
    [[nodiscard]] std::exception_ptr exception() const {
        require();
        t_->require_done("task::exception()");
        t_->observed_ = true;
        t_->exception_retrieved_ = true;
        if (t_->outcome_ == detail::task_outcome::cancelled) {
            t_->rethrow_failure();
        }
        return t_->exception_;
    }

private:
    void require() const {
        if (!t_) {
            throw invalid_state_error("this aio::task handle is empty (default-constructed or "
                                      "moved from); assign it the result of create_task first");
        }
    }

    T take() {
        t_->observed_ = true;
        if (t_->outcome_ != detail::task_outcome::value) {
            t_->exception_retrieved_ = true;
            t_->rethrow_failure();
        }
        if constexpr (!std::is_void_v<T>) {
            auto* r = static_cast<detail::task_result<T>*>(t_.get());
            if constexpr (std::is_copy_constructible_v<T>) {
                return *r->value_;
            } else {
                if (r->value_taken_) {
                    throw invalid_state_error("the result of task '" + name() +
                                              "' has a move-only type and was already taken");
                }
                r->value_taken_ = true;
                return std::move(*r->value_);
            }
        }
    }
};

namespace detail {

template <class Fn, class... Args>
task_base* make_task(Fn&& fn, Args&&... args) {
    using R = task_result_t<Fn, Args...>;
    return new task_impl<R, std::decay_t<Fn>, std::decay_t<Args>...>(std::forward<Fn>(fn),
                                                                     std::forward<Args>(args)...);
}

}  // namespace detail

/// Creates a task that runs `fn(args...)` on its own fiber and schedules it (asyncio
/// create_task). `fn` and `args` are copied or moved into the task, as std::thread does; pass
/// std::ref to share. Does not suspend: the task starts in the loop's next ready batch.
/// Throws usage_error outside a running loop.
template <class Fn, class... Args>
requires(!std::same_as<std::remove_cvref_t<Fn>, task_options>) [[nodiscard(
    "a task handle dropped without get() or detach() is a never-awaited task")]] AIO_ALWAYS_INLINE
    auto create_task(Fn&& fn, Args&&... args) -> task<detail::checked_task_result_t<Fn, Args...>> {
    if constexpr (!std::is_invocable_v<std::decay_t<Fn>, std::decay_t<Args>...>) {
        static_assert(detail::dependent_false<Fn>,
                      "create_task(fn, args...) takes a callable and the arguments to call it "
                      "with: aio::create_task(fetch, url) or aio::create_task([&] { return "
                      "fetch(url); }); fn cannot be called with these arguments");
        return {};
    } else {
        detail::task_base* t = detail::make_task(std::forward<Fn>(fn), std::forward<Args>(args)...);
        task<detail::task_result_t<Fn, Args...>> handle(t);
        detail::spawn(t);
        return handle;
    }
}

/// create_task with a name, a stack size, and the creation site captured where `opts` was
/// built. Same contract as above.
template <class Fn, class... Args>
[[nodiscard("a task handle dropped without get() or detach() is a never-awaited "
            "task")]] AIO_ALWAYS_INLINE auto
create_task(task_options opts, Fn&& fn, Args&&... args)
    -> task<detail::checked_task_result_t<Fn, Args...>> {
    if constexpr (!std::is_invocable_v<std::decay_t<Fn>, std::decay_t<Args>...>) {
        static_assert(detail::dependent_false<Fn>,
                      "create_task(options, fn, args...) takes a callable and the arguments to "
                      "call it with: aio::create_task(opts, fetch, url) or "
                      "aio::create_task(opts, [&] { return fetch(url); }); fn cannot be called "
                      "with these arguments");
        return {};
    } else {
        detail::task_base* t = detail::make_task(std::forward<Fn>(fn), std::forward<Args>(args)...);
        task<detail::task_result_t<Fn, Args...>> handle(t);
        detail::apply_options(t, std::move(opts));
        detail::spawn(t);
        return handle;
    }
}

/// The task running now, or an empty task_ref on the loop's own stack or outside a loop.
[[nodiscard]] task_ref current_task() noexcept;

/// Every task of the running loop that is not done yet. Throws usage_error outside a loop.
[[nodiscard]] std::vector<task_ref> all_tasks();

}  // namespace aio
