#include "support.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

using namespace std::chrono_literals;
using aio::test::run_test;
using aio::test::since_start;

TEST_CASE("a task_group waits for all its children", "[task_group]") {
    run_test([] {
        int done = 0;
        aio::with_task_group([&](aio::task_group& tg) {
            for (int i = 1; i <= 3; ++i) {
                tg.create_task([&, i] {
                    aio::sleep(std::chrono::milliseconds(i));
                    ++done;
                });
            }
        });
        CHECK(done == 3);
        CHECK(since_start() >= 3ms);
    });
}

TEST_CASE("with_task_group returns the body's value and children keep theirs", "[task_group]") {
    run_test([] {
        aio::task<int> child;
        int r = aio::with_task_group([&](aio::task_group& tg) {
            child = tg.create_task([] {
                aio::sleep(1ms);
                return 7;
            });
            return 1;
        });
        CHECK(r == 1);
        CHECK(child.result() == 7);
    });
}

TEST_CASE("the first failure cancels the siblings and the body", "[task_group][cancel]") {
    run_test([] {
        bool sibling_cancelled = false;
        bool body_cancelled = false;
        try {
            aio::with_task_group([&](aio::task_group& tg) {
                tg.create_task([&] {
                    try {
                        aio::sleep(1h);
                    } catch (const aio::cancelled_error&) {
                        sibling_cancelled = true;
                        throw;
                    }
                });
                tg.create_task([] {
                    aio::sleep(1ms);
                    throw std::runtime_error("child failed");
                });
                try {
                    aio::sleep(1h);
                } catch (const aio::cancelled_error&) {
                    body_cancelled = true;
                    throw;
                }
            });
            FAIL("no exception_group");
        } catch (const aio::exception_group& g) {
            REQUIRE(g.exceptions().size() == 1);
            CHECK(aio::describe_exception(g.exceptions()[0]) == "std::runtime_error: child failed");
            CHECK_THAT(g.what(), Catch::Contains("child failed"));
        }
        CHECK(sibling_cancelled);
        CHECK(body_cancelled);
        CHECK(aio::current_task().cancelling() == 0);  // the group withdrew its own cancel
        aio::sleep(1ms);
    });
}

TEST_CASE("several failures are collected in one exception_group", "[task_group]") {
    run_test([] {
        try {
            aio::with_task_group([&](aio::task_group& tg) {
                tg.create_task([] { throw std::runtime_error("a"); });
                tg.create_task([] { throw std::logic_error("b"); });
            });
            FAIL("no exception_group");
        } catch (const aio::exception_group& g) {
            CHECK(g.exceptions().size() == 2);
        }
    });
}

TEST_CASE("the body's own failure cancels the children and joins the group", "[task_group]") {
    run_test([] {
        bool child_cancelled = false;
        try {
            aio::with_task_group([&](aio::task_group& tg) {
                tg.create_task([&] {
                    try {
                        aio::sleep(1h);
                    } catch (const aio::cancelled_error&) {
                        child_cancelled = true;
                        throw;
                    }
                });
                aio::sleep(0s);
                throw std::runtime_error("body failed");
            });
            FAIL("no exception_group");
        } catch (const aio::exception_group& g) {
            REQUIRE(g.exceptions().size() == 1);
            CHECK_THAT(g.what(), Catch::Contains("body failed"));
        }
        CHECK(child_cancelled);
    });
}

TEST_CASE("cancelling the parent cancels the group and stays a cancellation",
          "[task_group][cancel]") {
    run_test([] {
        int cancelled_children = 0;
        auto parent = aio::create_task([&] {
            aio::with_task_group([&](aio::task_group& tg) {
                for (int i = 0; i < 2; ++i) {
                    tg.create_task([&] {
                        try {
                            aio::sleep(1h);
                        } catch (const aio::cancelled_error&) {
                            ++cancelled_children;
                            throw;
                        }
                    });
                }
            });
        });
        aio::sleep(1ms);
        parent.cancel();
        CHECK_THROWS_AS(parent.get(), aio::cancelled_error);
        CHECK(cancelled_children == 2);
    });
}

TEST_CASE("a task_group refuses new tasks while shutting down", "[task_group]") {
    run_test([] {
        try {
            aio::with_task_group([&](aio::task_group& tg) {
                tg.create_task([] { throw std::runtime_error("x"); });
                try {
                    aio::sleep(1h);
                } catch (const aio::cancelled_error&) {
                    CHECK_THROWS_WITH(tg.create_task([] {}), Catch::Contains("shutting down"));
                    throw;
                }
            });
        } catch (const aio::exception_group&) {
        }
    });
}

TEST_CASE("children of a group cancelled from outside are not errors", "[task_group][cancel]") {
    run_test([] {
        aio::with_task_group([&](aio::task_group& tg) {
            auto t = tg.create_task([] { aio::sleep(1h); });
            aio::sleep(1ms);
            t.cancel();
        });
    });
}

TEST_CASE("an outer cancel that arrives while the group handles a child's error is re-armed",
          "[task_group][cancel]") {
    run_test([] {
        aio::event started;
        bool group_failed = false;
        std::uint32_t cancelling_after_group = 0;
        auto inner = aio::create_task([&] {
            try {
                aio::with_task_group([&](aio::task_group& tg) {
                    tg.create_task([&] {
                        started.set();
                        aio::sleep(0s);
                        throw std::runtime_error("child failed");
                    });
                    aio::sleep(1s);
                    throw std::logic_error("the sleep in the group should have been cancelled");
                });
            } catch (const aio::exception_group&) {
                group_failed = true;
            }
            cancelling_after_group = aio::current_task().cancelling();
            aio::sleep(1s);  // the outer cancel is still owed: raised here
            throw std::logic_error("the sleep after the group should have been cancelled");
        });
        started.wait();
        CHECK(inner.cancelling() == 0);
        inner.cancel();
        CHECK_THROWS_AS(inner.get(), aio::cancelled_error);
        CHECK(inner.cancelled());
        CHECK(group_failed);
        CHECK(cancelling_after_group == 1);
    });
}
