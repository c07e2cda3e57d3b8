#include "child.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <stdexcept>

#include <unistd.h>

using namespace std::chrono_literals;

namespace {
aio::run_options quiet() {
    aio::run_options o;
    o.handle_signals = false;
    o.virtual_time = true;
    return o;
}
}  // namespace

TEST_CASE("run returns the main function's value", "[run]") {
    CHECK(aio::run([] { return 42; }) == 42);
    CHECK(aio::run([] { return std::string("twice"); }) == "twice");
}

TEST_CASE("run rethrows the main function's exception", "[run]") {
    CHECK_THROWS_WITH(aio::run([]() -> int { throw std::runtime_error("main failed"); }, quiet()),
                      "main failed");
}

TEST_CASE("run cannot be nested", "[run]") {
    aio::run(
        [] {
            CHECK_THROWS_WITH(aio::run([] {}),
                              Catch::Contains("cannot be called from a running event loop"));
        },
        quiet());
}

TEST_CASE("get_running_loop works only inside run", "[run]") {
    CHECK_THROWS_WITH(aio::get_running_loop(), Catch::Contains("aio::run"));
    aio::run([] { CHECK(aio::get_running_loop().is_loop_thread()); }, quiet());
}

TEST_CASE("run cancels leftover tasks and waits for them to unwind", "[run][cancel]") {
    bool unwound = false;
    aio::run(
        [&] {
            aio::create_task([&] {
                try {
                    aio::sleep(1h);
                } catch (const aio::cancelled_error&) {
                    aio::sleep(1ms);  // cleanup that suspends still runs
                    unwound = true;
                    throw;
                }
            }).detach();
            aio::sleep(0s);
        },
        quiet());
    CHECK(unwound);
}

TEST_CASE("run reports a leftover task that fails while unwinding", "[run]") {
    std::vector<std::string> messages;
    aio::run(
        [&] {
            aio::get_running_loop().set_exception_handler(
                [&](aio::loop&, const aio::exception_context& c) {
                    messages.push_back(c.message);
                });
            aio::create_task([] {
                try {
                    aio::sleep(1h);
                } catch (const aio::cancelled_error&) {
                    throw std::runtime_error("cleanup failed");
                }
            }).detach();
            aio::sleep(0s);
        },
        quiet());
    REQUIRE(messages.size() == 1);
    CHECK_THAT(messages[0], Catch::Contains("shutdown"));
}

TEST_CASE("SIGINT cancels the main task and run raises interrupted_error", "[run][signal]") {
    aio::run_options o;
    o.handle_signals = true;
    bool cleaned_up = false;
    // Catch2 has its own SIGINT handler; aio installs its own only over the default.
    struct sigaction catch_handler {};
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGINT, &dfl, &catch_handler);
    CHECK_THROWS_AS(aio::run(
                        [&] {
                            try {
                                std::raise(SIGINT);
                                aio::sleep(10s);
                            } catch (const aio::cancelled_error& e) {
                                cleaned_up =
                                    std::string(e.what()).find("SIGINT") != std::string::npos;
                                throw;
                            }
                        },
                        o),
                    aio::interrupted_error);
    ::sigaction(SIGINT, &catch_handler, nullptr);
    CHECK(cleaned_up);
}

TEST_CASE("virtual time jumps over sleeps", "[run][time]") {
    auto real_start = std::chrono::steady_clock::now();
    aio::run(
        [] {
            auto& l = aio::get_running_loop();
            auto t0 = l.time();
            aio::sleep(1h);
            CHECK(l.time() - t0 >= 1h);
            CHECK(l.time() - t0 < 1h + 1ms);
        },
        quiet());
    CHECK(std::chrono::steady_clock::now() - real_start < 1s);
}

TEST_CASE("virtual time reports a deadlock instead of hanging", "[run][time]") {
    CHECK_THROWS_WITH(aio::run(
                          [] {
                              aio::event never;
                              never.wait();
                          },
                          quiet()),
                      Catch::Contains("deadlock"));
}

TEST_CASE("a second SIGINT ends the program at once", "[run][signal]") {
    auto r = aio::test::run_in_child([] {
        aio::run_options o;
        o.handle_signals = true;
        aio::run(
            [] {
                try {
                    std::raise(SIGINT);
                    aio::sleep(10s);
                } catch (const aio::cancelled_error&) {
                    std::raise(SIGINT);  // impatient user: Ctrl-C again during cleanup
                    aio::sleep(10s);
                }
            },
            o);
    });
    CHECK(r.signaled);
    CHECK(r.signal == SIGINT);
}

TEST_CASE("the test harness sees the tasks, timers, fds and resources a body leaves behind",
          "[run][harness]") {
    // run_test checks these before aio::run's close sequence cancels anything; if it checked
    // after, every leak would look clean.
    aio::run_options o;
    o.handle_signals = false;
    o.virtual_time = true;
    aio::run(
        [] {
            const auto before = aio::test::take_baseline();
            CHECK(aio::test::leftovers(before) == "");
            auto forgotten =
                aio::create_task(aio::task_options{.name = "forgotten"}, [] { aio::sleep(1h); });
            forgotten.detach();
            aio::sleep(0s);
            int fds[2];
            REQUIRE(::pipe(fds) == 0);
            auto timer = aio::get_running_loop().call_later(1h, [] {});
            aio::thread_pool_executor pool(1, "left open");
            const std::string left = aio::test::leftovers(before);
            CHECK_THAT(left, Catch::Contains("tasks still pending: forgotten"));
            CHECK_THAT(left, Catch::Contains("timers still pending: 2"));  // its sleep, the call
            CHECK_THAT(left, Catch::Contains("file descriptors still open: 2"));
            CHECK_THAT(left, Catch::Contains("resources still open: 1 (executor 'left open')"));
            ::close(fds[0]);
            ::close(fds[1]);
            timer.cancel();
            pool.shutdown();
            forgotten.cancel();
            aio::sleep(0s);
            CHECK(aio::test::leftovers(before) == "");
        },
        o);
}
