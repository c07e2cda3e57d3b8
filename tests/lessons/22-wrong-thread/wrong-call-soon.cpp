// Wrong: loop.call_soon from the watcher thread is still a loop call from a foreign thread
// (wrong-thread); only call_soon_threadsafe may be.
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <thread>

using namespace std::chrono_literals;

int main() {
    aio::run([] {
        lesson::start();
        aio::event config_changed;
        aio::loop& loop = aio::get_running_loop();
        std::thread watcher([&] {
            std::this_thread::sleep_for(200ms);  // a thread may block: it is not the loop
            lesson::say("watcher thread: config file changed, notifying the loop");
            try {
                // TODO: this thread does not run the loop. The only loop call allowed from
                // another thread is loop.call_soon_threadsafe(fn): hand the set() to the loop.
                loop.call_soon([&] { config_changed.set(); });
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
