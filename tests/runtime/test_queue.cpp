#include "support.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace std::chrono_literals;
using aio::test::run_test;

TEST_CASE("queue hands items over in FIFO order", "[queue]") {
    run_test([] {
        aio::queue<int> q;
        auto consumer = aio::create_task([&] {
            std::vector<int> got;
            for (int i = 0; i < 3; ++i) {
                got.push_back(q.get());
            }
            return got;
        });
        aio::sleep(1ms);
        q.put(1);
        q.put(2);
        q.put_nowait(3);
        CHECK(consumer.get() == std::vector<int>{1, 2, 3});
        CHECK(q.empty());
    });
}

TEST_CASE("a bounded queue suspends put while full", "[queue]") {
    run_test([] {
        aio::queue<int> q(2);
        q.put(1);
        q.put(2);
        CHECK(q.full());
        CHECK_THROWS_AS(q.put_nowait(3), aio::queue_full);
        auto producer = aio::create_task([&] { q.put(3); });
        aio::sleep(1ms);
        CHECK_FALSE(producer.done());
        CHECK(q.get() == 1);
        producer.get();
        CHECK(q.get_nowait() == 2);
        CHECK(q.get_nowait() == 3);
        CHECK_THROWS_AS(q.get_nowait(), aio::queue_empty);
    });
}

TEST_CASE("a cancelled get takes nothing and a cancelled put leaves nothing", "[queue][cancel]") {
    run_test([] {
        aio::queue<int> q(1);
        auto getter = aio::create_task([&] { return q.get(); });
        aio::sleep(0s);
        getter.cancel();
        CHECK_THROWS_AS(getter.get(), aio::cancelled_error);
        q.put(1);
        auto putter = aio::create_task([&] { q.put(2); });
        aio::sleep(0s);
        putter.cancel();
        CHECK_THROWS_AS(putter.get(), aio::cancelled_error);
        CHECK(q.qsize() == 1);
        CHECK(q.get() == 1);
        CHECK(q.empty());
    });
}

TEST_CASE("an item handed to a getter cancelled before it resumes goes back to the queue",
          "[queue][cancel][handoff]") {
    run_test([] {
        aio::queue<std::string> q;
        auto getter = aio::create_task([&] { return q.get(); });
        aio::sleep(0s);
        q.put("precious");  // handed over, getter not yet resumed
        q.put("second");
        getter.cancel();
        CHECK_THROWS_AS(getter.get(), aio::cancelled_error);
        REQUIRE(q.qsize() == 2);
        CHECK(q.get_nowait() == "precious");  // back in front, order kept
        CHECK(q.get_nowait() == "second");
    });
}

TEST_CASE("a getter cancelled before items are put takes none of them",
          "[queue][cancel][handoff]") {
    run_test([] {
        aio::queue<int> q;
        auto reader = aio::create_task([&] { return q.get(); });
        aio::sleep(0s);
        q.put_nowait(1);
        q.put_nowait(2);
        reader.cancel();
        CHECK_THROWS_AS(reader.get(), aio::cancelled_error);
        auto again = aio::create_task([&] { return q.get(); });
        CHECK(again.get() == 1);  // 1 was not dropped
        CHECK(q.get_nowait() == 2);
    });
}

TEST_CASE("an item given back by a cancelled getter goes to the next waiting getter",
          "[queue][cancel][handoff]") {
    run_test([] {
        aio::queue<int> q;
        auto r1 = aio::create_task([&] { return q.get(); });
        auto r2 = aio::create_task([&] { return q.get(); });
        auto r3 = aio::create_task([&] { return q.get(); });
        aio::sleep(0s);
        q.put_nowait(1);  // to r1
        q.put_nowait(2);  // to r2
        r1.cancel();      // r1 gives 1 back: r3 gets it
        CHECK_THROWS_AS(r1.get(), aio::cancelled_error);
        CHECK(r3.get() == 1);
        CHECK(r2.get() == 2);
        CHECK(q.empty());
    });
}

TEST_CASE("a putter cancelled after room was made puts nothing", "[queue][cancel][handoff]") {
    run_test([] {
        aio::queue<int> q(1);
        q.put_nowait(1);
        auto writer = aio::create_task([&] { q.put(2); });
        aio::sleep(0s);
        CHECK(q.get_nowait() == 1);  // room for the writer ...
        writer.cancel();             // ... cancelled before it runs
        CHECK_THROWS_AS(writer.get(), aio::cancelled_error);
        CHECK(q.empty());
        auto retry = aio::create_task([&] { q.put(2); });
        aio::timeout(1s, [&] { retry.get(); });
        CHECK(q.get_nowait() == 2);
        CHECK(q.qsize() == 0);
    });
}

