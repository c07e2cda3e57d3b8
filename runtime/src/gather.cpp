// gather, wait, as_completed: waiting on several tasks at once. The waiting task links one
// waiter into each pending task's done list and parks; the first task to finish wakes it,
// and it re-checks its condition.
#include "loop_core.hpp"

#include <aio/gather.hpp>
#include <aio/wait.hpp>

#include <algorithm>
#include <memory>

namespace aio::detail {

namespace {

// Waiters linked into the done lists of the tasks not done yet; unlinked on destruction.
class done_waiters {
public:
    done_waiters(task_base& me, std::span<task_base* const> tasks)
        : tasks_(tasks)
        , waiters_(std::make_unique<waiter[]>(tasks.size())) {
        for (std::size_t i = 0; i < tasks.size(); ++i) {
            waiters_[i].task = &me;
            if (!tasks[i]->done()) {
                tasks[i]->done_waiters_.push_back(waiters_[i]);
            }
        }
    }
    ~done_waiters() {
        for (std::size_t i = 0; i < tasks_.size(); ++i) {
            tasks_[i]->done_waiters_.remove(waiters_[i]);
        }
    }
    done_waiters(const done_waiters&) = delete;
    done_waiters& operator=(const done_waiters&) = delete;

private:
    std::span<task_base* const> tasks_;
    std::unique_ptr<waiter[]> waiters_;
};

bool all_done(std::span<task_base* const> tasks) {
    return std::all_of(tasks.begin(), tasks.end(), [](task_base* t) { return t->done(); });
}

}  // namespace

std::ptrdiff_t gather_wait(std::span<task_base* const> tasks, bool keep_going) {
    task_base& me = require_task("aio::gather()");
    // Handing a task to gather awaits it, even when gather raises before it ends: dropping
    // its handle afterwards is not never-awaited. (A failure nobody retrieves still is
    // exception-never-retrieved.)
    for (task_base* t : tasks) {
        t->observed_ = true;
    }
    for (;;) {
        if (!keep_going) {
            for (std::size_t i = 0; i < tasks.size(); ++i) {
                if (tasks[i]->done() && tasks[i]->outcome_ != task_outcome::value) {
                    return static_cast<std::ptrdiff_t>(i);
                }
            }
        }
        if (all_done(tasks)) {
            return -1;
        }
        bool notified;
        {
            done_waiters ws(me, tasks);
            notified = park_or_cancelled(me, "aio::gather");
        }
        if (notified) {
            continue;
        }
        // The caller was cancelled: cancel the children, wait for all of them to finish
        // (whatever they do with their cancellation), then raise in the caller.
        std::string message = me.cancel_message_;
        me.must_cancel_ = false;
        for (task_base* t : tasks) {
            if (!t->done()) {
                cancel(*t, message);
            }
        }
        while (!all_done(tasks)) {
            done_waiters ws(me, tasks);
            park_uncancellable(me, "aio::gather");
        }
        for (task_base* t : tasks) {
            // The children's failures were part of a cancelled gather: nobody will ask.
            t->observed_ = true;
            if (t->outcome_ == task_outcome::cancelled) {
                t->exception_retrieved_ = true;
            }
        }
        throw_cancelled(me, message);
    }
}

void wait_core(std::span<task_base* const> tasks, return_when when, time_point deadline) {
    task_base& me = require_task("aio::wait()");
    waiter timer_waiter{&me};
    deadline_timer timer(*me.loop_, timer_waiter, deadline);
    for (;;) {
        std::size_t done = 0;
        bool failed = false;
        for (task_base* t : tasks) {
            if (t->done()) {
                ++done;
                failed = failed || t->outcome_ == task_outcome::exception;
            }
        }
        if (done == tasks.size() || (when == return_when::first_completed && done > 0) ||
            (when == return_when::first_exception && failed)) {
            return;
        }
        if (timer_waiter.status == 2) {
            return;  // timed out: wait() reports what is done, it does not raise
        }
        done_waiters ws(me, tasks);
        park(me, "aio::wait");
    }
}

std::ptrdiff_t wait_any(std::span<task_base* const> tasks, const std::vector<bool>& taken,
                        time_point deadline) {
    task_base& me = require_task("aio::as_completed()");
    waiter timer_waiter{&me};
    deadline_timer timer(*me.loop_, timer_waiter, deadline);
    for (;;) {
        for (std::size_t i = 0; i < tasks.size(); ++i) {
            if (!taken[i] && tasks[i]->done()) {
                return static_cast<std::ptrdiff_t>(i);
            }
        }
        if (timer_waiter.status == 2) {
            return -1;
        }
        done_waiters ws(me, tasks);
        park(me, "aio::as_completed");
    }
}

}  // namespace aio::detail
