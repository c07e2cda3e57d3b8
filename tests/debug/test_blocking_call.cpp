#include "debug_run.hpp"

#include <aio/aio.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;
using aio::test::debug_run;

TEST_CASE("blocking-call: std::this_thread::sleep_for in a task is reported with its line",
          "[debug][blocking-call]") {
    auto r = debug_run([] {
        auto t = aio::create_task([] { std::this_thread::sleep_for(2ms); });
        t.get();
    });
    REQUIRE(r.count("blocking-call") == 1);
    CHECK_THAT(r.err, Catch::Contains("[blocking-call] blocking call nanosleep()"));
    auto j = nlohmann::json::parse(r.report);
    auto culprit = j["findings"][0]["culprit"];
    REQUIRE_FALSE(culprit.empty());
    CHECK_THAT(culprit[0]["file"].get<std::string>(), Catch::EndsWith("test_blocking_call.cpp"));
    CHECK(j["findings"][0]["duration_ms"].get<double>() >= 2);
}

TEST_CASE("blocking-call: sleep() and a read on a blocking socket are reported",
          "[debug][blocking-call]") {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    auto r = debug_run([&] {
        auto t = aio::create_task([&] {
            ::usleep(100);
            char c = 'x';
            REQUIRE(::send(fds[0], &c, 1, MSG_DONTWAIT) == 1);  // non-blocking flag: silent
            REQUIRE(::read(fds[1], &c, 1) == 1);                // blocking socket: reported
        });
        t.get();
    });
    ::close(fds[0]);
    ::close(fds[1]);
    CHECK(r.count("blocking-call") == 2);
    CHECK_THAT(r.err, Catch::Contains("usleep()"));
    CHECK_THAT(r.err, Catch::Contains("read()"));
    CHECK(r.err.find("send()") == std::string::npos);
}

TEST_CASE("blocking-call stays silent off the loop, outside tasks and for async calls",
          "[debug][blocking-call]") {
    auto r = debug_run([] {
        aio::to_thread([] { std::this_thread::sleep_for(1ms); });  // an executor thread
        aio::sleep(1ms);                                           // the async form
        struct pollfd p {};
        p.fd = -1;
        ::poll(&p, 1, 0);       // poll without a timeout does not block
        std::printf("%s", "");  // stdout is no socket
    });
    CHECK(r.count("blocking-call") == 0);
}

TEST_CASE("interposed calls pass straight through when debug mode is off",
          "[debug][blocking-call]") {
    auto r = debug_run(
        [] {
            auto t = aio::create_task([] { std::this_thread::sleep_for(1ms); });
            t.get();
        },
        "0");
    CHECK(r.err.find("blocking-call") == std::string::npos);
}

namespace {
// While set, a worker thread started by a thread other than `loop` holds the pool's queue
// lock for 20 ms (the hook runs inside submit, under that lock): a stand-in for a worker
// preempted while it holds the lock, as happens on a loaded machine.
std::atomic<bool> lock_held{false};
std::thread::id hook_loop_thread;
void slow_thread_start() {
    if (std::this_thread::get_id() != hook_loop_thread) {
        lock_held = true;
        std::this_thread::sleep_for(20ms);
    }
}
}  // namespace

TEST_CASE("blocking-call stays silent while aio's executor waits for its own queue lock",
          "[debug][blocking-call]") {
    aio::thread_pool_executor pool(4, "contended");
    hook_loop_thread = std::this_thread::get_id();
    lock_held = false;
    aio::detail::executor_thread_start_hook = slow_thread_start;
    std::thread other;
    auto r = debug_run([&] {
        other = std::thread([&] { pool.submit([] {}); });
        while (!lock_held) {
            aio::sleep(1ms);
        }
        // The other thread is inside submit, holding the lock: this submit waits for it.
        auto t0 = std::chrono::steady_clock::now();
        aio::run_in_executor(&pool, [] {});
        CHECK(std::chrono::steady_clock::now() - t0 >= 5ms);  // it did wait
    });
    other.join();
    aio::detail::executor_thread_start_hook = nullptr;
    CHECK(r.count("blocking-call") == 0);
    CHECK_THAT(r.err, !Catch::Contains("blocking-call"));
}
