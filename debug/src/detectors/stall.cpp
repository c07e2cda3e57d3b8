// stall: the loop thread has not come back to the scheduler for longer than `stall`.
//
// Seastar's reactor stall detector, for fibers: a watchdog thread watches the start time of
// the current task step. When a step runs past the threshold, the watchdog samples the loop
// thread (detail::sample_thread: a signal whose handler, on the alternate signal stack,
// captures the stack) *while the loop is still blocked*, so the report names the line inside the
// CPU loop or the blocking call, not only the task. The watchdog prints a live line at 1x the
// threshold and "still blocked" lines at 2x, 4x...; when the step ends, the session reports one
// finding with the final duration. At most 5 stalls a minute are reported; the rest are counted and
// the count is reported.
#include "stall.hpp"

#include "../stacks.hpp"
#include "detectors.hpp"
#include "kernel_stack.hpp"

#include <aio/detail/thread_sample.hpp>
#include <aio/errors.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <utility>

#include <execinfo.h>
#include <pthread.h>
#include <unistd.h>

namespace aio::debug {

stall_watchdog::stall_watchdog(duration stall, duration slow, duration block, bool color,
                               std::string path_prefix, step_probe& probe,
                               const std::atomic<bool>& in_wrapper)
    : threshold_(stall)
    , slow_(slow)
    , block_(block)
    // Kernel blocks need two looks inside the block: ticks of half of `block`, 1 ms at least.
    , tick_(std::clamp<duration>(std::min({stall / 8, slow / 8, block / 2}),
                                 std::chrono::milliseconds(1), std::chrono::milliseconds(25)))
    , in_wrapper_(in_wrapper)
    , color_(color)
    , path_prefix_(std::move(path_prefix))
    , loop_thread_(::pthread_self())
    , loop_tid_(static_cast<pid_t>(::gettid()))
    , probe_(probe) {
    // The first tick's lower bound of a step's start is taken here, on the loop thread: the
    // watchdog thread may start running only after the loop's first steps have begun (a
    // loaded machine), and a bound taken there would make the first stall look shorter.
    const clock::time_point created = clock::now();
    thread_ = std::thread([this, created] { watch(created); });
}

stall_watchdog::~stall_watchdog() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

std::optional<stall_watchdog::step_report> stall_watchdog::collect(std::uint64_t ended) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    step_report r;
    if (current_) {
        r.stalled = std::move(current_);
        current_.reset();
        r.stalled->blocked = clock::now() - r.stalled->since;  // the whole step
    }
    if (slow_generation_ == ended) {
        r.slow = clock::now() - slow_since_;
        slow_generation_ = 0;
    }
    if (open_ && open_->generation == ended) {
        close_kernel_block();  // the step ended: so did the system call it slept in
    }
    r.blocks.swap(blocks_);
    if (!r.stalled && r.slow == duration::zero() && r.blocks.empty()) {
        return std::nullopt;
    }
    return r;
}

std::size_t stall_watchdog::suppressed() const noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    return suppressed_;
}

