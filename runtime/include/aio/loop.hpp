// The event loop: aio::run, the running loop, loop time and callbacks.
// See docs/reference/loop.md and docs/design.md ("One loop iteration").
#pragma once

#include <aio/detail/config.hpp>
#include <aio/detail/task_base.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace aio {

/// The loop's clock: monotonic. Loop time never goes backwards.
using clock = std::chrono::steady_clock;
/// A point in loop time (what `loop::time()` returns and `sleep_until` takes).
using time_point = clock::time_point;
/// The duration type every aio call takes; any std::chrono duration converts to it.
using duration = std::chrono::nanoseconds;

class instrument;
class task_ref;
class thread_pool_executor;

/// Options of one `aio::run`.
struct run_options {
    /// Tests: loop time stands still while tasks run and jumps straight to the next timer
    /// when nothing is runnable and nothing is outstanding (no I/O watcher, no executor job),
    /// so `sleep(1h)` returns at once in real time; while something is outstanding (an I/O
    /// watcher, an executor job, a signal handler added with add_signal_handler) it runs at
    /// real speed. When every task waits and nothing can wake them, run() throws usage_error
    /// ("deadlock") instead of hanging. Off by default.
    bool virtual_time = false;
    /// Default fiber stack size for tasks of this loop, in bytes; 0 means aio's default
    /// (`default_stack_size`). A task can ask for its own with task_options::stack_size.
    std::size_t stack_size = 0;
    /// Name of the main task.
    std::string main_name = "main";
    /// When true and run() is called on the process's main thread with SIGINT at its default
    /// disposition, Ctrl-C cancels the main task and a second Ctrl-C ends the program.
    bool handle_signals = true;
    /// Instruments to install before the main task starts (not owned; must outlive run()).
    std::vector<instrument*> instruments;
    /// Debug-mode settings in the syntax of ASYNC_DEBUG ("1", "slow=50ms,strict", ...). When
    /// set, they take the place of the environment variable for this run (tests use this).
    /// Read only when the debug library is linked (aio::aio links it; aio::runtime alone
    /// does not).
    std::optional<std::string> debug;
    /// How long closing the loop waits for the default executor's threads to finish.
    duration executor_shutdown_timeout = std::chrono::seconds(300);
};

/// The default fiber stack size: 128 KiB of address space (memory is committed only for the
/// pages a task touches). AddressSanitizer builds use 512 KiB (its frames are larger).
std::size_t default_stack_size() noexcept;

/// What the loop's exception handler receives (asyncio's "context" dict).
struct exception_context {
    /// What happened, e.g. "Task exception was never retrieved".
    std::string message;
    /// The exception, if any.
    std::exception_ptr exception;
    /// The task concerned, if any (may be empty).
    std::function<std::string()> describe_task;
};

/// Handle of a callback scheduled with call_soon / call_later / call_at
/// (asyncio.Handle / TimerHandle). Copyable; cancelling through any copy cancels it.
class timer_handle {
public:
    timer_handle() noexcept = default;
    timer_handle(const timer_handle& o) noexcept;
    timer_handle(timer_handle&& o) noexcept;
    timer_handle& operator=(timer_handle o) noexcept;
    ~timer_handle();

    /// Prevents the callback from running if it has not run yet. Never suspends. Throws
    /// usage_error when called from a thread that does not run the loop while the callback is
    /// still due (to cancel from another thread, call_soon_threadsafe a cancel).
    void cancel();
    /// True once cancel() was called.
    [[nodiscard]] bool cancelled() const noexcept;
    /// When the callback is (or was) due, in loop time.
    [[nodiscard]] time_point when() const noexcept;

    struct node;
    explicit timer_handle(node* n) noexcept;

private:
    node* n_ = nullptr;
};

/// The event loop of the calling thread. Obtain it with get_running_loop(); `aio::run`
/// creates and closes it. All members are for the loop's own thread, except
/// call_soon_threadsafe.
class loop {
public:
    loop(const loop&) = delete;
    loop& operator=(const loop&) = delete;

    /// Loop time: monotonic; under run_options::virtual_time, virtual. Does not suspend.
    [[nodiscard]] time_point time() const noexcept;

