// The debug-mode instrument: one per loop. It receives the runtime's events, hands them to
// the detectors (detectors/*.cpp), collects their findings, prints them on stderr from the
// loop's own stack, and writes the summary and the JSON report when the loop closes.
#pragma once

#include "detectors/stall.hpp"
#include "stacks.hpp"
#include "trace.hpp"

#include <aio/debug/config.hpp>
#include <aio/debug/report.hpp>
#include <aio/instrument.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace aio::debug {

/// A finding as a detector reports it: raw stacks, symbolized when it is printed.
struct raw_finding {
    finding f;                            ///< everything but the frames and the final title
    std::string title;                    ///< what happened, without the place
    raw_stack culprit;                    ///< where it happened (may be empty)
    const raw_stack* creation = nullptr;  ///< where the task was created (interned)
    raw_stack creation_owned;             ///< a creation stack that is not interned
    void* creation_site = nullptr;        ///< raw creation address when no stack is known
    /// A second place, named in the details: "<context_label> FILE:LINE (FUNCTION)", or
    /// "<context_unknown>" when it has no user frame (and `context_unknown` is not empty).
    raw_stack context;
    std::string context_label;
    std::string context_unknown;
    double trace_us = -1;  ///< when it was reported, on the timeline's clock (trace=, html=)
};

class session final : public instrument {
public:
    session(config settings, loop& l, std::string options_text);
    ~session() override;

    // instrument
    void task_spawned(const task_ref& t) noexcept override;
    step_probe* probe() noexcept override { return &probe_; }
    /// Called only after steps that need attention (probe_.attention): a finding queued, a
    /// new spawning site to resolve, or news from the watchdog.
    void after_task_step(const task_ref& t) noexcept override;
    void task_done(const task_ref& t) noexcept override;
    void task_handle_dropped(const task_ref& t) noexcept override;
    void task_exception_unretrieved(const task_ref& t) noexcept override;
    void task_suspended_at(const task_ref& t) noexcept override;
    void cancel_delivered(const task_ref& t) noexcept override;
    void ran_on_after_cancel(const task_ref& t) noexcept override;
    void resource_opened(const resource_info& r) noexcept override;
    void resource_closed(const resource_info& r) noexcept override;
    void resource_abandoned(const resource_info& r, std::string_view what) noexcept override;
    void wrong_thread(const char* call) noexcept override;
    void insecure_connection(std::string_view peer) noexcept override;
    void before_io_wait(duration timeout) noexcept override;
    void shutdown_started(loop& l) noexcept override;
    void loop_closing(loop& l) noexcept override;

    /// Queues a finding; cheap, callable on a fiber stack. Printed at the next flush.
    void report(raw_finding r) noexcept;
    /// Records and prints a finding on the calling thread, any thread (wrong-thread): the
    /// caller may be about to end the process with an uncaught exception.
    void report_from_any_thread(raw_finding r) noexcept;
    /// std::terminate is ending the process: prints the summary and writes the report of the
    /// findings recorded so far (once; nothing if the loop already closed). Any thread.
    void at_terminate() noexcept;
    /// Reports `r` once task `t` has said where it is parked (where its step ended); at once
    /// if it is not parked. Loop stack.
    void report_when_parked(const task_ref& t, raw_finding r) noexcept;
    /// Symbolizes and prints the queued findings. Loop stack only.
    void flush() noexcept;

    [[nodiscard]] const config& settings() const noexcept { return cfg_; }
    /// blocking-call's wrappers: a call they count runs on the loop thread (the watchdog's
    /// kernel-block detection leaves it to them). Loop thread.
    void set_in_wrapper(bool on) noexcept { in_wrapper_.store(on, std::memory_order_release); }
    [[nodiscard]] bool wants(std::string_view id) const { return cfg_.wants(id); }
    /// Milliseconds since the loop started.
    [[nodiscard]] double now_ms() const noexcept;
    /// The interned creation stack of `t` (nullptr if unknown).
    [[nodiscard]] const raw_stack* creation_of(const task_ref& t) const noexcept;
    /// Where `t` was last seen suspended (empty if unknown).
    [[nodiscard]] raw_stack suspension_of(const task_ref& t) const;
    /// Where resource `id` was opened (nullptr if unknown).
    [[nodiscard]] const raw_stack* resource_stack(std::uint64_t id) const noexcept;
    /// What resource `id` held when the main task ended ("" if nothing or unknown).
    [[nodiscard]] std::string held_at_shutdown(std::uint64_t id) const;

    /// Findings so far in this process (all loops), for strict mode.
    static std::size_t findings_in_process() noexcept;

private:
    /// Symbolizes `r`, merges it into findings_ or adds and prints it. Any thread, on a
    /// normal (not fiber) stack.
    void record(raw_finding r) noexcept;
    /// A new finding on stderr: one line, or the full form with `verbose`.
    void print(const finding& f) noexcept;
    /// Today's full form: the header and a line per known field, stacks with a snippet.
    void print_full(const finding& f) noexcept;
    /// The summary line and, without `verbose`, every finding once in a compact form (errors
    /// first). With findings_mutex_ held; `st` empty when the loop's counters cannot be read.
    void print_summary(std::optional<loop::statistics> st) noexcept;
    /// A few lines of the summary for `f`: header, the user's line, where its task was
    /// created (when that says more), fix and lesson.
    [[nodiscard]] std::string compact(const finding& f) const;
    /// The header line's text after "aio debug: " or the summary's indent: [id], ×count,
    /// title, colored as the terminal wants.
    [[nodiscard]] std::string header(const finding& f, bool with_count) const;
    /// Writes the files asked for: the JSON report (report=), the trace (trace=) and the HTML
    /// report (html=). Returns true when the JSON report was written; a file that cannot be
    /// written is named on stderr.
    bool write_report(std::optional<loop::statistics> st, double duration_ms,
                      const char* ended) noexcept;
    /// After the summary (without `verbose`, when there were findings): where the full form is.
    void print_where_in_full(bool report_written) noexcept;
    bool html_written_ = false;  // html= was written at loop close

