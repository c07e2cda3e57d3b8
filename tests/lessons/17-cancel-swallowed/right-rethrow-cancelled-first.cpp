// Right: a catch of aio::cancelled_error that rethrows, ahead of the catch (...) that retries the
// other errors.
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <stdexcept>

using namespace std::chrono_literals;

// One step of the job: talks to a server (the wait stands for it) and sometimes fails.
void sync_step(int step) {
    aio::sleep(100ms);
    if (step % 4 == 0) {
        throw std::runtime_error("server busy");
    }
}

int sync_job() {
    int done = 0;
    for (int step = 1; step <= 10; ++step) {
        try {
            sync_step(step);
            ++done;
        } catch (const aio::cancelled_error&) {
            throw;
        } catch (...) {
            lesson::say("step %d failed, will retry later", step);
        }
    }
    lesson::say("sync job finished all 10 steps");
    return done;
}

int main() {
    aio::run([] {
        lesson::start();
        auto job = aio::create_task(aio::task_options{.name = "sync"}, sync_job);
        try {
            int steps = aio::wait_for(job, 300ms);
            lesson::say("wait_for(300 ms) returned: %d steps done", steps);
        } catch (const aio::timeout_error&) {
            lesson::say("wait_for(300 ms) raised timeout_error");
        }
        double took = lesson::elapsed();
        lesson::say("the caller got control back after %.2f s", took);
        lesson::say(took < 0.5
                        ? "the timeout took effect on time"
                        : "the timeout took effect late: the job swallowed its cancellation");
    });
}