    /// Schedules `fn` to run on the loop (not in a task) in the loop's next ready batch. FIFO.
    /// An exception from `fn` goes to the exception handler. Does not suspend.
    timer_handle call_soon(std::function<void()> fn);
    /// Schedules `fn` to run `delay` from now. Does not suspend.
    timer_handle call_later(duration delay, std::function<void()> fn);
    /// Schedules `fn` to run at loop time `when`. Does not suspend.
    timer_handle call_at(time_point when, std::function<void()> fn);
    /// The only loop call allowed from another thread: queues `fn` and wakes the loop
    /// (eventfd). Throws usage_error if the loop is already closed.
    void call_soon_threadsafe(std::function<void()> fn);

    using exception_handler = std::function<void(loop&, const exception_context&)>;
    /// Replaces the exception handler (an empty function restores the default, which prints
    /// the context on stderr).
    void set_exception_handler(exception_handler handler);
    /// Passes `ctx` to the exception handler; an exception thrown by the handler is printed
    /// and dropped. Never throws.
    void call_exception_handler(const exception_context& ctx) noexcept;

    /// Installs an instrument (not owned). Takes effect from the next event.
    void add_instrument(instrument* i);
    /// Removes an instrument; a no-op if it is not installed.
    void remove_instrument(instrument* i) noexcept;

    /// The executor used by run_in_executor(nullptr, ...) and to_thread; created on first use
    /// with min(32, cores + 4) threads and shut down when the loop closes.
    thread_pool_executor& default_executor();

    /// True on the thread that runs this loop.
    [[nodiscard]] bool is_loop_thread() const noexcept;

    /// Counters about this loop's life so far.
    struct statistics {
        std::uint64_t tasks_spawned = 0;
        std::uint64_t tasks_alive = 0;
        std::uint64_t peak_tasks_alive = 0;
        std::uint64_t steps = 0;
        std::uint64_t iterations = 0;
        /// Timers pending now: sleeps, deadlines, call_later/call_at callbacks not yet run.
        std::uint64_t timers_pending = 0;
    };
    [[nodiscard]] statistics stats() const noexcept;

    /// The time run() started this loop.
    [[nodiscard]] time_point start_time() const noexcept;

    detail::loop_core& core() noexcept { return *core_; }

private:
    friend class detail::loop_core;
    explicit loop(detail::loop_core* core) noexcept
        : core_(core) {}
    detail::loop_core* core_;
};

/// The loop running on this thread. Throws usage_error outside `aio::run`.
loop& get_running_loop();

namespace detail {

/// Makes the instrument a loop installs when it starts (or nullptr for none). The debug
/// library registers one at program start; the runtime knows nothing else about it.
using debug_factory = std::unique_ptr<instrument> (*)(loop&, const run_options&);
/// Registers the debug factory (the last registration wins).
void set_debug_factory(debug_factory factory) noexcept;

/// Debug mode: resolves a task's creation site (the return address `caller`) to file:line for
/// the stack-overflow message when the site has not been resolved yet. Called on the dying
/// loop thread, from the fault handler, just before abort(); returns false when unknown.
using crash_site_resolver = bool (*)(void* caller, const char** file, std::uint32_t* line);
/// Registers it (nullptr: none). The debug library registers one at program start.
void set_crash_site_resolver(crash_site_resolver resolver) noexcept;

/// Debug mode: mark each task's stack at 75 % of its depth so a task that went deeper is
/// flagged when it ends (task_base::stack_deep_). Costs one stack page per task. Loop thread.
void enable_stack_watermarks(loop& l) noexcept;

/// How many guard-paged fiber stacks the process may hold at once (the rest use canaries).
std::size_t stack_pool_guarded_budget() noexcept;

/// Drives one aio::run: builds the loop, runs `main` to completion, then closes the loop
/// (cancel what is left and wait for it, shut the executor down). Private to run().
class runner {
public:
    explicit runner(run_options options);
    ~runner();
    runner(const runner&) = delete;
    runner& operator=(const runner&) = delete;
    /// Runs the loop until `main` is done, then performs the whole shutdown sequence.
    /// Not inlined: its return address (inside the always-inline run) is the caller's line.
    AIO_NOINLINE void run_main(task_base* main);
    /// True if SIGINT cancelled the main task.
    [[nodiscard]] bool interrupted() const noexcept;
    [[nodiscard]] loop_core& core() noexcept { return *core_; }

private:
    loop_core* core_;
};

}  // namespace detail

}  // namespace aio
