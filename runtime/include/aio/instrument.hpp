// The instrumentation interface: how debug mode (and tests, and your own tools) watch the
// runtime without the runtime knowing about them (trio's abc.Instrument).
// See docs/reference/instrument.md.
//
// With no instrument installed each event costs the runtime one predictable branch.
// Every hook runs on the loop thread. The step, I/O-wait, done and closing hooks run on the
// loop's own stack; task_spawned, cancel_requested, task_handle_dropped,
// task_exception_unretrieved, resource_opened and resource_closed run where the event
// happens, often on a fiber stack: keep them small (capture raw data, symbolize later).
// A hook must not throw and must not suspend.
#pragma once

#include <aio/loop.hpp>
#include <aio/task.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace aio::detail {
struct resource_registry;
}  // namespace aio::detail

namespace aio {

/// Something a program opened that must be closed: an executor now; streams, servers,
/// sessions and job schedulers as they arrive. Reported by debug mode if still open when
/// the loop closes (leaked-resource).
struct resource_info {
    std::uint64_t id = 0;
    std::string kind;  ///< "executor", "stream", "server", ...
    std::string name;  ///< e.g. "to 127.0.0.1:8080"
    detail::creation_site site;
    /// What the resource still holds, for leak reports (e.g. a job scheduler's live jobs, one
    /// per line); may be empty. Call it on the loop thread while the resource is open.
    std::function<std::string()> describe;
};

/// Per-step cooperation for an instrument that cannot afford two virtual calls a step (debug
/// mode). Instead of before_task_step, the loop stores an incremented `generation` when a step
/// starts and again when it ends (odd while a step runs: another thread can time steps by
/// watching it); instead of calling after_task_step after every step, it calls it only when
/// `attention` is set (by any thread). The instrument clears `attention` itself.
struct step_probe {
    std::atomic<std::uint64_t> generation{0};
    std::atomic<bool> attention{false};
    /// The id of the task whose step runs (or ran last), stored before `generation` at each
    /// step's start: another thread that read an odd `generation` (acquire) knows the task.
    std::atomic<std::uint64_t> task_id{0};
    /// That task's name, or nullptr when it has none ("task-<id>"). Valid while the step of
    /// `generation` runs; readable from another thread only while the loop thread is known
    /// not to run user code (blocked in the kernel inside that step).
    std::atomic<const char*> task_name{nullptr};
    /// Set while aio itself blocks the loop thread on purpose inside a step (resolving a
    /// creation site for an error message on a helper thread and joining it): an instrument
    /// that watches for blocking calls leaves it alone.
    std::atomic<bool> aio_blocking{false};
};

/// Base class of instruments. Override the hooks you need; the others do nothing.
class instrument {
public:
    instrument() = default;
    instrument(const instrument&) = delete;
    instrument& operator=(const instrument&) = delete;
    virtual ~instrument() = default;

