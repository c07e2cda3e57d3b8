// Right: keep gather, and on its failure cancel the siblings and wait for them to end before going
// on (what a task group does for you).
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
            std::vector<aio::task<void>> parts;
            for (int part = 1; part <= 3; ++part) {
                parts.push_back(aio::create_task(download_part, part));
            }
            try {
                aio::gather(parts);
            } catch (...) {
                for (auto& p : parts) {
                    p.cancel();
                }
                aio::gather(aio::return_exceptions_t{}, parts);
                throw;
            }
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
