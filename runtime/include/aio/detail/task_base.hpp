// The untyped part of a task: its fiber, its state, its cancellation bookkeeping and the
// list of those waiting for it. task<T> adds the typed result on top (see task.hpp).
//
// Only what the public templates need is here; the code lives in runtime/src/task.cpp.
#pragma once

#include <aio/detail/config.hpp>
#include <aio/detail/intrusive_list.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace aio {
class loop;
class task_ref;
}  // namespace aio

namespace aio::detail {

class loop_core;
struct fiber_stack;

/// One execution context: the loop's own stack, or a task's fiber (see src/fiber_context.hpp).
struct context_slot {
    void* ctx = nullptr;  // saved Boost.Context fcontext while not running
    // Exception state of this context while it is switched out.
    void* eh_caught = nullptr;
    unsigned int eh_uncaught = 0;
    // Sanitizer bookkeeping: this context's stack bounds and its saved fake stack (ASan), its
    // fiber (TSan).
    const void* stack_bottom = nullptr;
    std::size_t stack_size = 0;
    void* fake_stack = nullptr;
    void* tsan_fiber = nullptr;
};

/// Where a task was created: a std::source_location when the caller gave one (task_options),
/// and always the return address inside the spawning function, symbolized on demand.
struct creation_site {
    const char* file = nullptr;
    const char* function = nullptr;
    std::uint32_t line = 0;
    void* caller = nullptr;
};

enum class task_state : std::uint8_t {
    scheduled,  // in the ready queue (new tasks start here)
    running,    // its fiber is on the CPU
    suspended,  // parked at a yield point
    done,       // returned, threw, or was cancelled; the fiber and its stack are gone
};

enum class task_outcome : std::uint8_t { none, value, exception, cancelled };

/// Something the loop runs from its ready queue: a task step or a callback.
struct ready_node {
    ready_node* next_ready = nullptr;
    bool is_task = false;
};

class task_base : public ready_node {
public:
    task_base(const task_base&) = delete;
    task_base& operator=(const task_base&) = delete;

    // Intrusive reference count. The loop holds one reference from spawn until the task is
    // done; every task_ref and task<T> holds one. The last release frees the task.
    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) {
            destroy();
        }
    }

    // Typed handles (task<T>) are counted apart from plain references, so that dropping the
    // last typed handle of a task nobody awaited can be reported (never-awaited).
    void add_handle() noexcept { ++handles_; }
    void drop_handle() noexcept;

    [[nodiscard]] bool done() const noexcept { return state_ == task_state::done; }
    [[nodiscard]] task_state state() const noexcept { return state_; }
    [[nodiscard]] task_outcome outcome() const noexcept { return outcome_; }

    /// Raises the stored exception or cancellation; call only when done and not a value.
    [[noreturn]] void rethrow_failure();
    /// Throws invalid_state_error unless done; `what` names the call for the message.
    void require_done(const char* what) const;

    /// Suspends the current task until this one is done. Cancellation point.
    void join();

    std::uint64_t id_ = 0;
    loop_core* loop_ = nullptr;
    std::string name_;  // empty: the default "task-<id>" (built on demand)
    creation_site site_{};
    std::size_t stack_size_ = 0;

    // Scheduling.
    task_state state_ = task_state::scheduled;
    task_outcome outcome_ = task_outcome::none;
    context_slot slot_{};           // the fiber's saved context while it is not running
    fiber_stack* stack_ = nullptr;  // acquired at the first step, released when done

    // Parking. Invariant: `cancellable_park_` is true only while the task is suspended in
    // park(); `notified_` is set by the first waker of that park and cleared when parking.
    bool cancellable_park_ = false;
    bool notified_ = false;
    // The waiters this task has in wait lists through a waiter_guard, innermost first:
    // cancel() takes them out of their lists at once, so nothing is handed to a task that is
    // about to raise cancelled_error.
    waiter* waits_ = nullptr;
    // The task this one waits for in get() (join) while parked there: cancel() passes the
    // cancellation on to it at once, as asyncio's Task.cancel() cancels its _fut_waiter.
    task_base* awaiting_ = nullptr;
    // What the task waits on while parked (a string literal; see park()), or nullptr.
    const char* waiting_on_ = nullptr;
    // The object behind `waiting_on_`, for the inspector, where the wait list does not tell
    // it: the task_group whose children it waits for. Meaningful only while parked there.
    const void* waiting_object_ = nullptr;
    // When it last parked, in CLOCK_MONOTONIC ns as its loop last read the clock (see
    // loop_core::batch_time_): the inspector's "waiting for".
    std::int64_t parked_at_ = 0;
    // Set by the loop to have a parked task report where it waits (instrument
    // task_suspended_at), on its own stack, and park again.
    bool capture_ = false;

    // Cancellation, as asyncio 3.11+: `cancel_requests_` is cancelling(); `must_cancel_` means a
    // cancelled_error is owed at the next yield point; `cancels_delivered_` counts how many
    // were thrown into the task (debug mode's cancel-swallowed uses it).
    bool must_cancel_ = false;
    // Instrumented loops only: a cancellation was delivered and the instruments have not yet
    // been told where the task went on after it (instrument::ran_on_after_cancel).
    bool cancel_watch_ = false;
    std::uint32_t cancel_requests_ = 0;
    std::uint32_t cancels_delivered_ = 0;
    std::string cancel_message_;

    // Stack watermark (debug mode's stack-high-water): the task's stack reached past 75 %.
    bool stack_deep_ = false;

    // Observation, for never-awaited / exception-never-retrieved.
    bool observed_ = false;             // get/result/exception/gather/task_group took it over
    bool exception_retrieved_ = false;  // its failure reached someone
    bool detached_ = false;

    std::exception_ptr exception_;
    wait_list done_waiters_;
    std::unique_ptr<std::vector<std::function<void(task_ref)>>> done_callbacks_;
    // Called on the loop stack the moment the task is done, after its waiters are queued to
    // wake (so they resume before any task the hook spawns) and before they run; for aio's own
    // bookkeeping (the job scheduler), where a done callback would cost allocations and a loop
    // iteration. Must not throw or suspend.
    void (*done_hook_)(task_base*, void*) noexcept = nullptr;
    void* done_hook_arg_ = nullptr;

    // Membership in the loop's list of live tasks (all_tasks()).
    task_base* all_prev_ = nullptr;
    task_base* all_next_ = nullptr;

    /// Free for instruments (debug mode keeps its per-task record here).
    void* instrument_data_ = nullptr;

    /// Runs the task's function and stores its value; exceptions escape to the fiber entry.
    virtual void run_body() = 0;

