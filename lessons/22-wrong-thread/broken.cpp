// Lesson 22: a call from a foreign thread. A file watcher runs on its own std::thread and
// tells the loop when the config changed by setting an aio::event. Everything on the loop
// belongs to the loop's thread: from another thread, set() races with the loop. Debug mode
// turns that race into an error (usage_error), so the notification never arrives.
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <thread>

using namespace std::chrono_literals;

int main() {
    aio::run([] {
        lesson::start();
        aio::event config_changed;
        aio::loop& loop = aio::get_running_loop();
        (void)loop;
        std::thread watcher([&] {
            std::this_thread::sleep_for(200ms);  // a thread may block: it is not the loop
            lesson::say("watcher thread: config file changed, notifying the loop");
            try {
                // TODO: this thread does not run the loop. The only loop call allowed from
                // another thread is loop.call_soon_threadsafe(fn): hand the set() to the loop.
                config_changed.set();
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
