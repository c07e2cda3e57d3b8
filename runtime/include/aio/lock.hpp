// lock: mutual exclusion between tasks (asyncio.Lock). See docs/reference/lock.md.
#pragma once

#include <aio/detail/intrusive_list.hpp>

namespace aio {

namespace detail {
struct inspect_layout;
}

/// A non-reentrant lock owned by a task. Fair: waiters acquire in FIFO order and release()
/// hands the lock straight to the first waiter, so a newcomer cannot barge in.
/// For scoped use (asyncio's `async with lock:`): `auto held = l.guard();`. Loop thread only.
class lock {
public:
    lock() = default;
    lock(const lock&) = delete;
    lock& operator=(const lock&) = delete;

    /// Acquires the lock, suspending while another task holds it. Yield point and cancellation
    /// point (when it suspends); a cancelled waiter never ends up holding the lock.
    /// Throws usage_error if the calling task already holds it (that would deadlock).
    void acquire();
    /// Releases the lock. Does not suspend. Throws usage_error if it is not locked.
    void release();
    /// Takes the lock if it is free and nobody waits; never suspends.
    bool try_acquire() noexcept;
    [[nodiscard]] bool locked() const noexcept { return owner_ != nullptr; }

    /// Holds a lock until destroyed.
    class [[nodiscard]] holder {
    public:
        explicit holder(aio::lock& l) noexcept
            : l_(&l) {}
        holder(holder&& o) noexcept
            : l_(o.l_) {
            o.l_ = nullptr;
        }
        holder(const holder&) = delete;
        holder& operator=(const holder&) = delete;
        holder& operator=(holder&&) = delete;
        ~holder() {
            if (l_ != nullptr) {
                l_->release();
            }
        }

    private:
        aio::lock* l_;
    };

    /// acquire(), then a holder that releases the lock when it goes out of scope.
    /// Yield point and cancellation point, as acquire().
    holder guard() {
        acquire();
        return holder(*this);
    }

private:
    friend struct detail::inspect_layout;  // aio ps: who holds it
    void hand_on() noexcept;               // to the first waiter, or free
    void* owner_ = nullptr;  // the holding task (set by release() when handed to a waiter)
    detail::wait_list waiters_{"aio::lock"};
};

}  // namespace aio
