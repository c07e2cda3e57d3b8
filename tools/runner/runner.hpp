// The lesson runner's pieces. Map:
//   manifest.cpp  lessons/lessons.toml -> lesson records; lesson names, closest match
//   state.cpp     the workspace: participants' copies, progress (.lessons-state.toml)
//   process.cpp   builds (cmake --build) and runs one lesson program with a time limit
//   report.cpp    reads the debug report (JSON), judges a run against the lesson's expectations
//   commands.cpp  list, run, hint, verify, reset, solution; one run of a lesson (run_lesson)
//   watch.cpp     watch: re-run on save, a status, single keys (terminal.cpp: raw keys)
//   progress.cpp  progress --json, the report to a collector, the collector (progress --serve)
//   main.cpp      the command line (CLI11)
// Lessons run as child processes, never inside the runner. Only the progress report and the
// collector use aio itself (its HTTP client and server, aio::runtime without debug mode).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace lessons {

namespace fs = std::filesystem;

/// A problem the user can fix (unknown name, missing compiler, failed build...). main() prints
/// "lessons: <what()>" and exits with status 2.
class user_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// What one program of a lesson (broken or fixed) must do.
struct expectation {
    /// broken: the finding ids the report must hold, exactly (no more, no fewer).
    /// fixed: the finding ids that must not appear.
    std::vector<std::string> findings;
    /// Substrings that must appear in stdout, each on its own line, in this order.
    std::vector<std::string> output;
    /// Substrings that must appear on no stdout line (lessons.toml `forbidden_output`): the
    /// scaffold's verdict lines for the pitfall ("updates were lost"), so that a fix that
    /// still shows the pitfall fails even when it also prints the lines `output` wants.
    std::vector<std::string> forbidden_output;
    /// lessons.toml `hangs = true`: the program must still be running at the time limit (a
    /// lesson whose pitfall is a hang that nothing inside the program ends, as lesson 24's
    /// deadlock). Its `output` lines are checked on what it printed before it was killed;
    /// findings are not (a killed program writes no report).
    bool hangs = false;
};

/// One [[lesson]] of lessons.toml.
struct lesson {
    std::string name;  ///< the folder, "01-yield-points"
    std::string title;
    std::vector<std::string> hints;  ///< questions, one level each
    expectation broken;
    expectation fixed;
    std::chrono::milliseconds time_limit{10000};
    bool asan = true;  ///< false: skipped by verify in sanitizer builds (says why)
    std::string asan_note;

    /// "01" from "01-yield-points".
    [[nodiscard]] std::string number() const { return name.substr(0, 2); }
    /// "yield-points" from "01-yield-points".
    [[nodiscard]] std::string slug() const { return name.size() > 3 ? name.substr(3) : name; }
};

/// Every lesson of lessons.toml, in file order.
struct manifest {
    fs::path source_dir;  ///< the repository
    std::vector<lesson> lessons;

    /// Reads `source_dir/lessons/lessons.toml`. Throws user_error naming the file, the line and
    /// what is wrong when it does not parse or a field is missing or of the wrong type.
    static manifest load(const fs::path& source_dir);
    /// The lesson called `name`: its folder name ("01-yield-points"), its number ("01" or "1"),
    /// its slug ("yield-points", as debug mode's `lesson` field gives it) or a prefix of one of
    /// these that matches a single lesson. Throws user_error otherwise: for a number, naming the
    /// numbers there are; for a name, with the closest name when it is close for its length.
    [[nodiscard]] const lesson& find(const std::string& name) const;
    /// The lesson numbers for a message: "numbered 01 to 23" (runs of numbers as ranges).
    [[nodiscard]] std::string numbers() const;
    /// The folder of a lesson: source_dir/lessons/<name>.
    [[nodiscard]] fs::path dir(const lesson& l) const { return source_dir / "lessons" / l.name; }
};

