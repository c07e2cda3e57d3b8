// The stall watchdog (detectors/stall.cpp).
#pragma once

#include "../stacks.hpp"

#include <aio/instrument.hpp>
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
#include <vector>

#include <pthread.h>
#include <sys/types.h>

namespace aio::debug {

/// Watches the loop thread's task steps from a thread of its own: stalls (a step past
/// `stall`, its stack captured while it is blocked) and slow steps (past `slow`, reported by
/// the loop when the step ends). The loop thread only bumps a counter at each step's start
/// and end; the watchdog times the steps itself, every `tick` (an eighth of the smaller
/// threshold, 1 to 25 ms), so no clock is read per step.
class stall_watchdog {
public:
    /// Starts the watchdog for the calling (loop) thread. duration::max() turns a detector off.
    /// `probe`: the loop's step generations (read) and attention flag (set when there is news).
    /// `block`: a step during which the loop thread sleeps in one system call this long is a
    /// kernel block, unless `in_wrapper` (set by the blocking-call wrappers while a call they
    /// count runs) says a wrapper reports that call itself. `path_prefix`: the live line
    /// shows paths under it relative to it (see relative_paths; "" shows them in full).
    stall_watchdog(duration stall, duration slow, duration block, bool color,
                   std::string path_prefix, step_probe& probe, const std::atomic<bool>& in_wrapper);
    ~stall_watchdog();
    stall_watchdog(const stall_watchdog&) = delete;
    stall_watchdog& operator=(const stall_watchdog&) = delete;

    struct stall {
        std::uint64_t task_id = 0;
        std::string task_name;
        raw_stack stack;            ///< captured while the loop was blocked
        duration blocked{};         ///< how long: as last seen by the watchdog, then the whole step
        clock::time_point since{};  ///< when the step began, at the latest
        long syscall = -2;          ///< the system call it was blocked in (-1: in the kernel but in
                                    ///< none, -2: it was running user code or nothing is known)
    };

    /// The loop thread slept in one system call, inside a step, outside the wrappers.
    struct kernel_block {
        long syscall = -1;
        raw_stack stack;     ///< sampled while it slept (kernel_stack.hpp)
        duration blocked{};  ///< how long: to one watchdog tick
        std::uint64_t task_id = 0;
        std::string task_name;
    };

    /// What the watchdog saw of a step that just ended (empty for almost every step).
    struct step_report {
        std::optional<stall> stalled;      ///< it ran past the stall threshold
        duration slow{};                   ///< it ran past the slow threshold: how long (else 0)
        std::vector<kernel_block> blocks;  ///< kernel blocks that ended since the last report
    };

    /// Loop thread, after a step that needed attention: what the watchdog has about the step
    /// of generation `ended` (a stall of any step is reported with it).
    std::optional<step_report> collect(std::uint64_t ended) noexcept;
    /// The watchdog's timing precision.
    [[nodiscard]] duration tick() const noexcept { return tick_; }
    /// Stalls not reported because of the rate limit.
    [[nodiscard]] std::size_t suppressed() const noexcept;

private:
    void watch(clock::time_point created);
    void track_kernel(std::unique_lock<std::mutex>& lock, std::uint64_t gen, clock::time_point now);
    void close_kernel_block();
    void capture(std::unique_lock<std::mutex>& lock, stall& s);
    void live_line(const stall& s, duration blocked, bool first);

    const duration threshold_;
    const duration slow_;
    const duration block_;
    const duration tick_;
    const std::atomic<bool>& in_wrapper_;
    // The kernel block being watched: seen at two ticks in a row in the same system call at
    // the same place, in the same step, before it counts.
    struct open_block {
        std::uint64_t generation = 0;
        long syscall = -1;
        std::uintptr_t sp = 0;
        std::uintptr_t pc = 0;
        clock::time_point first_seen{};
        clock::time_point last_seen{};
        bool covered = false;  // a wrapper was counting a call when it was first seen
        kernel_block block;
    };
    std::optional<open_block> open_;    // guarded by mutex_
    std::vector<kernel_block> blocks_;  // guarded by mutex_: ended, for collect()
    const bool color_;
    const std::string path_prefix_;
    pthread_t loop_thread_;
    pid_t loop_tid_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    bool stop_ = false;
    step_probe& probe_;                  // generation: odd while a step runs
    std::optional<stall> current_;       // guarded by mutex_
    std::uint64_t slow_generation_ = 0;  // guarded by mutex_: the step found slow
    clock::time_point slow_since_{};     // guarded by mutex_: when it began, at most
    std::deque<clock::time_point> recent_;
    std::size_t suppressed_ = 0;
    std::thread thread_;
};

}  // namespace aio::debug
