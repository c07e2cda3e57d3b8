#include "session.hpp"

#include "detectors/detectors.hpp"
#include "report_core.hpp"

#include <aio/detail/task_base.hpp>
#include <aio/errors.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <exception>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_set>

#include <nlohmann/json.hpp>
#include <unistd.h>

namespace aio::debug {

namespace {

std::atomic<std::size_t> process_findings{0};

const char* bold(bool on) {
    return on ? "\x1b[1m" : "";
}
const char* red(bool on) {
    return on ? "\x1b[31m" : "";
}
const char* yellow(bool on) {
    return on ? "\x1b[33m" : "";
}
const char* dim(bool on) {
    return on ? "\x1b[2m" : "";
}
const char* reset(bool on) {
    return on ? "\x1b[0m" : "";
}

std::string iso_now() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string program_name() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("?");
}

// Findings merge by detector and by the first *user* frame of where they happened (or of
// where the task was created), so the same mistake on the same line counts once.
std::string merge_key(const std::string& id, const std::vector<frame>& culprit,
                      const std::vector<frame>& creation, const std::string& title) {
    const auto& frames = !culprit.empty() ? culprit : creation;
    if (frames.empty()) {
        return id + "|" + title;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "@%lx", static_cast<unsigned long>(frames.front().address));
    return id + buf + frames.front().file + ":" + std::to_string(frames.front().line);
}

}  // namespace

namespace {

// The sessions alive in the process, for the terminate handler.
std::mutex sessions_mutex;
std::vector<session*> sessions;
std::terminate_handler previous_terminate = nullptr;

// std::terminate (an exception nobody caught, typically a usage_error thrown on a foreign
// thread): the loops never close, so each session writes what it has found so far.
[[noreturn]] void on_terminate() {
    {
        std::unique_lock<std::mutex> lock(sessions_mutex, std::try_to_lock);
        if (lock.owns_lock()) {
            for (session* s : sessions) {
                s->at_terminate();
            }
        }
    }
    if (previous_terminate != nullptr) {
        previous_terminate();
    }
    std::abort();
}

}  // namespace

namespace {
// The session of the loop on this thread, for the stack-overflow message.
thread_local session* this_threads_session = nullptr;
bool resolve_for_crash(void* caller, const char** file, std::uint32_t* line);
}  // namespace

session::session(config settings, loop& l, std::string options_text)
    : cfg_(std::move(settings))
    , loop_(&l)
    , options_text_(std::move(options_text))
    , start_(l.time())
    , started_iso_(iso_now()) {
    color_ = cfg_.color == color_mode::always ||
             (cfg_.color == color_mode::automatic && ::isatty(STDERR_FILENO) != 0);
    if (!cfg_.trace_path.empty() || !cfg_.html_path.empty()) {
        trace_ = std::make_unique<trace_recorder>(cfg_.trace_size);
        l.add_instrument(trace_.get());
    }
    if (!cfg_.verbose) {
        path_prefix_ = working_directory_prefix();
    }
    // backtrace() loads libgcc's unwinder on first use; do it now, not in a signal handler.
    (void)capture_stack(2);
    // Load the debug information now, before the first task runs (100-200 ms for a large
    // binary, once per process). Done on a thread it made the loop's first flush wait for it
    // mid-run, which delayed the program's first timers; the stack-overflow message also
    // needs creation sites resolved before a task can overflow.
    resolver_ = std::thread([this] { resolve_sites(); });
    this_threads_session = this;
    detail::set_crash_site_resolver(&resolve_for_crash);
    {
        std::lock_guard<std::mutex> lock(sessions_mutex);
        sessions.push_back(this);
        static std::once_flag installed;
        std::call_once(installed, [] { previous_terminate = std::set_terminate(on_terminate); });
    }
    if (cfg_.wants("blocking-call")) {
        set_blocking_call_session(this);
    }
    // One watchdog thread times the steps for both detectors: the loop reads no clock per
    // step (two reads cost as much as the step itself on some virtual machines).
    want_slow_ = cfg_.wants("slow-callback");
    if (cfg_.wants("stall") || want_slow_ || cfg_.wants("blocking-call")) {
        stall_ = std::make_unique<stall_watchdog>(
            cfg_.wants("stall") ? cfg_.stall : duration::max(),
            want_slow_ ? cfg_.slow : duration::max(),
            cfg_.wants("blocking-call") ? cfg_.block : duration::max(), color_, path_prefix_,
            probe_, in_wrapper_);
    }
    if (cfg_.wants("stack-high-water")) {
        detail::enable_stack_watermarks(l);
    }
}

