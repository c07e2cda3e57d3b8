// The loop's private state. Map of the runtime:
//
//   loop.cpp         this class: ready queue, the iteration, timers, thread-safe queue,
//                    signals, the shutdown sequence of aio::run
//   task.cpp         fibers' lives: spawn, steps, park/notify, cancellation, join
//   fiber_context    the Boost.Context wrapper (the only file that includes it)
//   stack_pool       fiber stacks, guard pages and canaries
//   timer_queue      the timer heap
//   io/epoll.cpp     the poller
//   overflow.cpp     the SIGSEGV handler that names the task whose stack overflowed
//
//          +---------------- loop_core::run_once() ----------------+
//          | 1 poll I/O (epoll; timeout 0 if work is ready)        |
//          | 2 thread-safe callbacks, signals                      |
//          | 3 expired timers                                      |
//          | 4 ready batch: task steps and callbacks               |
//          +-------------------------------------------------------+
#pragma once

#include "fiber_context.hpp"
#include "io/poller.hpp"
#include "signals.hpp"
#include "stack_pool.hpp"
#include "timer_queue.hpp"

#include <aio/instrument.hpp>
#include <aio/loop.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace aio {

struct timer_handle::node : detail::ready_node {
    detail::timer_node timer;
    std::function<void()> fn;
    detail::loop_core* loop = nullptr;
    std::uint32_t refs = 1;
    bool cancelled = false;
    bool queued = false;  // in the ready queue or the timer heap (the loop holds a ref)
};

}  // namespace aio

namespace aio::detail {

class loop_core;
extern __attribute__((tls_model("initial-exec"))) thread_local loop_core* tls_loop;

/// The resource registry; shared with registrations so that one outliving the loop is safe.
struct resource_registry {
    std::mutex mutex;
    std::map<std::uint64_t, resource_info> open;
    std::uint64_t next_id = 1;
    loop_core* loop = nullptr;  // nullptr once the loop is closed
};

class loop_core {
public:
    explicit loop_core(const run_options& options);
    ~loop_core();
    loop_core(const loop_core&) = delete;
    loop_core& operator=(const loop_core&) = delete;

    loop facade_{this};

    // ---- ready queue ----
    void schedule(ready_node* n) noexcept {
        n->next_ready = nullptr;
        if (ready_tail_ != nullptr) {
            ready_tail_->next_ready = n;
        } else {
            ready_head_ = n;
        }
        ready_tail_ = n;
    }
    void schedule_task(task_base* t) noexcept {
        t->state_ = task_state::scheduled;
        schedule(t);
    }

    // ---- tasks (task.cpp) ----
    void spawn(task_base* t, void* caller);
    /// Resumes `t` for one step. The common case (a started task, no step hooks; a step probe
    /// at most) is inline so that the loop's side of a switch has no call level of its own.
    void run_step(task_base* t) noexcept {
        if (AIO_UNLIKELY(t->stack_ == nullptr || step_hooks_)) {
            run_step_slow(t);
            return;
        }
        current_ = t;
        t->state_ = task_state::running;
        ++stats_.steps;
        step_probe* const probe = probe_;
        if (AIO_UNLIKELY(probe != nullptr)) {
            probe->task_id.store(t->id_, std::memory_order_relaxed);
            probe->task_name.store(t->name_.empty() ? nullptr : t->name_.c_str(),
                                   std::memory_order_relaxed);
            probe->generation.store(++probe_generation_, std::memory_order_release);
        }
        transfer tr = switch_context(main_slot_, t->slot_, t);
        current_ = nullptr;
        if (AIO_UNLIKELY(probe != nullptr)) {
            probe->generation.store(++probe_generation_, std::memory_order_release);
            if (AIO_UNLIKELY(probe->attention.load(std::memory_order_acquire))) {
                probe_attention(t);
            }
        }
        if (AIO_UNLIKELY(t->state_ == task_state::done)) {
            finish(t);
        } else {
            t->slot_.ctx = tr.from_ctx;
        }
    }
    void run_step_slow(task_base* t) noexcept;
    /// The probed instrument's after_task_step (its probe asked for attention).
    void probe_attention(task_base* t) noexcept;
    /// From the running task: saves it and switches to the loop. Returns when resumed.
    /// Inline: see fiber_context.hpp for why.
    void switch_to_loop(task_base& t) noexcept {
        // A canary stack that overflowed is caught here, at the first switch after the damage.
        if (AIO_UNLIKELY(!t.stack_->canary_intact())) {
            stack_overflow(t);
        }
        transfer tr = switch_context(t.slot_, main_slot_, nullptr);
        main_slot_.ctx = tr.from_ctx;
    }
    void finish(task_base* t) noexcept;
    void on_handle_dropped(task_base* t) noexcept;
    void on_task_destroyed(task_base* t) noexcept;
    void report_unretrieved(task_base* t) noexcept;
    /// Has every parked task report where it waits (instrument task_suspended_at).
    void capture_suspension_points();
    void report_suspension(task_base& t) noexcept;
    [[noreturn]] void stack_overflow(task_base& t) noexcept;

