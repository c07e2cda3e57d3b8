// Sampling a loop thread's stack while it runs, for debug mode's stall detector. Implemented
// in runtime/src/signals.cpp, beside every other signal handler of aio.
#pragma once

#include <chrono>
#include <cstdint>

#include <pthread.h>

namespace aio::detail {

/// What the sampled thread wrote about itself.
struct thread_sample {
    static constexpr int max_frames = 64;
    void* frames[max_frames] = {};  ///< return addresses, innermost first (backtrace(3))
    int frame_count = 0;
    std::uint64_t task_id = 0;  ///< the task running on the thread's loop, or 0
    char task_name[128] = {};   ///< its name ("task-<id>" when it has none)
};

/// Interrupts `thread`, which must be running an aio loop or be about to, with aio's sampling
/// signal and waits up to `timeout` for its handler to fill `out`. Returns false if the signal
/// cannot be used (the program has a handler of its own for it) or the thread did not answer
/// in time; a late answer is then ignored. Several samplers (one per loop) may sample at
/// once. Thread-safe; never throws. The request slots are static, so a signal that arrives
/// after its requester gave up never writes into freed memory.
bool sample_thread(pthread_t thread, thread_sample& out, std::chrono::nanoseconds timeout) noexcept;

}  // namespace aio::detail
