// The JSON report, schema version 1 (docs/report-format.md).
#include <aio/debug/report.hpp>

#include <cstdio>

#include <nlohmann/json.hpp>

namespace aio::debug {

namespace {

nlohmann::json frames_json(const std::vector<frame>& frames) {
    auto a = nlohmann::json::array();
    for (const auto& f : frames) {
        nlohmann::json j;
        char addr[32];
        std::snprintf(addr, sizeof addr, "0x%lx", static_cast<unsigned long>(f.address));
        j["address"] = addr;
        j["function"] = f.function;
        j["file"] = f.file;
        j["line"] = f.line;
        if (!f.snippet.empty()) {
            j["snippet"] = {{"first_line", f.snippet_first_line}, {"lines", f.snippet}};
        }
        a.push_back(std::move(j));
    }
    return a;
}

}  // namespace

std::string to_json(const run_summary& run, const std::vector<finding>& findings) {
    nlohmann::json j;
    j["schema"] = "aio-debug-report";
    j["version"] = 1;
    j["run"] = {
        {"program", run.program},
        {"pid", run.pid},
        {"started", run.started},
        {"options", run.options},
        {"duration_ms", run.duration_ms},
        {"tasks_spawned", run.tasks_spawned},
        {"peak_tasks_alive", run.peak_tasks_alive},
        {"steps", run.steps},
        {"longest_stall_ms", run.longest_stall_ms},
        {"ended", run.ended},
    };
    nlohmann::json counts = nlohmann::json::object();
    auto list = nlohmann::json::array();
    for (const auto& f : findings) {
        counts[f.id] = counts.value(f.id, 0) + static_cast<int>(f.count);
        nlohmann::json x;
        x["id"] = f.id;
        x["severity"] = f.severity;
        x["title"] = f.title;
        x["message"] = f.message;
        x["task"] = {{"id", f.task_id}, {"name", f.task_name}};
        x["duration_ms"] =
            f.duration_ms >= 0 ? nlohmann::json(f.duration_ms) : nlohmann::json(nullptr);
        x["at_ms"] = f.at_ms;
        x["culprit"] = frames_json(f.culprit);
        x["inside"] = frames_json(f.inside);
        x["creation"] = frames_json(f.creation);
        x["why"] = f.why;
        x["fix"] = f.fix;
        x["lesson"] = f.lesson;
        x["count"] = f.count;
        list.push_back(std::move(x));
    }
    j["counts"] = std::move(counts);
    j["findings"] = std::move(list);
    // Snippets and exception messages may hold bytes that are not UTF-8: replace, never fail.
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace aio::debug
