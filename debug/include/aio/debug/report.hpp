// The report model of debug mode: findings, their stacks, the run's summary; and the JSON
// form (schema in docs/report-format.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace aio::debug {

/// One resolved stack frame.
struct frame {
    std::uintptr_t address = 0;
    std::string function;  ///< demangled, or "" when unknown
    std::string file;      ///< "" when unknown
    std::uint32_t line = 0;
    std::vector<std::string> snippet;  ///< up to 3 source lines around `line`, when readable
    std::uint32_t snippet_first_line = 0;
};

/// One pitfall found. Findings from the same site merge: `count` says how many times.
struct finding {
    std::string id;        ///< stable detector id, e.g. "never-awaited"
    std::string severity;  ///< "error" or "warning"
    std::string title;     ///< one line: what happened and where
    std::string message;   ///< details (exception text, resource name, ...)
    std::uint64_t task_id = 0;
    std::string task_name;
    double duration_ms = -1;     ///< how long (stall, slow step, blocking call), or -1
    double at_ms = 0;            ///< time since the loop started when it was first seen
    std::vector<frame> culprit;  ///< where it happened: the user's frames, innermost first
    /// The library frames (libc, libstdc++; at most 4, innermost first) that the first culprit
    /// frame was calling into when the stack was captured: what the user's line was blocked
    /// in, e.g. pthread_mutex_lock. Empty when the user's line was not inside a library.
    std::vector<frame> inside;
    std::vector<frame> creation;  ///< where the task (or resource) was created
    std::string why;              ///< why it hurts
    std::string fix;              ///< how to fix it
    std::string lesson;           ///< the lesson that teaches it, e.g. "10-fire-and-forget"
    std::size_t count = 1;
};

/// Loop statistics for the summary and the report.
struct run_summary {
    std::string program;
    long pid = 0;
    std::string started;  ///< ISO 8601, UTC
    std::string options;  ///< the ASYNC_DEBUG text
    double duration_ms = 0;
    std::uint64_t tasks_spawned = 0;
    std::uint64_t peak_tasks_alive = 0;
    std::uint64_t steps = 0;
    double longest_stall_ms = 0;
    /// How the run ended: "closed" (the loop closed; everything above is known) or
    /// "terminate" (std::terminate ended the process first: the loop's counters are 0).
    std::string ended = "closed";
};

/// The JSON report (schema version 1), as text.
std::string to_json(const run_summary& run, const std::vector<finding>& findings);

}  // namespace aio::debug
