#include "render.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <set>
#include <sstream>

namespace aio::inspect {

namespace {

std::string seconds(double s) {
    char buf[32];
    if (s < 0) {
        std::snprintf(buf, sizeof buf, "%.1f s ago", -s);
    } else if (s < 1) {
        std::snprintf(buf, sizeof buf, "%.0f ms", s * 1000);
    } else if (s < 120) {
        std::snprintf(buf, sizeof buf, "%.1f s", s);
    } else if (s < 7200) {
        std::snprintf(buf, sizeof buf, "%.1f min", s / 60);
    } else {
        std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
    }
    return buf;
}

std::string header(const view& v) {
    std::size_t tasks = 0;
    for (const loop_info& l : v.s.loops) {
        tasks += l.tasks.size();
    }
    std::string h = v.what + ": " + std::to_string(v.s.loops.size()) +
                    (v.s.loops.size() == 1 ? " loop, " : " loops, ") + std::to_string(tasks) +
                    (tasks == 1 ? " task" : " tasks");
    if (!v.t.is_core()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, " (paused %.1f ms)",
                      static_cast<double>(v.paused.count()) / 1000.0);
        h += buf;
    } else {
        h += " (\"for\": before the newest park in the dump)";
    }
    return h + "\n";
}

std::string loop_title(const loop_info& l) {
    std::string t = "loop on thread " + std::to_string(l.tid);
    if (!l.thread_name.empty()) {
        t += " '" + l.thread_name + "'";
    }
    if (l.virtual_time) {
        t += " (virtual time)";
    }
    return t;
}

std::string waits_text(const task_info& t) {
    std::string w = t.waiting_on;
    if (!t.detail.empty()) {
        w += w.empty() ? t.detail : " (" + t.detail + ")";
    }
    if (t.deadline_in_s && t.deadline_kind != "sleep") {
        w += ", " + t.deadline_kind + " in " + seconds(*t.deadline_in_s);
    }
    return w;
}

std::string state_text(const task_info& t) {
    if (t.state == "done") {
        std::string s = t.not_awaited ? "done-not-awaited" : "done";
        if (!t.outcome.empty() && t.outcome != "value") {
            s += " (" + t.outcome + ")";
        }
        return s;
    }
    if (t.cancelling > 0) {
        return t.state + ", cancelling";
    }
    return t.state;
}

const task_stack* stack_for(const view& v, const task_info& t) {
    auto it = v.stacks.find(t.addr);
    return it == v.stacks.end() ? nullptr : &it->second;
}

frame suspended_at(const view& v, const task_info& t) {
    const task_stack* st = stack_for(v, t);
    if (st == nullptr || st->first_user >= st->frames.size()) {
        return {};
    }
    return st->frames[st->first_user];
}

nlohmann::json frame_json(const frame& f) {
    if (f.file.empty() && f.function.empty()) {
        return nullptr;
    }
    return {{"function", f.function}, {"file", f.file}, {"line", f.line}};
}

std::string kind_mark(const frame& f) {
    switch (kind_of(f)) {
    case frame_kind::aio:
        return "  [aio]";
    case frame_kind::library:
        return "  [lib]";
    case frame_kind::user:
        return "";
    }
    return "";
}

std::string frame_line(std::size_t n, const frame& f) {
    std::string s = "  #" + std::to_string(n) + (n < 10 ? "  " : " ");
    s += f.function.empty() ? "??" : f.function;
    if (!f.file.empty()) {
        s += " at " + f.file + ":" + std::to_string(f.line);
    } else if (!f.module.empty()) {
        s += " in " + f.module;
    }
    if (f.inlined) {
        s += " (inlined)";
    }
    return s + kind_mark(f) + "\n";
}

}  // namespace

