// The loop's side of signal handling (signals.cpp). See signals.cpp for the design.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

namespace aio::detail {

class loop_core;

/// Signals 1..64 (Linux: SIGRTMAX is 64) as bits 0..63.
constexpr int max_signal = 64;

/// One loop's signal state. The part the signal handler reads is published in the process's
/// list of loops (under its lock); the handlers themselves are touched by the loop only.
struct loop_signals {
    // ---- read by the signal handler, under the process list's lock ----
    loop_signals* next = nullptr;
    int wake_fd = -1;                        // the loop's eventfd
    std::atomic<bool>* wake_flag = nullptr;  // the loop's ts_pending_
    std::atomic<std::uint64_t> wanted{0};    // signals this loop handles
    std::atomic<std::uint64_t> pending{0};   // arrived, not yet taken by the loop
    std::atomic<bool> ctrl_c{false};         // aio::run's Ctrl-C behaviour is on for SIGINT
    std::atomic<int> sigint_hits{0};         // SIGINTs seen while ctrl_c was on
    // ---- the loop's own ----
    // Shared with the callbacks already scheduled, so a handler replaced or removed while a
    // call is on its way stays alive, and one handler object (its captured state) serves
    // every call.
    std::shared_ptr<std::function<void()>> handlers[max_signal];
    int handler_count = 0;          // handlers set (for virtual time: something may come)
    bool ctrl_c_requested = false;  // aio::run asked for Ctrl-C handling
    bool listed = false;            // in the process list
};

/// aio::run's Ctrl-C: the first SIGINT cancels the main task (seen by take_signals), a second
/// one ends the process with the default action, from the handler. Loop thread.
void enable_ctrl_c(loop_core& l);
/// Phase 2 of an iteration: runs what the signals that arrived call for. Loop thread.
void take_signals(loop_core& l) noexcept;
/// The loop closes: its handlers are removed (dispositions restored when it was the last
/// user of a signal) and it leaves the process list, after which no signal handler can touch
/// it. Loop thread; before the wake-up fd is closed.
void detach_signals(loop_core& l) noexcept;
/// True while some loop of this process handles `sig` (aio owns its disposition).
bool aio_handles(int sig) noexcept;

}  // namespace aio::detail
