#include "support.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using aio::test::run_test;

TEST_CASE("run returns the main function's value", "[run]") {
    CHECK(aio::run([] { return 42; }) == 42);
}

TEST_CASE("get returns a child task's value", "[task]") {
    run_test([] {
        auto t = aio::create_task([](int a, int b) { return a + b; }, 2, 3);
        CHECK(t.get() == 5);
        CHECK(t.done());
    });
}
