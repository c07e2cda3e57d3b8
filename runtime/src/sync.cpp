// event, lock, semaphore, bounded_semaphore, condition, barrier.
//
// One rule makes them fair and loss-free: whoever releases something hands it to the first
// waiter directly (pop + notify), instead of making it free for anyone. A notified waiter
// always returns normally from park() (a cancellation that comes after is raised at its next
// yield point), so what was handed over is never dropped on the floor.
#include "loop_core.hpp"

#include <aio/barrier.hpp>
#include <aio/condition.hpp>
#include <aio/errors.hpp>
#include <aio/event.hpp>
#include <aio/lock.hpp>
#include <aio/semaphore.hpp>

namespace aio {

using detail::waiter;
using detail::waiter_guard;

// event ---------------------------------------------------------------------------------

void event::set() {
    if (flag_) {
        return;
    }
    if (waiter* w = waiters_.front()) {
        detail::check_thread(w->task, "aio::event::set");
    }
    flag_ = true;
    while (waiter* w = waiters_.pop_front()) {
        detail::notify(*w);
    }
}

void event::wait() {
    if (flag_) {
        return;
    }
    detail::task_base& me = detail::require_task("aio::event::wait()");
    waiter w{&me};
    waiter_guard guard(waiters_, w);
    detail::park(me);
}

// lock ----------------------------------------------------------------------------------

void lock::acquire() {
    detail::task_base& me = detail::require_task("aio::lock::acquire()");
    if (owner_ == nullptr && waiters_.empty()) {
        owner_ = &me;
        return;
    }
    if (owner_ == &me) {
        throw usage_error("aio::lock::acquire: task '" + task_ref(&me).name() +
                          "' already holds this lock; aio::lock is not reentrant");
    }
    waiter w{&me};
    waiter_guard guard(waiters_, w);
    detail::park(me);
    // Notified: release() handed us the lock (owner_ already points at us).
}

void lock::release() {
    if (owner_ == nullptr) {
        throw usage_error("aio::lock::release: the lock is not locked");
    }
    if (waiter* front = waiters_.front()) {
        detail::check_thread(front->task, "aio::lock::release");
    }
    if (waiter* w = waiters_.pop_front()) {
        owner_ = w->task;
        detail::notify(*w);
    } else {
        owner_ = nullptr;
    }
}

bool lock::try_acquire() noexcept {
    if (owner_ != nullptr || !waiters_.empty()) {
        return false;
    }
    detail::task_base* me = detail::current_task_or_null();
    owner_ = me != nullptr ? static_cast<void*>(me) : static_cast<void*>(this);
    return true;
}

// semaphore -----------------------------------------------------------------------------

void semaphore::acquire() {
    detail::task_base& me = detail::require_task("aio::semaphore::acquire()");
    if (value_ > 0 && waiters_.empty()) {
        --value_;
        return;
    }
    waiter w{&me};
    waiter_guard guard(waiters_, w);
    detail::park(me);
    // Notified: release() handed us its permit.
}

void semaphore::release() {
    if (waiter* front = waiters_.front()) {
        detail::check_thread(front->task, "aio::semaphore::release");
    }
    if (waiter* w = waiters_.pop_front()) {
        detail::notify(*w);
    } else {
        ++value_;
    }
}

bool semaphore::try_acquire() noexcept {
    if (value_ > 0 && waiters_.empty()) {
        --value_;
        return true;
    }
    return false;
}

void bounded_semaphore::release() {
    if (waiters_.empty() && value_ >= bound_) {
        throw value_error("aio::bounded_semaphore released too many times (its initial value is " +
                          std::to_string(bound_) + ")");
    }
    semaphore::release();
}

// condition -----------------------------------------------------------------------------

condition::condition()
    : own_(std::make_unique<aio::lock>())
    , lock_(own_.get()) {
}

void condition::wait() {
    detail::task_base& me = detail::require_task("aio::condition::wait()");
    if (!lock_->locked()) {
        throw usage_error("aio::condition::wait: acquire the condition's lock first");
    }
    lock_->release();
    std::exception_ptr cancelled;
    bool notified = false;
    {
        waiter w{&me};
        waiter_guard guard(waiters_, w);
        try {
            detail::park(me);
            notified = true;
        } catch (const cancelled_error&) {
            cancelled = std::current_exception();
        }
    }
    // Re-acquire before leaving, whatever happens, as asyncio does: the caller's code around
    // wait() assumes the lock is held.
    for (;;) {
        try {
            lock_->acquire();
            break;
        } catch (const cancelled_error&) {
            cancelled = std::current_exception();
        }
    }
    if (cancelled) {
        if (notified) {
            // We were woken and then cancelled while taking the lock back: the notification
            // goes to the next waiter rather than being lost (as asyncio 3.13 does).
            if (waiter* next = waiters_.pop_front()) {
                detail::notify(*next);
            }
        }
        std::rethrow_exception(cancelled);
    }
}

void condition::notify(std::size_t n) {
    if (!lock_->locked()) {
        throw usage_error("aio::condition::notify: acquire the condition's lock first");
    }
    if (waiter* front = waiters_.front()) {
        detail::check_thread(front->task, "aio::condition::notify");
    }
    for (std::size_t i = 0; i < n; ++i) {
        waiter* w = waiters_.pop_front();
        if (w == nullptr) {
            break;
        }
        detail::notify(*w);
    }
}

void condition::notify_all() {
    notify(static_cast<std::size_t>(-1));
}

// barrier -------------------------------------------------------------------------------

barrier::barrier(std::size_t parties)
    : parties_(parties) {
    if (parties == 0) {
        throw value_error("aio::barrier: parties must be at least 1");
    }
}

std::size_t barrier::wait() {
    detail::task_base& me = detail::require_task("aio::barrier::wait()");
    if (broken_) {
        throw broken_barrier_error("aio::barrier is broken (aborted)");
    }
    if (count_ + 1 == parties_) {
        // The last arrival trips the barrier: the waiters, in arrival order, get 0..n-2.
        std::size_t i = 0;
        while (waiter* w = waiters_.pop_front()) {
            *static_cast<std::size_t*>(w->data) = i++;
            detail::notify(*w, 1);
        }
        count_ = 0;
        return i;
    }
    ++count_;
    std::size_t index = 0;
    waiter w{&me};
    w.data = &index;
    waiter_guard guard(waiters_, w);
    try {
        detail::park(me);
    } catch (const cancelled_error&) {
        --count_;
        throw;
    }
    if (w.status != 1) {
        throw broken_barrier_error(w.status == 2 ? "aio::barrier was reset while waiting"
                                                 : "aio::barrier was aborted while waiting");
    }
    return index;
}

void barrier::release_all(int status) noexcept {
    while (waiter* w = waiters_.pop_front()) {
        detail::notify(*w, status);
    }
}

void barrier::reset() noexcept {
    count_ = 0;
    broken_ = false;
    release_all(2);
}

void barrier::abort() noexcept {
    broken_ = true;
    count_ = 0;
    release_all(3);
}

}  // namespace aio
