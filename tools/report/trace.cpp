// Reading a trace file (`aio-trace`: Chrome trace events, written by debug mode's `trace=`
// option) into the compact trace_model the HTML timeline draws. A trace can hold millions
// of events, so the file is parsed with nlohmann's SAX interface, one event at a time,
// without building a JSON tree (which would take about a kilobyte per event).
//
//   parse_trace(text) --sax--> trace_sax --raw_event--> builder::add --> trace_model
//   trace_from_json(j) -------------------raw_event--> builder::add --> trace_model
#include "report_core.hpp"
#include "report_detail.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace aio::report {

namespace {

// Task tracks are threads with ids above this one: tid = task_tid_base + task id.
constexpr std::int64_t task_tid_base = 1000000000;

// The fields of one event that the timeline uses; the others are ignored.
struct raw_event {
    std::string ph, cat, name;
    double ts = 0, dur = 0;
    bool has_ts = false, has_dur = false;
    std::int64_t tid = 0;
    std::int64_t id = -1;  ///< "id" of flow events (the task id for spawn)
    // args
    std::int64_t task = -1;
    std::int64_t fired = -1;
    std::string finding_id, severity, where, thread_name;
    std::string then;  ///< a step's args.then: what the task did next ("done", a wait)

    void clear() { *this = raw_event{}; }
};

// The trace's otherData.
struct meta {
    bool has_schema = false;
    std::string schema;
    bool schema_is_string = true;
    std::int64_t version = 1;
    std::string program, started;
    long long pid = 0, events = -1, dropped = 0;
};

class builder {
public:
    void add(const raw_event& e) {
        ++seen_;
        if (e.ph == "M") {
            if (e.name == "thread_name") {
                auto& t = track(e.tid);
                t.name = e.thread_name;
                if (e.tid >= task_tid_base) {
                    t.kind = trace_track::task;
                    task(e.tid - task_tid_base).name_from_track = quoted(e.thread_name);
                } else if (e.thread_name == "aio loop") {
                    t.kind = trace_track::loop;
                } else if (e.thread_name.find("executor") != std::string::npos) {
                    t.kind = trace_track::executor;
                }
            }
            return;
        }
        if (e.ph == "s" && e.cat == "spawn" && e.has_ts && e.id >= 0) {
            see(task(e.id), e.ts, e.ts);
            return;
        }
        if ((e.ph == "i" || e.ph == "I" || e.ph == "X") && e.cat == "finding" && e.has_ts) {
            trace_finding f;
            f.ts = e.ts;
            f.dur = e.ph == "X" && e.has_dur ? e.dur : -1;
            f.id = e.finding_id;
            f.severity = e.severity;
            f.title = e.name;
            f.where = e.where;
            end_ = std::max(end_, e.ts + std::max(0.0, f.dur));
            model_.findings.push_back(std::move(f));
            return;
        }
        if (e.ph != "X" || !e.has_ts) {
            return;
        }
        trace_span s;
        s.start = e.ts;
        s.dur = e.has_dur && e.dur > 0 ? e.dur : 0;
        trace_track::kind_t track_kind = trace_track::other;
        if (e.cat == "step") {
            s.kind = trace_span::step;
            s.arg = e.task;
            track_kind = trace_track::loop;
            if (e.task >= 0) {
                auto& t = task(e.task);
                if (t.name_from_step.empty()) {
                    t.name_from_step = e.name;
                }
                t.info.busy += s.dur;
                ++t.info.steps;
                see(t, s.start, s.start + s.dur);
                if (!e.then.empty() && s.start >= t.last_step_start) {
                    t.last_step_start = s.start;
                    t.then = e.then;
                }
            }
        } else if (e.cat == "wait") {
            s.kind = trace_span::io_wait;
            track_kind = trace_track::loop;
        } else if (e.cat == "timers") {
            s.kind = trace_span::timers;
            s.arg = e.fired;
            track_kind = trace_track::loop;
        } else if (e.cat == "run" || e.cat == "waiting") {
            s.kind = e.cat == "run" ? trace_span::run : trace_span::waiting;
            track_kind = trace_track::task;
            if (s.kind == trace_span::waiting) {
                s.arg = name_index(e.name);
            }
            if (e.tid >= task_tid_base) {
                auto& t = task(e.tid - task_tid_base);
                if (s.kind == trace_span::run) {
                    t.run_time += s.dur;
                }
                see(t, s.start, s.start + s.dur);
            }
        } else if (e.cat == "executor") {
            s.kind = trace_span::executor;
            s.arg = e.task;
            track_kind = trace_track::executor;
        } else {
            return;  // a category this reader does not know
        }
        auto& t = track(e.tid);
        if (t.kind == trace_track::other) {
            t.kind = track_kind;
        }
        end_ = std::max(end_, s.start + s.dur);
        t.spans.push_back(s);
    }

