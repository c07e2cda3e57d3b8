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

// ---- cancellation against hand-off (CPython test_locks' races) ----
//
// Rule: a waiter cancelled before it resumes never keeps what a primitive hands it; the lock,
// the permit or the notification goes to the next waiter (or stays in the primitive).

TEST_CASE("a lock released in the same step as its waiter's cancel goes to the next waiter",
          "[lock][cancel][handoff]") {
    run_test([] {
        aio::lock l;
        l.acquire();
        auto b = aio::create_task([&] { l.acquire(); });
        aio::sleep(0s);
        auto c = aio::create_task([&] {
            l.acquire();
            l.release();
            return 3;
        });
        aio::sleep(0s);
        b.cancel();
        l.release();  // must skip b, which is leaving
        aio::sleep(0s);
        CHECK(b.done());
        CHECK(b.cancelled());
        CHECK(c.get() == 3);
        CHECK_FALSE(l.locked());
    });
}

TEST_CASE("a lock handed to a waiter cancelled before it resumes goes to the next waiter",
          "[lock][cancel][handoff]") {
    run_test([] {
        aio::lock l;
        l.acquire();
        int taken = 0;
        auto b = aio::create_task([&] {
            l.acquire();
            ++taken;  // acquired without holding it: a plain acquire, no guard
        });
        auto c = aio::create_task([&] {
            auto held = l.guard();
            ++taken;
        });
        aio::sleep(0s);
        l.release();  // handed to b ...
        b.cancel();   // ... which is cancelled before it runs: it must give the lock back
        CHECK_THROWS_AS(b.get(), aio::cancelled_error);
        c.get();
        CHECK(taken == 1);
        CHECK_FALSE(l.locked());  // b never held it, c released it: nobody dead holds it
    });
}

TEST_CASE("a semaphore permit skips waiters cancelled before the release",
          "[semaphore][cancel][handoff]") {
    run_test([] {
        aio::semaphore sem(0);
        std::vector<aio::task<void>> ts;
        for (int i = 0; i < 4; ++i) {
            ts.push_back(aio::create_task([&] { sem.acquire(); }));
        }
        aio::sleep(0s);
        ts[0].cancel();
        ts[1].cancel();
        sem.release();
        aio::sleep(0s);
        aio::sleep(0s);
        CHECK(ts[2].done());
        CHECK_FALSE(ts[3].done());
        ts[3].cancel();
        for (auto& t : ts) {
            t.wait_done();
        }
        CHECK(sem.value() == 0);
    });
}

TEST_CASE("a permit handed to a waiter cancelled before it resumes goes to the next waiter",
          "[semaphore][cancel][handoff]") {
    run_test([] {
        aio::semaphore sem(1);
        aio::task<void> t2;
        auto t1 = aio::create_task([&] {
            sem.acquire();
            aio::sleep(0s);
            sem.release();  // hands the permit to t2 ...
            t2.cancel();    // ... cancelled before it runs
        });
        t2 = aio::create_task([&] {
            sem.acquire();
            throw std::logic_error("t2 must not get the permit");
        });
        t1.get();
        CHECK_THROWS_AS(t2.get(), aio::cancelled_error);
        CHECK(sem.value() == 1);
        aio::timeout(1s, [&] { sem.acquire(); });
        sem.release();
    });
}

TEST_CASE("semaphore waiters woken by a release keep FIFO order over a re-acquire",
          "[semaphore][handoff]") {
    run_test([] {
        aio::semaphore sem(1);
        std::vector<int> order;
        auto t1 = aio::create_task([&] {
            sem.acquire();
            order.push_back(1);
        });
        auto t2 = aio::create_task([&] {
            sem.acquire();
            order.push_back(2);
            sem.release();
            sem.acquire();  // t3 was woken first: it goes before this re-acquire
            order.push_back(4);
        });
        auto t3 = aio::create_task([&] {
            sem.acquire();
            order.push_back(3);
        });
        aio::sleep(0s);
        sem.release();
        sem.release();
        aio::gather(t1, t2, t3);
        CHECK(order == std::vector<int>{1, 2, 3, 4});
    });
}

TEST_CASE("a condition waiter cancelled before a notify raises cancelled_error and the "
          "notification goes to the next waiter",
          "[condition][cancel][handoff]") {
    run_test([] {
        aio::condition cond;
        bool wake = false;
        int consumed = 0;
        auto first = aio::create_task([&] {
            auto held = cond.guard();
            cond.wait_for([&] { return wake; });
            throw std::logic_error("the cancelled waiter returned normally");
        });
        auto second = aio::create_task([&] {
            auto held = cond.guard();
            cond.wait_for([&] { return wake; });
            ++consumed;
        });
        aio::sleep(0s);
        {
            auto held = cond.guard();
            first.cancel();
            wake = true;
            cond.notify(1);  // first is leaving: second gets the notification
        }
        CHECK_THROWS_AS(first.get(), aio::cancelled_error);
        second.get();
        CHECK(consumed == 1);
        CHECK_FALSE(cond.locked());
    });
}