session::~session() {
    {
        std::lock_guard<std::mutex> lock(resolver_mutex_);
        resolver_stop_ = true;
    }
    resolver_cv_.notify_all();
    resolver_.join();
    if (this_threads_session == this) {
        this_threads_session = nullptr;
    }
    set_blocking_call_session(nullptr);
    std::lock_guard<std::mutex> lock(sessions_mutex);
    sessions.erase(std::find(sessions.begin(), sessions.end(), this));
}

std::size_t session::findings_in_process() noexcept {
    return process_findings.load();
}

double session::now_ms() const noexcept {
    return std::chrono::duration<double, std::milli>(loop_->time() - start_).count();
}

const raw_stack* session::creation_of(const task_ref& t) const noexcept {
    return t ? static_cast<const raw_stack*>(t.base()->instrument_data_) : nullptr;
}

raw_stack session::suspension_of(const task_ref& t) const {
    auto it = suspensions_.find(t.id());
    return it != suspensions_.end() ? it->second : raw_stack{};
}

// ---- events ------------------------------------------------------------------------------

void session::task_spawned(const task_ref& t) noexcept {
    if (main_task_id_.load(std::memory_order_relaxed) == 0) {
        main_task_id_.store(t.id(), std::memory_order_relaxed);  // aio::run spawns it first
    }
    // One full unwind per distinct spawning site, shared by every task spawned there.
    void* site = t.raw_creation_site().caller;
    try {
        auto it = creation_stacks_.find(site);
        if (auto rs = resolved_sites_.find(site);
            rs != resolved_sites_.end() && t.base()->site_.file == nullptr) {
            t.base()->site_.file = rs->second.file;
            t.base()->site_.function = rs->second.function;
            t.base()->site_.line = rs->second.line;
        }
        if (it == creation_stacks_.end()) {
            // A task created with task_options already knows its line (source_location):
            // nothing to resolve on the loop (a new site deep in a large translation unit
            // costs tens of milliseconds to symbolize).
            auto stack = std::make_unique<raw_stack>(capture_stack());
            if (t.base()->site_.file == nullptr) {
                {
                    std::lock_guard<std::mutex> lock(resolver_mutex_);
                    to_resolve_.push_back(site_request{site, *stack});
                }
                resolver_cv_.notify_one();
            }
            // aio's own frames (the spawn call) are collapsed when it is symbolized.
            it = creation_stacks_.emplace(site, std::move(stack)).first;
        }
        t.base()->instrument_data_ = it->second.get();
    } catch (...) {
    }
}

void session::after_task_step(const task_ref& t) noexcept {
    // Cleared before the work: whatever asks for attention meanwhile is seen after the next
    // step.
    probe_.attention.store(false, std::memory_order_relaxed);
    if (stall_) {
        // The step that just ended: the loop stored its generation + 1 at its end.
        const std::uint64_t ended = probe_.generation.load(std::memory_order_relaxed) - 1;
        if (auto r = stall_->collect(ended)) {
            if (r->stalled) {
                duration blocked = r->stalled->blocked;
                detectors::stall(*this, t, blocked, r->stalled->stack, r->stalled->syscall);
                longest_stall_ms_ = std::max(
                    longest_stall_ms_, std::chrono::duration<double, std::milli>(blocked).count());
            }
            for (auto& b : r->blocks) {
                detectors::kernel_block(*this, std::move(b));
            }
            if (r->slow > duration::zero()) {
                detectors::slow_callback(*this, t, r->slow,
                                         r->stalled ? r->stalled->stack : raw_stack{});
            }
        }
    }
    flush();
}

