// aio: look inside a running aio program or a core file (docs/inspect.md).
//
//   aio ps PID              a row per task: state, what it waits on and for how long, where
//   aio pstree PID          who waits for whom; cycles reported as deadlocks
//   aio where PID TASK      one task's stack, the user's frames first (--all: every task)
//   ... --core PROGRAM CORE instead of PID: a core file (gcore, or the kernel's)
//
// The program is stopped with ptrace only while its tasks and stacks are read (the header
// line says how long), then symbolized and printed after it runs again.
#include "render.hpp"
#include "snapshot.hpp"
#include "stacks.hpp"
#include "target.hpp"

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace {

using namespace aio::inspect;

struct source_args {
    std::vector<std::string> positionals;
    std::vector<std::string> core;  // PROGRAM CORE
    bool json = false;
};

void add_source(CLI::App* cmd, source_args& a, const char* positional_help) {
    cmd->add_option("args", a.positionals, positional_help);
    cmd->add_option("--core", a.core, "read a core file instead of a process: PROGRAM CORE")
        ->expected(2)
        ->allow_extra_args(false);
    cmd->add_flag("--json", a.json, "print JSON (for scripts)");
}

pid_t parse_pid(const std::string& s) {
    char* end = nullptr;
    const long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || v <= 0 || v > 0x3fffffff) {
        throw inspect_error("'" + s +
                            "' is not a process id (a positive number; pgrep finds "
                            "one by name)");
    }
    return static_cast<pid_t>(v);
}

// Opens the target, reads the snapshot and the stacks of `which` (all when null), resumes the
// program and symbolizes.
struct session {
    std::unique_ptr<target> t;
    snapshot s;
    std::unique_ptr<view> v;
};

session open_session(const source_args& a, std::size_t needed_positionals,
                     const std::string* task_key) {
    session out;
    std::string what;
    if (!a.core.empty()) {
        if (a.positionals.size() != needed_positionals) {
            throw CLI::ValidationError(
                "with --core PROGRAM CORE, give " +
                std::string(needed_positionals == 0 ? "no process id" : "only the TASK"));
        }
        out.t = target::open_core(a.core[0], a.core[1]);
        what = "core file " + a.core[1] + " of " + a.core[0];
    } else {
        if (a.positionals.size() != needed_positionals + 1) {
            throw CLI::ValidationError(needed_positionals == 0
                                           ? "give one process id (or --core PROGRAM CORE)"
                                           : "give a process id and a TASK (id or name)");
        }
        out.t = target::attach(parse_pid(a.positionals[0]));
        what = "process " + a.positionals[0] + " (" + out.t->name() + ")";
    }
    out.s = read_snapshot(*out.t);
    std::map<std::uint64_t, raw_stack> raw = read_running_stacks(*out.t, out.s);
    out.t->detach();  // below: the copies read_snapshot made, and the modules' files
    read_fiber_stacks(*out.t, out.s, raw);
    out.v = std::make_unique<view>(view{*out.t, out.s, {}, out.t->paused(), what});
    for (auto& [addr, r] : raw) {
        (void)task_key;
        out.v->stacks[addr] = symbolize(*out.t, r);
    }
    if (out.s.loops.empty()) {
        std::fprintf(stderr,
                     "aio: %s runs no aio loop now (aio::run has not started or has "
                     "returned)\n",
                     what.c_str());
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"aio: look inside a running aio program, or a core file (docs/inspect.md).\n"
                 "The program is paused with ptrace for the few milliseconds the reading takes; "
                 "it needs no ASYNC_DEBUG and no change."};
    app.require_subcommand(1);
    app.set_version_flag("--version", "aio inspect (inspection root version 1)");

    source_args ps_args;
    auto* ps = app.add_subcommand("ps", "a row per task: id, name, state, what it waits on, "
                                        "for how long, where it is suspended, where created");
    add_source(ps, ps_args, "PID");

    source_args tree_args;
    auto* tree = app.add_subcommand("pstree", "who waits for whom (get, gather, wait, "
                                              "task_group, a lock's holder, jobs); cycles are "
                                              "reported as deadlocks");
    add_source(tree, tree_args, "PID");

    source_args where_args;
    bool where_all = false;
    bool where_full = false;
    auto* where = app.add_subcommand("where", "the call stack of a task (its fiber's), the "
                                              "user's frames first");
    add_source(where, where_args, "PID TASK (TASK: an id or a name from aio ps)");
    where->add_flag("--all", where_all, "every task's stack, identical stacks merged");
    where->add_flag("--full", where_full, "every frame in order, aio's own included");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }

    try {
        if (*ps) {
            session se = open_session(ps_args, 0, nullptr);
            if (ps_args.json) {
                std::cout << ps_json(*se.v).dump(2) << "\n";
            } else {
                std::cout << render_ps(*se.v);
            }
        } else if (*tree) {
            session se = open_session(tree_args, 0, nullptr);
            if (tree_args.json) {
                std::cout << pstree_json(*se.v).dump(2) << "\n";
            } else {
                std::cout << render_pstree(*se.v);
            }
        } else if (*where) {
            const std::size_t need = where_all ? 0 : 1;
            session se = open_session(where_args, need, nullptr);
            const task_info* task = nullptr;
            if (!where_all) {
                std::string why;
                task = se.s.lookup(where_args.positionals.back(), why);
                if (task == nullptr) {
                    throw inspect_error(why);
                }
            }
            if (where_args.json) {
                std::cout << where_json(*se.v, task).dump(2) << "\n";
            } else if (task != nullptr) {
                std::cout << render_where(*se.v, *task, where_full);
            } else {
                std::cout << render_where_all(*se.v);
            }
        }
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const inspect_error& e) {
        std::fprintf(stderr, "aio: %s\n", e.what());
        return 1;
    }
    return 0;
}