std::vector<deadlock> find_deadlocks(const snapshot& s) {
    std::vector<deadlock> out;
    std::set<std::vector<std::uint64_t>> seen;
    // Each task waits for few others: a DFS from every task along its edges, bounded.
    std::vector<std::uint64_t> path;
    std::vector<std::string> via;
    std::function<void(std::uint64_t, int)> walk = [&](std::uint64_t a, int depth) {
        const task_info* t = s.find(a);
        if (t == nullptr || depth > 64) {
            return;
        }
        for (const wait_edge& e : t->waits_for) {
            auto at = std::find(path.begin(), path.end(), e.to);
            if (at != path.end()) {
                // A cycle: from `at` to here, then back.
                deadlock d;
                const std::size_t from = static_cast<std::size_t>(at - path.begin());
                d.tasks.assign(path.begin() + static_cast<std::ptrdiff_t>(from), path.end());
                d.via.assign(via.begin() + static_cast<std::ptrdiff_t>(from), via.end());
                d.via.push_back(e.via);
                // Start at the lowest id, so each cycle is found once.
                std::size_t low = 0;
                for (std::size_t i = 1; i < d.tasks.size(); ++i) {
                    if (s.find(d.tasks[i])->id < s.find(d.tasks[low])->id) {
                        low = i;
                    }
                }
                std::rotate(d.tasks.begin(), d.tasks.begin() + static_cast<std::ptrdiff_t>(low),
                            d.tasks.end());
                std::rotate(d.via.begin(), d.via.begin() + static_cast<std::ptrdiff_t>(low),
                            d.via.end());
                if (seen.insert(d.tasks).second) {
                    out.push_back(std::move(d));
                }
                continue;
            }
            path.push_back(e.to);
            via.push_back(e.via);
            walk(e.to, depth + 1);
            path.pop_back();
            via.pop_back();
        }
    };
    for (const loop_info& l : s.loops) {
        for (const task_info& t : l.tasks) {
            path = {t.addr};
            via.clear();
            walk(t.addr, 0);
        }
    }
    return out;
}

std::string describe(const snapshot& s, const deadlock& d) {
    std::string out = "deadlock: ";
    for (std::size_t i = 0; i <= d.tasks.size(); ++i) {
        const task_info* t = s.find(d.tasks[i % d.tasks.size()]);
        if (i == 0) {
            out += describe(*t);
        } else {
            out += (i == 1 ? " waits for " : ", which waits for ") + describe(*t) + " (" +
                   d.via[i - 1] + ")";
        }
    }
    return out;
}

std::string render_ps(const view& v) {
    std::ostringstream out;
    out << header(v);
    for (const loop_info& l : v.s.loops) {
        out << "\n" << loop_title(l) << "\n";
        std::vector<std::vector<std::string>> rows;
        rows.push_back({"ID", "NAME", "STATE", "WAITING ON", "FOR", "SUSPENDED AT", "CREATED AT"});
        for (const task_info& t : l.tasks) {
            std::string name = t.name;
            if (!t.job.empty()) {
                name += " (job of '" + t.scheduler + "')";
            }
            rows.push_back({std::to_string(t.id), name, state_text(t), waits_text(t),
                            t.waiting_for_s ? seconds(*t.waiting_for_s) : "",
                            where_text(suspended_at(v, t), true),
                            where_text(creation_frame(v.t, t), true)});
            if (rows.back()[5] == "?") {
                rows.back()[5] = "";
            }
            if (rows.back()[6] == "?") {
                rows.back()[6] = "";
            }
        }
        std::vector<std::size_t> width(rows.front().size(), 0);
        for (const auto& r : rows) {
            for (std::size_t i = 0; i < r.size(); ++i) {
                width[i] = std::max(width[i], r[i].size());
            }
        }
        for (const auto& r : rows) {
            std::string line = " ";
            for (std::size_t i = 0; i < r.size(); ++i) {
                std::string cell = r[i];
                if (i == 0) {
                    cell = std::string(width[i] - cell.size(), ' ') + cell;  // ids right
                } else if (i + 1 < r.size()) {
                    cell += std::string(width[i] - cell.size(), ' ');
                }
                line += " " + cell;
            }
            while (!line.empty() && line.back() == ' ') {
                line.pop_back();
            }
            out << line << "\n";
        }
    }
    return out.str();
}

