#include "debug_run.hpp"

#include <aio/aio.hpp>

#include <catch2/catch.hpp>

#include <cmath>

#include <nlohmann/json.hpp>

using namespace std::chrono_literals;
using aio::test::debug_run;

namespace {

// A CPU loop that never yields: the stall's culprit line must be in here.
__attribute__((noinline)) double calc_pi(std::chrono::milliseconds how_long) {
    double pi = 0;
    auto end = std::chrono::steady_clock::now() + how_long;
    for (long k = 0; std::chrono::steady_clock::now() < end; ++k) {
        pi += (k % 2 == 0 ? 4.0 : -4.0) / static_cast<double>(2 * k + 1);
    }
    return pi;
}

}  // namespace

TEST_CASE("stall: the stack is captured inside the blocking code while it blocks",
          "[debug][stall]") {
    auto r = debug_run(
        [] {
            auto t = aio::create_task(aio::task_options{.name = "worker"},
                                      [] { return calc_pi(500ms); });
            CHECK(t.get() > 3.0);
        },
        "stall=50ms,only=stall");
    REQUIRE(r.count("stall") == 1);
    CHECK_THAT(r.err, Catch::Contains("[stall] loop blocked") &&
                          Catch::Contains("so far in task 'worker'"));
    auto j = nlohmann::json::parse(r.report);
    auto f = j["findings"][0];
    CHECK(f["duration_ms"].get<double>() >= 500);
    CHECK(f["task"]["name"] == "worker");
    REQUIRE_FALSE(f["culprit"].empty());
    CHECK_THAT(f["culprit"][0]["function"].get<std::string>(), Catch::Contains("calc_pi"));
    CHECK(j["run"]["longest_stall_ms"].get<double>() >= 500);
}

TEST_CASE("stall stays silent when every step is short", "[debug][stall]") {
    auto r = debug_run(
        [] {
            for (int i = 0; i < 20; ++i) {
                calc_pi(2ms);
                aio::sleep(0s);
            }
        },
        "stall=50ms,only=stall");
    CHECK(r.count("stall") == 0);
}