// Every tick: which step runs now (the probe's generation, odd while one runs), and since when. A
// step first seen at tick T began after the previous tick: `since` (the previous tick) is an upper
// bound of its length for reports, `first_seen` a lower bound for thresholds, so a step is
// never flagged for less than its threshold and is reported at most a tick long.
void stall_watchdog::watch(clock::time_point created) {
    std::unique_lock<std::mutex> lock(mutex_);
    std::uint64_t seen_generation = 0;
    clock::time_point previous_tick = created;
    clock::time_point since{};
    clock::time_point first_seen{};
    duration next_report{};
    bool reported = false;
    bool slow_flagged = false;
    while (!stop_) {
        cv_.wait_for(lock, tick_);
        if (stop_) {
            break;
        }
        const auto now = clock::now();
        const std::uint64_t gen = probe_.generation.load(std::memory_order_acquire);
        const clock::time_point last_tick = previous_tick;
        previous_tick = now;
        if (block_ != duration::max()) {
            track_kernel(lock, gen, now);
        }
        if ((gen & 1) == 0) {
            continue;  // between steps
        }
        if (gen != seen_generation) {
            seen_generation = gen;
            since = last_tick;
            first_seen = now;
            next_report = threshold_;
            reported = false;
            slow_flagged = false;
            continue;
        }
        const duration surely = now - first_seen;  // it ran at least this long
        if (!slow_flagged && surely >= slow_) {
            slow_flagged = true;
            slow_generation_ = gen;
            slow_since_ = since;
            probe_.attention.store(true, std::memory_order_release);
        }
        if (surely < next_report) {
            continue;
        }
        const duration blocked = now - since;
        if (!reported) {
            reported = true;
            // Rate limit: at most 5 stalls reported per minute.
            while (!recent_.empty() && now - recent_.front() > std::chrono::minutes(1)) {
                recent_.pop_front();
            }
            if (recent_.size() >= 5) {
                ++suppressed_;
                next_report = duration::max();
                continue;
            }
            recent_.push_back(now);
            stall s;
            capture(lock, s);
            if (probe_.generation.load(std::memory_order_acquire) != seen_generation) {
                continue;  // the step ended while we captured: not a stall any more
            }
            s.blocked = blocked;
            s.since = since;
            current_ = s;
            probe_.attention.store(true, std::memory_order_release);
            // Printed without the lock: symbolizing can take tens of milliseconds (loading a
            // library's debug information), and the loop takes the lock when the step ends.
            lock.unlock();
            live_line(s, blocked, true);
            lock.lock();
        } else if (current_) {
            current_->blocked = blocked;
            const stall still = *current_;
            lock.unlock();
            live_line(still, blocked, false);
            lock.lock();
        }
        next_report = next_report > duration::max() / 2 ? duration::max() : next_report * 2;
    }
}

// A step during which the loop thread sleeps in the kernel, in a call no wrapper counts (a
// system call made with inline assembly, a wait inside libc, a function not interposed):
// seen by looking at /proc/self/task/<tid>/syscall every tick while a step runs. A call seen
// at two ticks in a row (same system call, same stack pointer and pc, same step) is a block;
// when it ends, it counts if it lasted `block` (to a tick: from the first look to the last
// plus one tick). One look is not enough: a fast system call can be caught by chance.
void stall_watchdog::track_kernel(std::unique_lock<std::mutex>& lock, std::uint64_t gen,
                                  clock::time_point now) {
    // /proc is read without the lock: the loop takes it at the end of a step.
    const bool in_step = (gen & 1) != 0;
    lock.unlock();
    const kernel_position at = in_step ? kernel_position_of(loop_tid_) : kernel_position{};
    lock.lock();
    const bool sleeping = at.syscall >= 0;
    if (open_) {
        if (sleeping && gen == open_->generation && at.syscall == open_->syscall &&
            at.sp == open_->sp && at.pc == open_->pc) {
            open_->last_seen = now;
            if (open_->block.stack.empty() && !open_->covered) {
                // Seen twice: worth a stack, taken without the lock. The thread sleeps inside
                // this step, so the probe's task is its task.
                const clock::time_point first = open_->first_seen;
                lock.unlock();
                kernel_sample sample;
                const bool got = sample_blocked_thread(loop_tid_, sample);
                std::uint64_t id = probe_.task_id.load(std::memory_order_relaxed);
                const char* name = probe_.task_name.load(std::memory_order_relaxed);
                lock.lock();
                if (got && open_ && open_->first_seen == first &&
                    probe_.generation.load(std::memory_order_acquire) == gen) {
                    open_->block.stack = std::move(sample.stack);
                    open_->block.task_id = id;
                    open_->block.task_name = name != nullptr ? name : "task-" + std::to_string(id);
                    // The step may end before the next look: collect() closes it then.
                    probe_.attention.store(true, std::memory_order_release);
                }
            }
            return;
        }
        close_kernel_block();  // it ended between the last look and this one
    }
    if (!sleeping) {
        return;
    }
    open_block b;
    b.generation = gen;
    b.syscall = at.syscall;
    b.sp = at.sp;
    b.pc = at.pc;
    b.first_seen = now;
    b.last_seen = now;
    b.covered = in_wrapper_.load(std::memory_order_acquire) ||
                probe_.aio_blocking.load(std::memory_order_acquire);
    b.block.syscall = at.syscall;
    open_ = std::move(b);
}