    trace_model finish(meta m) {
        model_.program = std::move(m.program);
        model_.pid = m.pid;
        model_.started = std::move(m.started);
        model_.events = m.events >= 0 ? m.events : seen_;
        model_.dropped_events = m.dropped;
        model_.end = end_;

        // Tracks with nothing to draw (a named thread whose events this reader does not draw,
        // such as the detectors' finding tracks) are left out.
        std::erase_if(tracks_, [](const trace_track& t) { return t.spans.empty(); });
        for (auto& t : tracks_) {
            std::stable_sort(
                t.spans.begin(), t.spans.end(),
                [](const trace_span& a, const trace_span& b) { return a.start < b.start; });
            if (t.tid >= task_tid_base && t.kind == trace_track::task) {
                t.task_id = t.tid - task_tid_base;
            }
            if (t.name.empty()) {
                t.name = t.kind == trace_track::loop       ? "aio loop"
                         : t.kind == trace_track::executor ? "executor thread"
                         : t.kind == trace_track::task
                             ? "task " + std::to_string(t.tid - task_tid_base)
                             : "thread " + std::to_string(t.tid);
            }
        }
        // The loop first, then executor threads, then other threads, then tasks by id.
        auto rank = [](const trace_track& t) {
            switch (t.kind) {
            case trace_track::loop:
                return 0;
            case trace_track::executor:
                return 1;
            case trace_track::other:
                return 2;
            case trace_track::task:
                return 3;
            }
            return 4;
        };
        std::stable_sort(tracks_.begin(), tracks_.end(),
                         [&](const trace_track& a, const trace_track& b) {
                             return std::make_pair(rank(a), a.tid) < std::make_pair(rank(b), b.tid);
                         });
        // A task's last state: the last span on its own track.
        for (const auto& t : tracks_) {
            if (t.kind != trace_track::task || t.spans.empty()) {
                continue;
            }
            const trace_span* last = &t.spans.front();
            for (const auto& s : t.spans) {
                if (s.start + s.dur >= last->start + last->dur) {
                    last = &s;
                }
            }
            auto& info = task(t.task_id).info;
            info.last_state = last->kind == trace_span::run ? "running"
                              : last->arg >= 0
                                  ? "waiting: " + model_.names[static_cast<std::size_t>(last->arg)]
                                  : "waiting";
        }
        model_.tracks = std::move(tracks_);
        std::stable_sort(
            model_.findings.begin(), model_.findings.end(),
            [](const trace_finding& a, const trace_finding& b) { return a.ts < b.ts; });
        for (auto& [id, t] : tasks_) {
            t.info.id = id;
            t.info.name = !t.name_from_step.empty()    ? t.name_from_step
                          : !t.name_from_track.empty() ? t.name_from_track
                                                       : "task-" + std::to_string(id);
            if (t.info.steps == 0) {
                t.info.busy = t.run_time;
            }
            // What the task did after its last step says more than its track's last span.
            if (t.then == "done" || t.then == "ready to run") {
                t.info.last_state = t.then;
            } else if (!t.then.empty()) {
                t.info.last_state = "waiting: " + t.then;
            }
            model_.tasks.push_back(std::move(t.info));
        }
        return std::move(model_);
    }

private:
    struct task_state {
        trace_task info;
        std::string name_from_step, name_from_track;
        double run_time = 0;
        double last_step_start = -1;
        std::string then;  ///< args.then of its last step
    };

