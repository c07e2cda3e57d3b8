#include "support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>
#include <system_error>
#include <thread>

using namespace std::chrono_literals;
using aio::test::run_test;

TEST_CASE("to_thread runs the function on another thread and returns its value", "[executor]") {
    run_test([] {
        auto loop_thread = std::this_thread::get_id();
        auto [v, tid] = aio::to_thread(
            [](int x) { return std::make_pair(x * 2, std::this_thread::get_id()); }, 21);
        CHECK(v == 42);
        CHECK(tid != loop_thread);
    });
}

TEST_CASE("the loop keeps running while a thread works", "[executor]") {
    run_test(
        [] {
            std::atomic<int> ticks{0};
            auto ticker = aio::create_task([&] {
                for (;;) {
                    aio::sleep(1ms);
                    ++ticks;
                }
            });
            // The thread waits for the loop to tick five times: it can only see them if the
            // loop runs while the caller waits in to_thread (bounded, so a frozen loop fails
            // the test instead of hanging it, and a loaded machine has ample time).
            bool saw_ticks = aio::to_thread([&] {
                auto give_up = std::chrono::steady_clock::now() + 10s;
                while (ticks < 5 && std::chrono::steady_clock::now() < give_up) {
                    std::this_thread::sleep_for(1ms);
                }
                return ticks >= 5;
            });
            CHECK(saw_ticks);
            ticker.cancel();
            CHECK_THROWS_AS(ticker.get(), aio::cancelled_error);
        },
        {.virtual_time = false});
}

TEST_CASE("an exception in the thread reaches the caller", "[executor]") {
    run_test([] {
        CHECK_THROWS_WITH(aio::to_thread([]() -> int { throw std::runtime_error("in thread"); }),
                          "in thread");
    });
}

TEST_CASE("cancelling the caller does not stop a running thread", "[executor][cancel]") {
    std::atomic<bool> finished{false};
    run_test([&] {
        std::atomic<bool> started{false};
        auto t = aio::create_task([&] {
            aio::to_thread([&] {
                started = true;
                std::this_thread::sleep_for(20ms);
                finished = true;
            });
        });
        while (!started) {
            aio::sleep(1ms);
        }
        t.cancel();
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);  // at once
        CHECK_FALSE(finished);
    });
    CHECK(finished);  // the loop's close waited for the default executor
}

TEST_CASE("a custom executor bounds the number of threads", "[executor]") {
    run_test([] {
        aio::thread_pool_executor pool(2, "two");
        std::atomic<int> inside{0};
        std::atomic<int> peak{0};
        std::vector<aio::task<void>> ts;
        for (int i = 0; i < 6; ++i) {
            ts.push_back(aio::create_task([&] {
                aio::run_in_executor(&pool, [&] {
                    int now = ++inside;
                    int p = peak;
                    while (now > p && !peak.compare_exchange_weak(p, now)) {
                    }
                    std::this_thread::sleep_for(5ms);
                    --inside;
                });
            }));
        }
        aio::gather(ts);
        CHECK(peak == 2);
        CHECK(pool.threads() == 2);
        CHECK(pool.max_workers() == 2);
        pool.shutdown();
        CHECK_THROWS_AS(pool.submit([] {}), aio::usage_error);
    });
}

TEST_CASE("a job still queued is dropped when its caller is cancelled", "[executor][cancel]") {
    run_test([] {
        aio::thread_pool_executor pool(1, "one");
        std::atomic<bool> release{false};
        std::atomic<bool> second_ran{false};
        auto first = aio::create_task([&] {
            aio::run_in_executor(&pool, [&] {
                while (!release) {
                    std::this_thread::sleep_for(1ms);
                }
            });
        });
        aio::sleep(1ms);
        auto second =
            aio::create_task([&] { aio::run_in_executor(&pool, [&] { second_ran = true; }); });
        aio::sleep(1ms);
        second.cancel();
        CHECK_THROWS_AS(second.get(), aio::cancelled_error);
        release = true;
        first.get();
        pool.shutdown();
        CHECK_FALSE(second_ran);
    });
}

