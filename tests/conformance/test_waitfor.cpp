// CPython Lib/test/test_asyncio/test_waitfor.py (3.12+ version, plus one case from 3.11)
// ported to aio.
//
// Not ported, on purpose:
//   test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started: aio's wait_for takes a
//     callable, not a coroutine object, and runs it in the current task; wait_for(fn, 0) is
//     timeout(0, fn) and runs fn up to its first yield point (docs/reference/wait.md), so a
//     function that never suspends runs to its end and returns its value instead of raising
//     timeout_error without having started.
//
// Ported with intentional differences:
//   - asyncio.wait_for(coro, t) is aio::wait_for(fn, t); asyncio.wait_for(task, t) is
//     aio::wait_for(task, t); None is aio::no_timeout.
//   - Futures (loop.create_future()) become what survives of the scenario: a task already done
//     (test_wait_for_timeout_less_then_0_or_0_future_done), an aio::event set from a loop
//     callback (test_wait_for_race_condition, _test_cancel_wait_for: never set),
//     an aio::event for the "started" future (test_wait_for_timeout_less_then_0_or_0).
//   - SlowTask measures its 0.2 s on loop time instead of time.monotonic(), so that it runs
//     under virtual time.
//   - The __context__ checks of test_wait_for_waits_for_task_cancellation(_w_timeout_0) are
//     dropped: C++ exceptions have no chain.
//   - WaitForShieldTests: aio::shield(task) is a blocking call, not a new future, so
//     asyncio.wait_for(asyncio.shield(task), t) is aio::wait_for([&] { return
//     aio::shield(task); }, t), and test_zero_timeout's check that the shield's own outer future
//     ended cancelled has nothing to apply to.
//   - test_wait_for_self_cancellation was removed from CPython in 3.12 (wait_for rewritten on
//     asyncio.timeout); it is ported from the 3.11 file since its scenario still holds.
#include "support.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using aio::test::run_test;

namespace {

// A very small timeout: it passes "timeout > 0" but has almost no effect on the test.
constexpr auto epsilon = 100us;

aio::time_point now() {
    return aio::get_running_loop().time();
}

// Runs for task_timeout of loop time, ignoring cancel requests.
struct slow_task {
    static constexpr aio::duration task_timeout = 200ms;
    bool exited = false;

    void run() {
        auto exit_at = now() + task_timeout;
        for (;;) {
            auto to_sleep = exit_at - now();
            if (to_sleep <= 0s) {
                break;
            }
            try {
                aio::sleep(to_sleep);
            } catch (const aio::cancelled_error&) {
            }
        }
        exited = true;
    }
};

}  // namespace

TEST_CASE("test_waitfor::AsyncioWaitForTest::test_asyncio_wait_for_cancelled",
          "[conformance][wait_for]") {
    run_test([] {
        slow_task t;
        auto waitfortask =
            aio::create_task([&] { aio::wait_for([&] { t.run(); }, slow_task::task_timeout * 2); });
        aio::sleep(0s);
        waitfortask.cancel();
        aio::wait(std::vector{waitfortask});
        CHECK(t.exited);
    });
}

TEST_CASE("test_waitfor::AsyncioWaitForTest::test_asyncio_wait_for_timeout",
          "[conformance][wait_for]") {
    run_test([] {
        slow_task t;
        try {
            aio::wait_for([&] { t.run(); }, slow_task::task_timeout / 2);
        } catch (const aio::timeout_error&) {
        }
        CHECK(t.exited);
    });
}

TEST_CASE("test_waitfor::AsyncioWaitForTest::test_wait_for_timeout_less_then_0_or_0_future_done",
          "[conformance][wait_for]") {
    run_test([] {
        // asyncio: a future whose result is already set; here a task already done.
        auto fut = aio::create_task([] { return std::string("done"); });
        fut.wait_done();

        auto t0 = now();
        auto ret = aio::wait_for(fut, 0s);
        auto t1 = now();

        CHECK(ret == "done");
        CHECK(fut.done());
        CHECK(t1 - t0 < 100ms);
    });
}

TEST_CASE("test_waitfor::AsyncioWaitForTest::test_wait_for_timeout_less_then_0_or_0",
          "[conformance][wait_for]") {
    run_test([] {
        for (aio::duration timeout : {aio::duration(0s), aio::duration(-1s)}) {
            CAPTURE(timeout.count());
            bool foo_running = false;
            aio::event started;

            auto foo = [&] {
                foo_running = true;
                started.set();
                try {
                    aio::sleep(10s);
                } catch (...) {  // finally
                    foo_running = false;
                    throw;
                }
                foo_running = false;
                return std::string("done");
            };

            auto fut = aio::create_task(foo);
            started.wait();

            auto t0 = now();
            CHECK_THROWS_AS(aio::wait_for(fut, timeout), aio::timeout_error);
            auto t1 = now();

            CHECK(fut.done());
            // it should have been cancelled due to the timeout
            CHECK(fut.cancelled());
            CHECK_FALSE(foo_running);
            CHECK(t1 - t0 < 100ms);
        }
    });
}