protected:
    task_base() noexcept { is_task = true; }
    virtual ~task_base();

private:
    void destroy() noexcept;  // reports an unretrieved exception, then deletes

    std::uint32_t refs_ = 0;
    std::uint32_t handles_ = 0;
};

/// Owning pointer to a task_base that keeps one reference.
class task_ptr {
public:
    task_ptr() noexcept = default;
    explicit task_ptr(task_base* t) noexcept
        : t_(t) {
        if (t_ != nullptr) {
            t_->add_ref();
        }
    }
    task_ptr(const task_ptr& o) noexcept
        : task_ptr(o.t_) {}
    task_ptr(task_ptr&& o) noexcept
        : t_(o.t_) {
        o.t_ = nullptr;
    }
    task_ptr& operator=(task_ptr o) noexcept {
        std::swap(t_, o.t_);
        return *this;
    }
    ~task_ptr() {
        if (t_ != nullptr) {
            t_->release();
        }
    }
    [[nodiscard]] task_base* get() const noexcept { return t_; }
    task_base* operator->() const noexcept { return t_; }
    task_base& operator*() const noexcept { return *t_; }
    explicit operator bool() const noexcept { return t_ != nullptr; }
    friend bool operator==(const task_ptr& a, const task_ptr& b) noexcept { return a.t_ == b.t_; }

private:
    task_base* t_ = nullptr;
};

// ---- The scheduling primitives every yield point is built from (runtime/src/task.cpp). ----

/// The task running on this thread, or nullptr on the loop's own stack / outside a loop.
[[nodiscard]] task_base* current_task_or_null() noexcept;
/// The running task; throws usage_error naming `what` when called outside a task.
task_base& require_task(const char* what);

/// Throws cancelled_error if a cancellation is owed to `t`. Every yield point starts here.
void checkpoint(task_base& t);

/// Non-zero while aio itself makes a blocking call on this thread on purpose (see
/// internal_blocking): debug mode's blocking-call wrappers do not count it.
extern thread_local int tls_internal_blocking;

