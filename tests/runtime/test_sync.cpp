#include "support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using aio::test::run_test;

// ---- event ----

TEST_CASE("event wakes every waiter when set", "[event]") {
    run_test([] {
        aio::event ev;
        int woken = 0;
        std::vector<aio::task<void>> ts;
        for (int i = 0; i < 3; ++i) {
            ts.push_back(aio::create_task([&] {
                ev.wait();
                ++woken;
            }));
        }
        aio::sleep(1ms);
        CHECK(woken == 0);
        ev.set();
        aio::gather(ts);
        CHECK(woken == 3);
        CHECK(ev.is_set());
        ev.wait();  // set: returns at once
        ev.clear();
        CHECK_FALSE(ev.is_set());
    });
}

TEST_CASE("a task blocked on an event can be cancelled", "[event][cancel]") {
    run_test([] {
        aio::event ev;
        auto t = aio::create_task([&] { ev.wait(); });
        aio::sleep(0s);
        t.cancel();
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);
        ev.set();  // nobody left waiting; no crash
    });
}

// ---- lock ----

TEST_CASE("lock serializes tasks in FIFO order", "[lock]") {
    run_test([] {
        aio::lock l;
        std::vector<int> order;
        std::vector<aio::task<void>> ts;
        for (int i = 0; i < 4; ++i) {
            ts.push_back(aio::create_task([&, i] {
                auto held = l.guard();
                order.push_back(i);
                aio::sleep(1ms);
                order.push_back(i);
            }));
        }
        aio::gather(ts);
        CHECK(order == std::vector<int>{0, 0, 1, 1, 2, 2, 3, 3});
        CHECK_FALSE(l.locked());
    });
}

TEST_CASE("a newcomer cannot barge past a waiting task", "[lock]") {
    run_test([] {
        aio::lock l;
        l.acquire();
        auto waiter = aio::create_task([&] {
            l.acquire();
            l.release();
        });
        aio::sleep(0s);
        l.release();  // handed to the waiter
        CHECK(l.locked());
        CHECK_FALSE(l.try_acquire());
        waiter.get();
        CHECK_FALSE(l.locked());
    });
}

TEST_CASE("a cancelled lock waiter never holds the lock", "[lock][cancel]") {
    run_test([] {
        aio::lock l;
        l.acquire();
        auto a = aio::create_task([&] { l.acquire(); });
        auto b = aio::create_task([&] {
            auto held = l.guard();
            return 2;
        });
        aio::sleep(0s);
        a.cancel();
        CHECK_THROWS_AS(a.get(), aio::cancelled_error);
        l.release();
        CHECK(b.get() == 2);
        CHECK_FALSE(l.locked());
    });
}

TEST_CASE("lock misuse is reported clearly", "[lock]") {
    run_test([] {
        aio::lock l;
        CHECK_THROWS_WITH(l.release(), Catch::Contains("not locked"));
        l.acquire();
        CHECK_THROWS_WITH(l.acquire(), Catch::Contains("not reentrant"));
        l.release();
    });
}

// ---- semaphore ----

TEST_CASE("semaphore admits at most its value at once", "[semaphore]") {
    run_test([] {
        aio::semaphore sem(2);
        int inside = 0;
        int peak = 0;
        std::vector<aio::task<void>> ts;
        for (int i = 0; i < 6; ++i) {
            ts.push_back(aio::create_task([&] {
                sem.acquire();
                peak = std::max(peak, ++inside);
                aio::sleep(1ms);
                --inside;
                sem.release();
            }));
        }
        aio::gather(ts);
        CHECK(peak == 2);
        CHECK(sem.value() == 2);
    });
}

TEST_CASE("bounded_semaphore refuses an extra release", "[semaphore]") {
    run_test([] {
        aio::bounded_semaphore sem(1);
        sem.acquire();
        sem.release();
        CHECK_THROWS_AS(sem.release(), aio::value_error);
        CHECK_THROWS_WITH(sem.release(), Catch::Contains("too many times"));
        aio::semaphore plain(1);
        plain.release();  // a plain semaphore allows it
        CHECK(plain.value() == 2);
    });
}

TEST_CASE("a cancelled semaphore waiter keeps no permit", "[semaphore][cancel]") {
    run_test([] {
        aio::semaphore sem(0);
        auto t = aio::create_task([&] { sem.acquire(); });
        aio::sleep(0s);
        t.cancel();
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);
        sem.release();
        CHECK(sem.value() == 1);
    });
}

// ---- condition ----

TEST_CASE("condition wait_for wakes when the predicate holds", "[condition]") {
    run_test([] {
        aio::condition cond;
        int items = 0;
        auto consumer = aio::create_task([&] {
            cond.acquire();
            cond.wait_for([&] { return items >= 2; });
            int seen = items;
            cond.release();
            return seen;
        });
        for (int i = 0; i < 2; ++i) {
            aio::sleep(1ms);
            cond.acquire();
            ++items;
            cond.notify_all();
            cond.release();
        }
        CHECK(consumer.get() == 2);
    });
}

