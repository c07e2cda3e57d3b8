#include "support.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>

using namespace std::chrono_literals;
using aio::test::run_test;

TEST_CASE("shield returns the value like get", "[shield]") {
    run_test([] {
        auto t = aio::create_task([] {
            aio::sleep(1ms);
            return 9;
        });
        CHECK(aio::shield(t) == 9);
        CHECK(aio::shield([] { return 10; }) == 10);
    });
}

TEST_CASE("cancelling the caller of shield does not cancel the shielded task", "[shield][cancel]") {
    run_test([] {
        bool finished = false;
        auto inner = aio::create_task([&] {
            aio::sleep(20ms);
            finished = true;
            return 1;
        });
        auto outer = aio::create_task([&] { return aio::shield(inner); });
        aio::sleep(1ms);
        outer.cancel();
        CHECK_THROWS_AS(outer.get(), aio::cancelled_error);
        CHECK_FALSE(inner.done());
        CHECK(inner.get() == 1);
        CHECK(finished);
    });
}

TEST_CASE("a shielded function outlives its cancelled caller", "[shield][cancel]") {
    run_test([] {
        int saved = 0;
        auto handler = aio::create_task([&] {
            aio::shield([&] {
                aio::sleep(10ms);
                saved = 1;  // the second half of a two-step write still happens
            });
        });
        aio::sleep(1ms);
        handler.cancel();
        CHECK_THROWS_AS(handler.get(), aio::cancelled_error);
        CHECK(saved == 0);
        aio::sleep(20ms);
        CHECK(saved == 1);
    });
}

TEST_CASE("a shielded task cancelled directly raises cancelled_error in the caller",
          "[shield][cancel]") {
    run_test([] {
        auto inner = aio::create_task([] {
            aio::sleep(1h);
            return 1;
        });
        auto outer = aio::create_task([&] { return aio::shield(inner); });
        aio::sleep(1ms);
        inner.cancel();
        CHECK_THROWS_AS(outer.get(), aio::cancelled_error);
    });
}