    config cfg_;
    loop* loop_;
    std::string options_text_;
    time_point start_;
    std::string started_iso_;
    std::vector<raw_finding> queue_;
    clock::time_point started_real_ = clock::now();
    // Guards findings_, merged_ and closed_: findings are recorded on the loop thread and on
    // foreign threads (wrong-thread), and read by the terminate handler.
    std::timed_mutex findings_mutex_;
    std::vector<finding> findings_;
    std::map<std::string, std::size_t> merged_;  // merge key -> index in findings_
    bool closed_ = false;                        // the summary and report are written
    std::unordered_map<void*, std::unique_ptr<raw_stack>> creation_stacks_;  // by caller address
    // Creation sites resolved to file:line, so the runtime's stack-overflow message (printed
    // from a signal handler, which cannot symbolize) can name the line in debug mode.
    struct resolved_site {
        const char* file = nullptr;
        const char* function = nullptr;
        std::uint32_t line = 0;
    };
    std::unordered_map<void*, resolved_site> resolved_sites_;
    // Sites are resolved on a thread of the session's own, never on the loop: a new site can
    // cost milliseconds (tens when a library's debug information is loaded first), and the
    // first thing the thread does is load the program's (which took 20-40 ms at start-up).
    struct site_request {
        void* site = nullptr;
        raw_stack stack;
    };
    struct site_answer {
        void* site = nullptr;
        resolved_site where;
    };
    std::mutex resolver_mutex_;
    std::condition_variable resolver_cv_;
    std::vector<site_request> to_resolve_;  // guarded by resolver_mutex_
    std::vector<site_answer> resolved_;     // guarded by resolver_mutex_: for the loop to apply
    std::atomic<bool> resolved_pending_{false};
    bool resolver_stop_ = false;  // guarded by resolver_mutex_
    std::thread resolver_;
    void resolve_sites() noexcept;         // the resolver thread
    void apply_resolved_sites() noexcept;  // loop thread
    // Findings are symbolized and printed there too, in the order they were queued: the loop
    // never waits for the symbolizer (loading it took 200 ms under ASan, and a program whose
    // first finding came early lost those 200 ms of its run).
    std::vector<raw_finding> to_record_;  // guarded by resolver_mutex_
    bool resolver_busy_ = false;          // guarded by resolver_mutex_
    std::condition_variable resolver_idle_;
    /// Waits until the resolver has recorded every queued finding. Loop thread.
    void drain() noexcept;

public:
    /// The file:line of creation site `caller`, resolved now on a helper thread if the
    /// resolver has not got to it yet: for the stack-overflow message, on the dying loop
    /// thread. Returns false when it cannot be known.
    bool resolve_site_now(void* caller, const char** file, std::uint32_t* line) noexcept;
    /// The session of the loop running on this thread, or nullptr.
    static session* of_this_thread() noexcept;

private:
    std::unordered_map<std::uint64_t, raw_stack> suspensions_;  // by task id
    // cancel-swallowed: where the last cancellation was delivered to a task, and where the
    // task went on after it (its next yield point; empty when it returned), by task id.
    struct cancel_trail {
        raw_stack delivered;
        raw_stack ran_on;
        bool went_on = false;
    };
    std::unordered_map<std::uint64_t, cancel_trail> cancel_trails_;

public:
    /// What cancel_delivered and ran_on_after_cancel recorded for `t` (nullptr if nothing).
    [[nodiscard]] const cancel_trail* cancel_trail_of(const task_ref& t) const noexcept;

private:
    std::unordered_map<std::uint64_t, raw_stack> resources_;  // by resource id
    bool want_slow_ = false;  // wants("slow-callback"), looked up once: checked every step
    // What each open resource held when the main task ended (resource_info::describe), taken
    // before shutdown cancels the tasks: the leak reports at loop close show that.
    std::unordered_map<std::uint64_t, std::string> held_at_shutdown_;
    // slow-callback findings waiting for their task to report where the step ended
    std::unordered_map<std::uint64_t, raw_finding> awaiting_capture_;
    bool color_ = false;
    // The terminal's compact forms show paths under the working directory relative to it
    // (relative_paths); "" with `verbose`, which prints the full paths as the report has them.
    std::string path_prefix_;
    // The loop's main task (the first spawned): its creation is the aio::run call, which the
    // compact form does not repeat.
    std::atomic<std::uint64_t> main_task_id_{0};
    step_probe probe_;                     // fed by the loop at every step; read by the watchdog
    std::atomic<bool> in_wrapper_{false};  // see set_in_wrapper
    std::unique_ptr<stall_watchdog> stall_;
    double longest_stall_ms_ = 0;
    // The timeline (trace=, html=): an instrument of its own, installed before this one so that
    // it gets the plain step hooks while this one keeps the step probe.
    std::unique_ptr<trace_recorder> trace_;
    /// Writes the trace and the HTML report (with the loop's findings held). Loop thread, or a
    /// dying thread (terminate).
    void write_trace_files(const std::string& report_text) noexcept;
};

}  // namespace aio::debug
