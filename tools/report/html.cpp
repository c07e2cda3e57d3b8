// The HTML report: the page template (assets/report.html, .css, .js, embedded at build time
// by embed.cmake as report_assets.inc) filled with the report's data as JSON. The page's
// script draws everything from that data with textContent and a canvas, never with markup
// built from strings, so names, messages and source lines from the report cannot inject
// anything; the data itself sits in a <script type="application/json"> block with '<', '>'
// and '&' written as \u003c, \u003e, \u0026 so no text in it can close the block.
//
// The data (read by report.js):
//   report   the report as it is
//   groups   group_findings(): [{id, title, severity, file, line, function, count,
//            duration_ms, findings: [indices]}], worst first (title: short_title of the first)
//   tasks    [[id, name, state, first_ms, last_ms, busy_ms, steps, findings, ids], ...]
//            (first_ms .. steps are null without a trace)
//   trace    null, or the timeline in compact arrays: per track, span starts as deltas and
//            durations, both in integer tenths of a microsecond, kinds and arguments
#include "report_assets.inc"
#include "report_core.hpp"
#include "report_detail.hpp"

#include <charconv>
#include <cmath>
#include <map>
#include <set>

namespace aio::report {

namespace {

std::string json_text(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void append_int(std::string& out, long long v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// Times in the page's compact arrays: integer tenths of a microsecond.
long long tenths(double us) {
    return std::llround(us * 10);
}

void append_trace(std::string& out, const trace_model& t) {
    out += "{\"program\":" + json_text(t.program) + ",\"pid\":" + std::to_string(t.pid) +
           ",\"started\":" + json_text(t.started) + ",\"events\":" + std::to_string(t.events) +
           ",\"dropped\":" + std::to_string(t.dropped_events) + ",\"end\":";
    append_int(out, tenths(t.end));
    out += ",\"names\":" + json_text(t.names) + ",\"tracks\":[";
    for (std::size_t i = 0; i < t.tracks.size(); ++i) {
        const auto& tr = t.tracks[i];
        static const char* const kinds[] = {"loop", "task", "executor", "other"};
        out += i == 0 ? "{" : ",{";
        out += "\"name\":" + json_text(tr.name) + ",\"kind\":\"" + kinds[tr.kind] +
               "\",\"task\":" + std::to_string(tr.task_id) + ",\"s\":[";
        long long prev = 0;
        for (std::size_t k = 0; k < tr.spans.size(); ++k) {
            if (k > 0) {
                out += ',';
            }
            long long u = tenths(tr.spans[k].start);
            append_int(out, u - prev);
            prev = u;
        }
        out += "],\"d\":[";
        for (std::size_t k = 0; k < tr.spans.size(); ++k) {
            if (k > 0) {
                out += ',';
            }
            append_int(out, tenths(tr.spans[k].dur));
        }
        out += "],\"k\":[";
        for (std::size_t k = 0; k < tr.spans.size(); ++k) {
            if (k > 0) {
                out += ',';
            }
            append_int(out, tr.spans[k].kind);
        }
        out += "],\"a\":[";
        for (std::size_t k = 0; k < tr.spans.size(); ++k) {
            if (k > 0) {
                out += ',';
            }
            append_int(out, tr.spans[k].arg);
        }
        out += "]}";
    }
    out += "],\"findings\":[";
    for (std::size_t i = 0; i < t.findings.size(); ++i) {
        const auto& f = t.findings[i];
        out += i == 0 ? "[" : ",[";
        append_int(out, tenths(f.ts));
        out += ',';
        append_int(out, f.dur < 0 ? -1 : tenths(f.dur));
        out += "," + json_text(f.id) + "," + json_text(f.severity) + "," + json_text(f.title) +
               "," + json_text(f.where) + "]";
    }
    out += "]}";
}

nlohmann::json groups_json(const nlohmann::json& report, const std::vector<finding_group>& groups) {
    auto a = nlohmann::json::array();
    const auto& findings = report.at("findings");
    for (const auto& g : groups) {
        a.push_back({{"id", g.id},
                     {"title", short_title(findings[g.findings.front()].value("title", ""))},
                     {"severity", g.severity},
                     {"file", g.file},
                     {"line", g.line},
                     {"function", g.function},
                     {"count", g.count},
                     {"duration_ms",
                      g.duration_ms >= 0 ? nlohmann::json(g.duration_ms) : nlohmann::json(nullptr)},
                     {"findings", g.findings}});
    }
    return a;
}

// The task table: the tasks of the trace, or without one the tasks the findings name.
nlohmann::json tasks_json(const nlohmann::json& report, const trace_model* trace) {
    struct row {
        std::string name, state;
        const trace_task* seen = nullptr;
        std::int64_t findings = 0;
        std::set<std::string> ids;
    };
    std::map<std::int64_t, row> rows;
    if (trace != nullptr) {
        for (const auto& t : trace->tasks) {
            auto& r = rows[t.id];
            r.name = t.name;
            r.state = t.last_state;
            r.seen = &t;
        }
    }
    for (const auto& f : report.at("findings")) {
        const auto& task = f.at("task");
        auto id = task.value("id", std::int64_t{0});
        if (id <= 0) {
            continue;
        }
        auto& r = rows[id];
        if (r.name.empty()) {
            r.name = task.value("name", "");
        }
        r.findings += f.value("count", std::int64_t{1});
        std::string fid = f.value("id", "");
        r.ids.insert(fid);
        // What the findings say about how the task ended beats the trace's last sight.
        if (fid == "pending-at-close") {
            r.state = "pending at close";
        } else if (fid == "exception-never-retrieved") {
            r.state = "failed";
        }
    }
    auto a = nlohmann::json::array();
    auto ms = [](double us) {
        return us < 0 ? nlohmann::json(nullptr) : nlohmann::json(us / 1000);
    };
    for (const auto& [id, r] : rows) {
        std::string ids;
        for (const auto& i : r.ids) {
            ids += (ids.empty() ? "" : " ") + i;
        }
        if (r.seen != nullptr) {
            a.push_back({id, r.name, r.state, ms(r.seen->first_seen), ms(r.seen->last_seen),
                         r.seen->busy / 1000, r.seen->steps, r.findings, ids});
        } else {
            a.push_back({id, r.name, r.state, nullptr, nullptr, nullptr, nullptr, r.findings, ids});
        }
    }
    return a;
}

// '<', '>' and '&' only occur inside JSON strings, where \u escapes mean the same.
std::string escape_for_script(const std::string& json) {
    std::string out;
    out.reserve(json.size() + json.size() / 64);
    for (char c : json) {
        switch (c) {
        case '<':
            out += "\\u003c";
            break;
        case '>':
            out += "\\u003e";
            break;
        case '&':
            out += "\\u0026";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string escape_html(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '&':
            out += "&amp;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string render(const nlohmann::json& report, const trace_model* trace) {
    std::string data = "{\"report\":" + json_text(report) +
                       ",\"groups\":" + json_text(groups_json(report, group_findings(report))) +
                       ",\"tasks\":" + json_text(tasks_json(report, trace)) + ",\"trace\":";
    if (trace != nullptr) {
        append_trace(data, *trace);
    } else {
        data += "null";
    }
    data += "}";
    data = escape_for_script(data);

    std::string program = report.at("run").value("program", "?");
    std::string title = "aio report: " + detail::basename_of(program);

    std::string escaped_title = escape_html(title);
    std::string style(assets::css);
    std::string script(assets::js);
    // Fill the template's {{AIO_...}} markers; text put in is never searched again.
    const std::pair<std::string_view, const std::string*> fills[] = {
        {"{{AIO_TITLE}}", &escaped_title},
        {"{{AIO_STYLE}}", &style},
        {"{{AIO_SCRIPT}}", &script},
        {"{{AIO_DATA}}", &data},
    };
    std::string_view tpl = assets::html;
    std::string out;
    out.reserve(tpl.size() + style.size() + script.size() + data.size());
    std::size_t pos = 0;
    for (;;) {
        auto m = tpl.find("{{AIO_", pos);
        if (m == std::string_view::npos) {
            out.append(tpl.substr(pos));
            break;
        }
        out.append(tpl.substr(pos, m - pos));
        pos = m + 2;
        std::string_view rest = tpl.substr(m);
        std::string_view copied = "{{";
        for (const auto& [marker, value] : fills) {
            if (rest.substr(0, marker.size()) == marker) {
                out += *value;
                pos = m + marker.size();
                copied = {};
                break;
            }
        }
        out += copied;
    }
    return out;
}

}  // namespace

std::string render_html(const nlohmann::json& report, const trace_model& trace) {
    return render(report, &trace);
}

std::string render_html(const nlohmann::json& report, const nlohmann::json* trace) {
    if (trace == nullptr) {
        return render(report, nullptr);
    }
    auto model = trace_from_json(*trace, "<trace>");
    return render(report, &model);
}

}  // namespace aio::report
