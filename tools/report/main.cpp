// aio-report: reads the JSON reports of debug mode (docs/report-format.md).
//   aio-report show r.json [--id ID]... [--min-severity error] [--color auto|always|never]
//   aio-report html r.json [--trace t.json] [-o r.html]
//   aio-report diff old.json new.json [--id ID]... [--min-severity error]
// Exit status: 0 done; 1 `diff` found new findings; 2 bad input or a bad command line.
#include "report_core.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <CLI/CLI.hpp>
#include <unistd.h>

namespace {

namespace rep = aio::report;

bool use_color(const std::string& mode) {
    if (mode == "always") {
        return true;
    }
    if (mode == "never") {
        return false;
    }
    const char* term = std::getenv("TERM");
    const char* no_color = std::getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) != 0 && (term == nullptr || std::strcmp(term, "dumb") != 0) &&
           (no_color == nullptr || *no_color == '\0');
}

void write_file(const std::string& path, const std::string& text) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) {
        throw rep::bad_input(path, std::string("cannot write: ") + std::strerror(errno));
    }
    bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    int err = errno;
    ok = std::fclose(f) == 0 && ok;
    if (!ok) {
        throw rep::bad_input(path, std::string("cannot write: ") + std::strerror(err));
    }
}

std::string html_path_for(const std::string& report) {
    auto slash = report.rfind('/');
    auto dot = report.rfind('.');
    if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
        return report.substr(0, dot) + ".html";
    }
    return report + ".html";
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"aio-report: read the JSON reports of aio's debug mode (ASYNC_DEBUG=report=PATH)",
                 "aio-report"};
    app.require_subcommand(1);

    std::vector<std::string> ids;
    std::string min_severity = "warning";
    std::string color = "auto";
    auto add_filters = [&](CLI::App* cmd) {
        cmd->add_option("--id", ids, "only findings of this detector id (repeatable)");
        cmd->add_option("--min-severity", min_severity, "warning (all findings) or error")
            ->check(CLI::IsMember({"warning", "error"}));
        cmd->add_option("--color", color, "ANSI colors: auto (on a terminal), always, never")
            ->check(CLI::IsMember({"auto", "always", "never"}));
    };

    std::string report_path;
    auto* show = app.add_subcommand(
        "show", "the findings grouped by detector and by line, worst first, with the fix");
    show->add_option("report", report_path, "the JSON report")->required();
    add_filters(show);

    std::string trace_path;
    std::string out_path;
    auto* html = app.add_subcommand(
        "html", "write the report (and its trace) as one self-contained HTML page");
    html->add_option("report", report_path, "the JSON report")->required();
    html->add_option("--trace", trace_path, "the trace file of the same run (ASYNC_DEBUG=trace=)");
    html->add_option("-o,--output", out_path, "the HTML file to write (default: REPORT.html)");

    std::string old_path;
    std::string new_path;
    auto* diff = app.add_subcommand(
        "diff", "new, fixed and unchanged findings between two reports; exit status 1 if new");
    diff->add_option("old", old_path, "the earlier report")->required();
    diff->add_option("new", new_path, "the later report")->required();
    add_filters(diff);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // Help and version print and succeed; any other parse error is a bad command line.
        return app.exit(e) == 0 ? 0 : 2;
    }

    rep::finding_filter filter;
    filter.ids = ids;
    filter.errors_only = min_severity == "error";
    try {
        if (*show) {
            auto report = rep::load_report(report_path);
            std::fputs(rep::format_show(report, filter, use_color(color)).c_str(), stdout);
            return 0;
        }
        if (*html) {
            auto report = rep::load_report(report_path);
            std::string page;
            if (trace_path.empty()) {
                page = rep::render_html(report, nullptr);
            } else {
                auto trace = rep::load_trace(trace_path);
                auto pid = report["run"]["pid"].get<long long>();
                if (trace.pid != 0 && trace.pid != pid) {
                    std::fprintf(stderr,
                                 "aio-report: warning: %s is the trace of process %lld, %s the "
                                 "report of process %lld: not the same run\n",
                                 trace_path.c_str(), trace.pid, report_path.c_str(), pid);
                }
                page = rep::render_html(report, trace);
            }
            if (out_path.empty()) {
                out_path = html_path_for(report_path);
            }
            write_file(out_path, page);
            std::printf("wrote %s (%.1f MB)\n", out_path.c_str(),
                        static_cast<double>(page.size()) / 1e6);
            return 0;
        }
        if (*diff) {
            auto before = rep::load_report(old_path);
            auto after = rep::load_report(new_path);
            auto d = rep::diff_reports(before, after, filter);
            std::fputs(rep::format_diff(d, use_color(color)).c_str(), stdout);
            return d.added.empty() ? 0 : 1;
        }
    } catch (const rep::bad_input& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "aio-report: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "aio-report: internal error: %s\n", e.what());
        return 2;
    }
    return 2;
}