/// A program of tests/lessons/NN-slug/: a whole variant of broken.cpp as a participant could
/// write it. `right-<what>.cpp` is a correct fix the lesson must accept; `wrong-<what>.cpp` a
/// known wrong fix it must reject. Each file starts with a comment saying which (and why).
struct variant {
    std::string stem;  ///< "right-lock", "wrong-detach-and-sleep"
    bool right = false;
    fs::path source;
    std::string why;  ///< the file's leading comment, joined into one line
};

/// The variants of a lesson, sorted by stem: right-*.cpp and wrong-*.cpp in
/// source_dir/tests/lessons/<name>/ (none when the folder does not exist).
std::vector<variant> variants_of(const manifest& m, const lesson& l);
/// The program of a variant: build_dir()/tests/lessons/<name>/<stem>.
fs::path variant_path(const lesson& l, const variant& v);
/// The CMake target of a variant: lesson_NN_variant_<stem> with '-' as '_'.
std::string variant_target(const lesson& l, const variant& v);

/// Edit distance (for "did you mean"): insertions, deletions, substitutions and swaps of two
/// adjacent letters count one each (optimal string alignment).
std::size_t edit_distance(const std::string& a, const std::string& b);

/// What the workspace keeps of one lesson (.lessons-state.toml; a key missing from an older
/// state file reads as 0/false).
struct lesson_progress {
    bool done = false;
    int hints = 0;               ///< hint levels shown
    int attempts = 0;            ///< runs of the participant's copy (a failed build counts)
    std::int64_t first_run = 0;  ///< Unix time of the first run; 0: never run
    std::int64_t passed_at = 0;  ///< Unix time it first passed; 0: not yet
    std::int64_t watched = 0;    ///< seconds `watch` spent on it (wall time, summed)
};

/// The participant's folder: copies of broken.cpp and progress.
class workspace {
public:
    /// Opens (does not create) the workspace at `root`; reads its state file if there is one.
    explicit workspace(fs::path root);

    [[nodiscard]] const fs::path& root() const { return root_; }
    /// The participant's copy of a lesson: root/<name>.cpp.
    [[nodiscard]] fs::path copy_of(const lesson& l) const { return root_ / (l.name + ".cpp"); }
    /// Where `run` writes the lesson's debug report: root/reports/<name>.json.
    [[nodiscard]] fs::path report_of(const lesson& l) const {
        return root_ / "reports" / (l.name + ".json");
    }
    /// Creates the copy from the shipped broken.cpp unless it exists. Returns true if created.
    bool ensure_copy(const manifest& m, const lesson& l);
    /// Overwrites the copy with broken.cpp and forgets the lesson's progress and hints. A copy
    /// that differs from broken.cpp is first kept as root/backups/<name>.<N>.cpp, N one above
    /// the highest backup of that lesson (never overwriting one). Returns that backup's path,
    /// or an empty path when there was nothing to keep.
    fs::path reset(const manifest& m, const lesson& l);

    [[nodiscard]] bool done(const std::string& name) const;
    /// Marks the lesson done or not; the first time it becomes done also records when.
    void set_done(const std::string& name, bool done);
    /// The lesson's progress (all zero when it has none).
    [[nodiscard]] lesson_progress progress_of(const std::string& name) const;
    /// Counts one run of the participant's copy, at Unix time `now` (the first one also sets
    /// first_run).
    void record_run(const std::string& name, std::int64_t now);
    /// Adds `seconds` of watching to the lesson (negative values are ignored).
    void add_watched(const std::string& name, std::int64_t seconds);
    /// Hint levels already shown.
    [[nodiscard]] int hints_shown(const std::string& name) const;
    void set_hints_shown(const std::string& name, int n);
    /// The lesson `watch` works on ("" when none was chosen yet).
    [[nodiscard]] std::string current() const { return current_; }
    void set_current(const std::string& name) { current_ = name; }
    /// Writes root/.lessons-state.toml (creating the folder).
    void save() const;

private:
    void create_root() const;
    fs::path root_;
    std::string current_;
    std::map<std::string, lesson_progress> progress_;
};

