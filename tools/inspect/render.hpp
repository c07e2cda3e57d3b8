// The three views: ps (a row per task), pstree (who waits for whom, deadlocks), where (a
// task's stack). Text for people, JSON for scripts.
#pragma once

#include "snapshot.hpp"
#include "stacks.hpp"
#include "target.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace aio::inspect {

/// What every view reads: the target (for symbols), the tasks, their symbolized stacks.
struct view {
    const target& t;
    const snapshot& s;
    std::map<std::uint64_t, task_stack> stacks;
    std::chrono::microseconds paused{0};
    std::string what;  ///< "process 123 (name)" or "core file X of PROGRAM"
};

/// A cycle of waits: each task waits for the next, the last for the first.
struct deadlock {
    std::vector<std::uint64_t> tasks;
    std::vector<std::string> via;  ///< via[i]: how tasks[i] waits for the next
};

/// Every cycle of the wait graph, once each (starting at its lowest id).
std::vector<deadlock> find_deadlocks(const snapshot& s);

/// "deadlock: task 5 'a' waits for task 6 'b' (aio::lock), which waits for task 5 'a' (...)"
std::string describe(const snapshot& s, const deadlock& d);

std::string render_ps(const view& v);
nlohmann::json ps_json(const view& v);

std::string render_pstree(const view& v);
nlohmann::json pstree_json(const view& v);

/// One task's stack, the user's frames first (`full`: every frame in order).
std::string render_where(const view& v, const task_info& task, bool full);
/// Every task's stack, tasks with the same frames merged with a count.
std::string render_where_all(const view& v);
/// One task's stack, or every task's (`only` null), as JSON.
nlohmann::json where_json(const view& v, const task_info* only);

}  // namespace aio::inspect