    // ---- the loop (loop.cpp) ----
    void run_until_done(task_base* main);
    void run_once();
    void shutdown();
    [[nodiscard]] time_point now() const noexcept {
        return virtual_time_ ? virtual_now_ : clock::now();
    }

    // ---- timers ----
    void add_timer(timer_node& n) { timers_.push(n); }
    void remove_timer(timer_node& n) noexcept { timers_.remove(n); }

    // ---- callbacks ----
    timer_handle schedule_callback(std::function<void()> fn, const time_point* when);
    void run_callback(timer_handle::node* n) noexcept;
    void post_threadsafe(std::function<void()> fn);
    void drain_threadsafe() noexcept;
    void release_node(timer_handle::node* n) noexcept;

    // ---- executor bookkeeping, for virtual time ----
    void job_started() noexcept { ++outstanding_jobs_; }
    void job_finished() noexcept { --outstanding_jobs_; }

    // ---- instruments ----
    template <class F>
    void each_instrument(F&& f) noexcept {
        for (instrument* i : instruments_) {
            f(*i);
        }
    }
    [[nodiscard]] bool instrumented() const noexcept { return instrumented_; }
    void add_instrument(instrument* i);
    void remove_instrument(instrument* i) noexcept;

    void report(const exception_context& ctx) noexcept;

    // ---- state ----
    run_options options_;
    bool virtual_time_ = false;
    time_point virtual_now_{};
    time_point start_{};
    std::thread::id thread_;
    std::size_t default_stack_size_ = 0;

    task_base* current_ = nullptr;
    task_base* main_ = nullptr;
    context_slot main_slot_{};

    ready_node* ready_head_ = nullptr;
    ready_node* ready_tail_ = nullptr;
    timer_queue timers_;
    stack_pool stacks_;
    poller poller_;
    int wake_fd_ = -1;
    io_watcher wake_watcher_{};

    std::mutex ts_mutex_;
    std::vector<std::function<void()>> ts_queue_;
    std::atomic<bool> ts_pending_{false};
    bool accepting_threadsafe_ = true;  // guarded by ts_mutex_
    int outstanding_jobs_ = 0;

    task_base* all_head_ = nullptr;      // every live task object of this loop
    loop_core* inspect_next_ = nullptr;  // the next loop of aio_inspect_root's list (inspect.cpp)
    // The loop's idea of the time for the inspector, in CLOCK_MONOTONIC ns: a task that parks
    // records it (task_base::parked_at_), so a park costs a copy, not a clock read. Updated
    // when the clock is read anyway (timers), after a poll that blocked, and every 64th
    // iteration otherwise: behind by at most a clock tick (coarse clock) or 64 iterations of
    // a loop that never blocks and has no timer.
    std::int64_t batch_time_ = 0;
    loop::statistics stats_{};

    std::vector<instrument*> instruments_;
    std::vector<std::unique_ptr<instrument>> owned_instruments_;  // debug mode's
    bool instrumented_ = false;
    bool step_hooks_ = false;       // some instrument without a probe
    instrument* probed_ = nullptr;  // the instrument whose probe the loop feeds
    step_probe* probe_ = nullptr;
    std::uint64_t probe_generation_ = 0;  // what the loop last stored in probe_->generation
    void update_step_watch() noexcept;

    loop::exception_handler exception_handler_;
    std::unique_ptr<thread_pool_executor> default_executor_;
    std::shared_ptr<resource_registry> resources_ = std::make_shared<resource_registry>();

