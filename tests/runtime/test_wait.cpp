#include "support.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <vector>

using namespace std::chrono_literals;
using aio::test::run_test;
using aio::test::since_start;

namespace {
std::vector<aio::task<int>> sleepers(std::initializer_list<int> ms) {
    std::vector<aio::task<int>> v;
    for (int m : ms) {
        v.push_back(aio::create_task([m] {
            aio::sleep(std::chrono::milliseconds(m));
            return m;
        }));
    }
    return v;
}
}  // namespace

TEST_CASE("wait all_completed returns every task done", "[wait]") {
    run_test([] {
        auto tasks = sleepers({5, 1, 3});
        auto r = aio::wait(tasks);
        CHECK(r.done.size() == 3);
        CHECK(r.pending.empty());
    });
}

TEST_CASE("wait first_completed returns as soon as one is done", "[wait]") {
    run_test([] {
        auto tasks = sleepers({50, 10, 30});
        auto r = aio::wait(tasks, aio::return_when::first_completed);
        REQUIRE(r.done.size() == 1);
        CHECK(r.done[0].result() == 10);
        CHECK(r.pending.size() == 2);
        for (auto& t : r.pending) {
            t.cancel();
        }
        aio::gather(aio::return_exceptions, r.pending);
    });
}

TEST_CASE("wait first_exception returns at the first failure", "[wait]") {
    run_test([] {
        std::vector<aio::task<int>> tasks = sleepers({50});
        tasks.push_back(aio::create_task([]() -> int {
            aio::sleep(5ms);
            throw std::runtime_error("x");
        }));
        auto r = aio::wait(tasks, aio::return_when::first_exception);
        CHECK(r.done.size() == 1);
        CHECK(r.done[0].exception() != nullptr);
        CHECK(since_start() < 50ms);
        tasks[0].cancel();
        aio::gather(aio::return_exceptions, tasks);
    });
}

TEST_CASE("wait with a timeout returns what is done and never raises", "[wait][timeout]") {
    run_test([] {
        auto tasks = sleepers({5, 100});
        auto r = aio::wait(tasks, aio::return_when::all_completed, 20ms);
        CHECK(r.done.size() == 1);
        CHECK(r.pending.size() == 1);
        CHECK(since_start() >= 20ms);
        CHECK(since_start() < 100ms);
        aio::gather(tasks);
    });
}

TEST_CASE("wait on nothing is a value error", "[wait]") {
    run_test([] { CHECK_THROWS_AS(aio::wait(std::vector<aio::task<int>>{}), aio::value_error); });
}

TEST_CASE("cancelling a wait does not cancel the tasks", "[wait][cancel]") {
    run_test([] {
        auto tasks = sleepers({10});
        auto w = aio::create_task([&] { (void)aio::wait(tasks); });
        aio::sleep(1ms);
        w.cancel();
        CHECK_THROWS_AS(w.get(), aio::cancelled_error);
        CHECK(tasks[0].get() == 10);
    });
}

TEST_CASE("wait_for returns the value in time", "[wait_for][timeout]") {
    run_test([] {
        auto t = aio::create_task([] {
            aio::sleep(5ms);
            return 1;
        });
        CHECK(aio::wait_for(t, 10ms) == 1);
        CHECK(aio::wait_for(
                  [] {
                      aio::sleep(1ms);
                      return 2;
                  },
                  10ms) == 2);
    });
}

TEST_CASE("wait_for cancels the task on timeout and says how long it waited",
          "[wait_for][timeout]") {
    run_test([] {
        bool unwound = false;
        auto t = aio::create_task([&] {
            try {
                aio::sleep(1h);
            } catch (const aio::cancelled_error&) {
                unwound = true;
                throw;
            }
            return 0;
        });
        CHECK_THROWS_WITH(aio::wait_for(t, 50ms), Catch::Contains("50 ms"));
        CHECK(unwound);
        CHECK(t.cancelled());
        CHECK(aio::current_task().cancelling() == 0);
    });
}

TEST_CASE("as_completed yields tasks in the order they finish", "[as_completed]") {
    run_test([] {
        auto tasks = sleepers({30, 10, 20});
        std::vector<int> order;
        for (auto t : aio::as_completed(tasks)) {
            order.push_back(t.get());
        }
        CHECK(order == std::vector<int>{10, 20, 30});
    });
}

TEST_CASE("as_completed raises timeout_error when tasks are too slow", "[as_completed][timeout]") {
    run_test([] {
        auto tasks = sleepers({5, 100});
        aio::as_completed<int> ac(tasks, 20ms);
        CHECK(ac.next().get() == 5);
        CHECK_THROWS_AS(ac.next(), aio::timeout_error);
        CHECK(ac.remaining() == 1);
        tasks[1].cancel();
        aio::gather(aio::return_exceptions, tasks);
        CHECK_THROWS_AS(ac.next(), aio::timeout_error);  // the deadline has passed for good
    });
}
