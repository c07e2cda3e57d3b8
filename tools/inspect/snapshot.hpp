// What the inspector reads from aio_inspect_root: the loops, their tasks, what each waits on
// and for whom (docs/inspect.md describes the root).
#pragma once

#include "target.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace aio::inspect {

/// "task 5 waits for task 9", and through what ("aio::lock", "aio::gather"...).
struct wait_edge {
    std::uint64_t to = 0;  ///< the awaited task's address
    std::string via;
};

struct task_info {
    std::uint64_t addr = 0;
    std::uint64_t id = 0;
    std::string name;
    std::string state;         ///< "running", "ready", "waiting", "done"
    std::string outcome;       ///< done tasks: "value", "exception", "cancelled"
    bool not_awaited = false;  ///< done, and nobody took its result nor detached it
    std::string waiting_on;    ///< the call or primitive ("aio::sleep"), "" unless waiting
    std::string detail;        ///< "until +3.0 s", "held by task 5 'a'", "peer 10.0.0.1:80"
    std::optional<double> waiting_for_s;  ///< since it parked
    std::optional<double> deadline_in_s;  ///< its sleep's end, or its timeout's
    std::string deadline_kind;            ///< "sleep", "timeout", "deadline"
    std::vector<wait_edge> waits_for;
    std::uint32_t cancelling = 0;
    std::string job;        ///< the job's name when the task is a job of a scheduler
    std::string scheduler;  ///< its scheduler's name (or address)
    std::string site_file;  ///< creation site from the source location, when recorded
    std::uint32_t site_line = 0;
    std::string site_function;
    std::uint64_t site_caller = 0;  ///< return address inside the spawning function
    std::uint64_t ctx = 0;          ///< saved fiber context (started, not running, not done)
    fiber_registers regs;           ///< read from ctx
    bool has_regs = false;
    std::uint64_t stack_bottom = 0, stack_size = 0;
};

struct loop_info {
    std::uint64_t addr = 0;
    long tid = 0;
    std::string thread_name;
    bool virtual_time = false;
    std::uint64_t current = 0;  ///< the running task, or 0
    std::vector<task_info> tasks;
};

struct snapshot {
    std::vector<loop_info> loops;
    std::map<std::uint64_t, const task_info*> by_addr;
    /// Where "waiting for" is measured from: the clock now, or in a core the newest park.
    bool durations_from_newest_park = false;

    [[nodiscard]] const task_info* find(std::uint64_t addr) const {
        auto it = by_addr.find(addr);
        return it == by_addr.end() ? nullptr : it->second;
    }
    /// The task named by `key`: an id, or a name; nullptr if none or ambiguous (`why` says).
    const task_info* lookup(const std::string& key, std::string& why) const;
};

/// Reads the root and every loop, and copies each task object and each suspended fiber's
/// stack (target::prefetch) so that the stacks can be unwound once the program runs again.
/// Throws inspect_error: not an aio program, a root of an unknown version or damaged.
snapshot read_snapshot(target& t);

/// A task as a person names it: "task 5 'worker'".
std::string describe(const task_info& t);

}  // namespace aio::inspect
