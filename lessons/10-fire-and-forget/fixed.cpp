// Lesson 10, fixed: keep each task's handle and wait for all of them. The failure is seen and
// reported, and the program ends only after every save ended. (A job scheduler that limits,
// watches and closes background jobs, aio::jobs::scheduler, is the other fix: lesson 11.)
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <stdexcept>

using namespace std::chrono_literals;

int saved = 0;
// How long a save takes per record id: the checks below run the import twice, the second time
// on a database three times slower.
std::chrono::milliseconds save_unit{40};
int saving = 0;            // saves running right now (the lesson's check reads it)
double last_save_end = 0;  // when the last save ended, in seconds since lesson::start()

// Saving one record: a write to a database (the wait stands for it).
void save_record(int id) {
    ++saving;
    try {
        aio::sleep(save_unit * id);
        if (id == 2) {
            throw std::runtime_error("record 2: constraint violation");
        }
    } catch (...) {
        --saving;
        last_save_end = lesson::elapsed();
        throw;
    }
    --saving;
    last_save_end = lesson::elapsed();
    ++saved;
    lesson::say("record %d saved", id);
}

void import_records() {
    // FIXED: keep the handles (the talk's "task waiting" slide: task = create_task(...);
    // ... await task).
    std::vector<aio::task<void>> saves;
    for (int id = 1; id <= 8; ++id) {
        saves.push_back(aio::create_task(save_record, id));
    }
    // FIXED: wait for every one of them instead of guessing how long they take;
    // return_exceptions so that one failure does not hide the others' outcome.
    auto outcomes = aio::gather(aio::return_exceptions_t{}, saves);
    for (const auto& o : outcomes) {
        if (auto e = o.exception()) {
            lesson::say("FAILED: %s", aio::describe_exception(e).c_str());
        }
    }
}

// ---- the lesson's checks: do not edit below this line (the runner reads what it prints) ----
// The import runs twice: saves of 40 ms per record id (the last ends at 320 ms), then on a
// database three times slower (960 ms). Waiting for the saves fits both; no guess of how long
// they take fits both.
int main() {
    aio::run([] {
        lesson::start();
        for (int unit : {40, 120}) {
            save_unit = std::chrono::milliseconds(unit);
            saved = 0;
            lesson::say("import with saves of %d ms per record:", unit);
            import_records();
            double idle_ms = (lesson::elapsed() - last_save_end) * 1e3;
            lesson::say("import finished: %d of 8 records saved", saved);
            if (saving > 0) {
                lesson::say("check: %d saves were still running when the import returned", saving);
            } else if (idle_ms > 100) {
                lesson::say("check: the import idled %.0f ms after the last save ended: it "
                            "guessed how long to wait instead of waiting for the saves",
                            idle_ms);
            } else {
                lesson::say("check: the import ended when its last save did");
            }
        }
    });
}
