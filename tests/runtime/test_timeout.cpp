#include "support.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>

using namespace std::chrono_literals;
using aio::test::run_test;
using aio::test::since_start;

TEST_CASE("timeout returns the function's value when it is in time", "[timeout]") {
    run_test([] {
        CHECK(aio::timeout(10ms, [] {
                  aio::sleep(5ms);
                  return 1;
              }) == 1);
        CHECK(aio::current_task().cancelling() == 0);
    });
}

TEST_CASE("timeout raises timeout_error saying how long it waited", "[timeout]") {
    run_test([] {
        CHECK_THROWS_WITH(aio::timeout(250ms, [] { aio::sleep(1h); }), "timed out after 250 ms");
        CHECK(since_start() >= 250ms);
        CHECK(since_start() < 300ms);
        CHECK(aio::current_task().cancelling() == 0);
        aio::sleep(1ms);  // the task is not left cancelled
    });
}

TEST_CASE("durations in messages are rounded before their unit is chosen: 1 s, not 1e+03 ms",
          "[timeout]") {
    // A real-clock timeout of 1 s enters a few nanoseconds after its deadline was computed.
    CHECK(aio::format_duration(999'999'990ns) == "1 s");
    CHECK(aio::format_duration(999'600us) == "1 s");
    CHECK(aio::format_duration(1500ms) == "1.5 s");
    CHECK(aio::format_duration(500ms) == "500 ms");
    CHECK(aio::format_duration(212'400us) == "212 ms");
    CHECK(aio::format_duration(999'700ns) == "1 ms");
    CHECK(aio::format_duration(40us) == "40 us");
    CHECK(aio::format_duration(999ns) == "999 ns");
    CHECK(aio::format_duration(3600s) == "3600 s");
    CHECK(aio::format_duration(-1500ms) == "-1.5 s");
}

TEST_CASE("timeout_error is a runtime_error, not a cancellation", "[timeout]") {
    STATIC_REQUIRE(std::is_base_of_v<std::runtime_error, aio::timeout_error>);
}

TEST_CASE("timeout_at uses an absolute deadline", "[timeout]") {
    run_test([] {
        auto when = aio::get_running_loop().time() + 30ms;
        CHECK_THROWS_AS(aio::timeout_at(when, [] { aio::sleep(1h); }), aio::timeout_error);
        CHECK(aio::get_running_loop().time() >= when);
    });
}

TEST_CASE("no_timeout disables the deadline", "[timeout]") {
    run_test([] {
        aio::timeout(aio::no_timeout, [](aio::timeout_scope& s) {
            CHECK(s.when() == aio::no_deadline);
            aio::sleep(1h);
        });
        CHECK(since_start() >= 1h);
    });
}

TEST_CASE("nested timeouts: the inner one fires first and is handled inside", "[timeout]") {
    run_test([] {
        bool inner_timed_out = false;
        aio::timeout(100ms, [&] {
            try {
                aio::timeout(10ms, [] { aio::sleep(1h); });
            } catch (const aio::timeout_error&) {
                inner_timed_out = true;
            }
            aio::sleep(5ms);  // the outer scope is still running and not cancelled
        });
        CHECK(inner_timed_out);
    });
}

TEST_CASE("nested timeouts: the outer one fires and passes through the inner", "[timeout]") {
    run_test([] {
        bool inner_saw_timeout = false;
        CHECK_THROWS_WITH(aio::timeout(10ms,
                                       [&] {
                                           try {
                                               aio::timeout(100ms, [] { aio::sleep(1h); });
                                           } catch (const aio::timeout_error&) {
                                               inner_saw_timeout = true;
                                           }
                                       }),
                          Catch::Contains("10 ms"));
        CHECK_FALSE(inner_saw_timeout);  // the inner scope let the outer's cancellation through
    });
}

TEST_CASE("an outer cancel inside a timeout stays a cancellation", "[timeout][cancel]") {
    run_test([] {
        auto t = aio::create_task([] { aio::timeout(1h, [] { aio::sleep(1h); }); });
        aio::sleep(1ms);
        t.cancel();
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);
        CHECK(t.cancelled());
    });
}

TEST_CASE("both a timeout and an outer cancel: the outer cancel wins", "[timeout][cancel]") {
    run_test([] {
        auto t = aio::create_task([] {
            aio::timeout(10ms, [] {
                try {
                    aio::sleep(1h);
                } catch (const aio::cancelled_error&) {
                    aio::sleep(20ms);  // meanwhile someone else cancels the task too
                    throw;
                }
            });
        });
        aio::sleep(15ms);
        t.cancel();
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);
    });
}

TEST_CASE("a timeout scope can be rescheduled", "[timeout]") {
    run_test([] {
        aio::timeout(10ms, [](aio::timeout_scope& s) {
            s.reschedule(aio::get_running_loop().time() + 50ms);
            aio::sleep(30ms);  // past the first deadline, within the new one
            CHECK_FALSE(s.expired());
        });
        CHECK_THROWS_AS(aio::timeout(aio::no_timeout,
                                     [](aio::timeout_scope& s) {
                                         s.reschedule(aio::get_running_loop().time() + 5ms);
                                         aio::sleep(1h);
                                     }),
                        aio::timeout_error);
    });
}

TEST_CASE("rescheduling an expired scope is an error", "[timeout]") {
    run_test([] {
        aio::timeout_scope* seen = nullptr;
        CHECK_THROWS_AS(aio::timeout(1ms,
                                     [&](aio::timeout_scope& s) {
                                         seen = &s;
                                         try {
                                             aio::sleep(1h);
                                         } catch (const aio::cancelled_error&) {
                                             CHECK(s.expired());
                                             CHECK_THROWS_AS(s.reschedule(aio::no_deadline),
                                                             aio::invalid_state_error);
                                             throw;
                                         }
                                     }),
                        aio::timeout_error);
        CHECK(seen != nullptr);
    });
}

TEST_CASE("a timeout that expires after the function returned changes nothing", "[timeout]") {
    run_test(
        [] {
            // The deadline passes while the function runs without reaching a yield point; the
            // cancellation is withdrawn at exit and the value is kept.
            int v = aio::timeout(1ms, [] {
                auto& l = aio::get_running_loop();
                auto end = std::chrono::steady_clock::now() + 3ms;
                while (std::chrono::steady_clock::now() < end) {
                }
                (void)l;
                return 5;
            });
            CHECK(v == 5);
            aio::sleep(5ms);
        },
        {.virtual_time = false});
}

TEST_CASE("cancelling a task inside nested timeouts is a cancellation, not a timeout",
          "[timeout][cancel]") {
    run_test([] {
        bool saw_timeout = false;
        auto t = aio::create_task([&] {
            try {
                aio::timeout(1h, [] { aio::timeout(30min, [] { aio::sleep(2h); }); });
            } catch (const aio::timeout_error&) {
                saw_timeout = true;
            }
        });
        aio::sleep(1ms);
        t.cancel("shutdown");
        CHECK_THROWS_WITH(t.get(), "aio::cancelled_error: shutdown");
        CHECK_FALSE(saw_timeout);
        CHECK(t.cancelled());
    });
}