/// Marks a blocking call aio makes itself on a loop thread (joining a helper thread that
/// resolves a creation site): not the user's blocking call. Sets the loop's step probe's
/// aio_blocking flag too, for watchers on other threads.
class internal_blocking {
public:
    internal_blocking() noexcept;
    ~internal_blocking();
    internal_blocking(const internal_blocking&) = delete;
    internal_blocking& operator=(const internal_blocking&) = delete;

private:
    std::atomic<bool>* flag_ = nullptr;
};

/// `t` goes on after a delivered cancellation (its next yield point, or its return): tells the
/// instruments when cancelling() is still above 0. Clears the watch. Task stack.
void ran_on_after_cancel(task_base& t) noexcept;

/// The `what` of the park functions names what the task waits on while parked, a string
/// literal such as "aio::sleep" (task_ref::waiting_on); nullptr: the primitive of its innermost
/// waiter's list, or the task it waits for in get().
///
/// Suspends `t` (the running task) until a waker calls notify() on one of its waiters, or
/// until it is cancelled. Returns normally when notified and no cancellation arrived before
/// the task resumed; throws cancelled_error otherwise. A cancellation that arrives after a
/// notification but before the task runs wins, as in asyncio (where the CancelledError is
/// thrown into the coroutine whatever the state of the future it awaited): a primitive that
/// handed something to the waiter must take it back (see park_or_cancelled).
void park(task_base& t, const char* what = nullptr);

/// Like park() but returns false instead of throwing when a cancellation is owed when the
/// task resumes (must_cancel_ stays set: raise it with deliver_cancel()). The waiter's status
/// tells whether it was also notified (handed something) just before: the caller gives that
/// back before raising. Returns true when notified and not cancelled.
bool park_or_cancelled(task_base& t, const char* what = nullptr) noexcept;

/// Raises the cancellation owed to the running task `t` (clears must_cancel_, counts it as
/// delivered).
[[noreturn]] void deliver_cancel(task_base& t);

/// For a waiter whose list was destroyed while it waited (`w.gone` set): raises the
/// cancellation owed to `t` if there is one, else usage_error naming the destroyed object.
/// Touches nothing but `t` and `w`.
[[noreturn]] void raise_abandoned(task_base& t, const waiter& w);

/// Raises cancelled_error(message) in the running task `t`, counting it as delivered.
[[noreturn]] void throw_cancelled(task_base& t, const std::string& message);

/// Like park() but cancellation does not wake the task; used to wait for children that are
/// unwinding. Returns when notified.
void park_uncancellable(task_base& t, const char* what = nullptr) noexcept;

/// Gives up the CPU for one loop iteration (sleep(0)). Cancellation point.
void yield_now(task_base& t);

/// Marks `w` with `status` (> 0) and makes its task ready, once per park. Loop thread only.
void notify(waiter& w, int status = 1) noexcept;

/// Links `w` into `list` for the scope and registers it with its task, so that cancel() can
/// take it out of the list the moment the task is cancelled; unlinks it when the scope ends
/// (normal return or unwinding). Guards of one task nest (innermost destroyed first).
class waiter_guard {
public:
    waiter_guard(wait_list& list, waiter& w) noexcept
        : w_(w) {
        list.push_back(w);
        w.task_next = w.task->waits_;
        w.task->waits_ = &w;
    }
    ~waiter_guard() {
        if (w_.list != nullptr) {
            w_.list->remove(w_);
        }
        AIO_ASSERT(w_.task->waits_ == &w_);
        w_.task->waits_ = w_.task_next;
        w_.task_next = nullptr;
    }
    waiter_guard(const waiter_guard&) = delete;
    waiter_guard& operator=(const waiter_guard&) = delete;

private:
    waiter& w_;
};

/// Schedules a task object made by make_task on the running loop. Not inlined on purpose:
/// its return address, inside the always-inline create_task, is the spawning line.
AIO_NOINLINE void spawn(task_base* t);

/// Throws usage_error naming `call` (and the threads) if the calling thread does not run
/// `t`'s loop, after telling the instruments (debug mode's wrong-thread). Always on.
void check_thread(const task_base* t, const char* call);

/// With tasks waiting on `list` (or handed something by it), throws usage_error unless the
/// calling thread runs their loop: one primitive cannot be shared by two loops' tasks.
inline void check_list_thread(const wait_list& list, const char* call) {
    if (waiter* w = list.any()) {
        check_thread(w->task, call);
    }
}

/// Requests cancellation of `t` (asyncio Task.cancel); returns false if it is already done.
/// Loop thread only (callers check it); never throws.
bool cancel(task_base& t, std::string_view message) noexcept;

}  // namespace aio::detail