nlohmann::json ps_json(const view& v) {
    nlohmann::json loops = nlohmann::json::array();
    for (const loop_info& l : v.s.loops) {
        nlohmann::json tasks = nlohmann::json::array();
        for (const task_info& t : l.tasks) {
            nlohmann::json waits = nlohmann::json::array();
            for (const wait_edge& e : t.waits_for) {
                waits.push_back({{"id", v.s.find(e.to)->id}, {"via", e.via}});
            }
            nlohmann::json j = {
                {"id", t.id},
                {"name", t.name},
                {"state", t.state},
                {"waiting_on", t.waiting_on},
                {"detail", t.detail},
                {"waits_for", waits},
                {"cancelling", t.cancelling},
                {"suspended_at", frame_json(suspended_at(v, t))},
                {"created_at", frame_json(creation_frame(v.t, t))},
            };
            j["waiting_for_s"] = t.waiting_for_s ? nlohmann::json(*t.waiting_for_s) : nullptr;
            j["deadline_in_s"] = t.deadline_in_s ? nlohmann::json(*t.deadline_in_s) : nullptr;
            j["deadline_kind"] = t.deadline_kind;
            if (t.state == "done") {
                j["outcome"] = t.outcome;
                j["not_awaited"] = t.not_awaited;
            }
            if (!t.job.empty()) {
                j["job"] = t.job;
                j["scheduler"] = t.scheduler;
            }
            tasks.push_back(std::move(j));
        }
        loops.push_back({{"thread", l.tid},
                         {"thread_name", l.thread_name},
                         {"virtual_time", l.virtual_time},
                         {"tasks", std::move(tasks)}});
    }
    nlohmann::json out = {{"loops", std::move(loops)}, {"paused_ms", v.paused.count() / 1000.0}};
    if (v.t.is_core()) {
        out["core"] = true;
    } else {
        out["pid"] = v.t.pid();
    }
    return out;
}

std::string render_pstree(const view& v) {
    std::ostringstream out;
    out << header(v);
    std::set<std::uint64_t> awaited;
    for (const loop_info& l : v.s.loops) {
        for (const task_info& t : l.tasks) {
            for (const wait_edge& e : t.waits_for) {
                awaited.insert(e.to);
            }
        }
    }
    const std::vector<deadlock> cycles = find_deadlocks(v.s);
    std::set<std::uint64_t> printed;
    std::vector<std::uint64_t> path;
    std::function<void(const task_info&, const std::string&, const std::string&, bool,
                       const std::string&)>
        node = [&](const task_info& t, const std::string& prefix, const std::string& via, bool last,
                   const std::string& child_prefix) {
            (void)last;
            std::string line = prefix + describe(t);
            const std::string w = waits_text(t);
            if (t.state != "waiting") {
                line += " [" + state_text(t) + "]";
            } else if (!w.empty()) {
                line += " " + w;
            }
            const frame at = suspended_at(v, t);
            if (!at.file.empty()) {
                line += "  at " + where_text(at, true);
            }
            (void)via;
            if (std::find(path.begin(), path.end(), t.addr) != path.end()) {
                out << line << "  <- deadlock, see below\n";
                return;
            }
            if (printed.count(t.addr) != 0 && !t.waits_for.empty()) {
                out << line << "  (its waits are shown above)\n";
                return;
            }
            out << line << "\n";
            printed.insert(t.addr);
            path.push_back(t.addr);
            for (std::size_t i = 0; i < t.waits_for.size(); ++i) {
                const task_info* c = v.s.find(t.waits_for[i].to);
                if (c == nullptr) {
                    continue;
                }
                const bool is_last = i + 1 == t.waits_for.size();
                node(*c, child_prefix + (is_last ? "└── " : "├── "), t.waits_for[i].via, is_last,
                     child_prefix + (is_last ? "    " : "│   "));
            }
            path.pop_back();
        };
    for (const loop_info& l : v.s.loops) {
        out << "\n" << loop_title(l) << "\n";
        std::vector<const task_info*> roots;
        for (const task_info& t : l.tasks) {
            if (t.state != "done" && awaited.count(t.addr) == 0) {
                roots.push_back(&t);
            }
        }
        // Tasks only reachable through a cycle (everyone in it is awaited) start a tree too.
        for (const task_info& t : l.tasks) {
            if (t.state == "done" || awaited.count(t.addr) == 0) {
                continue;
            }
            const bool reachable = std::any_of(roots.begin(), roots.end(), [&](const task_info* r) {
                std::set<std::uint64_t> seen;
                std::vector<std::uint64_t> todo{r->addr};
                while (!todo.empty()) {
                    const std::uint64_t a = todo.back();
                    todo.pop_back();
                    if (a == t.addr) {
                        return true;
                    }
                    if (!seen.insert(a).second) {
                        continue;
                    }
                    for (const wait_edge& e : v.s.find(a)->waits_for) {
                        todo.push_back(e.to);
                    }
                }
                return false;
            });
            if (!reachable) {
                roots.push_back(&t);
                awaited.erase(t.addr);  // a root now: the others of its cycle hang below it
            }
        }
        for (std::size_t i = 0; i < roots.size(); ++i) {
            if (printed.count(roots[i]->addr) != 0) {
                continue;
            }
            const bool is_last = i + 1 == roots.size();
            node(*roots[i], is_last ? "└── " : "├── ", "", is_last, is_last ? "    " : "│   ");
        }
    }
    if (!cycles.empty()) {
        out << "\n";
        for (const deadlock& d : cycles) {
            out << describe(v.s, d) << "\n";
        }
    }
    return out.str();
}

