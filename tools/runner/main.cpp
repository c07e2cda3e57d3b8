// tools/lessons: a rustlings-style runner for aio's lessons. `tools/lessons --help` lists the
// commands; docs/workshop.md is the facilitator's guide.
#include "paths.hpp"
#include "progress.hpp"
#include "runner.hpp"

#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
    using namespace lessons;
    // Line by line, also into a pipe, so our lines and the lesson's interleave in order.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    CLI::App app{"aio lessons: watch an async pitfall happen, read what debug mode says, fix it.\n"
                 "Edit your copy in the workspace folder; the shipped lessons/ stay as they are.",
                 self_command()};
    app.require_subcommand(0, 1);

    options o;
    const char* env_ws = std::getenv("AIO_LESSONS_WORKSPACE");
    std::string ws = env_ws != nullptr && *env_ws != '\0' ? env_ws : paths::workspace;
    app.add_option("--workspace", ws,
                   "folder with your copies and progress (default: $AIO_LESSONS_WORKSPACE or " +
                       std::string(paths::workspace) + ")");
    bool no_build = false;
    app.add_flag("--no-build", no_build,
                 "use the lesson programs already built instead of building them first");

    std::string name;
    auto* list = app.add_subcommand("list", "every lesson, with done/pending marks and progress");
    auto* run = app.add_subcommand(
        "run", "build your copy of a lesson and run it under debug mode; PASSED marks it done");
    run->add_option("name", name, "lesson: 01, yield-points or 01-yield-points")->required();
    bool fixed = false;
    bool no_debug = false;
    run->add_flag("--fixed", fixed, "run the shipped fix instead of your copy");
    run->add_flag("--no-debug", no_debug, "run without ASYNC_DEBUG (no findings, no check)");
    auto* hint = app.add_subcommand("hint", "the next hint for a lesson (one level per call)");
    hint->add_option("name", name, "lesson")->required();
    auto* verify = app.add_subcommand(
        "verify", "check the shipped programs: broken gives exactly its findings, fixed none");
    std::vector<std::string> names;
    bool all = false;
    bool json = false;
    verify->add_option("names", names, "lessons to check (default: all)");
    verify->add_flag("--all", all, "check every lesson (the default when no name is given)");
    verify->add_flag("--json", json, "print the results as JSON");
    bool variants = false;
    verify->add_flag("--variants", variants,
                     "run the fixes of tests/lessons/ instead: right-* must pass, wrong-* fail");
    auto* watch = app.add_subcommand(
        "watch", "run the current lesson, again on each save of your copy; keys: h hint, n next, "
                 "r re-run, l list, q quit");
    watch->add_option("name", name, "lesson to start with (default: the current one)");
    auto* reset = app.add_subcommand(
        "reset", "put the shipped broken.cpp back in your copy (yours goes to backups/)");
    reset->add_option("name", name, "lesson")->required();
    auto* solution = app.add_subcommand("solution", "show the shipped fix (once your copy passes)");
    solution->add_option("name", name, "lesson")->required();

    auto* progress = app.add_subcommand(
        "progress", "your progress (runs, hints, time per lesson); --serve: the room's collector");
    bool serve = false;
    std::string host = "0.0.0.0";
    int port = 8765;
    progress->add_flag("--json", json, "print it as JSON (what is sent to a collector)");
    progress->add_flag("--serve", serve,
                       "run the collector: participants' runners report to it when "
                       "AIO_LESSONS_REPORT=http://HOST:PORT is set; open http://HOST:PORT/");
    progress->add_option("--host", host, "with --serve: the address to listen on")
        ->capture_default_str();
    progress->add_option("--port", port, "with --serve: the port (0: a free one)")
        ->capture_default_str();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    o.workspace = ws;
    o.build = !no_build;

    try {
        manifest m = manifest::load(paths::source_dir);
        if (*list) {
            return cmd_list(m, o);
        }
        if (*run) {
            return cmd_run(m, o, name, fixed, no_debug);
        }
        if (*hint) {
            return cmd_hint(m, o, name);
        }
        if (*verify) {
            if (all && !names.empty()) {
                throw user_error("verify: give lesson names or --all, not both");
            }
            return cmd_verify(m, o, names, json, variants);
        }
        if (*watch) {
            return cmd_watch(m, o, name);
        }
        if (*progress) {
            if (serve && json) {
                throw user_error("progress: --serve and --json do not go together");
            }
            if (!serve && (progress->count("--port") > 0 || progress->count("--host") > 0)) {
                throw user_error("progress: --host and --port go with --serve");
            }
            return serve ? cmd_progress_serve(m, host, port) : cmd_progress(m, o, json);
        }
        if (*reset) {
            return cmd_reset(m, o, name);
        }
        if (*solution) {
            return cmd_solution(m, o, name);
        }
        // No command: what a newcomer needs.
        cmd_list(m, o);
        std::string cmd = self_command();
        std::printf("\nStart here:\n"
                    "  %s watch        runs the current lesson and re-runs it each time you save\n"
                    "  %s run 01       one run of lesson 01 (your copy), checked by debug mode\n"
                    "  %s hint 01      a hint, one level at a time\n"
                    "  %s --help       every command\n"
                    "Each lesson's README.md (lessons/NN-slug/) explains the pitfall; "
                    "docs/workshop.md is the facilitator's guide.\n",
                    cmd.c_str(), cmd.c_str(), cmd.c_str(), cmd.c_str());
        return 0;
    } catch (const user_error& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "lessons: error: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "lessons: internal error: %s\n", e.what());
        return 2;
    }
}