/// What became of one run of a lesson program.
struct run_result {
    bool started = false;    ///< false: the program could not be started (see `error`)
    bool timed_out = false;  ///< killed at the time limit
    int exit_code = -1;      ///< when it exited
    int signal = 0;          ///< when a signal ended it
    std::string out;         ///< stdout
    std::string err;         ///< stderr
    /// Seconds the program ran (when it hung: until the time limit, without the inspection).
    double seconds = 0;
    std::string error;
    /// When it hung and the request asked for it (inspect_hang): what `aio pstree PID` printed
    /// about the still running program, its await tree. Empty otherwise.
    std::string tasks;
    /// When it hung and the request asked for it: one line saying why there is no tree (the
    /// aio tool is not built, it failed, it took longer than 5 s). Empty otherwise.
    std::string tasks_error;
};

/// How to run a program.
struct run_request {
    fs::path program;
    std::chrono::milliseconds time_limit{10000};
    /// ASYNC_DEBUG for the child; nullopt removes ASYNC_DEBUG from its environment.
    std::optional<std::string> debug;
    /// Copy the program's stdout and stderr to ours as they come.
    bool live = false;
    /// At the time limit, before the kill, run `aio pstree PID` on the program (the aio tool
    /// of the build tree, inspect_tool()) for at most 5 s and keep what it prints in
    /// run_result::tasks, so that a participant sees what the hung program's tasks wait for.
    bool inspect_hang = false;
};

/// Runs the program in its own process group, capturing stdout and stderr; at the time limit
/// the whole group is killed (SIGKILL), after inspecting it when the request asks for it.
/// Ctrl-C in the runner also ends the group. The program may be traced by the runner and its
/// children (PR_SET_PTRACER on Linux), so that the aio tool can attach to it where Yama's
/// ptrace_scope is 1.
run_result run_program(const run_request& r);

/// The aio tool (aio ps, aio pstree, aio where) of the build tree: build_dir()/tools/inspect/aio.
fs::path inspect_tool();

/// Builds CMake targets of the runner's build tree with `cmake --build`. Throws user_error when
/// CMake or the compiler is missing, or (with the compiler output) when the build fails.
/// Returns the compiler's output (without Ninja's progress lines) when it built something that
/// warned ("" otherwise).
std::string build_targets(const std::vector<std::string>& targets);

/// Points the build tree's workspace stub of `l` at `copy` (rewritten only if it changed, so
/// an unchanged copy is not rebuilt).
void point_workspace_stub(const lesson& l, const fs::path& copy);

/// Whether the workspace program of `l` may have been built from other content than `copy`
/// holds now. The runner keeps, beside the stub, the copy as the last successful build was
/// given it (workspace.built.cpp, see remember_workspace_build). When that differs from the
/// copy, the stub's time is set to now, so that the next build compiles the copy even when
/// its time is older than the program's (a save made while the previous build ran: Ninja
/// judges by times). Returns true then; false when they match or nothing is remembered.
bool workspace_program_stale(const lesson& l, const fs::path& copy);
/// Records `content` (the copy as read before a build that then succeeded) as what the
/// workspace program of `l` was built from.
void remember_workspace_build(const lesson& l, const std::string& content);
/// The whole content of a file ("" when it cannot be read).
std::string read_file(const fs::path& p);

/// The build tree the lesson programs live in: $AIO_LESSONS_BUILD_DIR when set (the runner's
/// tests point it at a tree of stand-in programs), else the tree this runner was built in.
fs::path build_dir();

/// The time limit of a run of `l`: its lessons.toml time_limit, or $AIO_LESSONS_TIME_LIMIT
/// (seconds, for the runner's tests) when that is set to a number above 0.
std::chrono::milliseconds time_limit_of(const lesson& l);

