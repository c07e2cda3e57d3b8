#include "trace.hpp"

#include <aio/detail/task_base.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string_view>

#include <unistd.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace aio::debug {

namespace {

constexpr std::size_t max_names = 4096;
constexpr std::size_t max_findings = 10000;
// Track ids (Chrome's "tid") of the tracks that are not threads: far above any kernel thread id
// (at most 2^22).
constexpr std::uint64_t task_track_base = 1000000000;
constexpr std::uint64_t findings_track = task_track_base - 1;  // and below: one per detector
// An I/O poll that did not wait (timeout 0) is recorded only when it took this long.
constexpr std::int64_t min_poll_ns = 50000;

// Appends `s` as a JSON string: escaped, and with bytes that are not UTF-8 replaced by U+FFFD
// (names and messages are the program's bytes), so the file always parses.
void append_string(std::string& out, std::string_view s) {
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if (c == '"' || c == '\\') {
                out += '\\';
                out += static_cast<char>(c);
            } else if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += static_cast<char>(c);
            }
            ++i;
            continue;
        }
        std::size_t len = c >= 0xf0 && c <= 0xf4  ? 4
                          : c >= 0xe0             ? 3
                          : c >= 0xc2 && c < 0xe0 ? 2
                                                  : 0;
        bool ok = len != 0 && i + len <= s.size();
        for (std::size_t k = 1; ok && k < len; ++k) {
            ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
        }
        if (ok && len == 3) {
            const auto c1 = static_cast<unsigned char>(s[i + 1]);
            ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);  // overlong, surrogate
        } else if (ok && len == 4) {
            const auto c1 = static_cast<unsigned char>(s[i + 1]);
            ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
        }
        if (ok) {
            out.append(s.data() + i, len);
            i += len;
        } else {
            out += "\xef\xbf\xbd";
            ++i;
        }
    }
    out += '"';
}

void append_us(std::string& out, double us) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.3f", us);
    out += buf;
}

double ns_to_us(std::int64_t ns) {
    return static_cast<double>(ns) / 1000.0;
}

std::string task_label(std::uint64_t id, const std::string* name) {
    return name != nullptr ? *name : "task-" + std::to_string(id);
}

}  // namespace

trace_recorder::trace_recorder(std::size_t capacity_bytes)
    : origin_(clock::now())
    , loop_tid_(static_cast<long>(::gettid()))
    , pid_(static_cast<long>(::getpid())) {
    ring_.resize(std::max<std::size_t>(capacity_bytes / sizeof(event), 1000));
    min_poll_ticks_ = min_poll_ns;
#if defined(__x86_64__)
    // The time-stamp counter, when it ticks at a constant rate through frequency changes and
    // idle states. Its nominal rate here only sizes the poll filter; the trace's conversion
    // measures the real one.
    double mhz = 0;
    bool constant = false;
    bool nonstop = false;
    if (std::FILE* f = std::fopen("/proc/cpuinfo", "r")) {
        char line[4096];
        while (std::fgets(line, sizeof line, f) != nullptr) {
            std::string_view l(line);
            if (l.rfind("flags", 0) == 0) {
                constant = l.find(" constant_tsc") != std::string_view::npos;
                nonstop = l.find(" nonstop_tsc") != std::string_view::npos;
                break;
            }
            if (l.rfind("cpu MHz", 0) == 0 && mhz == 0) {
                if (auto colon = l.find(':'); colon != std::string_view::npos) {
                    mhz = std::strtod(line + colon + 1, nullptr);
                }
            }
        }
        std::fclose(f);
    }
    if (constant && nonstop && mhz > 0) {
        use_tsc_ = true;
        origin_ = clock::now();
        tsc_origin_ = __rdtsc();
        min_poll_ticks_ = static_cast<std::int64_t>(static_cast<double>(min_poll_ns) * mhz / 1000);
    }
#endif
}

std::int64_t trace_recorder::now_ticks() const noexcept {
#if defined(__x86_64__)
    if (use_tsc_) {
        return static_cast<std::int64_t>(__rdtsc() - tsc_origin_);
    }
#endif
    return now_ns();
}

double trace_recorder::ns_per_tick() const noexcept {
#if defined(__x86_64__)
    if (use_tsc_) {
        const std::uint64_t ticks = __rdtsc() - tsc_origin_;
        const auto ns = static_cast<double>(now_ns());
        return ticks > 0 ? ns / static_cast<double>(ticks) : 1.0;
    }
#endif
    return 1.0;
}

