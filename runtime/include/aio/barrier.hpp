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

/// Where a barrier is in its cycle (asyncio's Barrier states).
enum class barrier_state : unsigned char {
    filling,    ///< tasks arrive and wait for the last party
    draining,   ///< the last party arrived: the waiters are on their way out
    resetting,  ///< reset() while tasks were inside: they leave with broken_barrier_error
    broken,     ///< abort(): every wait raises broken_barrier_error
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
    /// 0 to parties - 1 (the last arrival gets parties - 1 and does not suspend). A task that
    /// arrives while the previous round is still draining out (or resetting) first waits for
    /// that to end. Yield point and cancellation point: a cancelled waiter leaves the count.
    /// Throws broken_barrier_error if the barrier is broken, or is reset or aborted before
    /// this task has left it (also after the last arrival released it, if it has not run
    /// yet); cancelled_error; usage_error outside a task or if the barrier is destroyed while
    /// the task waits.
    std::size_t wait();
    /// With tasks inside: they leave with broken_barrier_error and the barrier fills again
    /// once the last has left (state resetting until then); with nobody inside: back to
    /// filling at once, also from broken. Does not suspend (asyncio's is a coroutine only
    /// because it takes a lock). Throws usage_error from a thread that does not run the
    /// waiting tasks' loop.
    void reset();
    /// Breaks the barrier: tasks inside and every later wait() get broken_barrier_error,
    /// until reset(). Does not suspend. Throws usage_error as reset().
    void abort();

    [[nodiscard]] std::size_t parties() const noexcept { return parties_; }
    /// Tasks waiting for the round to fill (0 while draining, resetting or broken).
    [[nodiscard]] std::size_t n_waiting() const noexcept {
        return state_ == barrier_state::filling ? count_ : 0;
    }
    [[nodiscard]] bool broken() const noexcept { return state_ == barrier_state::broken; }
    [[nodiscard]] barrier_state state() const noexcept { return state_; }

private:
    void wake_all() noexcept;
    std::size_t parties_;
    std::size_t count_ = 0;  // tasks inside: arrived and not yet left
    barrier_state state_ = barrier_state::filling;
    detail::wait_list waiters_{"aio::barrier"};
};

}  // namespace aio
