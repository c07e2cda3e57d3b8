// The report viewer's library: reading and checking debug-mode reports (schema
// `aio-debug-report`, docs/report-format.md) and trace files (`aio-trace`, Chrome trace
// events), grouping findings by detector and user line, comparing two reports, and rendering
// the self-contained HTML page. Used by the `aio-report` command (tools/report/main.cpp) and
// by debug mode's `html=PATH` option; it depends on nlohmann_json and the standard library
// only, so any target can compile it in (target aio_report_core, an OBJECT library).
//
//   load_report / parse_report     file or text -> checked report JSON (or bad_input)
//   load_trace / parse_trace       file or text -> trace_model (streamed, compact)
//   group_findings                 report -> groups (id, user line), worst first
//   format_show / diff_reports     the text of `aio-report show` and `aio-report diff`
//   render_html                    report (+ trace) -> one HTML page, styles and script inline
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace aio::report {

/// The newest version of the report schema (and of the trace schema) this code reads.
inline constexpr int supported_version = 1;

/// Thrown when a file is not a report (or a trace) this code can read. `what()` is
/// `"FILE: PROBLEM"`, e.g. `"r.json: written by a newer aio: schema version 2, this
/// aio-report reads version 1"`; `file()` and `problem()` give the two parts.
class bad_input : public std::runtime_error {
public:
    /// A problem with `file` (a path, or a name such as "<report>" for text in memory).
    bad_input(std::string file, std::string problem);
    /// The file's name as given.
    [[nodiscard]] const std::string& file() const noexcept { return file_; }
    /// What is wrong with it, one line.
    [[nodiscard]] const std::string& problem() const noexcept { return problem_; }

private:
    std::string file_;
    std::string problem_;
};

/// Reads the file at `path` and checks it as a report (see parse_report). Throws bad_input:
/// `cannot open: <strerror>` when it cannot be read, or any problem parse_report names.
nlohmann::json load_report(const std::string& path);

/// Parses `text` as a report and checks it (check_report); `name` is used in messages.
/// Throws bad_input: `truncated or not JSON: <what> at byte N`, or check_report's problems.
nlohmann::json parse_report(std::string_view text, const std::string& name);

/// Checks that `report` is a report this code can read: `schema` is "aio-debug-report"
/// (`not an aio debug report (...)`), `version` is at most supported_version (`written by a
/// newer aio: schema version N, this aio-report reads version 1`), and every field version 1
/// requires is there with its type (`missing field 'findings[3].severity'`,
/// `field 'run.duration_ms' is a string, expected a number`). Fields added to version 1
/// later (`run.ended`, `run.longest_stall_ms`, `findings[].inside`) and unknown fields or
/// ids are accepted. Throws bad_input naming `name`.
void check_report(const nlohmann::json& report, const std::string& name);

/// One span of time on a trace track, in microseconds since the loop started.
struct trace_span {
    /// What the span is: a task step or an I/O wait or timers on the loop track, a run or a
    /// wait on a task's track, a to_thread call on an executor thread.
    enum kind_t : std::uint8_t { step, io_wait, timers, run, waiting, executor, other };
    double start = 0;     ///< when it began (the event's ts)
    double dur = 0;       ///< how long it lasted (0 when the event had none)
    kind_t kind = other;  ///< from the event's category
    /// step, executor: the task id (-1 when unknown); waiting: an index into
    /// trace_model::names (what it waited on); timers: how many fired; else -1.
    std::int64_t arg = -1;
};

/// One row of the timeline: a thread of the process or a task.
struct trace_track {
    /// The loop thread, a task (tid 1000000000 + task id), an executor thread, or another
    /// thread (one whose name this reader does not know).
    enum kind_t : std::uint8_t { loop, task, executor, other };
    std::int64_t tid = 0;           ///< the events' tid
    kind_t kind = other;            ///< from its thread_name, else from what its events are
    std::string name;               ///< from the thread_name metadata event, or made up
    std::int64_t task_id = -1;      ///< for a task's track
    std::vector<trace_span> spans;  ///< sorted by start
};

/// A finding as the trace shows it: when it happened (and for how long, for stall,
/// slow-callback and blocking-call).
struct trace_finding {
    double ts = 0;         ///< when it began (an instant: when it was seen)
    double dur = -1;       ///< -1 for an instant
    std::string id;        ///< args.id, the detector id
    std::string severity;  ///< args.severity, "error" or "warning"
    std::string title;     ///< the event's name
    std::string where;     ///< "file:line (function)", "" when absent
};

/// What the trace says about one task.
struct trace_task {
    std::int64_t id = 0;     ///< the task id
    std::string name;        ///< from its steps, else its track's name, else "task-<id>"
    double first_seen = -1;  ///< spawn, first step or first event on its track
    double last_seen = -1;   ///< the end of its last step or span
    double busy = 0;         ///< the sum of its steps' durations (or of its runs, without steps)
    std::int64_t steps = 0;  ///< its steps on the loop track
    /// After its last step: "done", "ready to run" or "waiting: <what>" (the step's
    /// args.then), else from its track's last span: "running" or "waiting: <what>"; "" when
    /// the trace shows neither.
    std::string last_state;
};

/// A trace file (`aio-trace`), reduced to what the HTML report draws. Unknown categories
/// and fields are ignored.
struct trace_model {
    std::string program;                  ///< otherData.program
    long long pid = 0;                    ///< otherData.pid
    std::string started;                  ///< otherData.started, ISO 8601 UTC
    long long events = 0;                 ///< otherData.events (the number written), or counted
    long long dropped_events = 0;         ///< otherData.dropped_events
    double end = 0;                       ///< the largest ts + dur, in microseconds
    std::vector<trace_track> tracks;      ///< the loop first, executors, then tasks by id
    std::vector<trace_finding> findings;  ///< by time
    std::vector<trace_task> tasks;        ///< by id
    std::vector<std::string> names;       ///< what tasks waited on (trace_span::arg)
};

/// Reads and parses the trace file at `path` (streamed: a trace of a million events needs
/// about 40 bytes of memory each). Throws bad_input: `cannot open: ...`, `truncated or not
/// JSON: ... at byte N`, `not an aio trace (...)`, `written by a newer aio: trace version N,
/// this aio-report reads version 1`.
trace_model load_trace(const std::string& path);

/// parse_trace on text in memory; `name` is used in messages.
trace_model parse_trace(std::string_view text, const std::string& name);

/// The same from a trace already parsed as JSON (checked loosely as load_trace does).
trace_model trace_from_json(const nlohmann::json& trace, const std::string& name);

/// Findings that share a detector id and a user line: the first culprit frame's file and
/// line, else the first creation frame's (a frame without a file: its function; no frame
/// at all: the title).
struct finding_group {
    std::string id;                     ///< the detector id
    std::string severity;               ///< of its first finding
    std::string file;                   ///< the user line's file, "" when unknown
    std::int64_t line = 0;              ///< 0 when unknown
    std::string function;               ///< of the first finding's user frame
    std::int64_t count = 0;             ///< the sum of the findings' `count`
    double duration_ms = -1;            ///< the longest, -1 when none has a duration
    std::vector<std::size_t> findings;  ///< indices into report["findings"], in report order
};

/// Which findings to keep.
struct finding_filter {
    std::vector<std::string> ids;  ///< only these ids; empty: all
    bool errors_only = false;      ///< drop warnings (and unknown severities)
};

/// Groups the report's findings (those `filter` keeps), worst first: errors before
/// warnings, then the larger count, then the longer duration, then by id and place.
std::vector<finding_group> group_findings(const nlohmann::json& report,
                                          const finding_filter& filter = {});

/// The title without its place (" at FILE:LINE (FUNCTION)", " (created at ...)"), which
/// the viewers show apart.
std::string short_title(const std::string& title);

/// Durations as debug mode writes them: three significant digits and a unit (`212 ms`).
std::string format_duration_ms(double ms);

/// The text of `aio-report show`: a header line (program, duration, counts by id, longest
/// stall, peak tasks), then per detector id (worst first) one line per group with its user
/// line's source and the fix. ANSI colors when `color`.
std::string format_show(const nlohmann::json& report, const finding_filter& filter, bool color);

/// One entry of a diff: the findings of one report that share a key.
struct diff_entry {
    std::string id;              ///< the detector id
    std::string severity;        ///< of the first finding
    std::string file;            ///< the basename of the user line's file
    std::int64_t line = 0;       ///< the user line, 0 when unknown
    std::string function;        ///< the user frame's function ("" for a finding with no stack)
    std::string title;           ///< short_title of the first finding
    std::int64_t count = 0;      ///< in the new report (the old one for fixed entries)
    std::int64_t old_count = 0;  ///< unchanged entries: the count in the old report
};

/// What changed between two reports. Findings are keyed by (id, basename of the user
/// line's file, line, function): not by address, which changes from run to run.
struct diff_result {
    std::vector<diff_entry> added;      ///< in the new report only
    std::vector<diff_entry> fixed;      ///< in the old report only
    std::vector<diff_entry> unchanged;  ///< in both
};

/// Compares two checked reports (those findings `filter` keeps); each list worst first.
diff_result diff_reports(const nlohmann::json& old_report, const nlohmann::json& new_report,
                         const finding_filter& filter = {});

/// The text of `aio-report diff`: the three lists and a last line `N new, N fixed, N
/// unchanged`. ANSI colors when `color`.
std::string format_diff(const diff_result& diff, bool color);

/// The whole HTML page for `report` (a report that passes check_report) and, when not null,
/// its trace parsed as JSON: one self-contained file (styles, script and data inline, nothing
/// fetched, a Content-Security-Policy that forbids any network access) showing the run's
/// summary, the findings grouped as group_findings does with their stacks and source, a task
/// table and, with a trace, a zoomable timeline. All text from the report and the trace is
/// escaped. Throws bad_input when `trace` is not a trace (see trace_from_json), and
/// std::exception (nlohmann::json's) on a report that does not pass check_report.
std::string render_html(const nlohmann::json& report, const nlohmann::json* trace);

/// render_html with a trace read by load_trace or parse_trace (the way to go for a large
/// trace: it is never held as a JSON tree).
std::string render_html(const nlohmann::json& report, const trace_model& trace);

}  // namespace aio::report
