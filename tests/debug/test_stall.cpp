#include "debug_run.hpp"

#include <aio/aio.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

using namespace std::chrono_literals;
using aio::test::debug_run;

namespace {

// A CPU loop that never yields: the stall's culprit line must be in here.
__attribute__((noinline)) double calc_pi(std::chrono::milliseconds how_long) {
    double pi = 0;
    auto end = std::chrono::steady_clock::now() + how_long;
    for (long k = 0; std::chrono::steady_clock::now() < end; ++k) {
        pi += (k % 2 == 0 ? 4.0 : -4.0) / static_cast<double>(2 * k + 1);
    }
    return pi;
}

}  // namespace

TEST_CASE("stall: the stack is captured inside the blocking code while it blocks",
          "[debug][stall]") {
    auto r = debug_run(
        [] {
            auto t = aio::create_task(aio::task_options{.name = "worker"},
                                      [] { return calc_pi(500ms); });
            CHECK(t.get() > 3.0);
        },
        "stall=50ms,only=stall");
    REQUIRE(r.count("stall") == 1);
    CHECK_THAT(r.err, Catch::Contains("[stall] loop blocked") &&
                          Catch::Contains("so far in task 'worker'"));
    auto j = nlohmann::json::parse(r.report);
    auto f = j["findings"][0];
    CHECK(f["duration_ms"].get<double>() >= 500);
    CHECK(f["task"]["name"] == "worker");
    REQUIRE_FALSE(f["culprit"].empty());
    CHECK_THAT(f["culprit"][0]["function"].get<std::string>(), Catch::Contains("calc_pi"));
    CHECK(j["run"]["longest_stall_ms"].get<double>() >= 500);
}

TEST_CASE("stall stays silent when every step is short", "[debug][stall]") {
    auto r = debug_run(
        [] {
            for (int i = 0; i < 20; ++i) {
                calc_pi(2ms);
                aio::sleep(0s);
            }
        },
        "stall=50ms,only=stall");
    CHECK(r.count("stall") == 0);
}

namespace {

__attribute__((noinline)) double spin_alpha(std::chrono::milliseconds how_long) {
    return calc_pi(how_long) + 1;
}

__attribute__((noinline)) double spin_beta(std::chrono::milliseconds how_long) {
    return calc_pi(how_long) + 2;
}

// The first culprit frames' functions of every stall in a JSON report.
std::vector<std::string> stall_culprits(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    std::vector<std::string> out;
    if (text.str().empty()) {
        return out;
    }
    auto j = nlohmann::json::parse(text.str());
    for (const auto& f : j["findings"]) {
        if (f["id"] == "stall") {
            std::string frames;
            for (const auto& fr : f["culprit"]) {
                frames += fr["function"].get<std::string>() + ";";
            }
            out.push_back(frames);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("stall: two loops on two threads, each stalling in its own function, each named",
          "[debug][stall][thread]") {
    // Loops on two threads stall at the same time; each report must name the function of its
    // own loop thread (the stack capture is per loop, not process-wide).
    std::string paths[2] = {"/tmp/aio-two-loops-XXXXXX", "/tmp/aio-two-loops-XXXXXX"};
    for (auto& p : paths) {
        ::close(::mkstemp(p.data()));
    }
    std::atomic<int> ready{0};
    auto run_loop = [&](int which) {
        aio::run_options o;
        o.handle_signals = false;
        o.debug = "stall=50ms,only=stall,color=never,report=" + paths[which];
        aio::run(
            [&] {
                ++ready;
                while (ready < 2) {
                    std::this_thread::yield();  // both loops stall together
                }
                auto t = aio::create_task(
                    [which] { return which == 0 ? spin_alpha(400ms) : spin_beta(400ms); });
                t.get();
            },
            o);
    };
    std::fflush(stderr);
    int saved = ::dup(STDERR_FILENO);
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, STDERR_FILENO);
    ::close(devnull);
    std::thread a(run_loop, 0);
    std::thread b(run_loop, 1);
    a.join();
    b.join();
    std::fflush(stderr);
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    auto alpha = stall_culprits(paths[0]);
    auto beta = stall_culprits(paths[1]);
    for (auto& p : paths) {
        ::unlink(p.c_str());
    }
    REQUIRE(alpha.size() == 1);
    REQUIRE(beta.size() == 1);
    CHECK_THAT(alpha[0], Catch::Contains("spin_alpha") && !Catch::Contains("spin_beta"));
    CHECK_THAT(beta[0], Catch::Contains("spin_beta") && !Catch::Contains("spin_alpha"));
}

namespace {

// A raw nanosleep that is not retried: a signal would end it early with EINTR.
__attribute__((noinline)) long raw_sleep(std::chrono::milliseconds how_long) {
    struct timespec ts {
        0, static_cast<long>(std::chrono::nanoseconds(how_long).count())
    };
    return ::syscall(SYS_nanosleep, &ts, nullptr);
}

}  // namespace

TEST_CASE("stall: a thread blocked in the kernel is sampled without cutting its call short",
          "[debug][stall]") {
    // asyncio's debug mode never interrupts the program; neither may aio's. Under the old
    // signal-based capture this sleep returned -1 (EINTR) after about 60 ms.
    long result = 0;
    double slept_ms = 0;
    auto r = debug_run(
        [&] {
            auto start = std::chrono::steady_clock::now();
            result = raw_sleep(200ms);
            slept_ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count();
        },
        "stall=50ms,only=stall");
    CHECK(result == 0);
    CHECK(slept_ms >= 199);
    REQUIRE(r.count("stall") == 1);
    auto f = nlohmann::json::parse(r.report)["findings"][0];
    CHECK_THAT(f["message"].get<std::string>(),
               Catch::Contains("blocked in the kernel, in the system call nanosleep"));
    REQUIRE_FALSE(f["culprit"].empty());
    CHECK_THAT(f["culprit"][0]["function"].get<std::string>(), Catch::Contains("raw_sleep"));
    CHECK(f["task"]["name"] == "main");
    CHECK_THAT(r.err,
               Catch::Contains("so far in task 'main' at") && Catch::Contains("test_stall.cpp"));
}

TEST_CASE("stall: a ppoll blocked in the kernel is not interrupted either", "[debug][stall]") {
    int rc = -2;
    auto r = debug_run(
        [&] {
            struct timespec ts {
                0, 150'000'000
            };
            rc = ::ppoll(nullptr, 0, &ts, nullptr);
        },
        "stall=50ms,only=stall");
    CHECK(rc == 0);  // timed out, not interrupted (-1, EINTR)
    CHECK(r.count("stall") == 1);
}