TEST_CASE("room given back by a cancelled putter goes to the next putter",
          "[queue][cancel][handoff]") {
    run_test([] {
        aio::queue<int> q(1);
        q.put_nowait(0);
        auto p1 = aio::create_task([&] { q.put(1); });
        auto p2 = aio::create_task([&] { q.put(2); });
        aio::sleep(0s);
        CHECK(q.get_nowait() == 0);
        p1.cancel();
        CHECK_THROWS_AS(p1.get(), aio::cancelled_error);
        aio::timeout(1s, [&] { p2.get(); });
        CHECK(q.get_nowait() == 2);
        CHECK(q.empty());
    });
}

TEST_CASE("join waits until every item is marked done", "[queue]") {
    run_test([] {
        aio::queue<int> q;
        int processed = 0;
        auto worker = aio::create_task([&] {
            for (;;) {
                q.get();
                aio::sleep(1ms);
                ++processed;
                q.task_done();
            }
        });
        for (int i = 0; i < 5; ++i) {
            q.put(i);
        }
        q.join();
        CHECK(processed == 5);
        worker.cancel();
        CHECK_THROWS_AS(worker.get(), aio::cancelled_error);
        CHECK_THROWS_AS(q.task_done(), aio::value_error);
    });
}

TEST_CASE("shutdown stops puts and drains gets", "[queue]") {
    run_test([] {
        aio::queue<int> q;
        auto blocked = aio::create_task([&] { return q.get(); });
        aio::sleep(0s);
        q.shutdown();
        CHECK_THROWS_AS(blocked.get(), aio::queue_shut_down);
        CHECK_THROWS_AS(q.put(1), aio::queue_shut_down);

        aio::queue<int> r;
        r.put(1);
        r.put(2);
        r.shutdown();
        CHECK(r.get() == 1);  // items left can still be taken
        CHECK(r.get() == 2);
        CHECK_THROWS_AS(r.get(), aio::queue_shut_down);

        aio::queue<int> s(1);
        s.put(1);
        auto putter = aio::create_task([&] { s.put(2); });
        aio::sleep(0s);
        s.shutdown(true);
        CHECK_THROWS_AS(putter.get(), aio::queue_shut_down);
        CHECK(s.empty());
        s.join();  // immediate shutdown counts dropped items as done
    });
}

TEST_CASE("priority_queue returns the smallest first", "[queue]") {
    run_test([] {
        aio::priority_queue<int> q;
        for (int v : {5, 1, 4, 2, 3}) {
            q.put(v);
        }
        std::vector<int> got;
        while (!q.empty()) {
            got.push_back(q.get());
        }
        CHECK(got == std::vector<int>{1, 2, 3, 4, 5});
    });
}

TEST_CASE("lifo_queue returns the newest first", "[queue]") {
    run_test([] {
        aio::lifo_queue<int> q;
        for (int v : {1, 2, 3}) {
            q.put(v);
        }
        CHECK(q.get() == 3);
        CHECK(q.get() == 2);
        CHECK(q.get() == 1);
    });
}

TEST_CASE("waiting getters are served in FIFO order", "[queue]") {
    run_test([] {
        aio::queue<int> q;
        std::vector<int> who;
        std::vector<aio::task<void>> ts;
        for (int i = 0; i < 3; ++i) {
            ts.push_back(aio::create_task([&, i] {
                q.get();
                who.push_back(i);
            }));
        }
        aio::sleep(0s);
        for (int i = 0; i < 3; ++i) {
            q.put(i);
        }
        aio::gather(ts);
        CHECK(who == std::vector<int>{0, 1, 2});
    });
}

TEST_CASE("an item handed to a getter occupies room until the getter has taken it",
          "[queue][handoff]") {
    run_test([] {
        aio::queue<int> q(1);
        auto getter = aio::create_task([&] { return q.get(); });
        aio::sleep(0s);
        q.put_nowait(1);  // handed to the getter, which has not run
        CHECK(q.full());  // as asyncio: the item still fills the queue's one slot
        CHECK_THROWS_AS(q.put_nowait(2), aio::queue_full);
        getter.cancel();  // gives 1 back: the queue never holds more than maxsize
        CHECK_THROWS_AS(getter.get(), aio::cancelled_error);
        CHECK(q.qsize() == 1);
        CHECK(q.get_nowait() == 1);
        auto putter = aio::create_task([&] { q.put(3); });
        aio::sleep(0s);
        CHECK(putter.done());
    });
}

TEST_CASE("a putter waits for room while the last item is on its way to a getter",
          "[queue][handoff]") {
    run_test([] {
        aio::queue<int> q(1);
        std::vector<int> got;
        auto getter = aio::create_task([&] { got.push_back(q.get()); });
        aio::sleep(0s);
        q.put_nowait(1);  // handed
        auto putter = aio::create_task([&] { q.put(2); });
        aio::sleep(0s);  // the getter takes 1; the putter then gets the room
        getter.get();
        putter.get();
        CHECK(got == std::vector<int>{1});
        CHECK(q.get_nowait() == 2);
        CHECK(q.qsize() == 0);
    });
}