TEST_CASE("condition notify wakes n waiters", "[condition]") {
    run_test([] {
        aio::lock l;
        aio::condition cond(l);
        int woken = 0;
        std::vector<aio::task<void>> ts;
        for (int i = 0; i < 3; ++i) {
            ts.push_back(aio::create_task([&] {
                auto held = l.guard();
                cond.wait();
                ++woken;
            }));
        }
        aio::sleep(1ms);
        {
            auto held = l.guard();
            cond.notify(2);
        }
        aio::sleep(1ms);
        CHECK(woken == 2);
        {
            auto held = l.guard();
            cond.notify();
        }
        aio::gather(ts);
        CHECK(woken == 3);
    });
}

TEST_CASE("condition wait re-acquires the lock even when cancelled", "[condition][cancel]") {
    run_test([] {
        aio::condition cond;
        bool held_on_cancel = false;
        auto t = aio::create_task([&] {
            cond.acquire();
            try {
                cond.wait();
            } catch (const aio::cancelled_error&) {
                held_on_cancel = cond.locked();
                cond.release();
                throw;
            }
        });
        aio::sleep(1ms);
        t.cancel();
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);
        CHECK(held_on_cancel);
    });
}

TEST_CASE("condition misuse is reported clearly", "[condition]") {
    run_test([] {
        aio::condition cond;
        CHECK_THROWS_WITH(cond.wait(), Catch::Contains("acquire the condition's lock first"));
        CHECK_THROWS_AS(cond.notify(), aio::usage_error);
    });
}

// ---- barrier ----

TEST_CASE("barrier releases everyone when the last party arrives", "[barrier]") {
    run_test([] {
        aio::barrier b(3);
        std::vector<aio::task<std::size_t>> ts;
        for (int i = 0; i < 3; ++i) {
            ts.push_back(aio::create_task([&, i] {
                aio::sleep(std::chrono::milliseconds(i));
                return b.wait();
            }));
        }
        auto idx = aio::gather(ts);
        CHECK(idx == std::vector<std::size_t>{0, 1, 2});
        CHECK(b.n_waiting() == 0);
        // It can be used again.
        auto again = aio::gather([&] { return b.wait(); }, [&] { return b.wait(); },
                                 [&] { return b.wait(); });
        CHECK(std::get<2>(again) == 2);
    });
}

TEST_CASE("barrier reset and abort break the waiters", "[barrier]") {
    run_test([] {
        aio::barrier b(2);
        auto t = aio::create_task([&] { return b.wait(); });
        aio::sleep(0s);
        CHECK(b.n_waiting() == 1);
        b.reset();
        CHECK_THROWS_AS(t.get(), aio::broken_barrier_error);
        auto u = aio::create_task([&] { return b.wait(); });
        aio::sleep(0s);
        b.abort();
        CHECK_THROWS_WITH(u.get(), Catch::Contains("aborted"));
        CHECK(b.broken());
        CHECK_THROWS_AS(b.wait(), aio::broken_barrier_error);
        CHECK_THROWS_AS(aio::barrier(0), aio::value_error);
    });
}

TEST_CASE("a cancelled barrier waiter leaves the count", "[barrier][cancel]") {
    run_test([] {
        aio::barrier b(2);
        auto t = aio::create_task([&] { return b.wait(); });
        aio::sleep(0s);
        t.cancel();
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);
        CHECK(b.n_waiting() == 0);
    });
}

TEST_CASE("a notified condition waiter cancelled while re-locking passes the notification on",
          "[condition][cancel]") {
    run_test([] {
        aio::lock l;
        aio::condition cond(l);
        bool second_woke = false;
        auto first = aio::create_task([&] {
            auto held = l.guard();
            cond.wait();
        });
        auto second = aio::create_task([&] {
            auto held = l.guard();
            cond.wait();
            second_woke = true;
        });
        aio::sleep(1ms);
        l.acquire();
        cond.notify(1);  // wakes `first`, which must then wait for the lock we hold
        aio::sleep(0s);
        first.cancel();  // cancelled while taking the lock back
        aio::sleep(0s);  // ... and it sees the cancellation before it gets the lock
        l.release();
        CHECK_THROWS_AS(first.get(), aio::cancelled_error);
        second.get();
        CHECK(second_woke);
    });
}

TEST_CASE("barrier indices stay distinct after a waiter is cancelled", "[barrier][cancel]") {
    run_test([] {
        aio::barrier b(2);
        auto a = aio::create_task([&] { return b.wait(); });
        auto c = aio::create_task([&] { return b.wait(); });
        aio::sleep(0s);  // a waits; c trips the barrier
        CHECK(a.get() + c.get() == 1);
        auto x = aio::create_task([&] { return b.wait(); });
        aio::sleep(0s);
        x.cancel();
        CHECK_THROWS_AS(x.get(), aio::cancelled_error);
        auto y = aio::create_task([&] { return b.wait(); });
        auto z = aio::create_task([&] { return b.wait(); });
        std::vector<std::size_t> got{y.get(), z.get()};
        std::sort(got.begin(), got.end());
        CHECK(got == std::vector<std::size_t>{0, 1});
    });
}