std::size_t trace_recorder::event_size() noexcept {
    return sizeof(event);
}

std::int64_t trace_recorder::now_ns() const noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - origin_).count();
}

double trace_recorder::now_us() const noexcept {
    return ns_to_us(now_ns());
}

std::uint64_t trace_recorder::dropped() const noexcept {
    return total_ > ring_.size() ? total_ - ring_.size() : 0;
}

void trace_recorder::push(const event& e) noexcept {
    ring_[next_] = e;
    next_ = next_ + 1 == ring_.size() ? 0 : next_ + 1;
    ++total_;
}

const std::string* trace_recorder::name_of(const task_ref& t) noexcept {
    const std::string& name = t.base()->name_;
    if (name.empty()) {
        return nullptr;  // "task-<id>", made when the trace is written
    }
    const std::uint64_t id = t.base()->id_;
    auto it = live_names_.find(id);
    if (it != live_names_.end() && *it->second == name) {
        return it->second;
    }
    try {
        auto found = names_.find(name);
        if (found == names_.end()) {
            if (names_.size() >= max_names) {
                return nullptr;
            }
            found = names_.insert(name).first;
        }
        live_names_[id] = &*found;
        return &*found;
    } catch (...) {
        return nullptr;
    }
}

void trace_recorder::task_spawned(const task_ref& t) noexcept {
    if (stopped_) {
        return;
    }
    event e;
    e.k = kind::spawn;
    e.ts = now_ticks();
    e.task = t.id();
    e.name = name_of(t);
    push(e);
}

void trace_recorder::before_task_step(const task_ref&) noexcept {
    step_start_ = now_ticks();
}

void trace_recorder::after_task_step(const task_ref& t) noexcept {
    if (stopped_) {
        return;
    }
    event e;
    e.k = kind::step;
    e.ts = step_start_;
    e.dur = now_ticks() - step_start_;
    e.task = t.base()->id_;
    e.name = name_of(t);
    const char* on = t.waiting_on();
    e.label = *on != '\0' ? on : t.done() ? "done" : "ready to run";
    push(e);
}

void trace_recorder::task_done(const task_ref& t) noexcept {
    live_names_.erase(t.base()->id_);
}

void trace_recorder::before_io_wait(duration timeout) noexcept {
    io_start_ = now_ticks();
    io_timeout_ms_ = timeout.count() < 0
                         ? -1
                         : std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
}

void trace_recorder::after_io_wait() noexcept {
    if (stopped_) {
        return;
    }
    const std::int64_t end = now_ticks();
    if (io_timeout_ms_ == 0 && end - io_start_ < min_poll_ticks_) {
        return;
    }
    event e;
    e.k = kind::io_wait;
    e.ts = io_start_;
    e.dur = end - io_start_;
    e.extra = io_timeout_ms_;
    push(e);
}

void trace_recorder::timers_fired(std::size_t count, clock::time_point started) noexcept {
    if (stopped_) {
        return;
    }
    event e;
    e.k = kind::timers;
    e.ts = std::chrono::duration_cast<std::chrono::nanoseconds>(started - origin_).count();
    e.dur = now_ns() - e.ts;
    e.extra = static_cast<std::int64_t>(count);
    push(e);
}

void trace_recorder::executor_call_ran(const task_ref& t, clock::time_point started,
                                       clock::time_point ended, long thread_id) noexcept {
    if (stopped_) {
        return;
    }
    event e;
    e.k = kind::executor;
    e.ts = std::chrono::duration_cast<std::chrono::nanoseconds>(started - origin_).count();
    e.dur = std::chrono::duration_cast<std::chrono::nanoseconds>(ended - started).count();
    e.task = t.id();
    e.name = name_of(t);
    e.extra = thread_id;
    push(e);
}