/// The program of a lesson: "broken", "fixed" or "workspace".
fs::path program_path(const lesson& l, const std::string& kind);
/// The CMake target of a lesson program: lesson_NN_<kind>.
std::string target_name(const lesson& l, const std::string& kind);

/// One finding of a debug report.
struct finding {
    std::string id;
    std::string severity;
    std::string title;
    std::string fix;
    int count = 1;
};

/// A debug report (only what the runner shows and checks).
struct report {
    bool present = false;  ///< false: no report was written
    std::vector<finding> findings;
    std::map<std::string, int> counts;
};

/// Reads a report written by ASYNC_DEBUG=report=PATH. A missing file gives present=false; a
/// file that does not parse throws user_error.
report read_report(const fs::path& path);

/// The verdict on one run: empty when it did what the lesson expects, else the problems, most
/// telling first: how the program ended (start failure, hang, signal, exit status; with
/// `hangs`, not hanging is the problem and a hang skips the findings), then
/// forbidden output lines (the scaffold's own verdicts), then findings, then missing lines.
/// `kind` "broken" checks the broken expectation; "fixed" and "workspace" the fixed one.
/// `with_debug` false skips the findings checks.
std::vector<std::string> judge(const lesson& l, const std::string& kind, const run_result& r,
                               const report& rep, bool with_debug);

/// After a run under debug mode: says so when the program wrote no report. Nothing otherwise:
/// debug mode's summary, on the program's stderr just above, already lists each finding once
/// with its line and fix, and names the report.
void print_findings(const report& rep);

/// Options shared by the commands.
struct options {
    fs::path workspace;
    bool build = true;  ///< false: use the programs already built (--no-build; CI)
    /// Inside `watch`: messages name its keys ("press h") instead of commands to type.
    bool in_watch = false;
};

/// What one run of a lesson came to (run_lesson).
struct lesson_outcome {
    bool passed = false;
    std::vector<std::string> problems;  ///< what was not met, first first; empty when passed
};

/// Builds and runs the participant's copy (or with `fixed` the shipped fix), shows its output
/// as it comes, judges it and prints the verdict. A run of the copy counts as an attempt and a
/// pass under debug mode marks the lesson done, in `ws` (the caller saves it). Throws
/// user_error when the build fails (the attempt is counted first).
lesson_outcome run_lesson(const manifest& m, const options& o, workspace& ws, const lesson& l,
                          bool fixed, bool no_debug);
/// The first lesson not done, or nullptr.
const lesson* first_pending(const manifest& m, const workspace& ws);
/// The next lesson not done after `cur`, wrapping around to the first; nullptr when all are.
const lesson* next_pending_after(const manifest& m, const workspace& ws, const lesson& cur);
/// A path as the user should type it: relative to the working directory when under it.
std::string display(const fs::path& p);

int cmd_list(const manifest& m, const options& o);
int cmd_run(const manifest& m, const options& o, const std::string& name, bool fixed,
            bool no_debug);
int cmd_hint(const manifest& m, const options& o, const std::string& name);
/// verify: runs each lesson's shipped programs (broken must give exactly its findings and
/// lines, fixed none of its forbidden ones), two at a time. With `variants`, runs instead the
/// lesson's tests/lessons/ variants as a participant's copy is judged ("workspace"): every
/// right-* must pass and every wrong-* must fail; each line says which, and why.
int cmd_verify(const manifest& m, const options& o, const std::vector<std::string>& names,
               bool json, bool variants = false);
int cmd_watch(const manifest& m, const options& o, const std::string& name);
int cmd_reset(const manifest& m, const options& o, const std::string& name);
int cmd_solution(const manifest& m, const options& o, const std::string& name);

/// "tools/lessons" when run through the script, else the runner's own path: what to tell the
/// user to type.
std::string self_command();

}  // namespace lessons
