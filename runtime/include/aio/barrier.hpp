// barrier: wait until N tasks arrive (asyncio.Barrier). See docs/reference/barrier.md.
#pragma once

#include <aio/detail/intrusive_list.hpp>

#include <cstddef>
#include <stdexcept>

namespace aio {

/// The barrier was reset or aborted while a task waited on it, or is broken.
class broken_barrier_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Lets `parties` tasks wait for each other; then all go on and the barrier resets itself for
/// the next round. Loop thread only.
class barrier {
public:
    /// Throws value_error unless parties >= 1.
    explicit barrier(std::size_t parties);
    barrier(const barrier&) = delete;
    barrier& operator=(const barrier&) = delete;

    /// Waits until `parties` tasks have called wait(); returns this task's arrival index,
    /// 0 to parties - 1. Yield point and cancellation point: a cancelled waiter leaves the
    /// count. Throws broken_barrier_error if the barrier is broken, or is reset or aborted
    /// while waiting.
    std::size_t wait();
    /// Puts the barrier back to its empty state; tasks waiting get broken_barrier_error.
    void reset() noexcept;
    /// Breaks the barrier for good: waiting and future wait() calls get broken_barrier_error.
    void abort() noexcept;

    [[nodiscard]] std::size_t parties() const noexcept { return parties_; }
    [[nodiscard]] std::size_t n_waiting() const noexcept { return count_; }
    [[nodiscard]] bool broken() const noexcept { return broken_; }

private:
    void release_all(int status) noexcept;
    std::size_t parties_;
    std::size_t count_ = 0;
    bool broken_ = false;
    detail::wait_list waiters_;
};

}  // namespace aio
