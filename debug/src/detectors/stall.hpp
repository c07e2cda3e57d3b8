// The stall watchdog (detectors/stall.cpp).
#pragma once

#include "../stacks.hpp"

#include <aio/loop.hpp>
#include <aio/task.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <pthread.h>

namespace aio::debug {

class stall_watchdog {
public:
    /// Starts the watchdog for the calling (loop) thread.
    stall_watchdog(duration threshold, bool color);
    ~stall_watchdog();
    stall_watchdog(const stall_watchdog&) = delete;
    stall_watchdog& operator=(const stall_watchdog&) = delete;

    struct stall {
        std::uint64_t task_id = 0;
        std::string task_name;
        raw_stack stack;     ///< captured while the loop was blocked
        duration blocked{};  ///< how long, as last seen by the watchdog
    };

    /// Loop thread: a task step starts / ends. step_ends returns the stall that happened in
    /// the step, if any.
    void step_begins(clock::time_point now) noexcept;
    std::optional<stall> step_ends() noexcept;
    /// Stalls not reported because of the rate limit.
    [[nodiscard]] std::size_t suppressed() const noexcept;

private:
    void watch();
    raw_stack capture(std::unique_lock<std::mutex>& lock);
    void live_line(const stall& s, duration blocked, bool first);

    const duration threshold_;
    const bool color_;
    pthread_t loop_thread_;
    bool can_signal_ = false;
    std::atomic<std::int64_t> busy_since_{0};
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<bool> pending_{false};
    std::optional<stall> current_;  // guarded by mutex_
    std::deque<clock::time_point> recent_;
    std::size_t suppressed_ = 0;
    std::thread thread_;
};

}  // namespace aio::debug
