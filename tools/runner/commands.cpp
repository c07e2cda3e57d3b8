// The runner's commands. Each returns the process exit status: 0 success, 1 a lesson did not
// pass (or verify failed); user errors are thrown as user_error (status 2, in main.cpp).
#include "paths.hpp"
#include "progress.hpp"
#include "runner.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <unistd.h>

namespace lessons {

std::string display(const fs::path& p) {
    std::error_code ec;
    fs::path abs = fs::absolute(p, ec).lexically_normal();
    fs::path rel = abs.lexically_relative(fs::current_path(ec));
    if (!rel.empty() && rel.native().rfind("..", 0) != 0) {
        return rel.string();
    }
    return abs.string();
}

namespace {

std::string seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", s);
    return buf;
}

std::string debug_options(const fs::path& report_path, bool color) {
    return std::string("1,report=") + report_path.string() +
           (color ? ",color=always" : ",color=never");
}

}  // namespace

const lesson* first_pending(const manifest& m, const workspace& ws) {
    for (const auto& l : m.lessons) {
        if (!ws.done(l.name)) {
            return &l;
        }
    }
    return nullptr;
}

const lesson* next_pending_after(const manifest& m, const workspace& ws, const lesson& cur) {
    bool seen = false;
    for (const auto& l : m.lessons) {
        if (seen && !ws.done(l.name)) {
            return &l;
        }
        seen = seen || l.name == cur.name;
    }
    return first_pending(m, ws);
}

