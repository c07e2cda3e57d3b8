// cancel-swallowed names where the cancellation was delivered (the yield point inside the try)
// and where the task ran on after swallowing it, so the catch is found without reading the
// task; slow-callback names the line the watchdog sampled while the step ran.
#include "debug_run.hpp"

#include <aio/aio.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

using namespace std::chrono_literals;
using aio::test::debug_run;

namespace {

nlohmann::json only_finding(const aio::test::debug_result& r, const std::string& id) {
    const auto j = nlohmann::json::parse(r.report);
    for (const auto& f : j["findings"]) {
        if (f["id"] == id) {
            return f;
        }
    }
    return {};
}

__attribute__((noinline)) void spin(std::chrono::milliseconds how_long) {
    auto end = std::chrono::steady_clock::now() + how_long;
    while (std::chrono::steady_clock::now() < end) {
    }
}

}  // namespace

TEST_CASE("cancel-swallowed names the yield point the cancellation was delivered at and where "
          "the task ran on",
          "[debug][cancel-swallowed]") {
    auto r = debug_run([] {
        auto t = aio::create_task([] {
            try {
                aio::sleep(1h);  // DELIVERED HERE
            } catch (const aio::cancelled_error&) {
            }
            aio::sleep(1ms);  // RAN ON HERE
        });
        aio::sleep(1ms);
        t.cancel();
        t.get();
    });
    REQUIRE(r.count("cancel-swallowed") == 1);
    auto f = only_finding(r, "cancel-swallowed");
    REQUIRE_FALSE(f["culprit"].empty());
    const auto& at = f["culprit"][0];
    REQUIRE(at.contains("snippet"));
    CHECK_THAT(at["snippet"]["lines"][1].get<std::string>(), Catch::Contains("DELIVERED HERE"));
    CHECK_THAT(f["title"].get<std::string>(), Catch::Contains("swallowed its cancellation at ") &&
                                                  Catch::Contains("test_cancel_swallowed.cpp"));
    const int ran_on_line = at["line"].get<int>() + 3;
    CHECK_THAT(f["message"].get<std::string>(),
               Catch::Contains("after it the task ran on at ") &&
                   Catch::Contains("test_cancel_swallowed.cpp:" + std::to_string(ran_on_line)));
}

TEST_CASE("cancel-swallowed says when the task returned right after swallowing",
          "[debug][cancel-swallowed]") {
    auto r = debug_run([] {
        auto t = aio::create_task([] {
            try {
                aio::sleep(1h);
            } catch (...) {
            }
        });
        aio::sleep(1ms);
        t.cancel();
        t.get();
    });
    REQUIRE(r.count("cancel-swallowed") == 1);
    CHECK_THAT(only_finding(r, "cancel-swallowed")["message"].get<std::string>(),
               Catch::Contains("after it the task ran on to its return"));
}

TEST_CASE("cancel-swallowed stays silent for async cleanup that rethrows",
          "[debug][cancel-swallowed]") {
    auto r = debug_run([] {
        auto t = aio::create_task([] {
            try {
                aio::sleep(1h);
            } catch (const aio::cancelled_error&) {
                // Cleanup that waits is allowed (asyncio: await in an except block) ...
                aio::shield([] { aio::sleep(1ms); });
                throw;  // ... as long as the cancellation goes on
            }
        });
        aio::sleep(1ms);
        t.cancel();
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);
    });
    CHECK(r.count("cancel-swallowed") == 0);
}

TEST_CASE("slow-callback names the line sampled while the step ran, and where it ended",
          "[debug][slow-callback]") {
    auto r = debug_run(
        [] {
            auto t = aio::create_task([] {
                spin(150ms);      // SAMPLED HERE
                aio::sleep(1ms);  // the step ends here
            });
            t.get();
        },
        "slow=20ms,stall=40ms,only=slow-callback+stall");
    REQUIRE(r.count("slow-callback") == 1);
    auto f = only_finding(r, "slow-callback");
    REQUIRE_FALSE(f["culprit"].empty());
    bool spin_named = false;
    for (const auto& fr : f["culprit"]) {
        spin_named =
            spin_named || fr["function"].get<std::string>().find("spin") != std::string::npos;
    }
    CHECK(spin_named);
    CHECK_THAT(f["message"].get<std::string>(),
               Catch::Contains("the line above was sampled while the step ran") &&
                   Catch::Contains("the step ended at ") &&
                   Catch::Contains("test_cancel_swallowed.cpp"));
}

TEST_CASE("cancel-swallowed stays silent when aio::every and aio::retry are cancelled",
          "[debug][cancel-swallowed][every][retry]") {
    auto r = debug_run([] {
        auto periodic = aio::create_task([] { aio::every(5ms, [] { aio::sleep(1ms); }); });
        auto retrying = aio::create_task([] {
            return aio::retry(
                []() -> int {
                    aio::sleep(2ms);
                    throw std::runtime_error("flaky");
                },
                {.attempts = 1000, .backoff = 1ms, .multiplier = 1});
        });
        aio::sleep(20ms);
        periodic.cancel();
        retrying.cancel();
        periodic.wait_done();
        retrying.wait_done();
        CHECK(periodic.cancelled());
        CHECK(retrying.cancelled());
    });
    CHECK(r.count("cancel-swallowed") == 0);
}
