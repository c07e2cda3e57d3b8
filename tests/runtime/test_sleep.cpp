#include "support.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace std::chrono_literals;
using aio::test::run_test;
using aio::test::since_start;

TEST_CASE("sleeps end in deadline order", "[sleep][time]") {
    run_test([] {
        std::vector<std::string> log;
        auto a = aio::create_task([&] {
            aio::sleep(30ms);
            log.push_back("a");
        });
        auto b = aio::create_task([&] {
            aio::sleep(10ms);
            log.push_back("b");
        });
        auto c = aio::create_task([&] {
            aio::sleep(20ms);
            log.push_back("c");
        });
        a.get();
        b.get();
        c.get();
        CHECK(log == std::vector<std::string>{"b", "c", "a"});
        CHECK(since_start() >= 30ms);
    });
}

TEST_CASE("sleep(0) lets every other ready task run once", "[sleep]") {
    run_test([] {
        std::vector<int> log;
        auto a = aio::create_task([&] {
            for (int i = 0; i < 3; ++i) {
                log.push_back(i);
                aio::sleep(0s);
            }
        });
        auto b = aio::create_task([&] {
            for (int i = 10; i < 13; ++i) {
                log.push_back(i);
                aio::yield();
            }
        });
        a.get();
        b.get();
        CHECK(log == std::vector<int>{0, 10, 1, 11, 2, 12});
    });
}

TEST_CASE("sleep_until a past time comes back after one turn", "[sleep]") {
    run_test([] {
        auto& l = aio::get_running_loop();
        auto t0 = l.time();
        aio::sleep_until(t0 - 1s);
        aio::sleep_until(t0 + 5ms);
        CHECK(l.time() >= t0 + 5ms);
    });
}

TEST_CASE("real-time sleeps take about their duration", "[sleep][time]") {
    run_test(
        [] {
            auto& l = aio::get_running_loop();
            auto t0 = l.time();
            aio::sleep(20ms);
            auto took = l.time() - t0;
            CHECK(took >= 20ms);
            CHECK(took < 500ms);
        },
        {.virtual_time = false});
}

TEST_CASE("loop time is monotonic", "[sleep][time]") {
    run_test(
        [] {
            auto& l = aio::get_running_loop();
            auto prev = l.time();
            for (int i = 0; i < 100; ++i) {
                aio::sleep(0s);
                auto now = l.time();
                CHECK(now >= prev);
                prev = now;
            }
        },
        {.virtual_time = false});
}

TEST_CASE("sleep outside a task is a usage error", "[sleep]") {
    CHECK_THROWS_WITH(aio::sleep(1ms), Catch::Contains("inside a task"));
    aio::run_options o;
    o.handle_signals = false;
    aio::run(
        [] {
            auto& l = aio::get_running_loop();
            bool threw = false;
            l.call_soon([&] {
                try {
                    aio::sleep(1ms);
                } catch (const aio::usage_error& e) {
                    threw = std::string(e.what()).find("inside a task") != std::string::npos;
                }
            });
            aio::sleep(0s);
            aio::sleep(0s);
            CHECK(threw);
        },
        o);
}

TEST_CASE("a cancelled sleep leaves no timer behind", "[sleep][cancel]") {
    run_test([] {
        auto t = aio::create_task([] { aio::sleep(1h); });
        aio::sleep(0s);
        t.cancel();
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);
        // With the timer gone, virtual time does not jump an hour ahead.
        aio::sleep(1ms);
        CHECK(since_start() < 1s);
    });
}

TEST_CASE("sleep(no_timeout) sleeps until cancelled", "[sleep][cancel]") {
    run_test([] {
        auto t = aio::create_task([] { aio::sleep(aio::no_timeout); });
        aio::sleep(1h);
        CHECK_FALSE(t.done());
        t.cancel();
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);
    });
}
