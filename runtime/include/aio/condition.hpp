// condition: wait for a notification while holding a lock (asyncio.Condition).
// See docs/reference/condition.md.
#pragma once

#include <aio/detail/intrusive_list.hpp>
#include <aio/lock.hpp>

#include <cstddef>
#include <memory>
#include <utility>

namespace aio {

/// A condition variable bound to a lock (its own, or one given). Loop thread only.
class condition {
public:
    /// Uses a lock of its own.
    condition();
    /// Uses `l`, which must outlive the condition.
    explicit condition(aio::lock& l) noexcept
        : lock_(&l) {}
    condition(const condition&) = delete;
    condition& operator=(const condition&) = delete;

    void acquire() { lock_->acquire(); }
    void release() { lock_->release(); }
    [[nodiscard]] bool locked() const noexcept { return lock_->locked(); }
    void lock() { acquire(); }
    void unlock() { release(); }
    /// acquire(), then a holder that releases the lock when it goes out of scope (asyncio's
    /// `async with cond:`). Yield point and cancellation point, as lock::acquire().
    aio::lock::holder guard() { return lock_->guard(); }

    /// Releases the lock, suspends until notified, and re-acquires the lock before returning
    /// (also when cancelled: the lock is held again when cancelled_error leaves). Yield point
    /// and cancellation point. Throws usage_error if the lock is not held.
    void wait();
    /// Waits until `pred()` is true (checked with the lock held); returns its last value.
    template <class Pred>
    auto wait_for(Pred pred) {
        auto r = pred();
        while (!r) {
            wait();
            r = pred();
        }
        return r;
    }
    /// Wakes up to `n` waiting tasks. Does not suspend. Throws usage_error if the lock is not
    /// held.
    void notify(std::size_t n = 1);
    /// Wakes every waiting task. Throws usage_error if the lock is not held.
    void notify_all();

private:
    std::unique_ptr<aio::lock> own_;
    aio::lock* lock_;
    detail::wait_list waiters_{"aio::condition"};
};

}  // namespace aio
