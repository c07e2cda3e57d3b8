// Lesson 04, fixed: one task per page, all waiting at the same time, then gather. Tasks are
// fibers: cheap enough to start 100000 of them (the figures below say how cheap).
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
        const int urls = 100000;
        double rss0 = lesson::rss_mib();
        auto t0 = lesson::elapsed();
        // FIXED: start every fetch as a task (asyncio's loop.create_task). create_task does
        // not suspend; the tasks start in the loop's next turn, so they all wait together.
        std::vector<aio::task<int>> tasks;
        tasks.reserve(urls);
        for (int url = 0; url < urls; ++url) {
            tasks.push_back(aio::create_task(fetch, url));
            // Creating 100000 tasks takes a few hundred ms: in one go it would hold the loop
            // that long (debug mode: slow-callback). Let the loop turn every 1000, so a step
            // stays short even on a machine busy with other work.
            if ((url + 1) % 1000 == 0) {
                aio::sleep(0s);
            }
        }
        double spawned = lesson::elapsed() - t0;
        lesson::say("%d tasks created in %.0f ms", urls, spawned * 1e3);
        // FIXED: wait for all of them (asyncio.gather); results come back in order.
        std::vector<int> found = aio::gather(tasks);
        double took = lesson::elapsed() - t0;
        long links = 0;
        for (int n : found) {
            links += n;
        }
        double peak = lesson::rss_mib();
        lesson::say("%d pages, %ld links, in %.2f s", urls, links, took);
        if (took > urls * 0.010 / 2) {
            lesson::say("one at a time: 100000 pages would take %.0f minutes",
                        took / urls * 1e5 / 60);
        } else {
            lesson::say("the waits overlapped: %.1f us per page", took / urls * 1e6);
        }
        lesson::say("memory: +%.0f MiB for %d tasks, about %.1f KiB per task (stacks are "
                    "touched only as deep as used)",
                    peak - rss0, urls, (peak - rss0) * 1024 / urls);
    });
}