    // Signals (signals.cpp): this loop's handlers and what the signal handler sets.
    std::unique_ptr<loop_signals> signals_;
    /// The program handles a signal on this loop (add_signal_handler): under virtual time,
    /// something from outside may still come, as with I/O.
    [[nodiscard]] bool handles_signals() const noexcept {
        return signals_ && signals_->handler_count > 0;
    }

    bool interrupted_ = false;  // SIGINT cancelled the main task (aio::run's Ctrl-C)
    bool closing_ = false;
    // Debug mode's stack-high-water: a marker word at 75 % of each stack's depth, written when a
    // task starts and checked when it ends.
    bool watermarks_ = false;
    // The loop thread, for the wrong-thread message: its kernel id and its name at start.
    long tid_ = 0;
    char thread_name_[16] = {};
    /// Throws usage_error (after the instruments' wrong_thread) if the calling thread does not
    /// run this loop. Always on: one thread-local load per checked call.
    void check_thread(const char* call) {
        if (AIO_UNLIKELY(tls_loop != this)) {
            wrong_thread(call);
        }
    }
    [[noreturn]] void wrong_thread(const char* call);
    /// Tells the instruments (debug mode's wrong-thread finding) that `call` was made from a
    /// thread that does not run this loop, and returns the usage_error's message: about an
    /// object of this loop (`object`), or about an aio call made on a thread that runs no
    /// loop while this one runs. Any thread.
    std::string report_wrong_thread(const char* call, bool object) noexcept;
    static constexpr std::uint64_t watermark_value = 0x57A7C4DEE9A7E2ULL;
    static std::uint64_t* watermark_of(fiber_stack* s) noexcept {
        auto at = reinterpret_cast<std::uintptr_t>(s->bottom) + s->size / 4;
        return reinterpret_cast<std::uint64_t*>(at & ~std::uintptr_t{7});
    }
};

/// A deadline for a wait: while armed, it notifies `w` with status 2 at loop time `when`.
class deadline_timer {
public:
    deadline_timer(loop_core& l, waiter& w, time_point when)
        : loop_(l) {
        if (when != time_point::max()) {
            node_.deadline = when;
            node_.owner = &w;
            node_.fire = &fire;
            loop_.add_timer(node_);
        }
    }
    ~deadline_timer() { loop_.remove_timer(node_); }
    /// The timer's action (its address tells the inspector what a heap node is).
    static void fire(timer_node* n) noexcept { notify(*static_cast<waiter*>(n->owner), 2); }
    deadline_timer(const deadline_timer&) = delete;
    deadline_timer& operator=(const deadline_timer&) = delete;

private:
    loop_core& loop_;
    timer_node node_{};
};

/// The loop running on this thread, or nullptr.
inline loop_core* current_loop() noexcept {
    return tls_loop;
}

/// sleep(0): the task goes to the back of the ready queue and the loop runs the others.
inline void yield_inline(task_base& t) {
    if (AIO_UNLIKELY(t.must_cancel_)) {
        checkpoint(t);
    }
    t.loop_->schedule_task(&t);
    t.loop_->switch_to_loop(t);
    if (AIO_UNLIKELY(t.must_cancel_)) {
        checkpoint(t);
    }
}
/// The loop running on this thread; throws usage_error naming `what` outside a loop.
loop_core& require_loop(const char* what);

/// Throws usage_error for `what` called on a thread with no running loop: the only running
/// loop's wrong-thread error when one runs on another thread (reported to its instruments),
/// else "no running event loop".
[[noreturn]] void no_loop_on_this_thread(const char* what);

/// `what` was called on a thread that runs no loop. When exactly one loop runs in the process
/// (on another thread), reports the call to that loop's instruments as a wrong-thread call and
/// returns the usage_error message naming both threads; otherwise returns "".
std::string foreign_call(const char* what);
void set_current_loop(loop_core* l) noexcept;

/// Has a parked task report where it waits at its next step (task_suspended_at).
bool request_capture(task_base& t) noexcept;

/// "task 'name' created at file:line", for messages.
std::string describe_task(const task_base* t);
/// Resolves a creation record to file:line (symbolize.cpp); never throws.
source_site resolve_site(const creation_site& site) noexcept;

/// Installs the SIGSEGV handler and this thread's alternate signal stack (overflow.cpp).
void install_overflow_handler() noexcept;
/// Prints the stack-overflow message for `t` and aborts (async-signal-safe).
[[noreturn]] void report_stack_overflow(const task_base& t, const char* how) noexcept;

}  // namespace aio::detail