nlohmann::json pstree_json(const view& v) {
    nlohmann::json loops = nlohmann::json::array();
    for (const loop_info& l : v.s.loops) {
        nlohmann::json tasks = nlohmann::json::array();
        for (const task_info& t : l.tasks) {
            nlohmann::json waits = nlohmann::json::array();
            for (const wait_edge& e : t.waits_for) {
                waits.push_back({{"id", v.s.find(e.to)->id}, {"via", e.via}});
            }
            tasks.push_back({{"id", t.id},
                             {"name", t.name},
                             {"state", t.state},
                             {"waiting_on", t.waiting_on},
                             {"waits_for", std::move(waits)}});
        }
        loops.push_back({{"thread", l.tid}, {"tasks", std::move(tasks)}});
    }
    nlohmann::json cycles = nlohmann::json::array();
    for (const deadlock& d : find_deadlocks(v.s)) {
        nlohmann::json ids = nlohmann::json::array();
        for (std::uint64_t a : d.tasks) {
            ids.push_back(v.s.find(a)->id);
        }
        cycles.push_back({{"tasks", ids}, {"via", d.via}, {"text", describe(v.s, d)}});
    }
    return {{"loops", std::move(loops)}, {"deadlocks", std::move(cycles)}};
}

namespace {

const loop_info* loop_of(const snapshot& s, const task_info& t) {
    for (const loop_info& l : s.loops) {
        for (const task_info& x : l.tasks) {
            if (&x == &t) {
                return &l;
            }
        }
    }
    return nullptr;
}

std::string task_title(const view& v, const task_info& t) {
    std::string out = describe(t);
    if (const loop_info* l = loop_of(v.s, t)) {
        out += " on thread " + std::to_string(l->tid);
    }
    out += ": " + state_text(t);
    const std::string w = waits_text(t);
    if (t.state == "waiting" && !w.empty()) {
        out += " on " + w;
    }
    if (t.waiting_for_s) {
        out += " for " + seconds(*t.waiting_for_s);
    }
    out += "\n";
    const frame c = creation_frame(v.t, t);
    if (!c.file.empty() || !c.function.empty()) {
        out += "created at " + where_text(c, false);
        if (!c.function.empty() && !c.file.empty()) {
            out += " in " + c.function;
        }
        out += "\n";
    }
    return out;
}

}  // namespace

std::string render_where(const view& v, const task_info& t, bool full) {
    std::ostringstream out;
    out << task_title(v, t);
    const task_stack* st = stack_for(v, t);
    if (st == nullptr || st->frames.empty()) {
        out << "  (no stack: " << (st != nullptr && !st->note.empty() ? st->note : "unknown")
            << ")\n";
        return out.str();
    }
    if (!st->note.empty()) {
        out << "  (" << st->note << ")\n";
    }
    if (full || st->first_user >= st->frames.size()) {
        for (std::size_t i = 0; i < st->frames.size(); ++i) {
            out << frame_line(i, st->frames[i]);
        }
        return out.str();
    }
    // The user's frames first: from where the user's code waits, outwards; runs of aio's
    // and the libraries' frames between them are folded into one line.
    std::size_t n = 0;
    for (std::size_t i = st->first_user; i < st->frames.size();) {
        if (kind_of(st->frames[i]) == frame_kind::user) {
            out << frame_line(n++, st->frames[i]);
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < st->frames.size() && kind_of(st->frames[j]) != frame_kind::user) {
            ++j;
        }
        out << "      ... " << (j - i) << (j - i == 1 ? " frame" : " frames")
            << " of aio and the libraries (--full shows every frame)\n";
        n += j - i;
        i = j;
    }
    if (st->first_user > 0) {
        out << "  inside the wait (innermost first):\n";
        for (std::size_t i = 0; i < st->first_user; ++i) {
            out << "    " << (st->frames[i].function.empty() ? "??" : st->frames[i].function);
            if (!st->frames[i].file.empty()) {
                out << " at " << where_text(st->frames[i], true);
            }
            out << "\n";
        }
    }
    return out.str();
}

