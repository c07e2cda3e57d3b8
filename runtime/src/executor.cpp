// The thread pool and the bridge between a worker thread and the waiting task.
//
// The waiting task parks on a waiter; the worker, when done, posts a callback to the loop
// (call_soon_threadsafe through the loop's anchor, so a loop closed meanwhile is never
// touched) and the callback wakes the task. A task cancelled meanwhile has unlinked its
// waiter; the callback then finds nobody to wake.
#include "loop_core.hpp"

#include <aio/errors.hpp>
#include <aio/executor.hpp>
#include <aio/task.hpp>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

#include <unistd.h>

namespace aio {

struct thread_pool_executor::state {
    std::mutex mutex;
    std::condition_variable work_cv;
    std::condition_variable exit_cv;
    std::deque<std::function<void()>> jobs;
    std::vector<std::thread> threads;
    std::size_t max_workers = 1;
    std::size_t idle = 0;
    std::size_t running_threads = 0;
    bool shutting_down = false;
};

namespace {

void worker_main(std::shared_ptr<thread_pool_executor::state> s) {
    std::unique_lock<std::mutex> lock(s->mutex);
    for (;;) {
        ++s->idle;
        s->work_cv.wait(lock, [&] { return !s->jobs.empty() || s->shutting_down; });
        --s->idle;
        if (s->jobs.empty()) {
            break;  // shutting down and nothing left
        }
        auto job = std::move(s->jobs.front());
        s->jobs.pop_front();
        lock.unlock();
        job();
        job = nullptr;
        lock.lock();
    }
    --s->running_threads;
    s->exit_cv.notify_all();
}

}  // namespace

namespace detail {
void (*executor_thread_start_hook)() = nullptr;
void (*executor_call_returned_hook)() = nullptr;
}  // namespace detail

std::size_t thread_pool_executor::default_max_workers() noexcept {
    return default_max_workers(std::thread::hardware_concurrency());
}

std::size_t thread_pool_executor::default_max_workers(std::size_t cores) noexcept {
    return std::min<std::size_t>(32, std::max<std::size_t>(cores, 1) + 4);
}

thread_pool_executor::thread_pool_executor(std::size_t max_workers, std::string name)
    : state_(std::make_shared<state>())
    , name_(std::move(name))
    , registration_("executor", name_) {
    state_->max_workers = max_workers == 0 ? default_max_workers() : max_workers;
}

thread_pool_executor::~thread_pool_executor() {
    shutdown(true);
}

void thread_pool_executor::submit(std::function<void()> job) {
    // The queue lock is held for a few instructions at a time, but a worker (or another
    // submitter) preempted while it holds the lock makes a loop thread wait here for
    // milliseconds on a loaded machine: aio's own wait, not the user's blocking call (a long
    // one is still a stall and a slow step).
    detail::internal_blocking ours;
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (state_->shutting_down) {
        throw usage_error("thread_pool_executor '" + name_ +
                          "': submit after shutdown; create a new executor");
    }
    state_->jobs.push_back(std::move(job));
    if (state_->idle < state_->jobs.size() && state_->threads.size() < state_->max_workers) {
        // Exception-safe: the thread is counted only once it exists (it cannot reach the
        // mutex we hold before we do). If it cannot be started and no worker exists to run
        // the job, the job is taken back and the caller gets the error; otherwise the
        // existing workers will get to it.
        try {
            state_->threads.reserve(state_->threads.size() + 1);
            if (detail::executor_thread_start_hook != nullptr) {
                detail::executor_thread_start_hook();
            }
            std::thread t(worker_main, state_);
            ++state_->running_threads;
            state_->threads.push_back(std::move(t));
        } catch (const std::exception& e) {
            if (state_->threads.empty()) {
                state_->jobs.pop_back();
                throw std::system_error(
                    std::make_error_code(std::errc::resource_unavailable_try_again),
                    "thread_pool_executor '" + name_ + "': could not start a worker thread (" +
                        e.what() + ")");
            }
            state_->work_cv.notify_one();
        }
    } else {
        state_->work_cv.notify_one();
    }
}

void thread_pool_executor::shutdown(bool wait) noexcept {
    if (wait) {
        shutdown_for(duration::max());
        return;
    }
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->shutting_down = true;
    state_->work_cv.notify_all();
    registration_.close();
}

bool thread_pool_executor::shutdown_for(duration timeout) noexcept {
    std::vector<std::thread> threads;
    bool all_done = true;
    {
        std::unique_lock<std::mutex> lock(state_->mutex);
        state_->shutting_down = true;
        state_->work_cv.notify_all();
        if (timeout == duration::max()) {
            state_->exit_cv.wait(lock, [&] { return state_->running_threads == 0; });
        } else {
            all_done = state_->exit_cv.wait_for(lock, timeout,
                                                [&] { return state_->running_threads == 0; });
        }
        threads.swap(state_->threads);
    }
    for (auto& t : threads) {
        if (all_done) {
            t.join();
        } else {
            t.detach();  // the thread owns a reference to the state; it ends on its own
        }
    }
    if (!all_done) {
        std::string msg = "aio: executor '" + name_ + "': threads still busy after " +
                          format_duration(timeout) + " at shutdown; leaving them to finish\n";
        std::fputs(msg.c_str(), stderr);
    }
    registration_.close();
    return all_done;
}

std::size_t thread_pool_executor::max_workers() const noexcept {
    return state_->max_workers;
}

std::size_t thread_pool_executor::threads() const noexcept {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->threads.size();
}

std::size_t thread_pool_executor::queued() const noexcept {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->jobs.size();
}

thread_pool_executor& loop::default_executor() {
    core_->check_thread("loop::default_executor");
    if (!core_->default_executor_) {
        core_->default_executor_ = std::make_unique<thread_pool_executor>(0, "default executor");
    }
    return *core_->default_executor_;
}

namespace detail {

namespace {

struct call_link {
    std::shared_ptr<executor_call> call;
    waiter* w = nullptr;  // the parked task's waiter; cleared when it stops waiting
    bool finished = false;
    // When and where the call ran, for the instruments (executor_call_ran); written by the
    // worker before it posts `finished`, read on the loop thread after.
    clock::time_point started{};
    clock::time_point ended{};
    long thread_id = 0;
};

}  // namespace

void run_call(thread_pool_executor* ex, const std::shared_ptr<executor_call>& call) {
    task_base& me = require_task("aio::run_in_executor()");
    checkpoint(me);
    loop_core& l = *me.loop_;
    if (ex == nullptr) {
        ex = &l.facade_.default_executor();
    }
    auto link = std::make_shared<call_link>();
    link->call = call;
    std::shared_ptr<resource_registry> anchor = l.resources_;
    ex->submit([link, anchor]() mutable {
        int expected = 0;
        if (link->call->phase.compare_exchange_strong(expected, 1)) {
            link->started = clock::now();
            link->call->run();
            link->ended = clock::now();
            link->thread_id = static_cast<long>(::gettid());
        }
        // Back to the loop, if it still exists. The worker hands over its reference: the
        // call (the callable, its arguments, its result or exception) is destroyed on the
        // loop thread, never here while the loop may still be reading it.
        {
            std::lock_guard<std::mutex> lock(anchor->mutex);
            if (anchor->loop != nullptr) {
                loop_core* lp = anchor->loop;
                try {
                    lp->post_threadsafe([link = std::move(link), lp] {
                        lp->job_finished();
                        link->finished = true;
                        if (link->w != nullptr) {
                            notify(*link->w);
                        }
                    });
                } catch (...) {
                    // The loop stopped accepting callbacks: it is closing and nobody waits.
                }
            }
        }
        if (executor_call_returned_hook != nullptr) {
            executor_call_returned_hook();
        }
    });
    l.job_started();
    waiter w{&me};
    link->w = &w;
    try {
        while (!link->finished) {
            park(me, "aio::to_thread");
        }
    } catch (...) {
        link->w = nullptr;
        int expected = 0;
        call->phase.compare_exchange_strong(expected, 2);  // drop it if not started
        throw;
    }
    link->w = nullptr;
    if (AIO_UNLIKELY(l.instrumented()) && link->thread_id != 0) {
        task_ref ref(&me);
        l.each_instrument([&](instrument& i) {
            i.executor_call_ran(ref, link->started, link->ended, link->thread_id);
        });
    }
}

}  // namespace detail

}  // namespace aio
