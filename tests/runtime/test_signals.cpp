// Signals handled on the loop: add_signal_handler / remove_signal_handler (asyncio's loop
// methods), several loops at once, and a loop torn down while signals arrive.
#include "child.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace std::chrono_literals;
using aio::test::run_test;

namespace {

// The handler the process has for `sig` right now.
void* disposition(int sig) {
    struct sigaction sa {};
    ::sigaction(sig, nullptr, &sa);
    return reinterpret_cast<void*>(sa.sa_handler);
}

}  // namespace

TEST_CASE("a signal handler runs on the loop each time the signal arrives", "[signal]") {
    run_test([] {
        const auto loop_thread = std::this_thread::get_id();
        int calls = 0;
        std::thread::id ran_on;
        aio::event got;
        aio::add_signal_handler(SIGUSR1, [&] {
            ++calls;
            ran_on = std::this_thread::get_id();
            got.set();
        });
        for (int i = 1; i <= 3; ++i) {
            got.clear();
            ::kill(::getpid(), SIGUSR1);  // to the process: any thread may take it
            got.wait();
            CHECK(calls == i);
        }
        CHECK(ran_on == loop_thread);
        CHECK(aio::remove_signal_handler(SIGUSR1));
    });
}

TEST_CASE("one handler object serves every call, its state kept", "[signal]") {
    run_test([] {
        std::vector<int> seen;
        aio::event got;
        aio::add_signal_handler(SIGUSR1, [&, calls = 0]() mutable {
            seen.push_back(++calls);
            got.set();
        });
        for (int i = 0; i < 3; ++i) {
            got.clear();
            ::kill(::getpid(), SIGUSR1);
            got.wait();
        }
        CHECK(seen == std::vector<int>{1, 2, 3});
        aio::remove_signal_handler(SIGUSR1);
    });
}

TEST_CASE("remove_signal_handler says whether there was one and restores the disposition",
          "[signal]") {
    void* before = disposition(SIGUSR2);
    run_test([&] {
        CHECK_FALSE(aio::remove_signal_handler(SIGUSR2));
        aio::add_signal_handler(SIGUSR2, [] {});
        CHECK(disposition(SIGUSR2) != before);
        aio::add_signal_handler(SIGUSR2, [] {});  // replaces, still one user
        CHECK(aio::remove_signal_handler(SIGUSR2));
        CHECK(disposition(SIGUSR2) == before);
        CHECK_FALSE(aio::remove_signal_handler(SIGUSR2));
        aio::add_signal_handler(SIGUSR2, [] {});  // left installed: the loop's close removes it
    });
    CHECK(disposition(SIGUSR2) == before);
}

TEST_CASE("signals that cannot reach a loop are refused with a clear error", "[signal]") {
    run_test([] {
        CHECK_THROWS_WITH(aio::add_signal_handler(0, [] {}),
                          Catch::Contains("0 is not a signal number (accepted: 1 to 64"));
        CHECK_THROWS_AS(aio::add_signal_handler(65, [] {}), aio::value_error);
        CHECK_THROWS_WITH(aio::add_signal_handler(SIGKILL, [] {}),
                          Catch::Contains("cannot be caught"));
        CHECK_THROWS_WITH(aio::add_signal_handler(SIGSTOP, [] {}),
                          Catch::Contains("cannot be caught"));
        CHECK_THROWS_WITH(aio::add_signal_handler(SIGSEGV, [] {}),
                          Catch::Contains("cannot wait for the loop"));
        CHECK_THROWS_WITH(aio::add_signal_handler(SIGURG, [] {}), Catch::Contains("reserved"));
        CHECK_THROWS_WITH(aio::add_signal_handler(SIGUSR1, nullptr), Catch::Contains("empty"));
        CHECK_THROWS_AS(aio::remove_signal_handler(-3), aio::value_error);
    });
    CHECK_THROWS_WITH(aio::add_signal_handler(SIGUSR1, [] {}),
                      Catch::Contains("no running event loop"));
}

