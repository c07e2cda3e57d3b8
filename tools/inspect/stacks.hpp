// A task's call stack as the inspector shows it: its fiber's frames, the user's first.
#pragma once

#include "snapshot.hpp"
#include "target.hpp"

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace aio::inspect {

/// What a frame is: the program's own code, aio's, or a library's (libstdc++, Boost, libc).
enum class frame_kind { user, aio, library };

/// Classifies a frame by its source file and module.
frame_kind kind_of(const frame& f);

/// A task's stack as read while the program is stopped: code addresses only.
struct raw_stack {
    std::vector<std::uint64_t> pcs;
    std::string note;  ///< why there is no stack, or where it came from
};

/// The stacks of the running tasks (by task address), from their loop threads' registers:
/// while the program is stopped, before detach().
std::map<std::uint64_t, raw_stack> read_running_stacks(target& t, const snapshot& s);
/// Adds the stacks of the other tasks: a suspended or ready fiber from its saved registers and
/// the stack copied by read_snapshot; a task not started or done has none (its note says so).
void read_fiber_stacks(target& t, const snapshot& s, std::map<std::uint64_t, raw_stack>& out);

struct task_stack {
    std::vector<frame> frames;  ///< innermost first
    /// Index of the innermost user frame: where the user's code waits; frames.size() if none.
    std::size_t first_user = 0;
    std::string note;  ///< why there is no stack, or where it came from
};

/// Symbolizes a raw stack and finds the user's innermost frame.
task_stack symbolize(const target& t, const raw_stack& raw);

/// Where a task was created: its recorded source location, or its spawning return address
/// symbolized (the innermost user frame of the inlined calls there).
frame creation_frame(const target& t, const task_info& task);

/// "file:line", "function" or "?" for a frame.
std::string where_text(const frame& f, bool short_path);

}  // namespace aio::inspect