// The open kernel block has ended: it counts if a wrapper did not count it and it lasted
// `block` (from the first look to the last, plus the tick after which it was gone). Under the
// lock.
void stall_watchdog::close_kernel_block() {
    const duration lasted = open_->last_seen - open_->first_seen + tick_;
    if (!open_->covered && !open_->block.stack.empty() && lasted >= block_) {
        open_->block.blocked = lasted;
        blocks_.push_back(std::move(open_->block));
        probe_.attention.store(true, std::memory_order_release);
    }
    open_.reset();
}

// Samples the loop thread while the step runs (runtime/src/signals.cpp: a signal to that
// thread only, answered into a slot of the request's own, so two loops' watchdogs never mix
// their samples). The watchdog's lock is released meanwhile: the loop may need it.
void stall_watchdog::capture(std::unique_lock<std::mutex>& lock, stall& s) {
    lock.unlock();
    // Blocked in the kernel: read its stack without a signal, which would cut the system
    // call short (nanosleep and ppoll return EINTR whatever SA_RESTART says). The step is
    // still the one seen (generation checked by the caller), so its task is the probe's.
    kernel_sample blocked;
    if (sample_blocked_thread(loop_tid_, blocked)) {
        s.stack = std::move(blocked.stack);
        s.syscall = blocked.syscall;
        s.task_id = probe_.task_id.load(std::memory_order_relaxed);
        const char* name = probe_.task_name.load(std::memory_order_relaxed);
        s.task_name = name != nullptr ? name : "task-" + std::to_string(s.task_id);
        lock.lock();
        return;
    }
    // Running user code: a signal (SA_RESTART) to the loop thread, whose handler captures it.
    detail::thread_sample sample;
    const bool ok = detail::sample_thread(loop_thread_, sample, std::chrono::milliseconds(100));
    lock.lock();
    if (!ok) {
        return;
    }
    s.stack.assign(sample.frames, sample.frames + sample.frame_count);
    s.task_id = sample.task_id;
    s.task_name = sample.task_name;
}

void stall_watchdog::live_line(const stall& s, duration blocked, bool first) {
    std::string text;
    if (first) {
        std::string place = relative_paths(where(symbolize(s.stack, 1)), path_prefix_);
        text = std::string(color_ ? "\x1b[1m" : "") + "aio debug: " + (color_ ? "\x1b[31m" : "") +
               "[stall]" + (color_ ? "\x1b[0m\x1b[1m" : "") + " loop blocked " +
               format_duration(blocked) + " so far in task '" + s.task_name + "' at " + place +
               (color_ ? "\x1b[0m" : "") + "\n";
    } else {
        text = "aio debug: [stall] still blocked: " + format_duration(blocked) + " in task '" +
               s.task_name + "'\n";
    }
    std::fputs(text.c_str(), stderr);
}

namespace detectors {

void stall(session& s, const task_ref& t, duration step, raw_stack culprit, long syscall) {
    raw_finding r = task_finding(s, t, "stall", "error");
    r.f.duration_ms = std::chrono::duration<double, std::milli>(step).count();
    std::string how;
    if (culprit.empty()) {
        how = "; its stack could not be captured";
    } else if (syscall >= 0) {
        how = "; the stack was captured while it was blocked in the kernel, in the system call " +
              syscall_name(syscall);
    } else if (syscall == -1) {
        how = "; the stack was captured while it was blocked in the kernel";
    } else {
        how = "; the stack was captured while it was running";
    }
    r.f.message = "the loop did not get control back for " + format_duration(step) +
                  " (threshold " + format_duration(s.settings().stall) + ")" + how;
    r.title = "loop blocked " + format_duration(step) + " in task '" + t.name() + "'";
    r.culprit = std::move(culprit);
    r.f.why = "nothing else runs while the loop is blocked: heartbeats stop, timeouts fire late, "
              "connections are not served";
    r.f.fix = "run CPU-heavy or blocking code on a thread (aio::to_thread(fn)) or break it up with "
              "aio::sleep(0); use aio's async calls instead of blocking ones";
    r.f.lesson = "02-blocking-call";
    s.report(std::move(r));
}

}  // namespace detectors

}  // namespace aio::debug