void trace_recorder::add_finding(const finding& f, double at_us) noexcept {
    try {
        std::string where;
        const auto& place = !f.culprit.empty() ? f.culprit : f.creation;
        if (!place.empty()) {
            where = place.front().file + ":" + std::to_string(place.front().line);
            if (!place.front().function.empty()) {
                where += " (" + place.front().function + ")";
            }
        }
        std::lock_guard<std::mutex> lock(findings_mutex_);
        if (findings_.size() >= max_findings) {
            ++findings_dropped_;
            return;
        }
        finding_event e;
        e.at_us = at_us;
        e.dur_us = f.duration_ms >= 0 ? f.duration_ms * 1000.0 : -1;
        e.id = f.id;
        e.severity = f.severity;
        e.title = f.title;
        e.where = std::move(where);
        e.task = f.task_id;
        findings_.push_back(std::move(e));
    } catch (...) {
    }
}

std::string trace_recorder::to_json(const std::string& program, const std::string& started) const {
    // The ring, oldest first.
    const std::size_t held = std::min<std::uint64_t>(total_, ring_.size());
    const std::size_t first = total_ > ring_.size() ? next_ : 0;
    // In nanoseconds: the hot events' ticks converted by the rate measured over the run.
    const double rate = ns_per_tick();
    std::vector<event> converted;
    converted.reserve(held);
    std::int64_t loop_end = 0;
    for (std::size_t i = 0; i < held; ++i) {
        event e = ring_[(first + i) % ring_.size()];
        if (e.k == kind::step || e.k == kind::io_wait || e.k == kind::spawn) {
            // The end converted on its own, so that one event's end never passes the next
            // one's start.
            const auto start = static_cast<std::int64_t>(static_cast<double>(e.ts) * rate);
            const auto end = static_cast<std::int64_t>(static_cast<double>(e.ts + e.dur) * rate);
            e.ts = start;
            e.dur = end - start;
        }
        if (e.k == kind::step || e.k == kind::io_wait || e.k == kind::timers) {
            // The loop track's slices follow each other; the two clocks (ticks, and the steady
            // clock of timer firings) can disagree by a fraction of a microsecond.
            if (e.ts < loop_end) {
                const std::int64_t end = e.ts + e.dur;
                e.ts = loop_end;
                e.dur = std::max<std::int64_t>(end - loop_end, 0);
            }
            loop_end = e.ts + e.dur;
        }
        converted.push_back(e);
    }
    std::vector<const event*> events;
    events.reserve(held);
    for (const event& e : converted) {
        events.push_back(&e);
    }
    std::vector<finding_event> findings;
    std::uint64_t findings_dropped = 0;
    {
        std::lock_guard<std::mutex> lock(findings_mutex_);
        findings = findings_;
        findings_dropped = findings_dropped_;
    }

    std::string out;
    out.reserve(held * 140 + findings.size() * 300 + 4096);
    const std::string pid = std::to_string(pid_);
    const std::string loop_tid = std::to_string(loop_tid_);
    auto head = [&](const char* ph, const char* cat, std::string_view name, double ts_us,
                    const std::string& tid) {
        out += "{\"ph\":\"";
        out += ph;
        out += "\",\"cat\":\"";
        out += cat;
        out += "\",\"name\":";
        append_string(out, name);
        out += ",\"ts\":";
        append_us(out, ts_us);
        out += ",\"pid\":" + pid + ",\"tid\":" + tid;
    };
    auto metadata = [&](const char* what, const std::string& tid, std::string_view value) {
        out += "{\"ph\":\"M\",\"name\":\"";
        out += what;
        out += "\",\"pid\":" + pid + ",\"tid\":" + tid + ",\"args\":{\"name\":";
        append_string(out, value);
        out += "}},\n";
    };
    auto sort_index = [&](const std::string& tid, std::uint64_t index) {
        out += "{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":" + pid + ",\"tid\":" + tid +
               ",\"args\":{\"sort_index\":" + std::to_string(index) + "}},\n";
    };

    out += "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"schema\":\"aio-trace\",\"version\":1,";
    out += "\"program\":";
    append_string(out, program);
    out += ",\"pid\":" + pid + ",\"started\":";
    append_string(out, started);
    out += ",\"loop_thread\":" + loop_tid;
    out += ",\"events\":" + std::to_string(total_);
    out += ",\"dropped_events\":" + std::to_string(dropped());
    out += ",\"trace_size\":" + std::to_string(ring_.size() * sizeof(event));
    out += ",\"findings\":" + std::to_string(findings.size() + findings_dropped);
    out += ",\"dropped_findings\":" + std::to_string(findings_dropped);
    out += "},\n\"traceEvents\":[\n";
    metadata("process_name", loop_tid, "aio: " + program);
    metadata("thread_name", loop_tid, "aio loop");
    sort_index(loop_tid, 0);

    // The loop track, and what each task did, in order.
    struct task_info {
        const std::string* name = nullptr;
        bool spawned_seen = false;  // its creation is in the ring
        double spawned_us = 0;
        std::vector<const event*> steps;
    };
    std::map<std::uint64_t, task_info> tasks;
    std::map<long, std::vector<const event*>> executors;
    for (const event* e : events) {
        switch (e->k) {
        case kind::step: {
            head("X", "step", task_label(e->task, e->name), ns_to_us(e->ts), loop_tid);
            out += ",\"dur\":";
            append_us(out, ns_to_us(e->dur));
            out += ",\"args\":{\"task\":" + std::to_string(e->task) + ",\"then\":";
            append_string(out, e->label != nullptr ? e->label : "");
            out += "}},\n";
            task_info& ti = tasks[e->task];
            ti.name = e->name != nullptr ? e->name : ti.name;
            ti.steps.push_back(e);
            break;
        }
        case kind::io_wait:
            head("X", "wait", "io wait", ns_to_us(e->ts), loop_tid);
            out += ",\"dur\":";
            append_us(out, ns_to_us(e->dur));
            out += ",\"args\":{\"timeout_ms\":" + std::to_string(e->extra) + "}},\n";
            break;
        case kind::timers:
            head("X", "timers", "timers", ns_to_us(e->ts), loop_tid);
            out += ",\"dur\":";
            append_us(out, ns_to_us(e->dur));
            out += ",\"args\":{\"fired\":" + std::to_string(e->extra) + "}},\n";
            break;
        case kind::spawn: {
            // The start of the arrow to the task's first step (drawn if that step is recorded).
            task_info& ti = tasks[e->task];
            ti.name = e->name;
            ti.spawned_seen = true;
            ti.spawned_us = ns_to_us(e->ts);
            break;
        }
        case kind::executor:
            executors[static_cast<long>(e->extra)].push_back(e);
            break;
        }
    }

    // Flow arrows: from the step that created a task to its first step.
    for (const auto& [id, ti] : tasks) {
        if (!ti.spawned_seen || ti.steps.empty()) {
            continue;
        }
        head("s", "spawn", "spawn", ti.spawned_us, loop_tid);
        out += ",\"id\":" + std::to_string(id) + "},\n";
        head("f", "spawn", "spawn", ns_to_us(ti.steps.front()->ts),
             std::to_string(task_track_base + id));
        out += ",\"bp\":\"e\",\"id\":" + std::to_string(id) + "},\n";
    }

    // One track per task: when it ran, and between its steps what it waited on.
    for (const auto& [id, ti] : tasks) {
        if (ti.steps.empty()) {
            continue;
        }
        const std::string tid = std::to_string(task_track_base + id);
        metadata("thread_name", tid,
                 "task " + std::to_string(id) + " '" + task_label(id, ti.name) + "'");
        sort_index(tid, 10 + id);
        if (ti.spawned_seen && ti.spawned_us < ns_to_us(ti.steps.front()->ts)) {
            head("X", "waiting", "scheduled", ti.spawned_us, tid);
            out += ",\"dur\":";
            append_us(out, ns_to_us(ti.steps.front()->ts) - ti.spawned_us);
            out += "},\n";
        }
        const event* prev = nullptr;
        for (const event* s : ti.steps) {
            if (prev != nullptr) {
                const std::int64_t from = prev->ts + prev->dur;
                head("X", "waiting", prev->label != nullptr ? prev->label : "", ns_to_us(from),
                     tid);
                out += ",\"dur\":";
                append_us(out, ns_to_us(s->ts - from));
                out += "},\n";
            }
            head("X", "run", "run", ns_to_us(s->ts), tid);
            out += ",\"dur\":";
            append_us(out, ns_to_us(s->dur));
            out += "},\n";
            prev = s;
        }
    }

    // Executor threads: the to_thread calls they ran, in time order.
    std::uint64_t executor_index = 2;
    for (auto& [thread, calls] : executors) {
        const std::string tid = std::to_string(thread);
        metadata("thread_name", tid, "executor thread");
        sort_index(tid, executor_index++);
        std::stable_sort(calls.begin(), calls.end(),
                         [](const event* a, const event* b) { return a->ts < b->ts; });
        for (const event* e : calls) {
            head("X", "executor", "to_thread", ns_to_us(e->ts), tid);
            out += ",\"dur\":";
            append_us(out, ns_to_us(e->dur));
            out += ",\"args\":{\"task\":" + std::to_string(e->task) + ",\"task_name\":";
            append_string(out, task_label(e->task, e->name));
            out += "}},\n";
        }
    }

    // Findings: an instant on the loop track when they happened; those with a length (a stall,
    // a slow step, a blocking call) also as a slice of that length on the findings track.
    // A stall or a slow step is the length of one step, reported after it ended (the
    // watchdog's clock is coarser than the trace's): drawn as exactly that step when the step
    // is in the ring.
    for (finding_event& f : findings) {
        if ((f.id != "stall" && f.id != "slow-callback") || f.dur_us < 0) {
            continue;
        }
        auto ti = tasks.find(f.task);
        if (ti == tasks.end()) {
            continue;
        }
        // The step of that task that ended shortly before the report (reports can wait for the
        // task's next step) and whose length is nearest the measured one.
        const event* best = nullptr;
        double best_gap = 0;
        for (const event* st : ti->second.steps) {
            const double end = ns_to_us(st->ts + st->dur);
            if (end > f.at_us + 1000 || f.at_us - end > 1e6) {
                continue;
            }
            const double gap = std::abs(ns_to_us(st->dur) - f.dur_us);
            if (best == nullptr || gap < best_gap) {
                best = st;
                best_gap = gap;
            }
        }
        if (best != nullptr && best_gap > f.dur_us / 4) {
            best = nullptr;  // not that step: keep the measured length
        }
        if (best != nullptr) {
            f.at_us = ns_to_us(best->ts + best->dur);
            f.dur_us = ns_to_us(best->dur);
        }
    }
    std::stable_sort(
        findings.begin(), findings.end(), [](const finding_event& a, const finding_event& b) {
            return a.at_us - std::max(a.dur_us, 0.0) < b.at_us - std::max(b.dur_us, 0.0);
        });
    auto finding_args = [&](const finding_event& f) {
        out += ",\"args\":{\"id\":";
        append_string(out, f.id);
        out += ",\"severity\":";
        append_string(out, f.severity);
        out += ",\"where\":";
        append_string(out, f.where);
        out += ",\"task\":" + std::to_string(f.task) + "}},\n";
    };
    // One track per detector that measures a length (stall, slow-callback, blocking-call), so
    // that two detectors timing the same step do not overlap on one track.
    std::map<std::string, std::pair<std::string, double>> tracks;  // id -> tid, last end
    for (const finding_event& f : findings) {
        if (f.dur_us < 0) {
            continue;
        }
        auto [it, added] =
            tracks.try_emplace(f.id, std::to_string(findings_track - tracks.size()), -1.0);
        const std::string& track = it->second.first;
        double& last_end = it->second.second;
        if (added) {
            metadata("thread_name", track, f.id);
            sort_index(track, tracks.size());
        }
        // Slices on one track must nest or follow each other: one that starts inside the
        // previous one and ends after it is shortened to start at its end.
        double start = f.at_us - f.dur_us;
        if (start < last_end && f.at_us > last_end) {
            start = last_end;
        }
        if (start >= f.at_us) {
            continue;
        }
        head("X", "finding", "[" + f.id + "] " + f.title, start, track);
        out += ",\"dur\":";
        append_us(out, f.at_us - start);
        finding_args(f);
        last_end = std::max(last_end, f.at_us);
    }
    std::stable_sort(
        findings.begin(), findings.end(),
        [](const finding_event& a, const finding_event& b) { return a.at_us < b.at_us; });
    for (const finding_event& f : findings) {
        head("i", "finding", "[" + f.id + "] " + f.title, f.at_us, loop_tid);
        out += ",\"s\":\"t\"";
        finding_args(f);
    }
    // The last element: no trailing comma before the closing bracket.
    if (out.size() >= 2 && out.compare(out.size() - 2, 2, ",\n") == 0) {
        out.erase(out.size() - 2);
        out += "\n";
    }
    out += "]}\n";
    return out;
}

}  // namespace aio::debug