void session::task_done(const task_ref& t) noexcept {
    if (wants("cancel-swallowed")) {
        detectors::cancel_swallowed(*this, t);
        cancel_trails_.erase(t.id());
    }
    if (t.base()->stack_deep_ && wants("stack-high-water")) {
        detectors::stack_high_water(*this, t);
    }
}

void session::task_handle_dropped(const task_ref& t) noexcept {
    if (wants("never-awaited")) {
        detectors::never_awaited(*this, t);
    }
}

void session::task_exception_unretrieved(const task_ref& t) noexcept {
    if (wants("exception-never-retrieved")) {
        detectors::exception_never_retrieved(*this, t);
    }
}

void session::cancel_delivered(const task_ref& t) noexcept {
    if (!wants("cancel-swallowed")) {
        return;
    }
    try {
        cancel_trail& trail = cancel_trails_[t.id()];
        trail.delivered = capture_stack();
        trail.ran_on.clear();
        trail.went_on = false;
    } catch (...) {
    }
}

void session::ran_on_after_cancel(const task_ref& t) noexcept {
    try {
        if (auto it = cancel_trails_.find(t.id()); it != cancel_trails_.end()) {
            it->second.ran_on = capture_stack();
            it->second.went_on = true;
        }
    } catch (...) {
    }
}

const session::cancel_trail* session::cancel_trail_of(const task_ref& t) const noexcept {
    auto it = cancel_trails_.find(t.id());
    return it != cancel_trails_.end() ? &it->second : nullptr;
}

void session::task_suspended_at(const task_ref& t) noexcept {
    try {
        raw_stack here = capture_stack();
        if (auto it = awaiting_capture_.find(t.id()); it != awaiting_capture_.end()) {
            raw_finding r = std::move(it->second);
            awaiting_capture_.erase(it);
            if (r.culprit.empty()) {
                r.culprit = here;
            } else {
                r.context = here;  // the culprit was sampled while the step ran
            }
            report(std::move(r));
        }
        suspensions_[t.id()] = std::move(here);
    } catch (...) {
    }
}

void session::report_when_parked(const task_ref& t, raw_finding r) noexcept {
    try {
        if (awaiting_capture_.count(t.id()) == 0 && request_suspension_capture(t)) {
            awaiting_capture_.emplace(t.id(), std::move(r));
            return;
        }
    } catch (...) {
    }
    report(std::move(r));
}

void session::resource_opened(const resource_info& r) noexcept {
    try {
        resources_[r.id] = capture_stack();
    } catch (...) {
    }
}

void session::resource_closed(const resource_info& r) noexcept {
    resources_.erase(r.id);
    held_at_shutdown_.erase(r.id);
}

void session::resource_abandoned(const resource_info& r, std::string_view what) noexcept {
    bool job = r.kind == "job scheduler";
    if (!wants(job ? "leaked-job" : "leaked-resource")) {
        return;
    }
    std::string held;
    try {
        if (r.describe) {
            held = r.describe();
        }
    } catch (...) {
    }
    detectors::abandoned_resource(*this, r, what, held);
}

std::string session::held_at_shutdown(std::uint64_t id) const {
    auto it = held_at_shutdown_.find(id);
    return it != held_at_shutdown_.end() ? it->second : std::string{};
}

const raw_stack* session::resource_stack(std::uint64_t id) const noexcept {
    auto it = resources_.find(id);
    return it != resources_.end() ? &it->second : nullptr;
}

void session::before_io_wait(duration) noexcept {
    flush();
}

void session::shutdown_started(loop& l) noexcept {
    // Captures not served by now never will be: report those findings as they are.
    for (auto& [id, r] : awaiting_capture_) {
        report(std::move(r));
    }
    awaiting_capture_.clear();
    try {
        for (const resource_info& info : aio::open_resources()) {
            if (info.describe) {
                held_at_shutdown_[info.id] = info.describe();
            }
        }
    } catch (...) {
    }
    if (wants("pending-at-close")) {
        detectors::pending_at_close(*this, l);
    }
    flush();
}

