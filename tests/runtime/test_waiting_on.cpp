// task_ref::waiting_on: what a parked task waits on, for instruments and debug tools (the
// trace's task tracks).
#include "support.hpp"

#include <aio/aio.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using aio::test::run_test;

namespace {

// Spawns `fn`, lets it park, and returns what it waits on; then lets it finish with `release`.
template <class Fn, class Release>
std::string parked_on(Fn fn, Release release) {
    auto t = aio::create_task(fn);
    aio::sleep(0ms);
    aio::sleep(0ms);
    std::string on = aio::task_ref(t).waiting_on();
    release();
    t.get();
    return on;
}

}  // namespace

TEST_CASE("waiting_on names the primitive or call a parked task waits on", "[task]") {
    run_test([] {
        aio::event e;
        CHECK(parked_on([&] { e.wait(); }, [&] { e.set(); }) == "aio::event");

        aio::lock l;
        l.acquire();
        CHECK(parked_on([&] { auto g = l.guard(); }, [&] { l.release(); }) == "aio::lock");

        aio::semaphore s(0);
        CHECK(parked_on([&] { s.acquire(); }, [&] { s.release(); }) == "aio::semaphore");

        aio::condition c;
        CHECK(parked_on(
                  [&] {
                      std::lock_guard<aio::condition> g(c);
                      c.wait();
                  },
                  [&] {
                      std::lock_guard<aio::condition> g(c);
                      c.notify_all();
                  }) == "aio::condition");

        aio::queue<int> q(1);
        CHECK(parked_on([&] { (void)q.get(); }, [&] { q.put_nowait(1); }) == "aio::queue::get");
        q.put_nowait(1);
        CHECK(parked_on([&] { q.put(2); }, [&] { (void)q.get_nowait(); }) == "aio::queue::put");
        aio::queue<int> jobs;
        jobs.put_nowait(3);
        CHECK(parked_on([&] { jobs.join(); },
                        [&] {
                            (void)jobs.get_nowait();
                            jobs.task_done();
                        }) == "aio::queue::join");

        CHECK(parked_on([] { aio::sleep(10ms); }, [] {}) == "aio::sleep");
    });
}

TEST_CASE("waiting_on names get(), gather, a task group and a thread call", "[task]") {
    run_test([] {
        aio::event e;
        auto child = aio::create_task([&] { e.wait(); });
        CHECK(parked_on([&] { child.get(); }, [&] { e.set(); }) == "aio::task::get");

        aio::event e2;
        CHECK(parked_on(
                  [&] {
                      auto a = aio::create_task([&] { e2.wait(); });
                      aio::gather(a);
                  },
                  [&] { e2.set(); }) == "aio::gather");

        aio::event e3;
        CHECK(parked_on(
                  [&] {
                      aio::with_task_group(
                          [&](aio::task_group& g) { g.create_task([&] { e3.wait(); }); });
                  },
                  [&] { e3.set(); }) == "aio::task_group");
    });
    run_test(
        [] {
            std::atomic<bool> go{false};
            CHECK(parked_on(
                      [&] {
                          aio::to_thread([&] {
                              while (!go.load()) {
                                  std::this_thread::sleep_for(1ms);
                              }
                          });
                      },
                      [&] { go = true; }) == "aio::to_thread");
        },
        {.virtual_time = false});
}

TEST_CASE("waiting_on is empty for a task that is not parked", "[task]") {
    run_test([] {
        auto me = aio::current_task();
        CHECK(std::string(me.waiting_on()).empty());  // running
        auto t = aio::create_task([] {});
        CHECK(std::string(aio::task_ref(t).waiting_on()).empty());  // ready to run
        t.get();
        CHECK(std::string(aio::task_ref(t).waiting_on()).empty());  // done
        CHECK(std::string(aio::task_ref().waiting_on()).empty());   // empty handle
    });
}

TEST_CASE("waiting_on names the stream call a task reads with", "[task][stream]") {
    run_test(
        [] {
            aio::event got;
            auto srv =
                aio::start_server([&](aio::stream& s) { (void)s.read_line(); }, "127.0.0.1", 0);
            auto s = aio::open_connection("127.0.0.1", srv.port());
            auto reader = aio::create_task([&] { (void)s.read_line(); });
            aio::sleep(20ms);
            CHECK(std::string(aio::task_ref(reader).waiting_on()) == "aio::stream::read_line");
            reader.cancel();
            CHECK_THROWS_AS(reader.get(), aio::cancelled_error);
            s.close();
            srv.close();
            srv.wait_closed();
        },
        {.virtual_time = false});
}
