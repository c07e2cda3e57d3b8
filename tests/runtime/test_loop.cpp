#include "support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using aio::test::run_test;
using aio::test::since_start;

TEST_CASE("call_soon callbacks run in FIFO order on the next iteration", "[loop]") {
    run_test([] {
        std::vector<int> log;
        auto& l = aio::get_running_loop();
        l.call_soon([&] { log.push_back(1); });
        l.call_soon([&] { log.push_back(2); });
        CHECK(log.empty());
        aio::sleep(0s);
        CHECK(log == std::vector<int>{1, 2});
    });
}

TEST_CASE("call_later and call_at run at their time", "[loop][time]") {
    run_test([] {
        std::vector<std::string> log;
        auto& l = aio::get_running_loop();
        l.call_later(20ms, [&] { log.push_back("later"); });
        l.call_at(l.time() + 10ms, [&] { log.push_back("at"); });
        aio::sleep(30ms);
        CHECK(log == std::vector<std::string>{"at", "later"});
    });
}

TEST_CASE("a cancelled handle never runs", "[loop]") {
    run_test([] {
        bool ran = false;
        auto& l = aio::get_running_loop();
        auto h = l.call_later(5ms, [&] { ran = true; });
        auto s = l.call_soon([&] { ran = true; });
        h.cancel();
        s.cancel();
        CHECK(h.cancelled());
        aio::sleep(10ms);
        CHECK_FALSE(ran);
        CHECK(since_start() < 20ms);
    });
}

TEST_CASE("an exception in a callback goes to the exception handler", "[loop]") {
    run_test([] {
        std::vector<std::string> seen;
        auto& l = aio::get_running_loop();
        l.set_exception_handler([&](aio::loop&, const aio::exception_context& c) {
            seen.push_back(c.message + ": " + aio::describe_exception(c.exception));
        });
        l.call_soon([] { throw std::runtime_error("cb"); });
        aio::sleep(0s);
        REQUIRE(seen.size() == 1);
        CHECK(seen[0] == "Exception in callback: std::runtime_error: cb");
        l.set_exception_handler({});
    });
}

TEST_CASE("call_soon_threadsafe wakes the loop from another thread", "[loop][thread]") {
    run_test(
        [] {
            auto& l = aio::get_running_loop();
            aio::event ev;
            std::thread th([&] {
                std::this_thread::sleep_for(5ms);
                l.call_soon_threadsafe([&] { ev.set(); });
            });
            ev.wait();
            th.join();
            CHECK(ev.is_set());
        },
        {.virtual_time = false});
}

TEST_CASE("call_soon_threadsafe after the loop closed is a usage error", "[loop][thread]") {
    // Once the close sequence has stopped taking callbacks (instruments' loop_closing runs
    // after that), a post is refused with a clear error instead of being lost.
    struct post_at_close : aio::instrument {
        std::string error;
        void loop_closing(aio::loop& l) noexcept override {
            try {
                l.call_soon_threadsafe([] {});
                error = "accepted";
            } catch (const aio::usage_error& e) {
                error = e.what();
            }
        }
    } probe;
    aio::run_options o;
    o.handle_signals = false;
    o.instruments.push_back(&probe);
    aio::run([] {}, o);
    CHECK_THAT(probe.error, Catch::Contains("call_soon_threadsafe: the loop is closed"));
}

TEST_CASE("loop statistics count tasks", "[loop]") {
    run_test([] {
        auto& l = aio::get_running_loop();
        auto before = l.stats();
        std::vector<aio::task<void>> ts;
        for (int i = 0; i < 10; ++i) {
            ts.push_back(aio::create_task([] { aio::sleep(1ms); }));
        }
        CHECK(l.stats().tasks_alive == before.tasks_alive + 10);
        aio::gather(ts);
        auto after = l.stats();
        CHECK(after.tasks_spawned == before.tasks_spawned + 10);
        CHECK(after.peak_tasks_alive >= 11);
        CHECK(after.tasks_alive == before.tasks_alive);
    });
}