void session::loop_closing(loop& l) noexcept {
    if (wants("leaked-resource") || wants("leaked-job")) {
        detectors::leaked_resource(*this, l);
    }
    flush();
    drain();
    std::lock_guard<std::timed_mutex> lock(findings_mutex_);
    print_summary(loop_->stats());
    if (trace_) {
        trace_->stop();
    }
    bool written = write_report(loop_->stats(), now_ms(), "closed");
    print_where_in_full(written);
    closed_ = true;
}

void session::at_terminate() noexcept {
    try {
        // The loop thread may be in the middle of recording a finding: wait a little for it,
        // but never hang a dying process (it may be this very thread that holds the lock).
        std::unique_lock<std::timed_mutex> lock(findings_mutex_, std::chrono::milliseconds(200));
        if (!lock.owns_lock() || closed_) {
            return;
        }
        std::string why = "aio debug: std::terminate() is ending the program";
        if (std::exception_ptr e = std::current_exception()) {
            why += " (uncaught " + describe_exception(e) + ")";
        }
        std::fputs((why + "; the findings so far:\n").c_str(), stderr);
        // The loop's counters belong to the loop thread, which is still running: not read.
        const double ran_ms =
            std::chrono::duration<double, std::milli>(clock::now() - started_real_).count();
        print_summary(std::nullopt);
        bool written = write_report(std::nullopt, ran_ms, "terminate");
        print_where_in_full(written);
        closed_ = true;
    } catch (...) {
    }
}

// ---- findings ----------------------------------------------------------------------------

void session::report(raw_finding r) noexcept {
    try {
        r.f.at_ms = now_ms();
        r.trace_us = trace_ ? trace_->now_us() : -1;
        queue_.push_back(std::move(r));
        probe_.attention.store(true, std::memory_order_relaxed);
    } catch (...) {
    }
}

void session::insecure_connection(std::string_view peer) noexcept {
    if (wants("insecure-tls")) {
        detectors::insecure_tls(*this, peer);
    }
}

void session::wrong_thread(const char* call) noexcept {
    if (wants("wrong-thread")) {
        detectors::wrong_thread(*this, call);
    }
}

void session::report_from_any_thread(raw_finding r) noexcept {
    try {
        r.f.at_ms = now_ms();
        r.trace_us = trace_ ? trace_->now_us() : -1;
        // Recorded and printed now, on the calling thread: the call is about to throw
        // usage_error, and if nothing catches it the process ends before the loop's next flush.
        if (detail::current_task_or_null() == nullptr) {
            record(std::move(r));
        } else {
            // A task of another loop: libdw needs more stack than a fiber has.
            detail::internal_blocking ours;
            std::thread([&] { record(std::move(r)); }).join();
        }
    } catch (...) {
    }
}

namespace {

// Strings that must outlive the session: task objects can outlive their loop and keep
// pointing at their creation site. One entry per distinct site, for the process's life.
const char* intern(const std::string& s) {
    static std::mutex mutex;
    static std::unordered_set<std::string> pool;
    std::lock_guard<std::mutex> lock(mutex);
    return pool.insert(s).first->c_str();
}

}  // namespace

void session::resolve_sites() noexcept {
    // Loading the program's debug information takes a few hundred milliseconds for a large
    // binary: done here, so the loop starts at once.
    warm_up_symbolizer();
    std::unique_lock<std::mutex> lock(resolver_mutex_);
    for (;;) {
        resolver_cv_.wait(
            lock, [&] { return resolver_stop_ || !to_resolve_.empty() || !to_record_.empty(); });
        if (resolver_stop_) {
            return;
        }
        std::vector<site_request> batch;
        batch.swap(to_resolve_);
        std::vector<raw_finding> findings;
        findings.swap(to_record_);
        resolver_busy_ = true;
        lock.unlock();
        for (raw_finding& r : findings) {
            record(std::move(r));
        }
        std::vector<site_answer> answers;
        for (const site_request& r : batch) {
            try {
                std::vector<frame> frames = symbolize(r.stack, 1);
                if (!frames.empty() && !frames.front().file.empty()) {
                    answers.push_back(
                        site_answer{r.site, resolved_site{intern(frames.front().file),
                                                          intern(frames.front().function),
                                                          frames.front().line}});
                }
            } catch (...) {
            }
        }
        lock.lock();
        if (!answers.empty()) {
            resolved_.insert(resolved_.end(), answers.begin(), answers.end());
            resolved_pending_.store(true, std::memory_order_release);
            probe_.attention.store(true, std::memory_order_release);
        }
        resolver_busy_ = false;
        resolver_idle_.notify_all();
    }
}

