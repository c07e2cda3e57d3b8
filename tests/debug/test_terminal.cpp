// What debug mode prints on stderr: one line per finding as it happens, then the summary with
// each finding once (errors first, ×N for repeats, the user's line, the fix); `verbose` gives
// the full form as it happens and the summary line alone.
#include "debug_run.hpp"
#include "stacks.hpp"

#include <aio/aio.hpp>

#include <catch2/catch.hpp>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using aio::test::debug_run;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        out.push_back(line);
    }
    return out;
}

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.rfind(prefix, 0) == 0;
}

// stderr before the summary line, and from it on.
std::pair<std::string, std::string> split_at_summary(const std::string& err) {
    auto at = err.find("aio debug: summary:");
    REQUIRE(at != std::string::npos);
    return {err.substr(0, at), err.substr(at)};
}

void wait_long() {
    for (;;) {            // a loop, not a tail call: the sleep's line stays on the stack
        aio::sleep(10s);  // pending when main returns
    }
}

// Three dropped handles on one line, one on another, and a task left pending at close: five
// findings at three places, none of them an error.
void three_places() {
    for (int i = 0; i < 3; ++i) {
        auto t = aio::create_task([] {});  // dropped three times
    }
    {
        auto t = aio::create_task([] {});  // dropped once
    }
    aio::create_task(wait_long).detach();
    aio::sleep(1ms);
}

}  // namespace

TEST_CASE("live, each finding is one line, printed once", "[debug][terminal]") {
    auto r = debug_run(three_places);
    auto [live, summary] = split_at_summary(r.err);
    auto lines = lines_of(live);
    // Two never-awaited places and the pending task: one header line each, nothing else.
    CHECK(lines.size() == 3);
    for (const auto& l : lines) {
        CHECK(starts_with(l, "aio debug: ["));
    }
    CHECK(r.count("never-awaited") == 4);
    CHECK(r.count("pending-at-close") == 1);
    CHECK_THAT(live, !Catch::Contains("why it hurts:") && !Catch::Contains("fix:"));
}

TEST_CASE("the summary shows each finding once with its line, its fix and ×N for repeats",
          "[debug][terminal]") {
    auto r = debug_run(three_places);
    auto [live, summary] = split_at_summary(r.err);
    INFO(r.err);
    CHECK(starts_with(summary, "aio debug: summary: 5 findings at 3 places (never-awaited 4, "
                               "pending-at-close 1); "));
    auto lines = lines_of(summary);
    std::size_t headers = 0;
    for (const auto& l : lines) {
        headers += starts_with(l, "  [") ? 1 : 0;
    }
    CHECK(headers == 3);
    CHECK_THAT(summary, Catch::Contains("\n  [never-awaited] \u00d73 task 'task-"));
    CHECK_THAT(summary, Catch::Contains("\n  [never-awaited] task 'task-"));
    // The user's line, marked as in the full form, and the fix with its lesson.
    CHECK_THAT(summary,
               Catch::Contains(" | " + std::string(8, ' ') +
                               "auto t = aio::create_task([] {});  // dropped three times"));
    CHECK_THAT(summary, Catch::Contains("      fix: keep the handle and call get() on it") &&
                            Catch::Contains("(lesson 10-fire-and-forget)"));
    // The pending task: where it waits in the header and its line; where it was created
    // (elsewhere) on a line of its own.
    CHECK_THAT(summary, Catch::Contains("\n  [pending-at-close] task 'task-"));
    CHECK_THAT(summary, Catch::Contains("aio::sleep(10s);  // pending when main returns"));
    CHECK_THAT(summary,
               Catch::Contains("\n      created at ") && Catch::Contains("test_terminal.cpp:"));
    // The rest is for verbose and the report.
    CHECK_THAT(summary, !Catch::Contains("why it hurts:") && !Catch::Contains("    task:") &&
                            !Catch::Contains("#1 "));
    // Last, where the full form is: the report here.
    CHECK(starts_with(lines.back(),
                      "aio debug: each finding in full (stacks, details, why it hurts): "));
    CHECK_THAT(lines.back(), Catch::Contains("aio-test-report-"));
}

