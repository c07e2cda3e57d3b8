// The loop's timeline for `trace=PATH` (and the HTML report's timeline): a flight recorder of
// task steps, I/O waits, timer firings, executor calls, task creations and findings, kept in
// a fixed-size ring (the oldest events are dropped first) and written when the loop closes as
// Chrome trace-event JSON, which ui.perfetto.dev and chrome://tracing open. The format is in
// docs/report-format.md ("The trace").
#pragma once

#include <aio/debug/report.hpp>
#include <aio/instrument.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace aio::debug {

class trace_recorder final : public instrument {
public:
    /// Keeps at most `capacity_bytes` of loop events (at least 1,000 events) and 10,000
    /// findings. Construct on the loop thread (it is the thread the trace names).
    explicit trace_recorder(std::size_t capacity_bytes);

    /// The size of one recorded loop event, in bytes (what `trace_size=` divides).
    static std::size_t event_size() noexcept;

    // instrument: loop thread only
    void task_spawned(const task_ref& t) noexcept override;
    void before_task_step(const task_ref& t) noexcept override;
    void after_task_step(const task_ref& t) noexcept override;
    void task_done(const task_ref& t) noexcept override;
    void before_io_wait(duration timeout) noexcept override;
    void after_io_wait() noexcept override;
    void timers_fired(std::size_t count, clock::time_point started) noexcept override;
    void executor_call_ran(const task_ref& t, clock::time_point started, clock::time_point ended,
                           long thread_id) noexcept override;

    /// Microseconds of real time since the recorder was made. Any thread.
    [[nodiscard]] double now_us() const noexcept;
    /// Records finding `f` (symbolized; `f.title` final), which happened at `at_us` (now_us()
    /// when it was reported): an instant, or a slice ending there when it has a duration.
    /// Any thread.
    void add_finding(const finding& f, double at_us) noexcept;
    /// Stops recording loop events (the loop is closing); findings are still taken.
    void stop() noexcept { stopped_ = true; }

    /// The trace as Chrome trace-event JSON text. `program` and `started` (ISO 8601) go into
    /// `otherData`. Call on the loop thread, or once the loop thread no longer records.
    [[nodiscard]] std::string to_json(const std::string& program, const std::string& started) const;

    /// Events recorded since the start, and how many of them the ring dropped.
    [[nodiscard]] std::uint64_t recorded() const noexcept { return total_; }
    [[nodiscard]] std::uint64_t dropped() const noexcept;

private:
    enum class kind : std::uint8_t { step, io_wait, timers, spawn, executor };
    struct event {
        std::int64_t ts = 0;     // since the recorder started: ticks (step, io_wait, spawn) or ns
        std::int64_t dur = 0;    // the same unit
        std::uint64_t task = 0;  // step, spawn, executor
        const char* label = nullptr;        // step: what the task waits on after it
        const std::string* name = nullptr;  // step, spawn: the task's name (interned) or null
        std::int64_t extra = 0;             // io_wait: timeout in ms (-1: none); timers: how many;
                                            // executor: the thread's kernel id
        kind k = kind::step;
    };
    struct finding_event {
        double at_us = 0;
        double dur_us = -1;
        std::string id;
        std::string severity;
        std::string title;
        std::string where;
        std::uint64_t task = 0;
    };

    [[nodiscard]] std::int64_t now_ns() const noexcept;
    /// The hot events' clock (steps, I/O waits, creations): the CPU's time-stamp counter where
    /// it is invariant (x86_64 with constant_tsc and nonstop_tsc: a third of a clock_gettime),
    /// else nanoseconds of the steady clock; since the recorder started. Converted to
    /// nanoseconds when the trace is written, by the rate measured over the whole run.
    [[nodiscard]] std::int64_t now_ticks() const noexcept;
    /// ns per tick for the conversion, measured now against the steady clock.
    [[nodiscard]] double ns_per_tick() const noexcept;
    void push(const event& e) noexcept;
    const std::string* name_of(const task_ref& t) noexcept;

    clock::time_point origin_;
    bool use_tsc_ = false;
    std::uint64_t tsc_origin_ = 0;
    std::int64_t min_poll_ticks_ = 0;  // min_poll_ns in ticks (by the CPU's nominal rate)
    long loop_tid_ = 0;
    long pid_ = 0;
    std::vector<event> ring_;
    std::size_t next_ = 0;     // where the next event goes
    std::uint64_t total_ = 0;  // events pushed since the start
    bool stopped_ = false;
    std::int64_t step_start_ = 0;
    std::int64_t io_start_ = 0;
    std::int64_t io_timeout_ms_ = -1;
    // Task names, interned (at most 4,096 distinct ones; later tasks show as "task-<id>"), and
    // the interned name of each live named task.
    std::unordered_set<std::string> names_;
    std::unordered_map<std::uint64_t, const std::string*> live_names_;

    mutable std::mutex findings_mutex_;
    std::vector<finding_event> findings_;  // guarded by findings_mutex_
    std::uint64_t findings_dropped_ = 0;   // guarded by findings_mutex_
};

}  // namespace aio::debug