void session::drain() noexcept {
    std::unique_lock<std::mutex> lock(resolver_mutex_);
    resolver_idle_.wait(lock, [&] { return to_record_.empty() && !resolver_busy_; });
}

void session::apply_resolved_sites() noexcept {
    try {
        std::vector<site_answer> answers;
        {
            std::lock_guard<std::mutex> lock(resolver_mutex_);
            answers.swap(resolved_);
            resolved_pending_.store(false, std::memory_order_relaxed);
        }
        for (const site_answer& a : answers) {
            resolved_sites_[a.site] = a.where;
        }
        // Tasks spawned before their site was resolved get it now.
        for (const task_ref& t : aio::all_tasks()) {
            detail::creation_site& cs = t.base()->site_;
            if (cs.file == nullptr) {
                if (auto rs = resolved_sites_.find(cs.caller); rs != resolved_sites_.end()) {
                    cs.file = rs->second.file;
                    cs.function = rs->second.function;
                    cs.line = rs->second.line;
                }
            }
        }
    } catch (...) {
    }
}

namespace {
bool resolve_for_crash(void* caller, const char** file, std::uint32_t* line) {
    session* s = session::of_this_thread();
    return s != nullptr && s->resolve_site_now(caller, file, line);
}
}  // namespace

session* session::of_this_thread() noexcept {
    return this_threads_session;
}

bool session::resolve_site_now(void* caller, const char** file, std::uint32_t* line) noexcept {
    try {
        if (auto rs = resolved_sites_.find(caller); rs != resolved_sites_.end()) {
            *file = rs->second.file;
            *line = rs->second.line;
            return true;
        }
        auto it = creation_stacks_.find(caller);
        if (it == creation_stacks_.end()) {
            return false;
        }
        // libdw needs a full-size stack: this runs on a fiber's signal stack.
        std::vector<frame> frames;
        std::thread([&] { frames = symbolize(*it->second, 1); }).join();
        if (frames.empty() || frames.front().file.empty()) {
            return false;
        }
        *file = intern(frames.front().file);
        *line = frames.front().line;
        return true;
    } catch (...) {
        return false;
    }
}

void session::flush() noexcept {
    if (resolved_pending_.load(std::memory_order_acquire)) {
        apply_resolved_sites();
    }
    if (queue_.empty()) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(resolver_mutex_);
        for (auto& r : queue_) {
            to_record_.push_back(std::move(r));
        }
    }
    queue_.clear();
    resolver_cv_.notify_one();
}