TEST_CASE("the default executor follows asyncio's size rule", "[executor]") {
    // concurrent.futures: min(32, os.cpu_count() + 4).
    CHECK(aio::thread_pool_executor::default_max_workers(0) == 5);
    CHECK(aio::thread_pool_executor::default_max_workers(1) == 5);
    CHECK(aio::thread_pool_executor::default_max_workers(2) == 6);
    CHECK(aio::thread_pool_executor::default_max_workers(28) == 32);
    CHECK(aio::thread_pool_executor::default_max_workers(128) == 32);
    run_test([] {
        CHECK(aio::get_running_loop().default_executor().max_workers() ==
              aio::thread_pool_executor::default_max_workers());
    });
}

TEST_CASE("a worker thread that cannot be started fails the call instead of hanging shutdown",
          "[executor]") {
    struct hook_guard {
        hook_guard() {
            aio::detail::executor_thread_start_hook = [] {
                throw std::system_error(
                    std::make_error_code(std::errc::resource_unavailable_try_again), "injected");
            };
        }
        ~hook_guard() { aio::detail::executor_thread_start_hook = nullptr; }
    };
    run_test([] {
        aio::thread_pool_executor pool(2, "failing");
        {
            hook_guard failing;
            CHECK_THROWS_WITH(aio::run_in_executor(&pool, [] { return 1; }),
                              Catch::Contains("could not start a worker thread") &&
                                  Catch::Contains("injected"));
            CHECK(pool.queued() == 0);
            CHECK(pool.threads() == 0);
        }
        CHECK(aio::run_in_executor(&pool, [] { return 2; }) == 2);  // works again
        {
            hook_guard failing;  // a second thread cannot start: the first one runs the job
            std::atomic<bool> release{false};
            auto busy = aio::create_task([&] {
                aio::run_in_executor(&pool, [&] {
                    while (!release)
                        std::this_thread::sleep_for(1ms);
                });
            });
            aio::sleep(0s);
            auto queued =
                aio::create_task([&] { return aio::run_in_executor(&pool, [] { return 3; }); });
            aio::sleep(0s);
            release = true;
            busy.get();
            CHECK(queued.get() == 3);
        }
        CHECK(pool.shutdown_for(5s));  // returns: nothing counted that does not exist
    });
}

TEST_CASE("an executor is registered as a resource until shut down", "[executor][resource]") {
    run_test([] {
        auto before = aio::open_resources().size();
        {
            aio::thread_pool_executor pool(1, "mine");
            auto open = aio::open_resources();
            REQUIRE(open.size() == before + 1);
            CHECK(open.back().kind == "executor");
            CHECK(open.back().name == "mine");
            pool.shutdown();
            CHECK(aio::open_resources().size() == before);
        }
    });
}

namespace {

std::atomic<bool> worker_may_go_on{false};
std::atomic<std::thread::id> marker_destroyed_on{};
std::atomic<std::thread::id> error_destroyed_on{};

struct marker {
    ~marker() { marker_destroyed_on = std::this_thread::get_id(); }
};

struct marked_error : std::runtime_error {
    marked_error()
        : std::runtime_error("marked") {}
    marked_error(const marked_error&) = default;
    ~marked_error() override { error_destroyed_on = std::this_thread::get_id(); }
};

}  // namespace

TEST_CASE("a call's callable and exception are destroyed on the loop thread, not the worker's",
          "[executor][thread]") {
    // The worker must not drop the last reference: the loop may still be reading the result,
    // and the user's captures and exception types need not be thread-safe. The hook holds the
    // worker after it handed the call back, until the caller has finished with it.
    struct hook_guard {
        hook_guard() {
            worker_may_go_on = false;
            aio::detail::executor_call_returned_hook = [] {
                auto give_up = std::chrono::steady_clock::now() + 10s;
                while (!worker_may_go_on && std::chrono::steady_clock::now() < give_up) {
                    std::this_thread::sleep_for(1ms);
                }
            };
        }
        ~hook_guard() { aio::detail::executor_call_returned_hook = nullptr; }
    };
    run_test([] {
        auto loop_thread = std::this_thread::get_id();
        aio::thread_pool_executor pool(1, "held");
        hook_guard held;
        try {
            aio::run_in_executor(&pool, [m = std::make_shared<marker>()] { throw marked_error(); });
            FAIL("the exception was not rethrown");
        } catch (const marked_error& e) {
            CHECK(std::string(e.what()) == "marked");
        }
        worker_may_go_on = true;
        REQUIRE(pool.shutdown_for(10s));
        CHECK(marker_destroyed_on.load() == loop_thread);
        CHECK(error_destroyed_on.load() == loop_thread);
    });
}