TEST_CASE("test_waitfor::AsyncioWaitForTest::test_wait_for", "[conformance][wait_for]") {
    run_test([] {
        bool foo_running = false;

        auto foo = [&] {
            foo_running = true;
            try {
                aio::sleep(1h);
            } catch (...) {  // finally
                foo_running = false;
                throw;
            }
            foo_running = false;
            return std::string("done");
        };

        auto fut = aio::create_task(foo);

        auto t0 = now();
        CHECK_THROWS_AS(aio::wait_for(fut, 100ms), aio::timeout_error);
        auto t1 = now();
        CHECK(fut.done());
        // it should have been cancelled due to the timeout
        CHECK(fut.cancelled());
        CHECK(t1 - t0 < 500ms);
        CHECK_FALSE(foo_running);
    });
}

TEST_CASE("test_waitfor::AsyncioWaitForTest::test_wait_for_blocking", "[conformance][wait_for]") {
    run_test([] {
        auto coro = [] { return std::string("done"); };
        auto res = aio::wait_for(coro, aio::no_timeout);
        CHECK(res == "done");
    });
}

TEST_CASE("test_waitfor::AsyncioWaitForTest::test_wait_for_race_condition",
          "[conformance][wait_for]") {
    run_test([] {
        // asyncio: a future whose result a call_soon callback sets; here an event and a value.
        aio::event fut;
        std::string result;
        aio::get_running_loop().call_soon([&] {
            result = "ok";
            fut.set();
        });
        auto res = aio::wait_for(
            [&] {
                fut.wait();
                return result;
            },
            200ms);
        CHECK(res == "ok");
    });
}

TEST_CASE("test_waitfor::AsyncioWaitForTest::test_wait_for_cancellation_race_condition",
          "[conformance][wait_for]") {
    run_test([] {
        auto inner = [] {
            CHECK_THROWS_AS(aio::sleep(1s), aio::cancelled_error);
            return 1;
        };
        auto result = aio::wait_for(inner, 10ms);
        CHECK(result == 1);
    });
}

TEST_CASE("test_waitfor::AsyncioWaitForTest::test_wait_for_waits_for_task_cancellation",
          "[conformance][wait_for]") {
    run_test([] {
        bool task_done = false;

        auto inner = [&] {
            try {
                try {
                    aio::sleep(10s);
                } catch (const aio::cancelled_error&) {
                    aio::sleep(epsilon);
                    throw;
                }
            } catch (...) {  // finally
                task_done = true;
                throw;
            }
            task_done = true;
        };

        auto inner_task = aio::create_task(inner);

        CHECK_THROWS_AS(aio::wait_for(inner_task, epsilon), aio::timeout_error);

        CHECK(task_done);
    });
}

TEST_CASE("test_waitfor::AsyncioWaitForTest::test_wait_for_waits_for_task_cancellation_w_timeout_0",
          "[conformance][wait_for]") {
    run_test([] {
        bool task_done = false;

        auto foo = [&] {
            auto inner = [&] {
                try {
                    try {
                        aio::sleep(10s);
                    } catch (const aio::cancelled_error&) {
                        aio::sleep(epsilon);
                        throw;
                    }
                } catch (...) {  // finally
                    task_done = true;
                    throw;
                }
                task_done = true;
            };

            auto inner_task = aio::create_task(inner);
            aio::sleep(epsilon);
            aio::wait_for(inner_task, 0s);
        };

        CHECK_THROWS_AS(foo(), aio::timeout_error);

        CHECK(task_done);
    });
}

TEST_CASE("test_waitfor::AsyncioWaitForTest::test_wait_for_reraises_exception_during_cancellation",
          "[conformance][wait_for]") {
    struct foo_exception : std::runtime_error {
        foo_exception()
            : std::runtime_error("FooException") {}
    };
    run_test([] {
        auto foo = [] {
            auto inner = [] {
                try {
                    aio::sleep(200ms);
                } catch (...) {  // finally
                    throw foo_exception();
                }
                throw foo_exception();
            };

            auto inner_task = aio::create_task(inner);

            aio::wait_for(inner_task, epsilon);
        };

        CHECK_THROWS_AS(foo(), foo_exception);
    });
}

