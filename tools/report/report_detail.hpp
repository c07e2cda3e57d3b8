// Helpers shared by the report viewer's files (report_core.cpp, trace.cpp, html.cpp); not
// part of report_core.hpp's interface.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace aio::report::detail {

/// The whole file; throws bad_input (`cannot open: ...`, `cannot read: ...`).
std::string read_file(const std::string& path);

/// `truncated or not JSON: <what nlohmann found> at byte N` for nlohmann's parse error
/// message `what` at byte `byte` of a text of `size` bytes.
std::string parse_problem(const std::string& what, std::size_t byte, std::size_t size);

/// "a string", "an integer", ... for messages about a field's type.
const char* type_of(const nlohmann::json& j);

/// The part of `path` after its last '/'.
std::string basename_of(const std::string& path);

/// A finding's user line: its first culprit frame, else its first creation frame.
struct user_line {
    std::string file;
    std::int64_t line = 0;
    std::string function;
    const nlohmann::json* frame = nullptr;  ///< null when both stacks are empty
};

/// The user line of `finding` (a checked report's finding).
user_line user_line_of(const nlohmann::json& finding);

/// 2 for "error", 1 for "warning", 0 for anything else.
int severity_rank(const std::string& severity);

/// The source line of `frame` itself from its snippet, "" when there is none.
std::string snippet_line(const nlohmann::json* frame);

}  // namespace aio::report::detail