TEST_CASE("a notified condition waiter cancelled before it runs re-locks, raises, and passes "
          "the notification on",
          "[condition][cancel][handoff]") {
    run_test([] {
        aio::condition cond;
        int state = 0;
        std::vector<aio::task<void>> consumers;
        for (int i = 0; i < 2; ++i) {
            consumers.push_back(aio::create_task([&] {
                auto held = cond.guard();
                for (;;) {
                    cond.wait_for([&] { return state != 0; });
                    if (state < 0) {
                        return;
                    }
                    --state;
                }
            }));
        }
        aio::sleep(0s);
        {
            auto held = cond.guard();
            ++state;
            cond.notify(1);
            consumers[0].cancel();  // cancelled while its notification is on its way
            try {
                aio::timeout(10ms, [&] { cond.wait_for([&] { return state == 0; }); });
            } catch (const aio::timeout_error&) {
            }
            CHECK(state == 0);  // the other consumer took the item: no lost wake-up
            state = -1;
            cond.notify_all();
        }
        CHECK_THROWS_AS(consumers[0].get(), aio::cancelled_error);
        consumers[1].get();
    });
}

// ---- barrier: filling, draining, resetting, broken (asyncio.Barrier) ----

TEST_CASE("tasks that arrive while a barrier drains wait for the next round", "[barrier]") {
    run_test([] {
        constexpr int n = 5;
        aio::barrier b(n);
        aio::barrier rest(n - 2);
        int rewait = 2;
        std::vector<aio::task<void>> ts;
        for (int i = 0; i < n; ++i) {
            ts.push_back(aio::create_task([&] {
                b.wait();
                if (rewait > 0) {
                    --rewait;
                    b.wait();  // arrives while the others still drain out of round 1
                } else {
                    rest.wait();
                    b.wait();
                }
            }));
        }
        aio::timeout(1s, [&] { aio::gather(ts); });
        CHECK(b.n_waiting() == 0);
        CHECK_FALSE(b.broken());
    });
}

TEST_CASE("the last task out of a draining barrier sees it filling again", "[barrier]") {
    run_test([] {
        constexpr int n = 5;
        aio::barrier b(n);
        std::vector<bool> draining_seen;
        std::vector<aio::task<void>> ts;
        for (int i = 0; i < n; ++i) {
            ts.push_back(aio::create_task([&] {
                b.wait();
                draining_seen.push_back(b.state() == aio::barrier_state::draining);
            }));
        }
        aio::gather(ts);
        REQUIRE(draining_seen.size() == n);
        CHECK(draining_seen == std::vector<bool>{true, true, true, true, false});
    });
}

TEST_CASE("a barrier reset while tasks drain breaks those not yet out", "[barrier]") {
    run_test([] {
        constexpr int n = 5;
        aio::barrier b(n);
        int out = 0;
        int broken = 0;
        std::vector<aio::task<void>> ts;
        for (int i = 0; i < n; ++i) {
            ts.push_back(aio::create_task([&] {
                try {
                    b.wait();
                } catch (const aio::broken_barrier_error&) {
                    ++broken;
                    return;
                }
                if (++out == n - 2) {
                    b.reset();  // two released tasks have not run yet
                }
            }));
        }
        aio::gather(ts);
        CHECK(out == n - 2);
        CHECK(broken == 2);
        CHECK(b.n_waiting() == 0);
        CHECK_FALSE(b.broken());
    });
}

TEST_CASE("a barrier reset by the last task out lets the next round through", "[barrier]") {
    run_test([] {
        constexpr int n = 5;
        aio::barrier b(n);
        int count = 0;
        int second_round = 0;
        int errors = 0;
        int third_round = 0;
        std::vector<aio::task<void>> ts;
        for (int i = 0; i < n; ++i) {
            ts.push_back(aio::create_task([&] {
                b.wait();
                if (++count == n) {
                    b.reset();  // nobody is inside: the barrier just fills again
                    b.wait();
                } else {
                    try {
                        b.wait();
                        ++second_round;
                    } catch (const aio::broken_barrier_error&) {
                        ++errors;
                    }
                }
                b.wait();
                ++third_round;
            }));
        }
        aio::timeout(1s, [&] { aio::gather(ts); });
        CHECK(second_round == n - 1);
        CHECK(errors == 0);
        CHECK(third_round == n);
        CHECK(b.n_waiting() == 0);
    });
}

TEST_CASE("a condition waiter cancelled and uncancelled before it runs raises cancelled_error "
          "holding the lock",
          "[condition][cancel]") {
    run_test([] {
        aio::condition cond;
        bool held = false;
        auto t = aio::create_task([&] {
            auto g = cond.guard();
            try {
                cond.wait();
            } catch (const aio::cancelled_error&) {
                held = cond.locked();
                throw;
            }
        });
        aio::sleep(0s);
        t.cancel();
        t.uncancel();  // withdrawn before t runs: its wait was woken anyway
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);
        CHECK(held);
        CHECK_FALSE(cond.locked());
    });
}
