// Lesson 10: fire and forget. An importer saves 8 records in the background and moves on.
// One save fails, and the slowest ones are still running when the program ends: records are
// lost, and nothing says so (run it with --no-debug to see how quiet it is).
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <stdexcept>

using namespace std::chrono_literals;

int saved = 0;

// Saving one record: a write to a database (the wait stands for it).
void save_record(int id) {
    aio::sleep(std::chrono::milliseconds(40 * id));
    if (id == 2) {
        throw std::runtime_error("record 2: constraint violation");
    }
    ++saved;
    lesson::say("record %d saved", id);
}

int main() {
    aio::run([] {
        lesson::start();
        for (int id = 1; id <= 8; ++id) {
            // TODO: the handle of each task is dropped at once: nobody waits for the save,
            // and nobody sees it fail. Keep the handles and wait for them.
            aio::create_task(save_record, id);  // the compiler warns too: [[nodiscard]]
        }
        aio::sleep(250ms);  // "surely they are done by now"
        lesson::say("import finished: %d of 8 records saved", saved);
    });
}