    static void see(task_state& t, double from, double to) {
        if (t.info.first_seen < 0 || from < t.info.first_seen) {
            t.info.first_seen = from;
        }
        t.info.last_seen = std::max(t.info.last_seen, to);
    }

    // "task 3 'confirm'" -> "confirm"
    static std::string quoted(const std::string& s) {
        auto a = s.find('\'');
        auto b = s.rfind('\'');
        return a != std::string::npos && b > a ? s.substr(a + 1, b - a - 1) : std::string();
    }

    trace_track& track(std::int64_t tid) {
        auto [it, fresh] = track_index_.try_emplace(tid, tracks_.size());
        if (fresh) {
            trace_track t;
            t.tid = tid;
            tracks_.push_back(std::move(t));
        }
        return tracks_[it->second];
    }

    task_state& task(std::int64_t id) { return tasks_[id]; }

    std::int64_t name_index(const std::string& name) {
        auto [it, fresh] = name_index_.try_emplace(name, model_.names.size());
        if (fresh) {
            model_.names.push_back(name);
        }
        return static_cast<std::int64_t>(it->second);
    }

    trace_model model_;
    std::vector<trace_track> tracks_;
    std::unordered_map<std::int64_t, std::size_t> track_index_;
    std::map<std::int64_t, task_state> tasks_;
    std::unordered_map<std::string, std::size_t> name_index_;
    double end_ = 0;
    long long seen_ = 0;
};

// Where the SAX parser is in the document. Containers the reader does not need are skipped
// by counting their depth.
class trace_sax {
public:
    using number_integer_t = nlohmann::json::number_integer_t;
    using number_unsigned_t = nlohmann::json::number_unsigned_t;
    using number_float_t = nlohmann::json::number_float_t;
    using string_t = nlohmann::json::string_t;
    using binary_t = nlohmann::json::binary_t;

    explicit trace_sax(builder& b)
        : b_(b) {}

    bool null() { return scalar(value{}); }
    bool boolean(bool) { return scalar(value{}); }
    bool number_integer(number_integer_t v) {
        return scalar(value{true, static_cast<double>(v), v});
    }
    bool number_unsigned(number_unsigned_t v) {
        return scalar(value{true, static_cast<double>(v), static_cast<std::int64_t>(v)});
    }
    bool number_float(number_float_t v, const string_t&) {
        return scalar(value{true, v, static_cast<std::int64_t>(v)});
    }
    bool string(string_t& s) {
        value v;
        v.is_string = true;
        v.text = &s;
        return scalar(v);
    }
    bool binary(binary_t&) { return scalar(value{}); }

    bool start_object(std::size_t) {
        if (skip_ > 0) {
            ++skip_;
            return true;
        }
        switch (where_) {
        case at::start:
            where_ = at::top;
            top_is_object_ = true;
            return true;
        case at::top:
            if (key_ == "otherData") {
                where_ = at::other_data;
                return true;
            }
            break;
        case at::events:
            where_ = at::event;
            event_.clear();
            return true;
        case at::event:
            if (key_ == "args") {
                where_ = at::args;
                return true;
            }
            break;
        default:
            break;
        }
        ++skip_;
        return true;
    }

    bool end_object() {
        if (skip_ > 0) {
            --skip_;
            return true;
        }
        switch (where_) {
        case at::top:
            where_ = at::done;
            break;
        case at::other_data:
            where_ = at::top;
            break;
        case at::event:
            b_.add(event_);
            where_ = at::events;
            break;
        case at::args:
            where_ = at::event;
            break;
        default:
            break;
        }
        return true;
    }

    bool start_array(std::size_t) {
        if (skip_ > 0) {
            ++skip_;
            return true;
        }
        if (where_ == at::start) {
            top_is_object_ = false;
            where_ = at::done;
            ++skip_;
            return true;
        }
        if (where_ == at::top && key_ == "traceEvents") {
            where_ = at::events;
            has_events_ = true;
            return true;
        }
        ++skip_;
        return true;
    }