void session::record(raw_finding r) noexcept {
    try {
        // Symbolized outside the lock (symbolize has its own): a foreign thread's finding
        // must not hold up the loop's flush.
        std::vector<frame> inside;
        std::vector<frame> culprit = symbolize(r.culprit, cfg_.stack_depth, &inside);
        std::vector<frame> creation;
        if (r.creation != nullptr) {
            creation = symbolize(*r.creation, cfg_.stack_depth);
        } else if (!r.creation_owned.empty()) {
            creation = symbolize(r.creation_owned, cfg_.stack_depth);
        } else if (r.creation_site != nullptr) {
            creation = symbolize(raw_stack{r.creation_site}, cfg_.stack_depth);
        }
        if (!r.context.empty() || !r.context_unknown.empty()) {
            std::vector<frame> context =
                r.context.empty() ? std::vector<frame>{} : symbolize(r.context, 1);
            if (!context.empty()) {
                r.f.message += "; " + r.context_label + " " + where(context);
            } else if (!r.context_unknown.empty()) {
                r.f.message += "; " + r.context_unknown;
            }
        }
        std::string key = merge_key(r.f.id, culprit, creation, r.title);
        if (trace_) {
            // Every occurrence goes on the timeline, merged repeats included.
            finding occurrence = r.f;
            const auto& at = !culprit.empty() ? culprit : creation;
            occurrence.culprit = culprit;
            occurrence.creation = creation;
            occurrence.title = r.title + (culprit.empty() ? " (created at " : " at ") + where(at) +
                               (culprit.empty() ? ")" : "");
            trace_->add_finding(occurrence, r.trace_us >= 0 ? r.trace_us : trace_->now_us());
        }
        std::lock_guard<std::timed_mutex> lock(findings_mutex_);
        ++process_findings;
        if (auto it = merged_.find(key); it != merged_.end()) {
            finding& f = findings_[it->second];
            ++f.count;
            if (r.f.duration_ms > f.duration_ms) {
                f.duration_ms = r.f.duration_ms;
            }
            return;
        }
        finding f = std::move(r.f);
        f.culprit = std::move(culprit);
        f.inside = std::move(inside);
        f.creation = std::move(creation);
        const auto& place = !f.culprit.empty() ? f.culprit : f.creation;
        f.title = r.title + (f.culprit.empty() ? " (created at " : " at ") + where(place) +
                  (f.culprit.empty() ? ")" : "");
        merged_.emplace(key, findings_.size());
        findings_.push_back(std::move(f));
        print(findings_.back());
    } catch (...) {
    }
}

std::string session::header(const finding& f, bool with_count) const {
    const bool c = color_;
    std::string count = with_count && f.count > 1 ? " \u00d7" + std::to_string(f.count) : "";
    return std::string(f.severity == "error" ? red(c) : yellow(c)) + "[" + f.id + "]" + reset(c) +
           bold(c) + count + " " + relative_paths(f.title, path_prefix_) + reset(c);
}

void session::print(const finding& f) noexcept {
    if (cfg_.verbose) {
        print_full(f);
        return;
    }
    try {
        // One line as it happens: the title says what and where; the detail waits for the
        // summary, where each finding is shown once.
        std::string out = std::string(bold(color_)) + "aio debug: " + header(f, false);
        if (f.duration_ms >= 0) {
            std::string d = format_duration(
                std::chrono::nanoseconds(static_cast<long long>(f.duration_ms * 1e6)));
            if (f.title.find(d) == std::string::npos) {
                out += " (" + d + ")";
            }
        }
        out += "\n";
        std::fputs(out.c_str(), stderr);
    } catch (...) {
    }
}

std::string session::compact(const finding& f) const {
    const bool c = color_;
    std::string out = std::string(bold(c)) + "  " + header(f, true) + "\n";
    const std::string indent = "      ";
    // The user's line: where it happened, else where its task (or resource) was created.
    const auto& place = !f.culprit.empty() ? f.culprit : f.creation;
    if (!place.empty()) {
        const frame& fr = place.front();
        for (std::size_t k = 0; k < fr.snippet.size(); ++k) {
            std::uint32_t n = fr.snippet_first_line + static_cast<std::uint32_t>(k);
            if (n == fr.line) {
                out += indent + "> " + std::to_string(n) + " | " + fr.snippet[k] + "\n";
            }
        }
    }
    // Where the task was created, when the header named another place and the creation is
    // not on the culprit's own path; the main task's is the aio::run call, known already.
    if (!f.culprit.empty() && !f.creation.empty() &&
        (f.task_id == 0 || f.task_id != main_task_id_.load(std::memory_order_relaxed))) {
        const frame& made = f.creation.front();
        bool on_path = std::any_of(f.culprit.begin(), f.culprit.end(), [&](const frame& fr) {
            return fr.file == made.file && fr.line == made.line;
        });
        if (!on_path) {
            out += indent + dim(c) + "created at" + reset(c) + " " +
                   relative_paths(where(f.creation), path_prefix_) + "\n";
        }
    }
    if (!f.fix.empty()) {
        out += indent + dim(c) + "fix:" + reset(c) + " " + f.fix +
               (f.lesson.empty() ? "" : " (lesson " + f.lesson + ")") + "\n";
    } else if (!f.lesson.empty()) {
        out += indent + dim(c) + "lesson:" + reset(c) + " " + f.lesson + "\n";
    }
    return out;
}

