// Running blocking code on threads: thread_pool_executor, run_in_executor, to_thread.
// See docs/reference/executor.md.
#pragma once

#include <aio/detail/callable.hpp>
#include <aio/instrument.hpp>
#include <aio/loop.hpp>

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace aio {

/// A bounded pool of threads (concurrent.futures.ThreadPoolExecutor). Threads start on
/// demand, up to max_workers; jobs wait in a FIFO queue when all are busy.
/// Registered as a resource: one still open when its loop closes is reported by debug mode.
class thread_pool_executor {
public:
    /// At most `max_workers` threads; 0 means asyncio's rule, min(32, cores + 4).
    explicit thread_pool_executor(std::size_t max_workers = 0, std::string name = "executor");
    /// Shuts down and waits for the threads (shutdown(true)).
    ~thread_pool_executor();
    thread_pool_executor(const thread_pool_executor&) = delete;
    thread_pool_executor& operator=(const thread_pool_executor&) = delete;

    /// Queues `job` for a worker thread, starting one if all are busy and fewer than
    /// max_workers exist. Thread-safe; does not suspend. Throws usage_error after shutdown;
    /// std::system_error if no worker thread exists and none can be started (the job is then
    /// not queued). A failed start with workers running leaves the job to them.
    void submit(std::function<void()> job);
    /// Stops accepting jobs; queued jobs still run. With `wait`, blocks the calling thread
    /// until every thread has finished (do not call it with wait=true from a task: it blocks
    /// the loop; the loop shuts its default executor down itself). Idempotent.
    void shutdown(bool wait = true) noexcept;
    /// shutdown(), waiting at most `timeout`; threads still busy after that are left to
    /// finish on their own (a line on stderr says so). Returns true if all finished.
    bool shutdown_for(duration timeout) noexcept;

    [[nodiscard]] std::size_t max_workers() const noexcept;
    /// Threads started so far.
    [[nodiscard]] std::size_t threads() const noexcept;
    /// Jobs queued and not yet started.
    [[nodiscard]] std::size_t queued() const noexcept;
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

    /// asyncio's default size for this machine: min(32, cores + 4).
    static std::size_t default_max_workers() noexcept;
    /// asyncio's default size for `cores` cores (0, unknown, counts as 1).
    static std::size_t default_max_workers(std::size_t cores) noexcept;

    struct state;

private:
    std::shared_ptr<state> state_;
    std::string name_;
    resource_registration registration_;
};

namespace detail {

/// Tests: called under the executor's lock before each worker thread is started; a hook
/// that throws simulates a thread that cannot be created. nullptr (the default) in programs.
extern void (*executor_thread_start_hook)();

/// Tests: called on the worker thread after a finished call was handed back to the loop.
/// nullptr (the default) in programs.
extern void (*executor_call_returned_hook)();

/// What a worker thread and the waiting task share.
struct executor_call {
    virtual ~executor_call() = default;
    virtual void run() noexcept = 0;
    std::exception_ptr error;
    std::atomic<int> phase{0};  // 0 queued, 1 running, 2 given up by the caller
};

template <class R, class Fn>
struct executor_call_of final : executor_call {
    explicit executor_call_of(Fn&& f)
        : fn(std::move(f)) {}
    void run() noexcept override {
        try {
            if constexpr (std::is_void_v<R>) {
                fn();
            } else {
                value.emplace(fn());
            }
        } catch (...) {
            error = std::current_exception();
        }
    }
    Fn fn;
    std::optional<std::conditional_t<std::is_void_v<R>, int, R>> value;
};

/// Submits `call` and suspends the calling task until it has run. Cancellation point.
void run_call(thread_pool_executor* ex, const std::shared_ptr<executor_call>& call);

/// The body of run_in_executor, once `fn` is known to be callable.
template <class Fn, class... Args>
auto run_in_executor_impl(thread_pool_executor* executor, Fn&& fn, Args&&... args)
    -> std::invoke_result_t<std::decay_t<Fn>, std::decay_t<Args>...> {
    using R = std::invoke_result_t<std::decay_t<Fn>, std::decay_t<Args>...>;
    auto bound = [f = std::forward<Fn>(fn),
                  tup = std::make_tuple(std::forward<Args>(args)...)]() mutable -> R {
        return std::apply(std::move(f), std::move(tup));
    };
    auto call = std::make_shared<detail::executor_call_of<R, decltype(bound)>>(std::move(bound));
    detail::run_call(executor, call);
    if (call->error) {
        std::rethrow_exception(call->error);
    }
    if constexpr (!std::is_void_v<R>) {
        return std::move(*call->value);
    }
}

}  // namespace detail

/// Runs `fn(args...)` on `executor` (nullptr: the loop's default executor) and suspends the
/// calling task until it returns; returns its value or rethrows its exception
/// (loop.run_in_executor). Yield point and cancellation point: cancelling the caller
/// raises cancelled_error in it at once; a job not yet started is dropped, but a running job
/// cannot be stopped: its thread goes on to the end and its result is discarded. `fn`, the
/// arguments, the result and the exception are destroyed on the loop thread (on the worker
/// only if the loop closed before the job ended).
/// Throws usage_error outside a task or after the executor was shut down.
template <class Fn, class... Args>
auto run_in_executor(thread_pool_executor* executor, Fn&& fn, Args&&... args)
    -> detail::invoke_result_or_void_t<std::decay_t<Fn>, std::decay_t<Args>...> {
    if constexpr (!std::is_invocable_v<std::decay_t<Fn>, std::decay_t<Args>...>) {
        // run_in_executor(ex, read_file(path)) would run read_file on the loop thread.
        static_assert(detail::dependent_false<Fn>,
                      "run_in_executor(executor, fn, args...) / to_thread(fn, args...) take a "
                      "function and its arguments: aio::to_thread(read_file, path), not "
                      "aio::to_thread(read_file(path)), which calls read_file on the loop "
                      "thread; fn cannot be called with these arguments");
    } else {
        return detail::run_in_executor_impl(executor, std::forward<Fn>(fn),
                                            std::forward<Args>(args)...);
    }
}

/// Runs `fn(args...)` on the loop's default executor (asyncio.to_thread). Same contract as
/// run_in_executor.
template <class Fn, class... Args>
auto to_thread(Fn&& fn, Args&&... args)
    -> detail::invoke_result_or_void_t<std::decay_t<Fn>, std::decay_t<Args>...> {
    return run_in_executor(nullptr, std::forward<Fn>(fn), std::forward<Args>(args)...);
}
}  // namespace aio
