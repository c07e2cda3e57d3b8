// Wrong: the fetch goes into a local variable, but the guard made at the top of the loop body
// still covers it: the lock is held across the 400 ms wait.
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <algorithm>

using namespace std::chrono_literals;

aio::lock cache_lock;
int cached_price = 100;
double slowest_read_ms = 0;

// The slow service: 400 ms per answer (the wait stands for the network).
int fetch_price(int round) {
    aio::sleep(400ms);
    return 100 + round;
}

void refresher() {
    for (int round = 1; round <= 2; ++round) {
        aio::sleep(100ms);
        // TODO: the lock is held while fetch_price waits 400 ms: a yield point under a lock.
        // Every reader queues behind it. Hold the lock only while touching the cache.
        auto held = cache_lock.guard();
        int price = fetch_price(round);
        cached_price = price;
        lesson::say("refresher: price is now %d", price);
    }
}

void reader(int id) {
    for (int i = 0; i < 10; ++i) {
        auto t0 = lesson::elapsed();
        int price = 0;
        {
            auto held = cache_lock.guard();
            price = cached_price;
        }
        double waited = (lesson::elapsed() - t0) * 1e3;
        slowest_read_ms = std::max(slowest_read_ms, waited);
        if (waited > 50) {
            lesson::say("reader %d: read %d after waiting %.0f ms for the lock", id, price, waited);
        }
        aio::sleep(90ms);
    }
}

int main() {
    aio::run([] {
        lesson::start();
        auto r = aio::create_task(refresher);
        std::vector<aio::task<void>> readers;
        for (int id = 1; id <= 3; ++id) {
            readers.push_back(aio::create_task(reader, id));
        }
        aio::gather(readers);
        r.get();
        lesson::say("slowest read: %.0f ms", slowest_read_ms);
        lesson::say(slowest_read_ms > 50 ? "reads were blocked by the lock"
                                         : "no read waited for the lock");
    });
}