void session::print_full(const finding& f) noexcept {
    try {
        const bool c = color_;
        std::string out;
        out += std::string(bold(c)) + "aio debug: " + (f.severity == "error" ? red(c) : yellow(c)) +
               "[" + f.id + "]" + reset(c) + bold(c) + " " + f.title + reset(c) + "\n";
        auto line = [&](const std::string& label, const std::string& text) {
            if (!text.empty()) {
                out += "    " + std::string(dim(c)) + label + ":" + reset(c) + " " + text + "\n";
            }
        };
        line("task", f.task_name.empty()
                         ? ""
                         : "'" + f.task_name + "' (id " + std::to_string(f.task_id) + ")");
        if (f.duration_ms >= 0) {
            line("duration", format_duration(std::chrono::nanoseconds(
                                 static_cast<long long>(f.duration_ms * 1e6))));
        }
        line("details", f.message);
        auto stack = [&](const std::string& label, const std::vector<frame>& frames) {
            if (frames.empty()) {
                return;
            }
            out += "    " + std::string(dim(c)) + label + ":" + reset(c) + "\n";
            std::size_t i = 0;
            for (const auto& fr : frames) {
                out += "      #" + std::to_string(i++) + " " + where({fr}) + "\n";
                if (i == 1) {
                    for (std::size_t k = 0; k < fr.snippet.size(); ++k) {
                        std::uint32_t n = fr.snippet_first_line + static_cast<std::uint32_t>(k);
                        out += std::string("         ") + (n == fr.line ? ">" : " ") + " " +
                               std::to_string(n) + " | " + fr.snippet[k] + "\n";
                    }
                }
            }
        };
        stack("where", f.culprit);
        if (!f.inside.empty()) {
            // What the user's line was blocked in, outermost (nearest the user) first.
            std::string chain;
            for (auto it = f.inside.rbegin(); it != f.inside.rend(); ++it) {
                if (!chain.empty()) {
                    chain += " -> ";
                }
                chain += !it->function.empty() ? it->function : where({*it});
            }
            line("inside", chain);
        }
        stack("created at", f.creation);
        line("why it hurts", f.why);
        line("fix", f.fix);
        line("lesson", f.lesson);
        std::fputs(out.c_str(), stderr);
    } catch (...) {
    }
}

void session::print_summary(std::optional<loop::statistics> st) noexcept {
    try {
        std::map<std::string, std::size_t> counts;
        std::size_t total = 0;
        for (const auto& f : findings_) {
            counts[f.id] += f.count;
            total += f.count;
        }
        std::string text =
            "aio debug: summary: " + std::to_string(total) + " finding" + (total == 1 ? "" : "s");
        if (!cfg_.verbose && findings_.size() < total) {
            // The list below has one entry per place: say why it is shorter.
            text += " at " + std::to_string(findings_.size()) + " place" +
                    (findings_.size() == 1 ? "" : "s");
        }
        if (!counts.empty()) {
            text += " (";
            bool first = true;
            for (auto& [id, n] : counts) {
                text += (first ? "" : ", ") + id + " " + std::to_string(n);
                first = false;
            }
            text += ")";
        }
        if (st) {
            text += "; " + std::to_string(st->tasks_spawned) + " tasks spawned, peak " +
                    std::to_string(st->peak_tasks_alive) + " alive, " + std::to_string(st->steps) +
                    " steps";
        }
        if (longest_stall_ms_ > 0) {
            text += ", longest stall " + format_duration(std::chrono::nanoseconds(
                                             static_cast<long long>(longest_stall_ms_ * 1e6)));
        }
        if (stall_ && stall_->suppressed() > 0) {
            text += ", " + std::to_string(stall_->suppressed()) +
                    " stalls not reported (rate limit: 5 a minute)";
        }
        text += "\n";
        if (!cfg_.verbose) {
            // Each finding once, errors first, each group in the order seen.
            std::vector<const finding*> order;
            for (const auto& f : findings_) {
                order.push_back(&f);
            }
            std::stable_partition(order.begin(), order.end(),
                                  [](const finding* f) { return f->severity == "error"; });
            for (const finding* f : order) {
                text += compact(*f);
            }
        }
        std::fputs(text.c_str(), stderr);
    } catch (...) {
    }
}

