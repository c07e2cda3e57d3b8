// Right: the watcher's blocking wait runs through aio::to_thread in a task, and set() is called
// back on the loop thread once it returns.
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
        auto watcher = aio::create_task([&] {
            aio::to_thread([] {
                std::this_thread::sleep_for(200ms);  // a thread may block: it is not the loop
                lesson::say("watcher thread: config file changed, notifying the loop");
            });
            try {
                // TODO: this thread does not run the loop. The only loop call allowed from
                // another thread is loop.call_soon_threadsafe(fn): hand the set() to the loop.
                config_changed.set();  // back on the loop thread
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
        watcher.get();
    });
}
