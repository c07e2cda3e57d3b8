#include "snapshot.hpp"

#include "inspect.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <set>
#include <string_view>
#include <unordered_map>

namespace aio::inspect {

namespace {

constexpr std::size_t max_loops = 4096;
constexpr std::size_t max_tasks = 10'000'000;

std::string hex(std::uint64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
    return buf;
}

std::int64_t clock_ns(clockid_t id) {
    timespec ts{};
    ::clock_gettime(id, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Reads typed values through the root's table of named fields.
class reader {
public:
    explicit reader(const target& t)
        : t_(t) {}

    void load_fields(std::uint64_t table, std::uint32_t count) {
        if (count > 4096) {
            throw inspect_error("the inspection root is damaged (" + std::to_string(count) +
                                " fields)");
        }
        for (std::uint32_t i = 0; i < count; ++i) {
            aio_inspect_field f{};
            if (!t_.read(table + i * sizeof f, &f, sizeof f)) {
                throw inspect_error("cannot read the inspection root's field table");
            }
            fields_[t_.read_cstring(reinterpret_cast<std::uintptr_t>(f.name), 128)] = f.value;
        }
    }
    /// The value of a field; throws if the program's aio does not have it.
    /// The value of a field named by a string literal: looked up by the literal's address
    /// after the first time (the reading loops call this some 50 times per task).
    [[nodiscard]] std::int64_t field(const char* name) const {
        if (auto it = by_literal_.find(name); it != by_literal_.end()) {
            return it->second;
        }
        const std::int64_t v = field(std::string_view(name));
        by_literal_.emplace(name, v);
        return v;
    }
    [[nodiscard]] std::int64_t field(std::string_view name) const {
        auto it = fields_.find(name);
        if (it == fields_.end()) {
            throw inspect_error("the program's aio does not describe '" + std::string(name) +
                                "' in its inspection root: it is older than this aio command; "
                                "use the aio command installed with the program's aio");
        }
        return it->second;
    }
    [[nodiscard]] bool has(const char* name) const { return fields_.count(name) != 0; }
    /// The largest offset among the fields whose names start with `prefix`.
    [[nodiscard]] std::size_t span_of(const std::string& prefix) const {
        std::int64_t most = 0;
        for (const auto& [name, value] : fields_) {
            if (name.rfind(prefix, 0) == 0) {
                most = std::max(most, value);
            }
        }
        return static_cast<std::size_t>(most);
    }

    template <class T>
    [[nodiscard]] T at(std::uint64_t base, const char* name) const {
        T v{};
        if (base != 0) {
            (void)t_.read(base + static_cast<std::uint64_t>(field(name)), &v, sizeof v);
        }
        return v;
    }
    [[nodiscard]] std::uint64_t ptr(std::uint64_t base, const char* name) const {
        return at<std::uint64_t>(base, name);
    }
    /// A std::string (libstdc++: data pointer, then size).
    [[nodiscard]] std::string string_at(std::uint64_t addr) const {
        std::uint64_t data = 0, size = 0;
        if (!t_.read(addr, &data, 8) || !t_.read(addr + 8, &size, 8) || size == 0) {
            return {};
        }
        size = std::min<std::uint64_t>(size, 4096);
        std::string s(size, '\0');
        if (!t_.read(data, s.data(), size)) {
            return {};
        }
        return s;
    }
    [[nodiscard]] std::string string_field(std::uint64_t base, const char* name) const {
        return base == 0 ? std::string{}
                         : string_at(base + static_cast<std::uint64_t>(field(name)));
    }
    [[nodiscard]] std::string cstring(std::uint64_t addr) const {
        return addr == 0 ? std::string{} : t_.read_cstring(addr, 512);
    }

private:
    const target& t_;
    std::map<std::string, std::int64_t, std::less<>> fields_;
    mutable std::unordered_map<const char*, std::int64_t> by_literal_;
};

// The waiters of a wait list, both chains (waiting, then handed something not yet taken).
std::vector<std::uint64_t> waiters_of(const reader& r, std::uint64_t list) {
    std::vector<std::uint64_t> out;
    for (const char* head : {"wait_list.waiting_head", "wait_list.handed_head"}) {
        std::uint64_t w = r.ptr(list, head);
        for (std::size_t n = 0; w != 0 && n < 100000; ++n) {
            out.push_back(w);
            w = r.ptr(w, "waiter.next");
        }
    }
    return out;
}

struct pending_lock {
    std::uint64_t task, owner, lock;
};
struct pending_scheduler {
    std::uint64_t task, scheduler;
};

}  // namespace

std::string describe(const task_info& t) {
    return "task " + std::to_string(t.id) + " '" + t.name + "'";
}

const task_info* snapshot::lookup(const std::string& key, std::string& why) const {
    const bool numeric = !key.empty() && std::all_of(key.begin(), key.end(),
                                                     [](char c) { return c >= '0' && c <= '9'; });
    std::vector<const task_info*> hits;
    for (const loop_info& l : loops) {
        for (const task_info& t : l.tasks) {
            if ((numeric && std::to_string(t.id) == key) || t.name == key) {
                hits.push_back(&t);
            }
        }
    }
    if (hits.size() == 1) {
        return hits.front();
    }
    if (hits.empty()) {
        why = "no task with id or name '" + key + "' (aio ps lists them)";
    } else {
        why = "several tasks are named '" + key + "':";
        for (const task_info* t : hits) {
            why += " " + std::to_string(t->id);
        }
        why += "; give the id";
    }
    return nullptr;
}

snapshot read_snapshot(target& t) {
    const std::optional<std::uint64_t> root_addr = t.find_root();
    const std::string who = t.is_core()
                                ? "the program of this core file"
                                : "process " + std::to_string(t.pid()) + " (" + t.name() + ")";
    if (!root_addr) {
        throw inspect_error(who + " does not use aio: no aio_inspect_root symbol or section "
                                  "in its executable or libraries (built with aio older than "
                                  "inspection, or not an aio program)");
    }
    aio_inspect_root_v1 root{};
    if (!t.read(*root_addr, &root, sizeof root)) {
        throw inspect_error("cannot read aio's inspection root of " + who);
    }
    if (std::string(root.magic, 8) != "aio-insp") {
        throw inspect_error("aio's inspection root of " + who + " is damaged (bad magic)");
    }
    if (root.version != 1) {
        throw inspect_error(who + " has an inspection root of version " +
                            std::to_string(root.version) +
                            "; this aio command reads version 1. Use the aio command "
                            "installed with the program's aio.");
    }
    reader r(t);
    r.load_fields(reinterpret_cast<std::uintptr_t>(root.fields), root.field_count);

    snapshot s;
    s.durations_from_newest_park = t.is_core();
    const std::int64_t now_mono = clock_ns(CLOCK_MONOTONIC);
    const auto st_running = r.field("state.running");
    const auto st_scheduled = r.field("state.scheduled");
    const auto st_suspended = r.field("state.suspended");
    const auto st_done = r.field("state.done");
    const std::uint64_t job_hook = static_cast<std::uint64_t>(r.field("job.hook"));
    const std::uint64_t fire_sleep = static_cast<std::uint64_t>(r.field("fire.sleep"));
    const std::uint64_t fire_deadline = static_cast<std::uint64_t>(r.field("fire.deadline"));
    const std::uint64_t fire_timeout = static_cast<std::uint64_t>(r.field("fire.timeout"));
    // A task object is read in one piece (its fields are all in task_base).
    const std::size_t task_block = r.span_of("task.") + 64;
    const std::size_t stack_block = r.span_of("stack.") + 8;

    std::vector<pending_lock> locks;
    std::vector<pending_scheduler> schedulers;
    std::vector<std::int64_t> park_times;
    std::map<std::uint64_t, std::int64_t> parked_at;
    struct timed {
        std::int64_t deadline;
        std::string kind;
        std::int64_t now;
    };
    std::map<std::uint64_t, timed> deadlines;  // per task: the nearest

    std::set<std::uint64_t> seen_loops;
    for (std::uint64_t l = reinterpret_cast<std::uintptr_t>(root.loops);
         l != 0 && s.loops.size() < max_loops && seen_loops.insert(l).second;
         l = r.ptr(l, "loop.next")) {
        loop_info li;
        li.addr = l;
        li.tid = r.at<long>(l, "loop.tid");
        char name[16] = {};
        (void)t.read(l + static_cast<std::uint64_t>(r.field("loop.thread_name")), name, 15);
        li.thread_name = name;
        li.virtual_time = r.at<bool>(l, "loop.virtual_time");
        li.current = r.ptr(l, "loop.current");
        const std::int64_t loop_now =
            li.virtual_time ? r.at<std::int64_t>(l, "loop.virtual_now") : now_mono;

        // The pause is mostly system calls: walk the list (one read per task object), then
        // copy the stack descriptors and the stacks of all tasks in batched reads.
        std::vector<std::uint64_t> addrs;
        std::set<std::uint64_t> seen;
        for (std::uint64_t a = r.ptr(l, "loop.all_head");
             a != 0 && seen.size() < max_tasks && seen.insert(a).second;
             a = r.ptr(a, "task.all_next")) {
            (void)t.prefetch_around(a, task_block, 64 * 1024);
            addrs.push_back(a);
        }
        std::vector<std::pair<std::uint64_t, std::size_t>> ranges;
        for (std::uint64_t a : addrs) {
            ranges.emplace_back(r.ptr(a, "task.stack"), stack_block);
        }
        t.prefetch(ranges);
        ranges.clear();
        for (std::uint64_t a : addrs) {
            const std::uint64_t stack = r.ptr(a, "task.stack");
            const std::uint64_t ctx = r.ptr(a, "task.ctx");
            const std::uint64_t top = r.ptr(stack, "stack.bottom") + r.ptr(stack, "stack.size");
            if (stack != 0 && ctx != 0 && ctx < top && top - ctx <= (std::uint64_t{8} << 20)) {
                ranges.emplace_back(ctx, top - ctx);
            }
        }
        t.prefetch(ranges);

        for (std::uint64_t a : addrs) {
            task_info ti;
            ti.addr = a;
            ti.id = r.at<std::uint64_t>(a, "task.id");
            ti.name = r.string_field(a, "task.name");
            if (ti.name.empty()) {
                ti.name = "task-" + std::to_string(ti.id);
            }
            const auto state = static_cast<std::int64_t>(r.at<std::uint8_t>(a, "task.state"));
            const auto outcome = static_cast<std::int64_t>(r.at<std::uint8_t>(a, "task.outcome"));
            if (state == st_running) {
                ti.state = "running";
            } else if (state == st_scheduled) {
                ti.state = "ready";
            } else if (state == st_suspended) {
                ti.state = "waiting";
            } else if (state == st_done) {
                ti.state = "done";
            } else {
                ti.state = "?";
            }
            if (state == st_done) {
                ti.outcome = outcome == r.field("outcome.value")       ? "value"
                             : outcome == r.field("outcome.exception") ? "exception"
                             : outcome == r.field("outcome.cancelled") ? "cancelled"
                                                                       : "";
                ti.not_awaited = !r.at<bool>(a, "task.observed") && !r.at<bool>(a, "task.detached");
            }
            ti.cancelling = r.at<std::uint32_t>(a, "task.cancel_requests");
            ti.site_file = r.cstring(r.ptr(a, "task.site_file"));
            ti.site_function = r.cstring(r.ptr(a, "task.site_function"));
            ti.site_line = r.at<std::uint32_t>(a, "task.site_line");
            ti.site_caller = r.ptr(a, "task.site_caller");
            const std::uint64_t stack = r.ptr(a, "task.stack");
            ti.stack_bottom = r.ptr(stack, "stack.bottom");
            ti.stack_size = r.ptr(stack, "stack.size");
            if (r.ptr(a, "task.done_hook") == job_hook && job_hook != 0) {
                const std::uint64_t job = r.ptr(a, "task.done_hook_arg");
                ti.job = r.string_field(job, "job.name");
                const std::uint64_t sched = r.ptr(job, "job.scheduler");
                if (sched != 0) {
                    ti.scheduler = r.string_field(sched, "scheduler.name");
                    if (ti.scheduler.empty()) {
                        ti.scheduler = hex(sched);
                    }
                    schedulers.push_back({a, sched});  // (as a job: matched below)
                }
            }
            if (stack != 0 && (state == st_suspended || state == st_scheduled) && a != li.current) {
                ti.ctx = r.ptr(a, "task.ctx");
                if (ti.ctx != 0) {
                    fiber_registers& g = ti.regs;
                    const auto reg = [&](const char* name) {
                        return r.at<std::uint64_t>(ti.ctx, name);
                    };
                    g.rip = reg("fctx.rip");
                    g.rbp = reg("fctx.rbp");
                    g.rbx = reg("fctx.rbx");
                    g.r12 = reg("fctx.r12");
                    g.r13 = reg("fctx.r13");
                    g.r14 = reg("fctx.r14");
                    g.r15 = reg("fctx.r15");
                    g.rsp = ti.ctx + static_cast<std::uint64_t>(r.field("fctx.rsp"));
                    ti.has_regs = g.rip != 0;
                }
            }
            if (state == st_suspended) {
                const std::int64_t at = r.at<std::int64_t>(a, "task.parked_at");
                parked_at[a] = at;
                park_times.push_back(at);
                if (!s.durations_from_newest_park && at > 0) {
                    // (a park records the loop's last clock reading: never ahead of now)
                    ti.waiting_for_s =
                        static_cast<double>(std::max<std::int64_t>(now_mono - at, 0)) / 1e9;
                }
                ti.waiting_on = r.cstring(r.ptr(a, "task.waiting_on"));
                // The innermost waiter's list tells the primitive when the call did not.
                std::uint64_t list = 0;
                std::string what;
                std::uint64_t w = r.ptr(a, "task.waits");
                for (int n = 0; w != 0 && n < 64; ++n) {
                    const std::uint64_t l2 = r.ptr(w, "waiter.list");
                    if (l2 != 0) {
                        list = l2;
                        what = r.cstring(r.ptr(l2, "wait_list.what"));
                        break;
                    }
                    w = r.ptr(w, "waiter.task_next");
                }
                if (ti.waiting_on.empty()) {
                    ti.waiting_on = r.ptr(a, "task.awaiting") != 0 ? "aio::task::get" : what;
                }
                if (what == "aio::lock" && list != 0) {
                    std::uint64_t holder = 0;
                    (void)t.read(list +
                                     static_cast<std::uint64_t>(r.field("lock.owner_from_waiters")),
                                 &holder, sizeof holder);
                    locks.push_back(
                        {a, holder, list - static_cast<std::uint64_t>(r.field("lock.waiters"))});
                } else if (what == "aio::stream" && list != 0) {
                    const bool write_side =
                        ti.waiting_on.find("write") != std::string::npos ||
                        ti.waiting_on.find("drain") != std::string::npos ||
                        ti.waiting_on.find("close") != std::string::npos ||
                        ti.waiting_on.find("open_connection") != std::string::npos;
                    const std::string peer =
                        r.string_at(list + static_cast<std::uint64_t>(r.field(
                                               write_side ? "stream.peer_from_write_waiters"
                                                          : "stream.peer_from_read_waiters")));
                    if (!peer.empty()) {
                        ti.detail = "peer " + peer;
                    }
                } else if (ti.waiting_on == "aio::jobs::scheduler::wait_and_close" && list != 0) {
                    const std::uint64_t sched =
                        list + static_cast<std::uint64_t>(r.field("scheduler.from_change_waiters"));
                    schedulers.push_back({a, sched | 1});  // odd: the waiting side
                    const std::string sname = r.string_field(sched, "scheduler.name");
                    ti.detail = "scheduler " + (sname.empty() ? hex(sched) : "'" + sname + "'");
                }
                if (ti.waiting_on == "aio::task_group") {
                    const std::uint64_t group = r.ptr(a, "task.waiting_object");
                    const std::uint64_t v =
                        group + static_cast<std::uint64_t>(r.field("task_group.children"));
                    std::uint64_t begin = 0, end = 0;
                    (void)t.read(v, &begin, 8);
                    (void)t.read(v + 8, &end, 8);
                    if (group != 0 && end >= begin && (end - begin) / 8 < 1'000'000) {
                        for (std::uint64_t p = begin; p < end; p += 8) {
                            std::uint64_t child = 0;
                            if (t.read(p, &child, 8) && child != 0) {
                                ti.waits_for.push_back({child, "aio::task_group"});
                            }
                        }
                    }
                }
            }
            li.tasks.push_back(std::move(ti));
        }

        // The loop's timers: sleeps, deadlines of waits, timeout scopes.
        const std::uint64_t heap = l + static_cast<std::uint64_t>(r.field("loop.timers"));
        std::uint64_t begin = 0, end = 0;
        (void)t.read(heap, &begin, 8);
        (void)t.read(heap + 8, &end, 8);
        if (end >= begin && (end - begin) / 8 < 10'000'000) {
            for (std::uint64_t p = begin; p < end; p += 8) {
                std::uint64_t node = 0;
                if (!t.read(p, &node, 8) || node == 0) {
                    continue;
                }
                const std::uint64_t fire = r.ptr(node, "timer.fire");
                const std::uint64_t owner = r.ptr(node, "timer.owner");
                const auto deadline = r.at<std::int64_t>(node, "timer.deadline");
                std::uint64_t task = 0;
                std::string kind;
                if (fire == fire_sleep) {
                    task = r.ptr(owner, "waiter.task");
                    kind = "sleep";
                } else if (fire == fire_deadline) {
                    task = r.ptr(owner, "waiter.task");
                    kind = "deadline";
                } else if (fire == fire_timeout) {
                    task = r.ptr(owner, "timeout.task");
                    kind = "timeout";
                }
                if (task == 0) {
                    continue;
                }
                auto it = deadlines.find(task);
                if (it == deadlines.end() || deadline < it->second.deadline) {
                    deadlines[task] = {deadline, kind, loop_now};
                }
            }
        }
        s.loops.push_back(std::move(li));
    }

    // Oldest task first; the loop of the lowest thread id (the main thread's) first.
    std::sort(s.loops.begin(), s.loops.end(),
              [](const loop_info& a, const loop_info& b) { return a.tid < b.tid; });
    for (loop_info& l : s.loops) {
        std::sort(l.tasks.begin(), l.tasks.end(),
                  [](const task_info& a, const task_info& b) { return a.id < b.id; });
        for (task_info& ti : l.tasks) {
            s.by_addr[ti.addr] = &ti;
        }
    }

    const std::int64_t newest_park =
        park_times.empty() ? 0 : *std::max_element(park_times.begin(), park_times.end());
    for (loop_info& l : s.loops) {
        for (task_info& ti : l.tasks) {
            if (s.durations_from_newest_park && parked_at.count(ti.addr) != 0 &&
                parked_at[ti.addr] > 0) {
                ti.waiting_for_s = static_cast<double>(newest_park - parked_at[ti.addr]) / 1e9;
            }
            if (auto it = deadlines.find(ti.addr); it != deadlines.end() && ti.state == "waiting") {
                // In a core, a deadline's distance is only known for virtual-time loops.
                if (!s.durations_from_newest_park || l.virtual_time) {
                    ti.deadline_in_s =
                        static_cast<double>(it->second.deadline - it->second.now) / 1e9;
                }
                ti.deadline_kind = it->second.kind;
            }
            // Who waits for this task to end (get, gather, wait, as_completed, wait_done).
            const std::uint64_t list =
                ti.addr + static_cast<std::uint64_t>(r.field("task.done_waiters"));
            for (std::uint64_t w : waiters_of(r, list)) {
                const std::uint64_t waiter_task = r.ptr(w, "waiter.task");
                auto it = s.by_addr.find(waiter_task);
                if (it != s.by_addr.end()) {
                    auto* p = const_cast<task_info*>(it->second);
                    const std::string via =
                        p->waiting_on.empty() ? "aio::task::get" : p->waiting_on;
                    p->waits_for.push_back({ti.addr, via});
                }
            }
        }
    }
    for (const pending_lock& pl : locks) {
        auto* waiter = const_cast<task_info*>(s.find(pl.task));
        if (waiter == nullptr) {
            continue;
        }
        if (pl.owner == pl.lock) {
            waiter->detail = "held outside a task (try_acquire)";
        } else if (const task_info* holder = s.find(pl.owner)) {
            waiter->detail = "held by " + describe(*holder);
            waiter->waits_for.push_back({holder->addr, "aio::lock"});
        } else if (pl.owner == 0) {
            waiter->detail = "free, about to be handed over";
        }
    }
    for (const pending_scheduler& ps : schedulers) {
        if ((ps.scheduler & 1) == 0) {
            continue;
        }
        auto* waiter = const_cast<task_info*>(s.find(ps.task));
        const std::uint64_t sched = ps.scheduler & ~std::uint64_t{1};
        for (const pending_scheduler& job : schedulers) {
            if ((job.scheduler & 1) == 0 && job.scheduler == sched && waiter != nullptr) {
                const task_info* jt = s.find(job.task);
                if (jt != nullptr && jt->state != "done") {
                    waiter->waits_for.push_back({job.task, "aio::jobs::scheduler::wait_and_close"});
                }
            }
        }
    }
    // One edge per awaited task, in the order found.
    for (loop_info& l : s.loops) {
        for (task_info& ti : l.tasks) {
            std::vector<wait_edge> unique;
            for (const wait_edge& e : ti.waits_for) {
                const task_info* to = s.find(e.to);
                if (to == nullptr || to->state == "done") {
                    continue;
                }
                if (std::none_of(unique.begin(), unique.end(),
                                 [&](const wait_edge& u) { return u.to == e.to; })) {
                    unique.push_back(e);
                }
            }
            std::stable_sort(unique.begin(), unique.end(),
                             [&](const wait_edge& a, const wait_edge& b) {
                                 return s.find(a.to)->id < s.find(b.to)->id;
                             });
            ti.waits_for = std::move(unique);
            if (ti.detail.empty() && ti.deadline_in_s && ti.deadline_kind == "sleep") {
                char buf[64];
                std::snprintf(buf, sizeof buf, "until %+.1f s", *ti.deadline_in_s);
                ti.detail = buf;
            }
            if (ti.detail.empty() && ti.waiting_on == "aio::task::get" && !ti.waits_for.empty()) {
                if (const task_info* to = s.find(ti.waits_for.front().to)) {
                    ti.detail = "on " + describe(*to);
                }
            }
        }
    }
    return s;
}

}  // namespace aio::inspect
