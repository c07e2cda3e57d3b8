// Loops and threads: every loop call from a thread that does not run the loop is a clear
// usage_error (with and without debug mode), and loops on several threads keep to themselves.
#include "support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include <pthread.h>

using namespace std::chrono_literals;
using aio::test::run_test;

namespace {

// Runs `fn` on a new thread named `name` and returns the usage_error it threw ("" if none).
std::string from_thread(const std::function<void()>& fn, const char* name = "intruder") {
    std::string error = "no error";
    std::thread th([&] {
        ::pthread_setname_np(::pthread_self(), name);
        try {
            fn();
        } catch (const aio::usage_error& e) {
            error = e.what();
        }
    });
    th.join();
    return error;
}

}  // namespace

TEST_CASE("loop calls from a foreign thread are usage errors naming both threads",
          "[thread][wrong-thread]") {
    run_test([] {
        auto& l = aio::get_running_loop();
        aio::event ev;
        aio::queue<int> q;
        auto parked = aio::create_task([&] { ev.wait(); });
        auto getter = aio::create_task([&] { return q.get(); });
        aio::sleep(0s);
        auto later = l.call_later(1h, [] {});

        const std::string cancel = from_thread([&] { parked.cancel(); });
        CHECK_THAT(cancel,
                   Catch::Contains("aio::task::cancel was called from thread 'intruder' (tid"));
        CHECK_THAT(cancel, Catch::Contains("belongs to the event loop of thread"));
        CHECK_THAT(cancel, Catch::Contains("call_soon_threadsafe"));
        CHECK_FALSE(parked.done());
        CHECK(parked.cancelling() == 0);  // refused: nothing changed

        CHECK_THAT(from_thread([&] { ev.set(); }),
                   Catch::Contains("aio::event::set was called from"));
        CHECK_FALSE(ev.is_set());
        CHECK_THAT(from_thread([&] { q.put_nowait(1); }),
                   Catch::Contains("aio::queue::put was called from"));
        CHECK(q.empty());
        CHECK_THAT(from_thread([&] { l.call_soon([] {}); }),
                   Catch::Contains("loop::call_soon was called from"));
        CHECK_THAT(from_thread([&] { later.cancel(); }),
                   Catch::Contains("aio::timer_handle::cancel was called from"));
        CHECK_FALSE(later.cancelled());
        CHECK_THAT(
            from_thread([&] {
                auto t = aio::create_task([] {});
                t.detach();
            }),
            Catch::Contains("aio::create_task() was called from thread 'intruder'") &&
                Catch::Contains("which runs no event loop, while the only event loop runs on"));
        // Asking is no mistake: get_running_loop() keeps its plain answer.
        CHECK_THAT(from_thread([] { (void)aio::get_running_loop(); }),
                   Catch::Contains("aio::get_running_loop(): no running event loop on thread "
                                   "'intruder'"));
        CHECK_THAT(from_thread([&] { parked.add_done_callback([](aio::task_ref) {}); }),
                   Catch::Contains("add_done_callback was called from"));

        later.cancel();
        ev.set();
        parked.get();
        q.put_nowait(7);
        CHECK(getter.get() == 7);
    });
}

TEST_CASE("a task of one loop cannot wait on a task or a primitive of another loop",
          "[thread][wrong-thread]") {
    aio::run_options o;
    o.handle_signals = false;
    aio::run(
        [] {
            aio::event ev;
            auto waiter = aio::create_task([&] { ev.wait(); });
            aio::sleep(0s);
            std::string get_error;
            std::string wait_error;
            std::string lock_error;
            aio::lock held;
            held.acquire();  // by main; nobody waits for it
            std::thread other([&] {
                aio::run_options oo;
                oo.handle_signals = false;
                aio::run(
                    [&] {
                        try {
                            waiter.get();
                        } catch (const aio::usage_error& e) {
                            get_error = e.what();
                        }
                        try {
                            ev.wait();
                        } catch (const aio::usage_error& e) {
                            wait_error = e.what();
                        }
                        try {
                            held.acquire();
                        } catch (const aio::usage_error& e) {
                            lock_error = e.what();
                        }
                    },
                    oo);
            });
            other.join();
            CHECK_THAT(get_error, Catch::Contains("aio::task::get was called from") &&
                                      Catch::Contains("which runs another event loop"));
            CHECK_THAT(wait_error, Catch::Contains("aio::event::wait was called from"));
            CHECK_THAT(lock_error, Catch::Contains("aio::lock::acquire was called from"));
            held.release();
            ev.set();
            waiter.get();
        },
        o);
}

TEST_CASE("foreign-thread calls are refused in debug mode too, and reported",
          "[thread][wrong-thread][debug]") {
    aio::run_options o;
    o.handle_signals = false;
    o.debug = "1";
    aio::run(
        [] {
            auto parked = aio::create_task([] { aio::sleep(1h); });
            aio::sleep(0s);
            CHECK_THAT(from_thread([&] { parked.cancel(); }),
                       Catch::Contains("aio::task::cancel was called from"));
            parked.cancel();
            CHECK_THROWS_AS(parked.get(), aio::cancelled_error);
        },
        o);
}
