// aio::every: a periodic run on a fixed grid of loop time, one run at a time, missed ticks
// skipped, cancellation untouched. Virtual time: the intervals cost nothing.
#include "support.hpp"

#include <aio/every.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <vector>

using namespace std::chrono_literals;
using aio::test::run_test;

namespace {

// Counts the deliveries of a cancellation that a task went on after (what debug mode's
// cancel-swallowed detector reports).
struct swallow_watch : aio::instrument {
    int ran_on = 0;
    void ran_on_after_cancel(const aio::task_ref&) noexcept override { ++ran_on; }
};

}  // namespace

TEST_CASE("every runs on the grid without drift when the body takes 30 % of the interval",
          "[every][time]") {
    run_test([] {
        auto& l = aio::get_running_loop();
        const auto start = l.time();
        std::vector<aio::duration> late;  // start of each run minus its grid point
        int runs = 0;
        aio::every(100ms, [&](const aio::tick& t) {
            late.push_back(l.time() - (start + 100ms * static_cast<int>(t.number)));
            CHECK(t.scheduled == start + 100ms * static_cast<int>(t.number));
            CHECK(t.skipped == 0);
            aio::sleep(30ms);
            return ++runs < 100;
        });
        REQUIRE(late.size() == 100);
        for (auto d : late) {
            CHECK(d == 0ms);
        }
        // The 100th run (tick 99) started at 9.9 s and took 30 ms: a sleep-after-run loop
        // would have ended at 100 × 130 ms = 13 s.
        CHECK(l.time() - start == 9930ms);
    });
}

TEST_CASE("every skips the ticks an overrun missed and goes on on the grid", "[every][time]") {
    run_test([] {
        auto& l = aio::get_running_loop();
        const auto start = l.time();
        std::vector<aio::tick> ticks;
        std::vector<aio::duration> at;
        aio::every(100ms, [&](const aio::tick& t) {
            ticks.push_back(t);
            at.push_back(l.time() - start);
            if (t.number == 1) {
                aio::sleep(250ms);  // 2.5 intervals: ticks 2 and 3 are missed
            }
            return ticks.size() < 4;
        });
        REQUIRE(ticks.size() == 4);
        CHECK(ticks[0].number == 0);
        CHECK(ticks[1].number == 1);
        CHECK(ticks[2].number == 4);  // 1 + 2.5 intervals ends at 350 ms: next tick 400 ms
        CHECK(ticks[2].skipped == 2);
        CHECK(ticks[3].number == 5);
        CHECK(ticks[3].skipped == 2);
        CHECK(at == std::vector<aio::duration>{0ms, 100ms, 400ms, 500ms});
    });
}

TEST_CASE("every never overlaps two runs", "[every][time]") {
    run_test([] {
        int running = 0;
        int most = 0;
        int runs = 0;
        aio::every(10ms, [&] {
            most = std::max(most, ++running);
            aio::sleep(35ms);
            --running;
            return ++runs < 5;
        });
        CHECK(most == 1);
        CHECK(runs == 5);
    });
}

TEST_CASE("every with first_run::after_interval waits one interval first", "[every][time]") {
    run_test([] {
        auto& l = aio::get_running_loop();
        const auto start = l.time();
        std::vector<aio::duration> at;
        aio::every(50ms,
                   [&] {
                       at.push_back(l.time() - start);
                       return at.size() < 3;
                   },
                   {.first = aio::first_run::after_interval});
        CHECK(at == std::vector<aio::duration>{50ms, 100ms, 150ms});
    });
}

TEST_CASE("every gives the loop a turn between runs even when the body never suspends",
          "[every][time]") {
    run_test([] {
        int other = 0;
        auto t = aio::create_task([&] {
            ++other;
            aio::sleep(1h);
        });
        std::vector<int> seen;
        aio::every(1ms, [&] {
            seen.push_back(other);
            return seen.size() < 2;
        });
        CHECK(seen == std::vector<int>{0, 1});  // the first run is at once, the second after a turn
        t.cancel();
        t.wait_done();
    });
}

TEST_CASE("cancelling every ends it at once, in the wait or in the body, and it is not "
          "swallowed",
          "[every][cancel]") {
    run_test([] {
        swallow_watch watch;
        auto& l = aio::get_running_loop();
        l.add_instrument(&watch);
        for (bool in_body : {false, true}) {
            int runs = 0;
            auto t = aio::create_task([&] {
                aio::every(100ms, [&] {
                    ++runs;
                    aio::sleep(60ms);
                });
            });
            aio::sleep(in_body ? 130ms : 180ms);  // in the 2nd run's sleep, or waiting for the 3rd
            const auto when = l.time();
            t.cancel("stop");
            t.wait_done();
            CHECK(l.time() == when);
            CHECK(t.cancelled());
            CHECK(runs == 2);
        }
        l.remove_instrument(&watch);
        CHECK(watch.ran_on == 0);
    });
}

TEST_CASE("an exception from the body ends every and propagates", "[every]") {
    run_test([] {
        int runs = 0;
        CHECK_THROWS_WITH(aio::every(10ms,
                                     [&] {
                                         if (++runs == 3) {
                                             throw std::runtime_error("disk full");
                                         }
                                     }),
                          "disk full");
        CHECK(runs == 3);
    });
}

TEST_CASE("every rejects an interval that is not positive and a call outside a task", "[every]") {
    run_test([] {
        int runs = 0;
        CHECK_THROWS_AS(aio::every(0ms, [&] { ++runs; }), aio::value_error);
        CHECK_THROWS_AS(aio::every(-1ms, [&] { ++runs; }), aio::value_error);
        CHECK(runs == 0);
    });
    CHECK_THROWS_AS(aio::every(1ms, [] {}), aio::usage_error);
}
