#include "stacks.hpp"

#include "own_files.hpp"

namespace aio::inspect {

namespace {

bool starts_with(const std::string& s, const char* p) {
    return s.rfind(p, 0) == 0;
}

}  // namespace

frame_kind kind_of(const frame& f) {
    if (!f.file.empty() && aio::debug::is_own_file(f.file)) {
        return frame_kind::aio;
    }
    if (f.file.empty() || starts_with(f.file, "/usr/include/") ||
        f.file.find("/boost/") != std::string::npos || starts_with(f.module, "/usr/lib") ||
        starts_with(f.module, "/lib")) {
        return frame_kind::library;
    }
    return frame_kind::user;
}

std::map<std::uint64_t, raw_stack> read_running_stacks(target& t, const snapshot& s) {
    std::map<std::uint64_t, raw_stack> out;
    for (const loop_info& loop : s.loops) {
        for (const task_info& task : loop.tasks) {
            if (task.state != "done" && (task.addr == loop.current || task.state == "running")) {
                raw_stack& r = out[task.addr];
                r.pcs = t.thread_pcs(static_cast<pid_t>(loop.tid));
                r.note = "running: the stack of its loop thread " + std::to_string(loop.tid);
            }
        }
    }
    return out;
}

void read_fiber_stacks(target& t, const snapshot& s, std::map<std::uint64_t, raw_stack>& out) {
    for (const loop_info& loop : s.loops) {
        for (const task_info& task : loop.tasks) {
            if (out.count(task.addr) != 0) {
                continue;
            }
            raw_stack& r = out[task.addr];
            if (task.state == "done") {
                r.note = "done: its fiber and stack are gone";
            } else if (!task.has_regs) {
                r.note = task.stack_bottom == 0 ? "not started yet: it has no stack"
                                                : "no saved context to unwind";
            } else {
                r.pcs = t.fiber_pcs(task.regs);
            }
        }
    }
}

task_stack symbolize(const target& t, const raw_stack& raw) {
    task_stack s;
    s.frames = t.symbolize(raw.pcs);
    s.note = raw.note;
    s.first_user = s.frames.size();
    for (std::size_t i = 0; i < s.frames.size(); ++i) {
        if (kind_of(s.frames[i]) == frame_kind::user) {
            s.first_user = i;
            break;
        }
    }
    return s;
}

frame creation_frame(const target& t, const task_info& task) {
    frame site;
    site.file = task.site_file;
    site.line = static_cast<int>(task.site_line);
    site.function = task.site_function;
    if (!site.file.empty() && kind_of(site) == frame_kind::user) {
        return site;
    }
    // No source location, or one inside aio (the main task's, made by aio::run): the
    // spawning return address, symbolized, names the user's line.
    if (task.site_caller != 0) {
        for (const frame& c : t.symbolize(task.site_caller - 1)) {
            if (kind_of(c) == frame_kind::user) {
                return c;
            }
        }
    }
    return site;
}

std::string where_text(const frame& f, bool short_path) {
    if (!f.file.empty()) {
        std::string file = f.file;
        if (short_path) {
            // The last two components: enough to tell files apart in a table.
            auto last = file.rfind('/');
            if (last != std::string::npos && last > 0) {
                auto before = file.rfind('/', last - 1);
                if (before != std::string::npos) {
                    file = file.substr(before + 1);
                }
            }
        }
        return file + ":" + std::to_string(f.line);
    }
    if (!f.function.empty()) {
        return f.function;
    }
    return "?";
}

}  // namespace aio::inspect
