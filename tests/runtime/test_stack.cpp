#include "child.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using aio::test::run_in_child;

namespace {

// Uses about 1 KiB of stack per level; the volatile writes keep the frames real.
int recurse(int depth) {
    volatile char frame[1024];
    frame[0] = static_cast<char>(depth);
    frame[sizeof frame - 1] = static_cast<char>(depth);
    if (depth == 0) {
        return frame[0];
    }
    return recurse(depth - 1) + frame[sizeof frame - 1];
}

}  // namespace

#if !defined(AIO_SANITIZE_ADDRESS)  // AddressSanitizer reports overflows itself

namespace {
aio::run_options quiet() {
    aio::run_options o;
    o.handle_signals = false;
    return o;
}
}  // namespace

TEST_CASE("a stack overflow names the task and its stack size", "[stack][death]") {
    auto r = run_in_child([] {
        aio::run(
            [] {
                auto t =
                    aio::create_task(aio::task_options{.name = "deep", .stack_size = 64 * 1024},
                                     [] { return recurse(1000); });
                t.get();
            },
            quiet());
    });
    CHECK(r.signaled);
    CHECK(r.signal == SIGABRT);
    CHECK_THAT(r.err, Catch::Contains("stack overflow in task 'deep'"));
    CHECK_THAT(r.err, Catch::Contains("64 KiB"));
    CHECK_THAT(r.err, Catch::Contains("test_stack.cpp"));
}

TEST_CASE("past the guard-page budget, a canary catches the overflow", "[stack][death]") {
    auto r = run_in_child([] {
        aio::run(
            [] {
                aio::event never;
                std::vector<aio::task<void>> idle;
                const std::size_t n = aio::detail::stack_pool_guarded_budget() + 100;
                for (std::size_t i = 0; i < n; ++i) {
                    idle.push_back(aio::create_task([&] { never.wait(); }));
                }
                aio::sleep(0s);  // let them all start and take a stack
                auto t = aio::create_task(
                    aio::task_options{.name = "deep-canary", .stack_size = 64 * 1024}, [] {
                        recurse(100);
                        aio::sleep(0s);
                    });
                t.get();
            },
            quiet());
    });
    CHECK(r.signaled);
    CHECK(r.signal == SIGABRT);
    CHECK_THAT(r.err, Catch::Contains("stack overflow in task 'deep-canary'"));
}

#endif

TEST_CASE("a task's stack can be larger than the default", "[stack]") {
    aio::test::run_test([] {
        auto t = aio::create_task(aio::task_options{.name = "big", .stack_size = 4 * 1024 * 1024},
                                  [] { return recurse(2000); });
        CHECK(t.get() >= 0);
        CHECK(t.stack_size() == 4 * 1024 * 1024);
    });
}

TEST_CASE("the default stack size can be set for a loop", "[stack]") {
    aio::run_options o;
    o.handle_signals = false;
    o.stack_size = 256 * 1024;
    aio::run(
        [] {
            auto t = aio::create_task([] {});
            CHECK(t.stack_size() == 256 * 1024);
            t.get();
        },
        o);
    CHECK(aio::default_stack_size() >= 128 * 1024);
}

TEST_CASE("many tasks alive at once each get a stack", "[stack]") {
    aio::test::run_test([] {
        aio::event go;
        std::vector<aio::task<int>> ts;
        for (int i = 0; i < 20000; ++i) {
            ts.push_back(aio::create_task([&go, i] {
                go.wait();
                return i;
            }));
        }
        aio::sleep(0s);
        go.set();
        auto values = aio::gather(ts);
        CHECK(values.back() == 19999);
    });
}

// Judged by the process's RSS, which AddressSanitizer's own memory (shadow, quarantine of
// freed blocks) moves by tens of MiB on its own: the default preset runs it.
#if !defined(AIO_SANITIZE_ADDRESS)
namespace {
long rss_kib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::strtol(line.c_str() + 6, nullptr, 10);
        }
    }
    return -1;
}
}  // namespace

TEST_CASE("after a burst, stacks past the pool's high-water mark give their memory back",
          "[stack]") {
    aio::test::run_test([] {
        // 1200 tasks alive at once, each 40 KiB deep: about 47 MiB of stack touched. Past the
        // 256 warm stacks the pool keeps, the pages go back to the kernel when they end.
        aio::event go;
        std::vector<aio::task<int>> ts;
        for (int i = 0; i < 1200; ++i) {
            ts.push_back(aio::create_task([&go, i] {
                int r = recurse(40);
                go.wait();
                return r + i;
            }));
        }
        aio::sleep(0s);
        long peak = rss_kib();
        go.set();
        (void)aio::gather(ts);
        ts.clear();
        long after = rss_kib();
        CAPTURE(peak, after);
        CHECK(peak - after > 25 * 1024);  // at least 25 of the ~37 MiB past the mark
        // The pool still works, warm and cold stacks alike.
        std::vector<aio::task<int>> again;
        for (int i = 0; i < 1200; ++i) {
            again.push_back(aio::create_task([i] { return recurse(40) + i; }));
        }
        (void)aio::gather(again);
    });
}
#endif
