// Lesson 22, fixed: the watcher thread hands the set() to the loop with
// call_soon_threadsafe, which queues it and wakes the loop; the loop thread runs it.
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <thread>

using namespace std::chrono_literals;

int main() {
    aio::run([] {
        lesson::start();
        aio::event config_changed;
        // FIXED: take the loop reference here, on the loop thread, for the watcher to use.
        aio::loop& loop = aio::get_running_loop();
        std::thread watcher([&] {
            std::this_thread::sleep_for(200ms);  // a thread may block: it is not the loop
            lesson::say("watcher thread: config file changed, notifying the loop");
            try {
                // FIXED: the only loop call allowed from another thread (asyncio's
                // loop.call_soon_threadsafe). set() then runs on the loop thread.
                loop.call_soon_threadsafe([&] { config_changed.set(); });
            } catch (const std::exception& e) {
                lesson::say("watcher thread: %s", e.what());
            }
        });
        try {
            aio::timeout(1s, [&] { config_changed.wait(); });
            lesson::say("loop: config reloaded");
        } catch (const aio::timeout_error&) {
            lesson::say("loop: no notification within 1 s");
        }
        aio::to_thread([&] { watcher.join(); });  // join on a thread: join blocks
    });
}
