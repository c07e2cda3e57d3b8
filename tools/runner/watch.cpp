// watch: the participant's loop, after rustlings' watch mode. Each run starts on a clear
// screen, the lesson's output comes as it runs, and a compact status ends it; then watch
// waits for a save of the copy or a key, and moves to the next lesson only when told.
//
//   for each run:   clear -> run_lesson (build, run, judge) -> save + report -> status
//   then wait:      poll stdin for a key (250 ms) | the copy's mtime changed -> run again
//                   h hint, l list (both: then wait again), r run again, n next, q quit
#include "progress.hpp"
#include "runner.hpp"
#include "terminal.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

namespace lessons {

using namespace std::chrono_literals;

namespace {

std::string progress_bar(const manifest& m, const workspace& ws) {
    std::size_t done = 0;
    for (const auto& l : m.lessons) {
        done += ws.done(l.name) ? 1 : 0;
    }
    std::size_t total = m.lessons.size();
    std::string bar(20, '.');
    std::fill_n(bar.begin(), total == 0 ? 0 : done * 20 / total, '#');
    return "[" + bar + "] " + std::to_string(done) + " of " + std::to_string(total) + " done";
}

void print_keys(const key_input& keys, const fs::path& copy) {
    if (keys.closed()) {
        std::printf("keys      none (stdin is closed): saving %s re-runs it; after PASSED "
                    "watch moves on by itself; Ctrl-C stops\n",
                    display(copy).c_str());
    } else {
        std::printf("keys      h hint  n next  r re-run  l list  q quit%s; saving %s re-runs "
                    "it\n",
                    keys.is_terminal() ? "" : " (a letter, then Enter)", display(copy).c_str());
    }
    std::fflush(stdout);
}

void print_status(const manifest& m, const workspace& ws, const lesson& l,
                  const lesson_outcome& out, const key_input& keys) {
    lesson_progress p = ws.progress_of(l.name);
    std::int64_t on = p.first_run == 0 ? 0 : std::max<std::int64_t>(0, unix_now() - p.first_run);
    std::string runs =
        "run " + std::to_string(p.attempts) + ", " + std::to_string((on + 30) / 60) + " min on it";
    std::printf("\n%s\n", std::string(78, '=').c_str());
    std::printf("lesson    %s: %s\n", l.name.c_str(), l.title.c_str());
    if (out.passed) {
        const lesson* next = next_pending_after(m, ws, l);
        if (next == nullptr) {
            std::printf("status    PASSED (%s). Every lesson is done: well done! q quits\n",
                        runs.c_str());
        } else {
            std::printf("status    PASSED (%s): press n for the next lesson, %s\n", runs.c_str(),
                        next->name.c_str());
        }
    } else {
        std::string first = out.problems.empty() ? "not passing" : out.problems.front();
        std::printf("status    not passing yet (%s): %s", runs.c_str(), first.c_str());
        if (out.problems.size() > 1) {
            std::printf(" (and %zu more above)", out.problems.size() - 1);
        }
        std::printf("\n");
    }
    std::printf("progress  %s\n", progress_bar(m, ws).c_str());
    print_keys(keys, ws.copy_of(l));
}

}  // namespace

int cmd_watch(const manifest& m, const options& given, const std::string& name) {
    options o = given;
    o.in_watch = true;  // messages name the keys
    workspace ws(o.workspace);
    const lesson* l = nullptr;
    if (!name.empty()) {
        l = &m.find(name);
    } else if (!ws.current().empty() && !ws.done(ws.current())) {
        l = &m.find(ws.current());
    } else {
        l = first_pending(m, ws);
    }
    if (l == nullptr) {
        std::printf("every lesson is done. `%s list` shows them; `%s reset NAME` starts one "
                    "again.\n",
                    self_command().c_str(), self_command().c_str());
        return 0;
    }
    key_input keys;
    // Wall time on the current lesson, added to its progress in whole seconds each time the
    // state is saved (the remainder waits for the next save).
    auto mark = std::chrono::steady_clock::now();
    auto account = [&] {
        auto secs = std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::steady_clock::now() - mark);
        ws.add_watched(l->name, secs.count());
        mark += secs;
    };
    std::string note;  // said at the top of the next run
    for (;;) {
        ws.set_current(l->name);
        ws.ensure_copy(m, *l);
        account();
        ws.save();
        fs::path copy = ws.copy_of(*l);
        // The copy's time before the build and the run: a save made while they go on is a
        // change to run, not the starting point of the next wait.
        std::error_code ec;
        auto seen = fs::last_write_time(copy, ec);
        clear_screen();
        if (!note.empty()) {
            std::printf("%s\n\n", note.c_str());
            note.clear();
        }
        lesson_outcome out;
        try {
            out = run_lesson(m, o, ws, *l, false, false);
        } catch (const user_error& e) {
            std::printf("%s\n", e.what());  // a failed build: show it and keep watching
            out.problems = {"the build failed: the compiler's messages are above"};
        }
        account();
        ws.save();
        report_progress(m, ws);
        if (auto now = fs::last_write_time(copy, ec); !ec && now != seen) {
            note = display(copy) + " was saved during the run: running it again.";
            continue;
        }
        // Keys first: one typed as soon as the status shows must not be dropped as typed
        // during the run.
        keys.begin_keys();
        print_status(m, ws, *l, out, keys);

        enum class step { rerun, next, quit } what = step::rerun;
        auto saved_at = std::chrono::steady_clock::now();
        for (bool waiting = true; waiting;) {
            char key = keys.wait_key(250ms);
            if (auto now = fs::last_write_time(copy, ec); !ec && now != seen) {
                // Editors write in several steps; let the file settle.
                std::this_thread::sleep_for(150ms);
                break;
            }
            if (out.passed && keys.closed()) {
                what = step::next;  // nobody can press n: move on, as watch always did
                break;
            }
            if (std::chrono::steady_clock::now() - saved_at > 30s) {
                account();  // so that Ctrl-C loses at most this much of the time watched
                ws.save();
                saved_at = std::chrono::steady_clock::now();
            }
            switch (key) {
            case '\0':
                break;
            case 'r':
            case 'R':
                waiting = false;
                break;
            case 'n':
            case 'N':
                what = step::next;
                waiting = false;
                break;
            case 'q':
            case 'Q':
            case '\x04':  // Ctrl-D
                what = step::quit;
                waiting = false;
                break;
            case 'h':
            case 'H':
                account();
                ws.save();
                std::printf("\n");
                cmd_hint(m, o, l->name);
                ws = workspace(o.workspace);  // cmd_hint saved the level it showed
                print_keys(keys, copy);
                break;
            case 'l':
            case 'L':
                account();
                ws.save();
                clear_screen();
                cmd_list(m, o);
                print_status(m, ws, *l, out, keys);
                break;
            default:
                std::printf("'%c' is no key of watch: ", key);
                print_keys(keys, copy);
                break;
            }
        }
        keys.end_keys();
        account();
        ws.save();
        if (what == step::quit) {
            std::printf("stopped watching; `%s watch` goes on with %s.\n", self_command().c_str(),
                        l->name.c_str());
            return 0;
        }
        if (what == step::next) {
            const lesson* next = next_pending_after(m, ws, *l);
            if (next == nullptr) {
                std::printf("\nevery lesson is done. Well done!\n");
                return 0;
            }
            if (next == l) {
                note = "no other lesson is pending: running " + l->name + " again.";
            } else {
                note = std::string(out.passed ? "next"
                                              : "skipped " + l->name + " (still pending); next") +
                       ": " + next->name + " (" + next->title + "); edit " +
                       display(ws.copy_of(*next)) + ".";
                l = next;
            }
        }
    }
}

}  // namespace lessons
