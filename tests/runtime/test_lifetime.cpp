// Destroying a primitive while tasks wait on it is never undefined: each waiting task wakes
// with a usage_error that names the primitive (run these under the asan preset).
#include "support.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>

using namespace std::chrono_literals;
using aio::test::run_test;

namespace {

// Runs `wait(p)` in a task, destroys `p` while the task waits, and returns what the task got.
template <class P, class Wait>
std::string destroyed_under(std::unique_ptr<P> p, Wait wait) {
    auto t = aio::create_task([&p, wait] { wait(*p); });
    aio::sleep(0s);
    REQUIRE_FALSE(t.done());
    p.reset();
    try {
        t.get();
    } catch (const aio::usage_error& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("destroying a primitive while a task waits on it wakes the task with usage_error",
          "[lifetime][event][lock][semaphore][condition][barrier][queue]") {
    run_test([] {
        CHECK_THAT(destroyed_under(std::make_unique<aio::event>(), [](aio::event& e) { e.wait(); }),
                   Catch::Contains("aio::event was destroyed while task"));
        auto held = std::make_unique<aio::lock>();
        held->acquire();
        CHECK_THAT(destroyed_under(std::move(held), [](aio::lock& l) { l.acquire(); }),
                   Catch::Contains("aio::lock was destroyed"));
        CHECK_THAT(destroyed_under(std::make_unique<aio::semaphore>(0),
                                   [](aio::semaphore& s) { s.acquire(); }),
                   Catch::Contains("aio::semaphore was destroyed"));
        CHECK_THAT(destroyed_under(std::make_unique<aio::condition>(),
                                   [](aio::condition& c) {
                                       c.acquire();
                                       c.wait();
                                   }),
                   Catch::Contains("aio::condition was destroyed"));
        CHECK_THAT(
            destroyed_under(std::make_unique<aio::barrier>(2), [](aio::barrier& b) { b.wait(); }),
            Catch::Contains("aio::barrier was destroyed"));
        CHECK_THAT(destroyed_under(std::make_unique<aio::queue<int>>(),
                                   [](aio::queue<int>& q) { q.get(); }),
                   Catch::Contains("aio::queue was destroyed"));
        auto full = std::make_unique<aio::queue<int>>(1);
        full->put_nowait(1);
        CHECK_THAT(destroyed_under(std::move(full), [](aio::queue<int>& q) { q.put(2); }),
                   Catch::Contains("aio::queue was destroyed"));
    });
}

TEST_CASE("the error names the waiting task and says how to fix the program", "[lifetime]") {
    run_test([] {
        auto ev = std::make_unique<aio::event>();
        auto t = aio::create_task(aio::task_options{.name = "consumer"}, [&] { ev->wait(); });
        aio::sleep(0s);
        ev.reset();
        CHECK_THROWS_WITH(t.get(), Catch::Contains("task 'consumer'") &&
                                       Catch::Contains("keep it alive until no task waits"));
    });
}

TEST_CASE("a lock destroyed after it was handed to a waiter that is then cancelled is not "
          "touched again",
          "[lifetime][lock][cancel]") {
    run_test([] {
        auto l = std::make_unique<aio::lock>();
        l->acquire();
        auto t = aio::create_task([&] { l->acquire(); });
        aio::sleep(0s);
        l->release();  // handed to t, which has not run
        l.reset();     // destroyed: t must not give it back into freed memory
        t.cancel();
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);
    });
}

TEST_CASE("a queue destroyed with an item handed to a cancelled getter is not touched again",
          "[lifetime][queue][cancel]") {
    run_test([] {
        auto q = std::make_unique<aio::queue<std::string>>();
        auto t = aio::create_task([&] { return q->get(); });
        aio::sleep(0s);
        q->put_nowait("item");
        q.reset();
        t.cancel();
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);
    });
}

TEST_CASE("an event that goes out of scope in a failing main does not crash the shutdown",
          "[lifetime][event]") {
    // The realistic case: main throws, its local event is destroyed while a task still waits
    // on it, and aio::run then cancels that task.
    aio::run_options ro;
    ro.virtual_time = true;
    ro.handle_signals = false;
    CHECK_THROWS_WITH(aio::run(
                          [] {
                              aio::event ev;
                              auto waiter = aio::create_task([&] { ev.wait(); });
                              waiter.detach();
                              aio::sleep(0s);
                              throw std::runtime_error("main failed");
                          },
                          ro),
                      "main failed");
}
