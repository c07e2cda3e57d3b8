// event, lock, semaphore, bounded_semaphore, condition, barrier.
//
// Three rules make them fair and loss-free (task.cpp has the mechanics):
//  - whoever releases something hands it to the first waiter directly (pop + notify), instead
//    of making it free for anyone, so a newcomer cannot barge in;
//  - cancel() takes a task out of every wait list at once, so nothing is handed to a waiter
//    that is about to raise cancelled_error;
//  - a waiter handed something just before its cancellation arrived gives it back to the next
//    waiter (or to the primitive) before cancelled_error leaves the call, as asyncio does.
// A primitive destroyed while tasks wait on it wakes each of them with usage_error
// (~wait_list); the code after a park checks `w.gone` before touching the primitive again.
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
    detail::check_list_thread(waiters_, "aio::event::set");
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
    detail::check_list_thread(waiters_, "aio::event::wait");
    waiter w{&me};
    waiter_guard guard(waiters_, w);
    const bool notified = detail::park_or_cancelled(me);
    if (AIO_UNLIKELY(w.gone != nullptr)) {
        detail::raise_abandoned(me, w);
    }
    if (!notified) {
        detail::deliver_cancel(me);  // the flag stays set: nothing to give back
    }
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
    if (owner_ != this) {  // held by a task (not by try_acquire outside one): same loop only
        detail::check_thread(static_cast<detail::task_base*>(owner_), "aio::lock::acquire");
    }
    detail::check_list_thread(waiters_, "aio::lock::acquire");
    waiter w{&me};
    bool notified = false;
    {
        waiter_guard guard(waiters_, w);
        notified = detail::park_or_cancelled(me);
        if (AIO_UNLIKELY(w.gone != nullptr)) {
            detail::raise_abandoned(me, w);
        }
    }
    if (!notified) {
        if (owner_ == &me) {
            hand_on();  // handed to us just before the cancellation: the next waiter gets it
        }
        detail::deliver_cancel(me);
    }
    // Notified: release() handed us the lock (owner_ already points at us).
    AIO_ASSERT(owner_ == &me);
}

void lock::release() {
    if (owner_ == nullptr) {
        throw usage_error("aio::lock::release: the lock is not locked");
    }
    detail::check_list_thread(waiters_, "aio::lock::release");
    hand_on();
}

void lock::hand_on() noexcept {
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
    // FIFO, as asyncio: a free permit is taken at once only when nobody waits and nobody was
    // woken and has not run yet; otherwise the newcomer queues behind them.
    if (value_ > 0 && waiters_.idle()) {
        --value_;
        return;
    }
    detail::check_list_thread(waiters_, "aio::semaphore::acquire");
    waiter w{&me};
    bool notified = false;
    {
        waiter_guard guard(waiters_, w);
        notified = detail::park_or_cancelled(me);
        if (AIO_UNLIKELY(w.gone != nullptr)) {
            detail::raise_abandoned(me, w);
        }
    }
    if (!notified && w.status != 0) {
        ++value_;  // handed a permit just before the cancellation: give it back
    }
    // Permits freed while we were on our way (released with nobody waiting yet, or given back)
    // go to those who queued behind us.
    wake_waiters();
    if (!notified) {
        detail::deliver_cancel(me);
    }
}

void semaphore::release() {
    detail::check_list_thread(waiters_, "aio::semaphore::release");
    ++value_;
    wake_waiters();
}

void semaphore::wake_waiters() noexcept {
    while (value_ > 0) {
        waiter* w = waiters_.pop_front();
        if (w == nullptr) {
            break;
        }
        --value_;
        detail::notify(*w);
    }
}

