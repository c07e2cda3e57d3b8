// semaphore and bounded_semaphore (asyncio.Semaphore, BoundedSemaphore).
// See docs/reference/semaphore.md.
#pragma once

#include <aio/detail/intrusive_list.hpp>

#include <cstddef>

namespace aio {

/// A counter of permits. acquire() takes one, suspending while there are none; release()
/// returns one, handing it straight to the first waiter (FIFO, no barging). Loop thread only.
class semaphore {
public:
    /// Starts with `value` permits.
    explicit semaphore(std::size_t value = 1) noexcept
        : value_(value) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;
    virtual ~semaphore() = default;

    /// Takes a permit, suspending while none is free. Yield point and cancellation point
    /// (when it suspends); a cancelled waiter never keeps a permit.
    void acquire();
    /// Returns a permit. Does not suspend.
    virtual void release();
    /// Takes a permit if one is free and nobody waits; never suspends.
    bool try_acquire() noexcept;
    /// True when acquire() would suspend: no free permit, or tasks queued before (waiting, or
    /// handed a permit they have not taken yet: FIFO).
    [[nodiscard]] bool locked() const noexcept { return value_ == 0 || !waiters_.idle(); }
    /// Free permits.
    [[nodiscard]] std::size_t value() const noexcept { return value_; }

    void lock() { acquire(); }
    void unlock() { release(); }
    bool try_lock() noexcept { return try_acquire(); }

protected:
    void wake_waiters() noexcept;  // free permits to the first waiters, one each
    std::size_t value_;
    detail::wait_list waiters_{"aio::semaphore"};
};

/// A semaphore that refuses to be released more often than acquired.
class bounded_semaphore : public semaphore {
public:
    explicit bounded_semaphore(std::size_t value = 1) noexcept
        : semaphore(value)
        , bound_(value) {}
    /// Returns a permit; throws value_error if that would exceed the initial value.
    void release() override;

private:
    std::size_t bound_;
};

}  // namespace aio