TEST_CASE("test_waitfor::AsyncioWaitForTest::test_wait_for_self_cancellation",
          "[conformance][wait_for]") {
    run_test([] {
        auto inner = [] {
            try {
                aio::sleep(300ms);
            } catch (const aio::cancelled_error&) {
                try {
                    aio::sleep(300ms);
                } catch (const aio::cancelled_error&) {
                    aio::sleep(300ms);
                }
            }
            return 42;
        };

        auto inner_task = aio::create_task(inner);

        // wait_for itself is properly cancellable even when the task it waits for holds up
        // the initial cancellation.
        auto task = aio::create_task([&] { return aio::wait_for(inner_task, 100ms); });
        task.cancel();

        CHECK_THROWS_AS(task.get(), aio::cancelled_error);

        CHECK(inner_task.get() == 42);
    });
}

namespace {

void test_cancel_wait_for(aio::duration timeout) {
    aio::event never;  // asyncio: a future whose result is never set
    auto blocking_coroutine = [&] { never.wait(); };

    auto task = aio::create_task(blocking_coroutine);

    auto wait = aio::create_task([&] { aio::wait_for(task, timeout); });
    aio::get_running_loop().call_soon([wait] { wait.cancel(); });

    CHECK_THROWS_AS(wait.get(), aio::cancelled_error);

    // Python issue #23219: cancelling the wait must also cancel the task
    CHECK(task.cancelled());
}

}  // namespace

TEST_CASE("test_waitfor::AsyncioWaitForTest::test_cancel_blocking_wait_for",
          "[conformance][wait_for]") {
    run_test([] { test_cancel_wait_for(aio::no_timeout); });
}

TEST_CASE("test_waitfor::AsyncioWaitForTest::test_cancel_wait_for", "[conformance][wait_for]") {
    run_test([] { test_cancel_wait_for(60s); });
}

TEST_CASE("test_waitfor::AsyncioWaitForTest::test_wait_for_cancel_suppressed",
          "[conformance][wait_for]") {
    run_test([] {
        // GH-86296: a function that suppresses cancelled_error and returns a value makes
        // wait_for return that value, as timeout does.
        auto return_42 = [] {
            try {
                aio::sleep(10s);
            } catch (const aio::cancelled_error&) {
                return 42;
            }
            return 0;
        };

        auto res = aio::wait_for(return_42, 100ms);
        CHECK(res == 42);
    });
}

TEST_CASE("test_waitfor::AsyncioWaitForTest::test_wait_for_issue86296", "[conformance][wait_for]") {
    run_test([] {
        // GH-86296: the task gets cancelled and does not run to completion. inner completes in
        // one loop iteration, before the task is cancelled.
        auto inner = [] { return std::string("done"); };

        auto inner_task = aio::create_task(inner);
        bool reached_end = false;

        auto wait_for_coro = [&] {
            aio::wait_for(inner_task, 100s);
            aio::sleep(1s);
            reached_end = true;
        };

        auto task = aio::create_task(wait_for_coro);
        CHECK_FALSE(task.done());
        // Run the task
        aio::sleep(0s);
        task.cancel();
        CHECK_THROWS_AS(task.get(), aio::cancelled_error);
        CHECK(inner_task.done());
        CHECK(inner_task.get() == "done");
        CHECK_FALSE(reached_end);
    });
}

TEST_CASE("test_waitfor::WaitForShieldTests::test_zero_timeout", "[conformance][wait_for]") {
    run_test([] {
        // With a timeout of 0, the wait on the shield is cancelled at once; the task it shields
        // is not cancelled and goes on in the background.
        auto coro = [] {
            aio::sleep(10ms);
            return std::string("done");
        };

        auto task = aio::create_task(coro);
        CHECK_THROWS_AS(aio::wait_for([&] { return aio::shield(task); }, 0s), aio::timeout_error);

        // Task is running in background
        CHECK_FALSE(task.done());
        CHECK_FALSE(task.cancelled());

        // Wait for the task to complete
        aio::sleep(100ms);
        CHECK(task.done());
    });
}

TEST_CASE("test_waitfor::WaitForShieldTests::test_none_timeout", "[conformance][wait_for]") {
    run_test([] {
        // With no timeout the wait runs until the task completes.
        auto coro = [] {
            aio::sleep(100ms);
            return std::string("done");
        };

        auto task = aio::create_task(coro);
        aio::wait_for([&] { return aio::shield(task); }, aio::no_timeout);

        CHECK(task.done());
        CHECK(task.get() == "done");
    });
}

TEST_CASE("test_waitfor::WaitForShieldTests::test_shielded_timeout", "[conformance][wait_for]") {
    run_test([] {
        // shield prevents the task from being cancelled.
        auto coro = [] {
            aio::sleep(100ms);
            return std::string("done");
        };

        auto task = aio::create_task(coro);
        CHECK_THROWS_AS(aio::wait_for([&] { return aio::shield(task); }, 10ms), aio::timeout_error);

        CHECK_FALSE(task.done());
        CHECK_FALSE(task.cancelled());
        CHECK(task.get() == "done");
    });
}
