// Right: a bound of 4 chunks instead of 16: put() waits just the same, with less in flight.
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <vector>

using namespace std::chrono_literals;

using chunk = std::vector<char>;

void producer(aio::queue<chunk>& q, bool& stop) {
    while (!stop) {
        q.put(chunk(64 * 1024, 'x'));  // reading a chunk from disk: fast
        aio::sleep(1ms);
    }
}

void consumer(aio::queue<chunk>& q, long& uploaded) {
    for (;;) {
        chunk c = q.get();
        aio::sleep(5ms);  // uploading it: five times slower
        uploaded += static_cast<long>(c.size());
    }
}

int main() {
    aio::run([] {
        lesson::start();
        // TODO: with no maxsize, put() never waits: the producer runs ahead of the consumer
        // without limit. Give the queue a bound, so that put() suspends when it is full.
        aio::queue<chunk> q(4);
        bool stop = false;
        long uploaded = 0;
        // Memory is compared from the first report on, when the program runs steadily (debug
        // mode loads its symbol tables in the first moments, in the background).
        double rss0 = 0;
        auto prod = aio::create_task(producer, std::ref(q), std::ref(stop));
        auto cons = aio::create_task(consumer, std::ref(q), std::ref(uploaded));
        for (int i = 1; i <= 6; ++i) {
            aio::sleep(300ms);
            if (i == 1) {
                rss0 = lesson::rss_mib();
            }
            lesson::say("queued chunks: %5zu   memory: %6.1f MiB", q.qsize(), lesson::rss_mib());
        }
        stop = true;
        prod.get();
        lesson::stop(cons);
        double grew = lesson::rss_mib() - rss0;
        lesson::say("uploaded %.1f MiB; memory grew by %.0f MiB", uploaded / 1048576.0, grew);
        lesson::say(grew > 40 ? "memory climbed: the queue has no bound"
                              : "memory stayed flat: the queue pushes back");
    });
}