TEST_CASE("the summary lists errors first, then warnings, each in the order seen",
          "[debug][terminal]") {
    auto r = debug_run([] {
        {
            auto t = aio::create_task([] {});  // never-awaited, a warning, seen first
        }
        aio::create_task([] { throw std::runtime_error("lost"); }).detach();
        aio::sleep(1ms);
    });
    auto [live, summary] = split_at_summary(r.err);
    auto error_at = summary.find("\n  [exception-never-retrieved] ");
    auto warning_at = summary.find("\n  [never-awaited] ");
    REQUIRE(error_at != std::string::npos);
    REQUIRE(warning_at != std::string::npos);
    CHECK(error_at < warning_at);
    CHECK(live.find("[never-awaited]") < live.find("[exception-never-retrieved]"));
}

TEST_CASE("verbose prints the full form as it happens and the summary line alone",
          "[debug][terminal]") {
    auto r = debug_run(three_places, "1,verbose");
    auto [live, summary] = split_at_summary(r.err);
    INFO(r.err);
    CHECK_THAT(live, Catch::Contains("aio debug: [never-awaited] task 'task-") &&
                         Catch::Contains("\n    task: 'task-") &&
                         Catch::Contains("\n    created at:\n      #0 ") &&
                         Catch::Contains("\n         > ") &&
                         Catch::Contains("\n    why it hurts: ") &&
                         Catch::Contains("\n    fix: ") &&
                         Catch::Contains("\n    lesson: 10-fire-and-forget\n"));
    // The summary line as without verbose before, and nothing after it.
    CHECK(lines_of(summary).size() == 1);
    CHECK(starts_with(summary, "aio debug: summary: 5 findings (never-awaited 4, "
                               "pending-at-close 1); "));
}

TEST_CASE("a program with no finding prints the summary line only", "[debug][terminal]") {
    auto r = debug_run([] {
        auto t = aio::create_task([] { return 1; });
        CHECK(t.get() == 1);
    });
    auto lines = lines_of(r.err);
    REQUIRE(lines.size() == 1);
    CHECK(starts_with(lines[0], "aio debug: summary: 0 findings; 2 tasks spawned, "));
}

TEST_CASE("a live line adds no duration its title already gives", "[debug][terminal]") {
    auto r = debug_run(
        [] {
            auto end = std::chrono::steady_clock::now() + 30ms;
            while (std::chrono::steady_clock::now() < end) {
            }
            aio::sleep(0s);
        },
        "slow=10ms,only=slow-callback");
    auto [live, summary] = split_at_summary(r.err);
    REQUIRE(r.count("slow-callback") == 1);
    auto lines = lines_of(live);
    REQUIRE(lines.size() == 1);
    CHECK_THAT(lines[0], Catch::Contains("held the loop for "));
    std::size_t durations = 0;
    for (auto at = lines[0].find(" ms"); at != std::string::npos;
         at = lines[0].find(" ms", at + 1)) {
        ++durations;
    }
    CHECK(durations == 1);
}

TEST_CASE("relative_paths shortens the paths under the working directory only",
          "[debug][terminal]") {
    using aio::debug::relative_paths;
    const std::string p = "/home/dev/shop/";
    CHECK(relative_paths("/home/dev/shop/src/a.cpp:3 (f)", p) == "src/a.cpp:3 (f)");
    CHECK(relative_paths("task 'x' at /home/dev/shop/a.cpp:3 (created at /home/dev/shop/b.cpp:4)",
                         p) == "task 'x' at a.cpp:3 (created at b.cpp:4)");
    // Inside a longer path, or a sibling directory: left alone.
    CHECK(relative_paths("/mnt/home/dev/shop/a.cpp", p) == "/mnt/home/dev/shop/a.cpp");
    CHECK(relative_paths("/home/dev/shopping/a.cpp", p) == "/home/dev/shopping/a.cpp");
    CHECK(relative_paths("/home/dev/shop/a.cpp", "") == "/home/dev/shop/a.cpp");
    const std::string here = aio::debug::working_directory_prefix();
    REQUIRE_FALSE(here.empty());
    CHECK(relative_paths(here + "x.cpp:1", here) == "x.cpp:1");
}