std::string render_where_all(const view& v) {
    // Tasks with the same frames from the user's innermost one outwards are merged.
    std::map<std::vector<std::uint64_t>, std::vector<const task_info*>> groups;
    std::vector<std::vector<std::uint64_t>> order;
    std::vector<const task_info*> without;
    for (const loop_info& l : v.s.loops) {
        for (const task_info& t : l.tasks) {
            const task_stack* st = stack_for(v, t);
            if (st == nullptr || st->frames.empty()) {
                without.push_back(&t);
                continue;
            }
            std::vector<std::uint64_t> key;
            for (std::size_t i = std::min(st->first_user, st->frames.size() - 1);
                 i < st->frames.size(); ++i) {
                key.push_back(st->frames[i].pc);
                key.push_back(static_cast<std::uint64_t>(st->frames[i].line));
            }
            if (groups.count(key) == 0) {
                order.push_back(key);
            }
            groups[key].push_back(&t);
        }
    }
    std::ostringstream out;
    out << header(v);
    for (const auto& key : order) {
        const auto& ts = groups[key];
        out << "\n";
        if (ts.size() == 1) {
            out << render_where(v, *ts.front(), false);
            continue;
        }
        out << ts.size() << " tasks with this stack:";
        for (const task_info* t : ts) {
            out << " " << t->id << " '" << t->name << "'";
        }
        out << "\n";
        const task_stack* st = stack_for(v, *ts.front());
        std::size_t n = 0;
        for (std::size_t i = std::min(st->first_user, st->frames.size() - 1); i < st->frames.size();
             ++i) {
            out << frame_line(n++, st->frames[i]);
        }
    }
    if (!without.empty()) {
        out << "\nwithout a stack:\n";
        for (const task_info* t : without) {
            const task_stack* st = stack_for(v, *t);
            out << "  " << describe(*t) << ": " << (st != nullptr ? st->note : "") << "\n";
        }
    }
    return out.str();
}

nlohmann::json where_json(const view& v, const task_info* only) {
    nlohmann::json tasks = nlohmann::json::array();
    for (const loop_info& l : v.s.loops) {
        for (const task_info& t : l.tasks) {
            if (only != nullptr && only != &t) {
                continue;
            }
            const task_stack* st = stack_for(v, t);
            nlohmann::json frames = nlohmann::json::array();
            if (st != nullptr) {
                for (const frame& f : st->frames) {
                    const frame_kind k = kind_of(f);
                    char pc[32];
                    std::snprintf(pc, sizeof pc, "0x%llx", static_cast<unsigned long long>(f.pc));
                    frames.push_back({{"pc", pc},
                                      {"function", f.function},
                                      {"file", f.file},
                                      {"line", f.line},
                                      {"inlined", f.inlined},
                                      {"kind", k == frame_kind::user  ? "user"
                                               : k == frame_kind::aio ? "aio"
                                                                      : "library"}});
                }
            }
            tasks.push_back(
                {{"id", t.id},
                 {"name", t.name},
                 {"state", t.state},
                 {"waiting_on", t.waiting_on},
                 {"frames", std::move(frames)},
                 {"first_user_frame", st != nullptr && st->first_user < st->frames.size()
                                          ? nlohmann::json(st->first_user)
                                          : nlohmann::json(nullptr)},
                 {"note", st != nullptr ? st->note : ""}});
        }
    }
    return {{"tasks", std::move(tasks)}};
}

}  // namespace aio::inspect