bool semaphore::try_acquire() noexcept {
    if (value_ > 0 && waiters_.idle()) {
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
    detail::check_list_thread(waiters_, "aio::condition::wait");
    lock_->release();
    bool notified = false;
    {
        waiter w{&me};
        waiter_guard guard(waiters_, w);
        notified = detail::park_or_cancelled(me);
        if (AIO_UNLIKELY(w.gone != nullptr)) {
            detail::raise_abandoned(me, w);  // the condition (and maybe its lock) is gone
        }
    }
    // Re-acquire before leaving, whatever happens, as asyncio does: the caller's code around
    // wait() assumes the lock is held. A cancellation raised by the re-acquisition is kept and
    // raised last (the most recent one, as asyncio re-raises).
    std::exception_ptr cancelled;
    for (;;) {
        try {
            lock_->acquire();
            break;
        } catch (const cancelled_error&) {
            cancelled = std::current_exception();
        }
    }
    if (notified && !cancelled && !me.must_cancel_) {
        return;
    }
    // Leaving with cancelled_error: this task may have been notified just before, so another
    // waiter gets a notification instead (a spurious wake-up at worst, which the condition
    // variable protocol allows; asyncio 3.13 does the same).
    if (waiter* next = waiters_.pop_front()) {
        detail::notify(*next);
    }
    if (me.must_cancel_) {
        detail::deliver_cancel(me);
    }
    if (cancelled) {
        std::rethrow_exception(cancelled);
    }
    // Woken by a cancellation that uncancel() withdrew before the task ran: raised anyway, as
    // by every other yield point (park()).
    detail::throw_cancelled(me, me.cancel_message_);
}

void condition::notify(std::size_t n) {
    if (!lock_->locked()) {
        throw usage_error("aio::condition::notify: acquire the condition's lock first");
    }
    detail::check_list_thread(waiters_, "aio::condition::notify");
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
//
// asyncio's state machine. *Filling*: tasks arrive and wait. The last arrival switches to
// *draining* and wakes them all; each leaves in turn, and the last to leave switches back to
// filling. Tasks arriving while the barrier drains (or resets) wait for that to end, so one
// round never mixes with the next. reset() with tasks inside switches to *resetting*: each
// leaves with broken_barrier_error, the last one back to filling. abort(): *broken* for good.
// Every wait re-checks the state when it resumes (a broadcast, not a hand-off), so a task
// released by the last arrival but not yet run still sees a reset that came meanwhile.

barrier::barrier(std::size_t parties)
    : parties_(parties) {
    if (parties == 0) {
        throw value_error("aio::barrier: parties must be at least 1");
    }
}

namespace {

// Parks on the barrier's list until woken; raises the owed cancellation, or usage_error if
// the barrier was destroyed meanwhile (then `gone` is set and the caller must not touch it).
void park_on(detail::wait_list& list, detail::task_base& me, bool& gone) {
    waiter w{&me};
    waiter_guard guard(list, w);
    const bool notified = detail::park_or_cancelled(me);
    if (AIO_UNLIKELY(w.gone != nullptr)) {
        gone = true;
        detail::raise_abandoned(me, w);
    }
    if (!notified) {
        detail::deliver_cancel(me);
    }
}

}  // namespace

std::size_t barrier::wait() {
    detail::task_base& me = detail::require_task("aio::barrier::wait()");
    detail::check_list_thread(waiters_, "aio::barrier::wait");
    bool gone = false;
    // Wait while the previous round drains or resets.
    while (state_ == barrier_state::draining || state_ == barrier_state::resetting) {
        park_on(waiters_, me, gone);
    }
    if (state_ == barrier_state::broken) {
        throw broken_barrier_error("aio::barrier is broken (aborted)");
    }
    const std::size_t index = count_++;
    bool left = false;
    // Leaving, however it happens: the last one out of a draining or resetting barrier makes
    // it fill again and lets the tasks blocked at the door in.
    auto leave = [&]() noexcept {
        left = true;
        --count_;
        if (count_ == 0 &&
            (state_ == barrier_state::draining || state_ == barrier_state::resetting)) {
            state_ = barrier_state::filling;
        }
        if (count_ == 0) {
            wake_all();
        }
    };
    try {
        if (index + 1 == parties_) {
            state_ = barrier_state::draining;  // the last arrival releases the round
            wake_all();
        } else {
            while (state_ == barrier_state::filling) {
                park_on(waiters_, me, gone);
            }
            if (state_ == barrier_state::broken || state_ == barrier_state::resetting) {
                leave();
                throw broken_barrier_error(state_ == barrier_state::broken
                                               ? "aio::barrier was aborted while waiting"
                                               : "aio::barrier was reset while waiting");
            }
        }
    } catch (...) {
        if (!left && !gone) {  // gone: destroyed under us, nothing of it may be touched
            leave();
        }
        throw;
    }
    leave();
    return index;
}

void barrier::wake_all() noexcept {
    while (waiter* w = waiters_.pop_front()) {
        detail::notify(*w);
    }
}

void barrier::reset() {
    detail::check_list_thread(waiters_, "aio::barrier::reset");
    if (count_ > 0) {
        state_ = barrier_state::resetting;
    } else {
        state_ = barrier_state::filling;
    }
    wake_all();
}

void barrier::abort() {
    detail::check_list_thread(waiters_, "aio::barrier::abort");
    state_ = barrier_state::broken;
    wake_all();
}

}  // namespace aio
