// Wrong: each fetch is a task, but its get() comes right after its create_task, so the next one
// starts only when it is done: one at a time still.
#include "lesson.hpp"

#include <aio/aio.hpp>

using namespace std::chrono_literals;

// Fetching a page: 10 ms of waiting for the network (aio::sleep stands for it), then a
// little work. A yield point: other tasks may run while it waits.
int fetch(int url) {
    aio::sleep(10ms);
    return url % 7;
}

int main() {
    aio::run([] {
        lesson::start();
        const int urls = 100;
        long links = 0;
        auto t0 = lesson::elapsed();
        // TODO: each fetch waits 10 ms, and the next one starts only when it is done. Start
        // them all as tasks (aio::create_task), then wait for all of them (aio::gather). Once
        // that works, try 100000 urls.
        for (int url = 0; url < urls; ++url) {
            links += aio::create_task(fetch, url).get();
        }
        double took = lesson::elapsed() - t0;
        lesson::say("%d pages, %ld links, in %.2f s", urls, links, took);
        if (took > urls * 0.010 / 2) {
            lesson::say("one at a time: 100000 pages would take %.0f minutes",
                        took / urls * 1e5 / 60);
        } else {
            lesson::say("the waits overlapped: %.1f us per page", took / urls * 1e6);
        }
    });
}
