// The debug report (docs/report-format.md, schema aio-debug-report v1) as the runner needs it,
// and the verdict on one run of a lesson program.
#include "runner.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace lessons {

report read_report(const fs::path& path) {
    report rep;
    std::ifstream in(path);
    if (!in) {
        return rep;
    }
    nlohmann::json j;
    try {
        in >> j;
    } catch (const nlohmann::json::exception& e) {
        throw user_error("the debug report " + path.string() + " is not valid JSON: " + e.what());
    }
    if (j.value("schema", "") != "aio-debug-report") {
        throw user_error("the file " + path.string() + " is not an aio debug report");
    }
    rep.present = true;
    const nlohmann::json empty_array = nlohmann::json::array();
    const nlohmann::json empty_object = nlohmann::json::object();
    const auto& fs = j.contains("findings") ? j.at("findings") : empty_array;
    for (const auto& f : fs) {
        finding x;
        x.id = f.value("id", "");
        x.severity = f.value("severity", "");
        x.title = f.value("title", "");
        x.fix = f.value("fix", "");
        x.count = f.value("count", 1);
        rep.findings.push_back(std::move(x));
    }
    const auto& counts = j.contains("counts") ? j.at("counts") : empty_object;
    for (const auto& [id, n] : counts.items()) {
        rep.counts[id] = n.get<int>();
    }
    return rep;
}

namespace {

std::string join(const std::vector<std::string>& v) {
    if (v.empty()) {
        return "none";
    }
    std::string s;
    for (const auto& x : v) {
        s += (s.empty() ? "" : ", ") + x;
    }
    return s;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        out.push_back(line);
    }
    return out;
}

}  // namespace

std::vector<std::string> judge(const lesson& l, const std::string& kind, const run_result& r,
                               const report& rep, bool with_debug) {
    std::vector<std::string> problems;
    if (!r.started) {
        problems.push_back("could not start: " + r.error);
        return problems;
    }
    const expectation& e = kind == "broken" ? l.broken : l.fixed;
    if (r.timed_out && !e.hangs) {
        problems.push_back("hung: still running after " +
                           std::to_string(time_limit_of(l).count() / 1000.0).substr(0, 4) +
                           " s (the time limit); likely a blocked loop or a missing timeout");
        return problems;
    }
    if (e.hangs && !r.timed_out) {
        // The lesson's pitfall is a hang that nothing in the program ends: a program that
        // ended by itself does not show it.
        problems.push_back("expected it to hang until the time limit, but it ended after " +
                           std::to_string(r.seconds).substr(0, 4) + " s");
    } else if (e.hangs) {
        with_debug = false;  // killed: it wrote no report
    } else if (r.signal != 0) {
        problems.push_back("crashed: killed by signal " + std::to_string(r.signal) + " (" +
                           strsignal(r.signal) + ")");
    } else if (r.exit_code != 0) {
        problems.push_back("exited with status " + std::to_string(r.exit_code) + " (expected 0)");
    }
    auto lines = lines_of(r.out);
    // Forbidden lines first: they are the scaffold's own verdicts ("the import idled 681 ms
    // ... it guessed"), the most telling reason, and the one watch's status line shows.
    for (const auto& bad : e.forbidden_output) {
        auto it = std::find_if(lines.begin(), lines.end(),
                               [&](const std::string& s) { return s.find(bad) != s.npos; });
        if (it != lines.end()) {
            problems.push_back("the output still says \"" + bad + "\": \"" + *it + "\"");
        }
    }
    if (with_debug) {
        if (!rep.present) {
            problems.push_back("no debug report was written (the program did not reach the end "
                               "of aio::run)");
        } else {
            std::vector<std::string> got;
            for (const auto& [id, n] : rep.counts) {
                got.push_back(id);
            }
            if (kind == "broken") {
                std::vector<std::string> want = e.findings;
                std::sort(want.begin(), want.end());
                if (want != got) {
                    problems.push_back("expected exactly these findings: " + join(want) +
                                       "; debug mode found: " + join(got));
                }
            } else {
                std::vector<std::string> bad;
                for (const auto& id : got) {
                    if (std::find(e.findings.begin(), e.findings.end(), id) != e.findings.end()) {
                        bad.push_back(id);
                    }
                }
                if (!bad.empty()) {
                    problems.push_back("debug mode still finds: " + join(bad));
                }
            }
        }
    }
    // Expected lines: each a substring of a stdout line, in order.
    std::size_t at = 0;
    for (const auto& want : e.output) {
        auto it = std::find_if(lines.begin() + static_cast<std::ptrdiff_t>(at), lines.end(),
                               [&](const std::string& s) { return s.find(want) != s.npos; });
        if (it == lines.end()) {
            problems.push_back("expected an output line containing \"" + want + "\"" +
                               (at > 0 ? " (after the lines matched before it)" : ""));
        } else {
            at = static_cast<std::size_t>(it - lines.begin()) + 1;
        }
    }
    return problems;
}

void print_findings(const report& rep) {
    if (!rep.present) {
        std::printf("debug mode wrote no report (the program ended before aio::run returned)\n");
    }
}

}  // namespace lessons