    bool end_array() {
        if (skip_ > 0) {
            --skip_;
            return true;
        }
        if (where_ == at::events) {
            where_ = at::top;
        }
        return true;
    }

    bool key(string_t& k) {
        if (skip_ == 0) {
            key_ = k;
        }
        return true;
    }

    bool parse_error(std::size_t position, const std::string&,
                     const nlohmann::detail::exception& ex) {
        error_at = position;
        error = ex.what();
        return false;  // stop: parse_trace reports it
    }

    [[nodiscard]] bool top_is_object() const { return top_is_object_; }
    [[nodiscard]] bool has_events() const { return has_events_; }
    meta m;
    bool events_not_array = false;
    std::string error;  ///< nlohmann's message when the text is not JSON
    std::size_t error_at = 0;

private:
    enum class at { start, top, events, event, args, other_data, done };

    struct value {
        bool is_number = false;
        double number = 0;
        std::int64_t integer = 0;
        bool is_string = false;
        const std::string* text = nullptr;
    };

    bool scalar(const value& v) {
        if (skip_ > 0) {
            return true;
        }
        const std::string& k = key_;
        switch (where_) {
        case at::start:
            where_ = at::done;  // a bare scalar: not an object
            top_is_object_ = false;
            break;
        case at::top:
            if (k == "traceEvents") {
                events_not_array = true;
            }
            break;
        case at::event:
            if (k == "ph" && v.is_string) {
                event_.ph = *v.text;
            } else if (k == "cat" && v.is_string) {
                event_.cat = *v.text;
            } else if (k == "name" && v.is_string) {
                event_.name = *v.text;
            } else if (k == "ts" && v.is_number) {
                event_.ts = v.number;
                event_.has_ts = true;
            } else if (k == "dur" && v.is_number) {
                event_.dur = v.number;
                event_.has_dur = true;
            } else if (k == "tid" && v.is_number) {
                event_.tid = v.integer;
            } else if (k == "id" && v.is_number) {
                event_.id = v.integer;
            }
            break;
        case at::args:
            if (k == "task" && v.is_number) {
                event_.task = v.integer;
            } else if (k == "fired" && v.is_number) {
                event_.fired = v.integer;
            } else if (k == "id" && v.is_string) {
                event_.finding_id = *v.text;
            } else if (k == "severity" && v.is_string) {
                event_.severity = *v.text;
            } else if (k == "where" && v.is_string) {
                event_.where = *v.text;
            } else if (k == "name" && v.is_string) {
                event_.thread_name = *v.text;
            } else if (k == "then" && v.is_string) {
                event_.then = *v.text;
            }
            break;
        case at::other_data:
            if (k == "schema") {
                m.has_schema = true;
                m.schema_is_string = v.is_string;
                m.schema = v.is_string ? *v.text : std::string();
            } else if (k == "version" && v.is_number) {
                m.version = v.integer;
            } else if (k == "program" && v.is_string) {
                m.program = *v.text;
            } else if (k == "started" && v.is_string) {
                m.started = *v.text;
            } else if (k == "pid" && v.is_number) {
                m.pid = v.integer;
            } else if (k == "events" && v.is_number) {
                m.events = v.integer;
            } else if (k == "dropped_events" && v.is_number) {
                m.dropped = v.integer;
            }
            break;
        default:
            break;
        }
        return true;
    }

