// Lesson 21, fixed: a task group. The first failure cancels the sibling parts; the group
// returns only when every part has ended, and raises the failures as one exception_group.
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <stdexcept>

using namespace std::chrono_literals;

int downloading = 0;  // parts running right now (the lesson's check reads it)

void download_part(int part) {
    ++downloading;
    struct done {
        ~done() { --downloading; }
    } when_done;
    try {
        for (int chunk = 1; chunk <= 6; ++chunk) {
            aio::sleep(100ms);
            if (part == 2 && chunk == 2) {
                throw std::runtime_error("part 2: connection reset");
            }
            lesson::say("part %d: chunk %d/6", part, chunk);
        }
    } catch (const aio::cancelled_error&) {
        lesson::say("part %d: cancelled by the task group", part);
        throw;  // always let a cancellation through (lesson 17)
    }
}

int main() {
    aio::run([] {
        lesson::start();
        try {
            // FIXED: asyncio's `async with TaskGroup() as tg:`. No part outlives this block.
            aio::with_task_group([](aio::task_group& tg) {
                for (int part = 1; part <= 3; ++part) {
                    tg.create_task(download_part, part);
                }
            });
        } catch (const aio::exception_group& e) {
            lesson::say("download failed: %s", e.what());
        }
        lesson::say("cleaning up the partial file");
        aio::sleep(250ms);  // nothing is downloading any more
        if (downloading > 0) {
            lesson::say("check: %d parts still downloading after the download failed", downloading);
        }
        lesson::say("done");
    });
}
