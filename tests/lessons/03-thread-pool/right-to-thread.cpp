// Right: aio::to_thread runs resize on the loop's default pool instead of `pool`; the loop stays
// free just the same.
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <thread>

using namespace std::chrono_literals;

// A blocking library call (an image codec, a database driver without async support...):
// 200 ms during which the calling thread can do nothing else.
int resize(int image) {
    std::this_thread::sleep_for(200ms);
    return image * 100;
}

void heartbeat() {
    for (int n = 1;; ++n) {
        aio::sleep(100ms);
        lesson::say("heartbeat %d", n);
    }
}

int make_thumbnail(aio::thread_pool_executor& pool, int image) {
    (void)pool;
    int size = aio::to_thread(resize, image);
    lesson::say("image %d resized", image);
    return size;
}

// Part 2, the same in broken.cpp and fixed.cpp: what a pool cannot do.
void limits(aio::thread_pool_executor& pool) {
    // A timeout cancels the waiting task at once, but not the thread: a running job cannot be
    // stopped. It runs to its end and its result is thrown away.
    try {
        aio::timeout(50ms, [&] {
            aio::run_in_executor(&pool, [] {
                std::this_thread::sleep_for(200ms);
                lesson::say("  the thread finished its job anyway (result discarded)");
            });
        });
    } catch (const aio::timeout_error&) {
        lesson::say("  timeout after 50 ms: the task stopped waiting...");
    }
    aio::sleep(250ms);
    // The pool has max_workers threads; more jobs than that wait in its queue.
    auto t0 = lesson::elapsed();
    std::vector<aio::task<void>> jobs;
    for (int i = 1; i <= 4; ++i) {
        jobs.push_back(aio::create_task([&pool, i, t0] {
            aio::run_in_executor(&pool, [i, t0] {
                lesson::say("  pool job %d starts after %3.0f ms", i,
                            (lesson::elapsed() - t0) * 1e3);
                std::this_thread::sleep_for(100ms);
            });
        }));
    }
    aio::gather(jobs);
    lesson::say("  4 jobs on %zu threads: the last ones queued (pool exhaustion)",
                pool.max_workers());
}

int main() {
    aio::run([] {
        lesson::start();
        aio::thread_pool_executor pool(2, "thumbnails");
        auto beat = aio::create_task(aio::task_options{.name = "heartbeat"}, heartbeat);
        auto t0 = lesson::elapsed();
        std::vector<aio::task<int>> requests;
        for (int image = 1; image <= 6; ++image) {
            requests.push_back(aio::create_task(make_thumbnail, std::ref(pool), image));
        }
        aio::gather(requests);
        lesson::say("6 thumbnails in %.2f s", lesson::elapsed() - t0);
        lesson::say("part 2: the limits of a thread pool");
        limits(pool);
        lesson::stop(beat);
        // The pool's destructor joins its threads, waiting on the loop's thread for each to
        // wake up and exit (milliseconds on a loaded machine): join them on another thread.
        aio::to_thread([&pool] { pool.shutdown(); });
    });
}