    builder& b_;
    at where_ = at::start;
    int skip_ = 0;
    std::string key_;
    raw_event event_;
    bool top_is_object_ = false;
    bool has_events_ = false;
};

void check_meta(const meta& m, bool top_is_object, bool has_events, const std::string& name) {
    if (!top_is_object) {
        throw bad_input(name, "not an aio trace (the top level is not an object)");
    }
    if (!has_events) {
        throw bad_input(name, "not an aio trace (no \"traceEvents\" array)");
    }
    if (!m.has_schema) {
        throw bad_input(name, "not an aio trace (no \"otherData.schema\" field)");
    }
    if (!m.schema_is_string || m.schema != "aio-trace") {
        throw bad_input(name, "not an aio trace (otherData.schema is " +
                                  (m.schema_is_string ? "\"" + m.schema + "\"" : "not a string") +
                                  ", expected \"aio-trace\")");
    }
    if (m.version > supported_version) {
        throw bad_input(name, "written by a newer aio: trace version " + std::to_string(m.version) +
                                  ", this aio-report reads version " +
                                  std::to_string(supported_version));
    }
}

}  // namespace

trace_model parse_trace(std::string_view text, const std::string& name) {
    builder b;
    trace_sax sax(b);
    if (!nlohmann::json::sax_parse(text.begin(), text.end(), &sax)) {
        throw bad_input(name, detail::parse_problem(sax.error, sax.error_at, text.size()));
    }
    check_meta(sax.m, sax.top_is_object(), sax.has_events() && !sax.events_not_array, name);
    return b.finish(sax.m);
}

trace_model load_trace(const std::string& path) {
    return parse_trace(detail::read_file(path), path);
}

trace_model trace_from_json(const nlohmann::json& trace, const std::string& name) {
    meta m;
    bool has_events =
        trace.is_object() && trace.contains("traceEvents") && trace["traceEvents"].is_array();
    if (trace.is_object()) {
        if (auto od = trace.find("otherData"); od != trace.end() && od->is_object()) {
            if (auto s = od->find("schema"); s != od->end()) {
                m.has_schema = true;
                m.schema_is_string = s->is_string();
                m.schema = s->is_string() ? s->get<std::string>() : std::string();
            }
            auto num = [&](const char* k, auto fallback) {
                auto it = od->find(k);
                return it != od->end() && it->is_number() ? it->get<decltype(fallback)>()
                                                          : fallback;
            };
            auto str = [&](const char* k) {
                auto it = od->find(k);
                return it != od->end() && it->is_string() ? it->get<std::string>() : std::string();
            };
            m.version = num("version", std::int64_t{1});
            m.program = str("program");
            m.started = str("started");
            m.pid = num("pid", 0LL);
            m.events = num("events", -1LL);
            m.dropped = num("dropped_events", 0LL);
        }
    }
    check_meta(m, trace.is_object(), has_events, name);
    builder b;
    raw_event e;
    for (const auto& j : trace["traceEvents"]) {
        if (!j.is_object()) {
            continue;
        }
        e.clear();
        auto str = [](const nlohmann::json& o, const char* k) {
            auto it = o.find(k);
            return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
        };
        auto num = [](const nlohmann::json& o, const char* k, bool* has = nullptr) {
            auto it = o.find(k);
            bool ok = it != o.end() && it->is_number();
            if (has != nullptr) {
                *has = ok;
            }
            return ok ? it->get<double>() : 0.0;
        };
        e.ph = str(j, "ph");
        e.cat = str(j, "cat");
        e.name = str(j, "name");
        e.ts = num(j, "ts", &e.has_ts);
        e.dur = num(j, "dur", &e.has_dur);
        e.tid = static_cast<std::int64_t>(num(j, "tid"));
        bool has_id = false;
        double id = num(j, "id", &has_id);
        e.id = has_id ? static_cast<std::int64_t>(id) : -1;
        if (auto a = j.find("args"); a != j.end() && a->is_object()) {
            bool has = false;
            double task = num(*a, "task", &has);
            e.task = has ? static_cast<std::int64_t>(task) : -1;
            double fired = num(*a, "fired", &has);
            e.fired = has ? static_cast<std::int64_t>(fired) : -1;
            e.finding_id = str(*a, "id");
            e.severity = str(*a, "severity");
            e.where = str(*a, "where");
            e.thread_name = str(*a, "name");
            e.then = str(*a, "then");
        }
        b.add(e);
    }
    return b.finish(std::move(m));
}

}  // namespace aio::report
