#include "support.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using aio::test::run_test;
using aio::test::since_start;

TEST_CASE("gather returns a tuple of values in argument order", "[gather]") {
    run_test([] {
        auto a = aio::create_task([] {
            aio::sleep(20ms);
            return 1;
        });
        auto b = aio::create_task([] {
            aio::sleep(10ms);
            return std::string("two");
        });
        auto c = aio::create_task([] { aio::sleep(5ms); });
        auto [x, y, z] = aio::gather(a, b, c);
        CHECK(x == 1);
        CHECK(y == "two");
        CHECK(z == aio::nothing{});
        CHECK(since_start() >= 20ms);
        CHECK(since_start() < 25ms);  // concurrently, not one after the other
    });
}

TEST_CASE("gather starts functions as tasks", "[gather]") {
    run_test([] {
        auto [a, b] = aio::gather(
            [] {
                aio::sleep(1ms);
                return 3;
            },
            [] { return 4; });
        CHECK(a + b == 7);
    });
}

TEST_CASE("gather of a vector returns a vector", "[gather]") {
    run_test([] {
        std::vector<aio::task<int>> tasks;
        for (int i = 0; i < 10; ++i) {
            tasks.push_back(aio::create_task([i] {
                aio::sleep(std::chrono::milliseconds(10 - i));
                return i * i;
            }));
        }
        auto values = aio::gather(tasks);
        REQUIRE(values.size() == 10);
        for (int i = 0; i < 10; ++i) {
            CHECK(values[static_cast<std::size_t>(i)] == i * i);
        }
        CHECK(aio::gather(std::vector<aio::task<int>>{}).empty());
    });
}

TEST_CASE("gather raises the first failure and leaves the others running", "[gather]") {
    run_test([] {
        bool other_finished = false;
        auto bad = aio::create_task([]() -> int {
            aio::sleep(1ms);
            throw std::runtime_error("bad");
        });
        auto slow = aio::create_task([&] {
            aio::sleep(10ms);
            other_finished = true;
            return 2;
        });
        CHECK_THROWS_WITH(aio::gather(bad, slow), "bad");
        CHECK_FALSE(slow.done());
        CHECK(slow.get() == 2);
        CHECK(other_finished);
    });
}

TEST_CASE("gather with return_exceptions returns failures as outcomes", "[gather]") {
    run_test([] {
        auto ok = aio::create_task([] { return 1; });
        auto bad = aio::create_task([]() -> int { throw std::runtime_error("bad"); });
        auto gone = aio::create_task([] {
            aio::sleep(1h);
            return 3;
        });
        gone.cancel();
        auto [a, b, c] = aio::gather(aio::return_exceptions, ok, bad, gone);
        CHECK(a.has_value());
        CHECK(a.value() == 1);
        CHECK_FALSE(b.has_value());
        CHECK_THROWS_WITH(b.value(), "bad");
        CHECK_THROWS_AS(c.value(), aio::cancelled_error);

        std::vector<aio::task<int>> v{
            aio::create_task([] { return 5; }),
            aio::create_task([]() -> int { throw std::logic_error("x"); })};
        auto outs = aio::gather(aio::return_exceptions, v);
        CHECK(outs[0].value() == 5);
        CHECK(outs[1].exception() != nullptr);
    });
}

TEST_CASE("cancelling a gather cancels its children and waits for them", "[gather][cancel]") {
    run_test([] {
        int unwound = 0;
        auto child = [&] {
            try {
                aio::sleep(1h);
            } catch (const aio::cancelled_error&) {
                aio::sleep(5ms);  // slow cleanup
                ++unwound;
                throw;
            }
        };
        auto a = aio::create_task(child);
        auto b = aio::create_task(child);
        auto g = aio::create_task([&] { aio::gather(a, b); });
        aio::sleep(1ms);
        g.cancel();
        CHECK_THROWS_AS(g.get(), aio::cancelled_error);
        CHECK(unwound == 2);
        CHECK(a.cancelled());
        CHECK(b.cancelled());
    });
}

TEST_CASE("a cancelled child makes gather raise cancelled_error", "[gather][cancel]") {
    run_test([] {
        auto a = aio::create_task([] { aio::sleep(1h); });
        auto b = aio::create_task([] { aio::sleep(1ms); });
        aio::sleep(0s);
        a.cancel();
        CHECK_THROWS_AS(aio::gather(a, b), aio::cancelled_error);
        b.get();
    });
}