bool session::write_report(std::optional<loop::statistics> st, double duration_ms,
                           const char* ended) noexcept {
    try {
        run_summary run;
        run.program = program_name();
        run.pid = static_cast<long>(::getpid());
        run.started = started_iso_;
        run.options = options_text_;
        run.duration_ms = duration_ms;
        run.ended = ended;
        if (st) {
            run.tasks_spawned = st->tasks_spawned;
            run.peak_tasks_alive = st->peak_tasks_alive;
            run.steps = st->steps;
        }
        run.longest_stall_ms = longest_stall_ms_;
        auto save = [](const std::string& path, const std::string& text, const char* what) {
            std::ofstream out(path, std::ios::trunc | std::ios::binary);
            out << text;
            out.close();
            if (!out) {
                std::string msg =
                    std::string("aio debug: cannot write the ") + what + " to " + path + "\n";
                std::fputs(msg.c_str(), stderr);
                return false;
            }
            return true;
        };
        const bool want_report = !cfg_.report_path.empty() || !cfg_.html_path.empty();
        const std::string report_text = want_report ? to_json(run, findings_) : std::string();
        const bool report_written =
            !cfg_.report_path.empty() && save(cfg_.report_path, report_text, "report");
        // The timeline's ring belongs to the loop thread: a process ended by std::terminate on
        // another thread writes no trace (the loop may be recording into it right now).
        const bool trace_readable = trace_ && (this_threads_session == this || closed_ ||
                                               std::string_view(ended) == "closed");
        std::string trace_text;
        if (trace_readable && (!cfg_.trace_path.empty() || !cfg_.html_path.empty())) {
            trace_->stop();
            trace_text = trace_->to_json(run.program, run.started);
        }
        if (!cfg_.trace_path.empty()) {
            if (trace_readable) {
                save(cfg_.trace_path, trace_text, "trace");
            } else {
                std::fputs("aio debug: no trace written: std::terminate() ended the program on "
                           "another thread than the loop's\n",
                           stderr);
            }
        }
        if (!cfg_.html_path.empty()) {
            try {
                const nlohmann::json report = nlohmann::json::parse(report_text);
                std::string page =
                    trace_text.empty()
                        ? aio::report::render_html(report, nullptr)
                        : aio::report::render_html(report,
                                                   aio::report::parse_trace(trace_text, "<trace>"));
                html_written_ = save(cfg_.html_path, page, "HTML report");
            } catch (const std::exception& e) {
                std::string msg = "aio debug: cannot write the HTML report to " + cfg_.html_path +
                                  ": " + e.what() + "\n";
                std::fputs(msg.c_str(), stderr);
            }
        }
        return report_written;
    } catch (...) {
        return false;
    }
}

void session::print_where_in_full(bool report_written) noexcept {
    if (cfg_.verbose || findings_.empty()) {
        return;
    }
    try {
        std::string text = "aio debug: each finding in full (stacks, details, why it hurts): ";
        std::string where;
        if (report_written) {
            where = relative_paths(cfg_.report_path, path_prefix_);
        }
        if (html_written_) {
            where += (where.empty() ? "" : " and ") + relative_paths(cfg_.html_path, path_prefix_);
        }
        text += !where.empty() ? where
                               : std::string("add verbose to ASYNC_DEBUG, or report=PATH for a "
                                             "JSON report, html=PATH for an HTML page");
        text += "\n";
        std::fputs(text.c_str(), stderr);
    } catch (...) {
    }
}

}  // namespace aio::debug