    /// The instrument's step probe, or nullptr (the default) for the plain step hooks. Asked
    /// once, when the instrument is installed; one probe per loop (a second instrument with a
    /// probe gets the plain hooks).
    virtual step_probe* probe() noexcept { return nullptr; }
    /// A task was created (called from create_task, so from the spawning task's stack).
    virtual void task_spawned(const task_ref& t) noexcept { (void)t; }
    /// The loop is about to switch to `t` (a step begins).
    virtual void before_task_step(const task_ref& t) noexcept { (void)t; }
    /// `t` gave control back to the loop (a step ended): it suspended, yielded or finished.
    virtual void after_task_step(const task_ref& t) noexcept { (void)t; }
    /// `t` is done (value, exception or cancelled); its stack is already released.
    virtual void task_done(const task_ref& t) noexcept { (void)t; }
    /// The last task<T> handle of `t` was dropped and nobody awaited or detached it.
    virtual void task_handle_dropped(const task_ref& t) noexcept { (void)t; }
    /// `t` failed and is being destroyed without anyone having retrieved the exception.
    virtual void task_exception_unretrieved(const task_ref& t) noexcept { (void)t; }
    /// cancel() was called on `t` (before it takes effect). Runs on the caller's stack.
    virtual void cancel_requested(const task_ref& t, std::string_view message) noexcept {
        (void)t;
        (void)message;
    }
    /// A loop call (named by `call`) was made from a thread that does not run the loop, with
    /// thread checks on (debug mode). Runs on that foreign thread: must be thread-safe. The
    /// call then throws usage_error.
    virtual void wrong_thread(const char* call) noexcept { (void)call; }
    /// A TLS client connection to `peer` finished its handshake without verifying the
    /// server's certificate (its ssl_context has set_verify(false)). Runs on the loop thread,
    /// in the task that opened the connection (open_connection, start_tls, an https request).
    virtual void insecure_connection(std::string_view peer) noexcept { (void)peer; }
    /// The loop is about to wait for I/O or timers for at most `timeout` (negative: no limit).
    virtual void before_io_wait(duration timeout) noexcept { (void)timeout; }
    /// The loop returned from its I/O wait.
    virtual void after_io_wait() noexcept {}
    /// `count` (> 0) expired timers fired in this loop iteration; the loop began firing them
    /// at `started` (the real clock, also under virtual time) and has just finished.
    virtual void timers_fired(std::size_t count, clock::time_point started) noexcept {
        (void)count;
        (void)started;
    }
    /// A call `t` made through to_thread / run_in_executor ran on an executor thread (the
    /// kernel's id `thread_id`) from `started` to `ended` (real clock). Called on the loop
    /// thread, on `t`'s own stack, as the call returns to `t` (not for a call whose caller was
    /// cancelled while it waited).
    virtual void executor_call_ran(const task_ref& t, clock::time_point started,
                                   clock::time_point ended, long thread_id) noexcept {
        (void)t;
        (void)started;
        (void)ended;
        (void)thread_id;
    }
    /// The main task is done and run() is about to cancel the tasks still pending (listed by
    /// all_tasks()); their suspension points have just been reported to
    /// task_suspended_at.
    virtual void shutdown_started(loop& l) noexcept { (void)l; }
    /// Called on `t`'s own fiber stack, from inside the yield point where it is suspended,
    /// when someone asked where it waits (capture_suspension_points). Capture raw addresses
    /// only: the fiber's stack is small.
    virtual void task_suspended_at(const task_ref& t) noexcept { (void)t; }
    /// A cancelled_error is about to be raised in `t` at a yield point. Runs on `t`'s own
    /// stack (capture it there: it is the yield point the cancellation is delivered at).
    virtual void cancel_delivered(const task_ref& t) noexcept { (void)t; }
    /// `t` went on after a delivered cancellation with cancelling() still above 0: it reached
    /// its next yield point, or returned. Runs on `t`'s own stack; once per delivery.
    virtual void ran_on_after_cancel(const task_ref& t) noexcept { (void)t; }
    /// The loop is closing: the main task is done and leftovers were cancelled and awaited.
    /// Tasks still listed by all_tasks() and resources still open are leaks.
    virtual void loop_closing(loop& l) noexcept { (void)l; }
    /// A resource was opened / closed.
    virtual void resource_opened(const resource_info& r) noexcept { (void)r; }
    virtual void resource_closed(const resource_info& r) noexcept { (void)r; }
    /// A resource's owner was destroyed while the resource was still open (`what` says how,
    /// e.g. "destroyed with 3 active jobs"); resource_closed follows at once.
    virtual void resource_abandoned(const resource_info& r, std::string_view what) noexcept {
        (void)r;
        (void)what;
    }
};

/// Registration of one resource with the running loop's registry. Owned by the resource
/// object: open it when the resource opens, close() it when the resource is closed.
/// Harmless when no loop runs (it then records nothing). Never throws after construction.
class resource_registration {
public:
    resource_registration() noexcept = default;
    /// Registers a resource of `kind` with the loop running on this thread, if any.
    resource_registration(std::string kind, std::string name);
    /// Same, with a function that says what the resource still holds (resource_info::describe).
    resource_registration(std::string kind, std::string name,
                          std::function<std::string()> describe);
    resource_registration(const resource_registration&) = delete;
    resource_registration& operator=(const resource_registration&) = delete;
    resource_registration(resource_registration&& o) noexcept;
    resource_registration& operator=(resource_registration&& o) noexcept;
    /// Closes the registration if still open.
    ~resource_registration();
    /// Marks the resource closed. Idempotent.
    void close() noexcept;
    /// Tells the instruments the owner is being destroyed without having closed the resource
    /// (`what` says how), then closes the registration. Does nothing if already closed.
    void abandon(std::string_view what) noexcept;
    [[nodiscard]] bool open() const noexcept { return id_ != 0; }

private:
    void open(std::string kind, std::string name, std::function<std::string()> describe,
              void* caller);

    detail::loop_core* loop_ = nullptr;
    std::uint64_t id_ = 0;
    std::shared_ptr<detail::resource_registry> anchor_;
};

/// Asks task `t`, if it is parked at a yield point, to report where it waits: in the next
/// loop iteration it calls every instrument's task_suspended_at from its own stack, then parks
/// again (nothing else changes for it). Returns false if `t` is not parked (running, ready or
/// done). Loop thread only; does not suspend.
bool request_suspension_capture(const task_ref& t) noexcept;

/// Resources of the running loop that are still open. Throws usage_error outside a loop.
std::vector<resource_info> open_resources();

}  // namespace aio
