// Debug-mode settings: what ASYNC_DEBUG (or run_options::debug) says. See docs/debug-mode.md.
#pragma once

#include <aio/loop.hpp>

#include <chrono>
#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace aio::debug {

enum class color_mode { automatic, always, never };

/// Parsed settings. `enabled` is false when debug mode is off.
struct config {
    bool enabled = false;
    duration slow = std::chrono::milliseconds(100);   ///< slow-callback threshold (asyncio's)
    duration stall = std::chrono::milliseconds(100);  ///< stall threshold
    /// blocking-call threshold for calls that block only sometimes (a contended mutex, a
    /// condition variable, a read from a pipe or a file, a raw syscall): reported when they
    /// kept the loop this long. Calls that always block (sleep, getaddrinfo) count at any length.
    duration block = std::chrono::milliseconds(1);
    std::string report_path;  ///< JSON report at loop close ("" = none)
    std::string trace_path;   ///< the loop's timeline, Chrome trace-event JSON ("" = none)
    std::string html_path;    ///< the HTML report at loop close ("" = none)
    /// Memory for the timeline's flight recorder (trace=, html=): the newest events that fit.
    std::size_t trace_size = std::size_t{4} << 20;
    bool strict = false;                      ///< exit non-zero when there were findings
    std::set<std::string, std::less<>> only;  ///< run only these detectors (empty = all)
    std::set<std::string, std::less<>> skip;  ///< never run these
    color_mode color = color_mode::automatic;
    std::size_t stack_depth = 12;  ///< frames shown per stack
    /// stderr: every finding in full as it happens (task, details, stacks with snippets, why,
    /// fix, lesson) instead of one line, and no detail list after the summary line.
    bool verbose = false;

    /// True if detector `id` is on under these settings.
    [[nodiscard]] bool wants(std::string_view id) const;
};

/// The outcome of parsing: the settings, or an error (then debug mode stays off).
struct parse_result {
    config settings;
    std::string error;  ///< one line naming the key, the value and what is accepted
};

/// Parses the ASYNC_DEBUG syntax: "", "0" (off); "1" (on, defaults); or a comma list of
/// `slow=<dur>`, `stall=<dur>`, `block=<dur>`, `report=<path>`, `trace=<path>`, `html=<path>`
/// (%p is the pid in the paths), `trace_size=<bytes>` (K, M or G suffix), `strict`,
/// `only=<ids>`, `skip=<ids>` (ids joined with '+'), `color=auto|always|never`, `stacks=<1..64>`,
/// `verbose` (or `verbose=1`; `verbose=0` undoes it) and `1`. Durations take `us`, `ms` or `s`.
/// Never throws.
parse_result parse_config(std::string_view text);

/// Parses a duration such as "50ms", "1.5s", "200us"; false if it is not one.
bool parse_duration(std::string_view text, duration& out);

/// The stable ids of every detector.
const std::vector<std::string>& detector_ids();

}  // namespace aio::debug