lesson_outcome run_lesson(const manifest& m, const options& o, workspace& ws, const lesson& l,
                          bool fixed, bool no_debug) {
    std::string kind = fixed ? "fixed" : "workspace";
    fs::path copy = ws.copy_of(l);
    if (!fixed) {
        ws.record_run(l.name, std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
        if (ws.ensure_copy(m, l)) {
            std::printf("created %s, a copy of lessons/%s/broken.cpp: edit this copy\n",
                        display(copy).c_str(), l.name.c_str());
        }
        point_workspace_stub(l, copy);
    }
    // The copy as this build is given it: a save made while the build runs makes it differ
    // from the copy next time, and the program is then rebuilt (even with --no-build).
    std::string content = fixed ? std::string() : read_file(copy);
    bool stale = !fixed && workspace_program_stale(l, copy);
    if (o.build || stale || (!fixed && !fs::exists(program_path(l, kind)))) {
        std::printf("building %s ...\n",
                    fixed ? ("lessons/" + l.name + "/fixed.cpp").c_str() : display(copy).c_str());
        std::fflush(stdout);
        std::string warnings = build_targets({target_name(l, kind)});
        if (!fixed) {
            remember_workspace_build(l, content);
        }
        if (!warnings.empty()) {
            std::printf("the compiler warned (read it: it may be the lesson):\n%s",
                        warnings.c_str());  // each of its lines ends with a newline
        }
    }
    std::printf("== %s: %s%s (time limit %s)\n", l.name.c_str(), l.title.c_str(),
                fixed ? " [the shipped fix]" : "",
                seconds(time_limit_of(l).count() / 1000.0).c_str());
    std::fflush(stdout);

    fs::path rp = ws.report_of(l);
    run_request req;
    req.program = program_path(l, kind);
    req.time_limit = time_limit_of(l);
    req.live = true;
    req.inspect_hang = true;
    if (!no_debug) {
        fs::create_directories(rp.parent_path());
        fs::remove(rp);
        req.debug = debug_options(rp, ::isatty(2) != 0);
    }
    run_result r = run_program(req);
    std::printf("--\n");
    if (r.timed_out) {
        std::printf("hung: killed after %s: likely a blocked loop or a missing timeout\n",
                    seconds(r.seconds).c_str());
        // Taken before the kill: what each task was waiting for when the time ran out.
        if (!r.tasks.empty()) {
            std::printf("the program hung; its tasks (aio pstree):\n%s%s", r.tasks.c_str(),
                        r.tasks.back() == '\n' ? "" : "\n");
        } else if (!r.tasks_error.empty()) {
            std::printf("the program hung; %s\n", r.tasks_error.c_str());
        }
    }
    report rep;
    if (!no_debug) {
        rep = read_report(rp);
        print_findings(rep);
    }
    auto problems = judge(l, fixed ? "fixed" : "workspace", r, rep, !no_debug);
    if (problems.empty()) {
        if (fixed) {
            std::printf("the shipped fix passes.\n");
        } else if (no_debug) {
            std::printf("the output looks right; run it without --no-debug to let debug mode "
                        "check it.\n");
        } else {
            bool first_time = !ws.done(l.name);
            ws.set_done(l.name, true);
            std::printf("PASSED: %s no longer shows the pitfall.%s\n", l.name.c_str(),
                        first_time ? " Marked done." : "");
            std::printf("compare with the shipped fix: %s solution %s\n", self_command().c_str(),
                        l.number().c_str());
        }
        return {true, {}};
    }
    std::printf("not passing yet:\n");
    for (const auto& p : problems) {
        std::printf("  - %s\n", p.c_str());
    }
    if (!fixed) {
        if (o.in_watch) {
            std::printf("edit %s (look for the TODO); stuck? press h for a hint\n",
                        display(copy).c_str());
        } else {
            std::printf("edit %s (look for the TODO); stuck? %s hint %s\n", display(copy).c_str(),
                        self_command().c_str(), l.number().c_str());
        }
    }
    return {false, problems};
}

int cmd_list(const manifest& m, const options& o) {
    workspace ws(o.workspace);
    std::size_t done = 0;
    for (const auto& l : m.lessons) {
        done += ws.done(l.name) ? 1 : 0;
    }
    const lesson* cur = nullptr;
    if (!ws.current().empty()) {
        for (const auto& l : m.lessons) {
            if (l.name == ws.current()) {
                cur = &l;
            }
        }
    }
    if (cur == nullptr || ws.done(cur->name)) {
        cur = first_pending(m, ws);
    }
    std::size_t total = m.lessons.size();
    std::size_t pct = total == 0 ? 0 : done * 100 / total;
    std::string bar(20, '.');
    std::fill_n(bar.begin(), total == 0 ? 0 : done * 20 / total, '#');
    std::printf("aio lessons: %zu of %zu done (%zu%%) [%s]\n", done, total, pct, bar.c_str());
    for (const auto& l : m.lessons) {
        const char* mark = ws.done(l.name) ? "[x]" : (cur == &l ? "[>]" : "[ ]");
        std::printf("  %s %-30s %s\n", mark, l.name.c_str(), l.title.c_str());
    }
    std::printf("[x] done  [>] current  [ ] pending; workspace: %s\n", display(ws.root()).c_str());
    return 0;
}

int cmd_run(const manifest& m, const options& o, const std::string& name, bool fixed,
            bool no_debug) {
    const lesson& l = m.find(name);
    workspace ws(o.workspace);
    if (!fixed) {
        ws.set_current(l.name);
    }
    bool ok = false;
    try {
        ok = run_lesson(m, o, ws, l, fixed, no_debug).passed;
    } catch (const user_error&) {
        ws.save();  // the attempt counts, and the facilitator sees it
        report_progress(m, ws);
        throw;
    }
    ws.save();
    if (!fixed) {
        report_progress(m, ws);
    }
    return ok ? 0 : 1;
}

int cmd_hint(const manifest& m, const options& o, const std::string& name) {
    const lesson& l = m.find(name);
    workspace ws(o.workspace);
    int shown = ws.hints_shown(l.name);
    int n = static_cast<int>(l.hints.size());
    if (shown >= n) {
        std::printf("hint %d/%d for %s: %s\n", n, n, l.name.c_str(), l.hints.back().c_str());
        std::printf("that was the last hint; the lesson's README explains the fix: "
                    "lessons/%s/README.md\n",
                    l.name.c_str());
    } else {
        std::printf("hint %d/%d for %s: %s\n", shown + 1, n, l.name.c_str(),
                    l.hints[static_cast<std::size_t>(shown)].c_str());
        if (shown + 1 < n && o.in_watch) {
            std::printf("(press h again for the next level)\n");
        } else if (shown + 1 < n) {
            std::printf("(run `%s hint %s` again for the next level)\n", self_command().c_str(),
                        l.number().c_str());
        }
        ws.set_hints_shown(l.name, shown + 1);
        ws.save();
    }
    return 0;
}

int cmd_verify(const manifest& m, const options& o, const std::vector<std::string>& names,
               bool json, bool variants) {
    std::vector<const lesson*> todo;
    if (names.empty()) {
        for (const auto& l : m.lessons) {
            todo.push_back(&l);
        }
    } else {
        for (const auto& n : names) {
            todo.push_back(&m.find(n));
        }
    }
    // One program to run: a shipped one ("broken", "fixed"), or a variant of tests/lessons/,
    // judged as a participant's copy ("workspace") and expected to pass (right-*) or fail.
    struct outcome {
        const lesson* l = nullptr;
        std::string kind;   // how it is judged: broken, fixed, workspace
        std::string label;  // what the report calls it: broken, fixed, right-lock...
        fs::path program;
        bool must_fail = false;  // a wrong-* variant
        std::string why;         // a variant's leading comment
        bool skipped = false;
        std::string note;
        std::vector<std::string> problems;  // what the judge said
        bool ok = false;
        std::map<std::string, int> counts;
        run_result r;
        std::string retried;  // why the first run was not taken (load-sensitive findings)
    };
    std::vector<outcome> jobs;
    std::vector<std::string> targets;
    for (const lesson* l : todo) {
        std::vector<outcome> mine;
        if (variants) {
            for (const auto& v : variants_of(m, *l)) {
                outcome x;
                x.kind = "workspace";
                x.label = v.stem;
                x.program = variant_path(*l, v);
                x.must_fail = !v.right;
                x.why = v.why;
                targets.push_back(variant_target(*l, v));
                mine.push_back(std::move(x));
            }
        } else {
            for (const char* kind : {"broken", "fixed"}) {
                outcome x;
                x.kind = kind;
                x.label = kind;
                x.program = program_path(*l, kind);
                targets.push_back(target_name(*l, kind));
                mine.push_back(std::move(x));
            }
        }
        for (auto& x : mine) {
            x.l = l;
            if (paths::sanitized && !l->asan) {
                x.skipped = true;
                x.note = "skipped in this sanitizer build: " + l->asan_note;
                targets.pop_back();  // never built there either
            }
            jobs.push_back(std::move(x));
        }
    }
    if (variants && jobs.empty()) {
        throw user_error("no variants: tests/lessons/NN-slug/ holds none for " +
                         (names.empty() ? std::string("any lesson") : "these lessons"));
    }
    if (variants && o.build && !paths::variants_built) {
        throw user_error("the variants of tests/lessons/ are test programs, and this build tree (" +
                         std::string(paths::binary_dir) +
                         ") is configured without tests; build them in the default preset: "
                         "cmake --preset default && cmake --build --preset default --target "
                         "aio_lessons_runner lesson_variants && build/default/tools/runner/lessons "
                         "verify --variants");
    }
    if (o.build && !targets.empty()) {
        if (!json) {
            std::fprintf(stderr, "building %zu lesson programs ...\n", targets.size());
        }
        build_targets(targets);
    }
    fs::path tmp = fs::temp_directory_path() / ("aio-lessons-verify-" + std::to_string(::getpid()));
    fs::create_directories(tmp);

    // Two programs at a time: most lessons sleep, and the whole check stays short in CI.
    std::mutex mu;
    std::size_t next = 0;
    auto worker = [&] {
        for (;;) {
            outcome* x = nullptr;
            std::size_t n = 0;
            {
                std::lock_guard g(mu);
                while (next < jobs.size() && jobs[next].skipped) {
                    ++next;
                }
                if (next == jobs.size()) {
                    return;
                }
                n = next;
                x = &jobs[next++];
            }
            fs::path rp = tmp / (std::to_string(n) + "-" + x->label + ".json");
            auto attempt = [&] {
                run_request req;
                req.program = x->program;
                req.time_limit = time_limit_of(*x->l);
                req.debug = debug_options(rp, false);
                x->r = run_program(req);
                x->problems.clear();
                report rep;
                try {
                    rep = read_report(rp);
                } catch (const user_error& e) {
                    x->problems.push_back(e.what());
                }
                x->counts = rep.counts;
                auto p = judge(*x->l, x->kind, x->r, rep, true);
                x->problems.insert(x->problems.end(), p.begin(), p.end());
            };
            attempt();
            // The step timers (stall, slow-callback, blocking-call) measure the machine as
            // well as the program: a program that must pass and failed with one of them gets
            // a second run, and the report says so (a real pitfall fails both).
            if (!x->must_fail && !x->problems.empty() &&
                (x->counts.contains("stall") || x->counts.contains("slow-callback") ||
                 x->counts.contains("blocking-call"))) {
                x->retried = x->problems.front();
                attempt();
            }
            // A wrong fix is right to fail; what the judge said is why it was rejected.
            x->ok = x->must_fail ? !x->problems.empty() : x->problems.empty();
            if (!json) {
                std::lock_guard g(mu);
                std::printf("%-4s %-30s %-6s %s", x->ok ? "ok" : "FAIL", x->l->name.c_str(),
                            x->label.c_str(), seconds(x->r.seconds).c_str());
                if (x->must_fail && x->ok) {
                    std::printf(": rejected, as it must be: %s\n", x->problems.front().c_str());
                } else if (x->must_fail) {
                    std::printf(": PASSED, but it is a wrong fix the lesson must reject: %s\n",
                                x->why.c_str());
                } else if (x->ok && !x->retried.empty()) {
                    std::printf(": passed on a second run; the first said: %s (a loaded "
                                "machine?)\n",
                                x->retried.c_str());
                } else {
                    std::printf("%s\n", x->ok ? "" : ":");
                    for (const auto& pr : x->problems) {
                        std::printf("       - %s\n", pr.c_str());
                    }
                }
                if (!x->ok) {
                    std::printf("       its stdout:\n%s       its stderr (last 2000 bytes):\n%s\n",
                                x->r.out.c_str(),
                                x->r.err.substr(x->r.err.size() > 2000 ? x->r.err.size() - 2000 : 0)
                                    .c_str());
                }
                std::fflush(stdout);
            }
        }
    };
    std::thread t1(worker);
    std::thread t2(worker);
    t1.join();
    t2.join();
    fs::remove_all(tmp);

    int failed = 0;
    int skipped = 0;
    nlohmann::json out = nlohmann::json::array();
    for (const auto& x : jobs) {
        failed += x.ok || x.skipped ? 0 : 1;
        skipped += x.skipped ? 1 : 0;
        if (x.skipped && !json) {
            std::printf("skip %-30s %-6s %s\n", x.l->name.c_str(), x.label.c_str(), x.note.c_str());
        }
        nlohmann::json j = {{"lesson", x.l->name},  {"program", x.label},
                            {"ok", x.ok},           {"skipped", x.skipped},
                            {"note", x.note},       {"problems", x.problems},
                            {"findings", x.counts}, {"seconds", x.r.seconds}};
        if (!x.retried.empty()) {
            j["first_run"] = x.retried;  // why the first run was not taken
        }
        if (variants) {
            j["expected"] = x.must_fail ? "reject" : "pass";
        }
        out.push_back(std::move(j));
    }
    if (json) {
        std::cout << out.dump(2) << "\n";
    } else {
        // The failures again, last: a log cut to its head and tail (CI's) still names them.
        for (const auto& x : jobs) {
            if (!x.ok && !x.skipped) {
                std::printf("FAILED %s %s: %s\n", x.l->name.c_str(), x.label.c_str(),
                            x.must_fail          ? "a wrong fix the lesson must reject passed"
                            : x.problems.empty() ? "see above"
                                                 : x.problems.front().c_str());
            }
        }
        std::printf("verify%s: %zu programs, %d failed, %d skipped\n",
                    variants ? " --variants" : "", jobs.size(), failed, skipped);
    }
    return failed == 0 ? 0 : 1;
}

int cmd_reset(const manifest& m, const options& o, const std::string& name) {
    const lesson& l = m.find(name);
    workspace ws(o.workspace);
    fs::path kept = ws.reset(m, l);
    ws.save();
    std::printf("%s is lessons/%s/broken.cpp again; its progress and hints are cleared.\n",
                display(ws.copy_of(l)).c_str(), l.name.c_str());
    if (!kept.empty()) {
        std::printf("your version is kept in %s\n", display(kept).c_str());
    }
    return 0;
}

int cmd_solution(const manifest& m, const options& o, const std::string& name) {
    const lesson& l = m.find(name);
    workspace ws(o.workspace);
    if (!ws.done(l.name)) {
        throw user_error("the solution of " + l.name + " opens once your copy passes: run `" +
                         self_command() + " run " + l.number() + "` (or `" + self_command() +
                         " watch`) until it says PASSED; `" + self_command() + " hint " +
                         l.number() + "` gives a hint");
    }
    fs::path fixed = m.dir(l) / "fixed.cpp";
    std::ifstream in(fixed);
    std::printf("== the shipped fix of %s: %s\n", l.name.c_str(), display(fixed).c_str());
    std::cout << in.rdbuf();
    std::printf("== compare with yours: diff -u %s %s\n", display(ws.copy_of(l)).c_str(),
                display(fixed).c_str());
    return 0;
}

}  // namespace lessons
