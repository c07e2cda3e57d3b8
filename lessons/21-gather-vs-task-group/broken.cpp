// Lesson 21: gather vs task_group on errors. A file is downloaded in three parts. Part 2
// fails early. gather() raises that error at once, but the other parts keep downloading,
// orphaned: nobody will use them, and they are still running when the program ends.
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
    for (int chunk = 1; chunk <= 6; ++chunk) {
        aio::sleep(100ms);
        if (part == 2 && chunk == 2) {
            throw std::runtime_error("part 2: connection reset");
        }
        lesson::say("part %d: chunk %d/6", part, chunk);
    }
}

int main() {
    aio::run([] {
        lesson::start();
        try {
            // TODO: gather raises the first failure, but does not stop the other parts.
            // Use a task group (aio::with_task_group): the first failure cancels the siblings,
            // and it returns only once every part has ended.
            auto p1 = aio::create_task(download_part, 1);
            auto p2 = aio::create_task(download_part, 2);
            auto p3 = aio::create_task(download_part, 3);
            aio::gather(p1, p2, p3);
        } catch (const std::exception& e) {
            lesson::say("download failed: %s", e.what());
        }
        lesson::say("cleaning up the partial file");
        aio::sleep(250ms);  // meanwhile: are parts still downloading?
        if (downloading > 0) {
            lesson::say("check: %d parts still downloading after the download failed", downloading);
        }
        lesson::say("done");
    });
}