TEST_CASE("an exception thrown by a signal handler goes to the exception handler", "[signal]") {
    run_test([] {
        std::string reported;
        aio::event done;
        aio::get_running_loop().set_exception_handler(
            [&](aio::loop&, const aio::exception_context& c) {
                reported = c.message;
                done.set();
            });
        aio::add_signal_handler(SIGUSR1, [] { throw std::runtime_error("handler failed"); });
        ::kill(::getpid(), SIGUSR1);
        done.wait();
        CHECK(reported == "Exception in callback");
        aio::get_running_loop().set_exception_handler(nullptr);
    });
}

TEST_CASE("a signal sent to the process reaches every loop that handles it", "[signal][thread]") {
    constexpr int loops = 3;
    std::atomic<int> ready{0};
    std::atomic<int> got{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < loops; ++i) {
        // Plain aio::run on the threads: Catch2's assertions are for the main thread only.
        threads.emplace_back([&] {
            aio::run_options o;
            o.handle_signals = false;
            try {
                aio::run(
                    [&] {
                        aio::event ev;
                        aio::add_signal_handler(SIGUSR1, [&] { ev.set(); });
                        ++ready;
                        aio::timeout(10s, [&] { ev.wait(); });
                        ++got;
                    },
                    o);
            } catch (...) {
                ++ready;  // counted as not reached
            }
        });
    }
    while (ready < loops) {
        std::this_thread::sleep_for(1ms);
    }
    ::kill(::getpid(), SIGUSR1);
    for (auto& t : threads) {
        t.join();
    }
    CHECK(got == loops);
}

TEST_CASE("signals arriving while loops start and close never touch a closed loop",
          "[signal][thread]") {
    // Another thread sends signals without pause while loops on this thread add a handler and
    // close (their state is freed) again and again. Under the asan and tsan presets this
    // proves the handler and a loop's teardown do not race.
    void* before = disposition(SIGUSR2);
    std::atomic<bool> stop{false};
    std::atomic<long> sent{0};
    // Keep the default action of SIGUSR2 (terminate) away while no loop handles it.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    struct sigaction saved {};
    ::sigaction(SIGUSR2, &ignore, &saved);
    std::thread sender([&] {
        while (!stop) {
            ::kill(::getpid(), SIGUSR2);
            ++sent;
        }
    });
    int handled = 0;
    for (int i = 0; i < 200; ++i) {
        aio::run_options o;
        o.handle_signals = false;
        aio::run(
            [&] {
                aio::add_signal_handler(SIGUSR2, [&] { ++handled; });
                aio::sleep(0s);
                aio::sleep(0s);
            },
            o);
    }
    stop = true;
    sender.join();
    ::sigaction(SIGUSR2, &saved, nullptr);
    CHECK(sent > 0);
    CHECK(disposition(SIGUSR2) == before);
}

TEST_CASE("a SIGINT handler takes the place of Ctrl-C handling until it is removed",
          "[signal][run]") {
    auto r = aio::test::run_in_child([] {
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        ::sigaction(SIGINT, &dfl, nullptr);  // as in a program: aio::run handles Ctrl-C
        try {
            aio::run([] {
                aio::event first;
                aio::add_signal_handler(SIGINT, [&] { first.set(); });
                std::raise(SIGINT);
                first.wait();  // ours, not a cancellation of main
                std::fputs("handler ran\n", stderr);
                aio::remove_signal_handler(SIGINT);
                std::raise(SIGINT);  // Ctrl-C again: now it cancels main
                aio::sleep(10s);
                std::fputs("not cancelled\n", stderr);
            });
        } catch (const aio::interrupted_error&) {
            std::fputs("interrupted\n", stderr);
        }
    });
    CHECK(r.exited);
    CHECK_THAT(r.err, Catch::Contains("handler ran\ninterrupted"));
}
