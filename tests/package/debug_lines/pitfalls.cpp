// Pitfalls whose findings must each name the line marked `// expect: <id>` first, in an app
// built against the installed package (tests/package/debug_lines.sh checks the JSON report).
#include <aio/aio.hpp>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <semaphore.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

int fail_later() {
    aio::sleep(1ms);
    throw std::runtime_error("nobody sees this");
}

std::mutex shared_mutex;

void hold_the_mutex() {
    std::lock_guard<std::mutex> held(shared_mutex);
    std::this_thread::sleep_for(250ms);
}

}  // namespace

int main() {
    aio::run([] {
        // A task nobody awaits, created over several lines.
        aio::create_task(  // expect: never-awaited
            [] {
                aio::sleep(1ms);
                return 1;
            });
        aio::sleep(5ms);

        // An exception nobody retrieves.
        {
            auto t = aio::create_task(fail_later);  // expect: exception-never-retrieved
            aio::sleep(5ms);
        }

        // A blocking libc call in a task.
        ::usleep(20'000);  // expect: blocking-call

        // A stall inside libc: a mutex another thread holds (glibc's frames are innermost).
        std::thread holder(hold_the_mutex);
        std::this_thread::sleep_for(20ms);  // expect: blocking-call
        {
            std::lock_guard<std::mutex> held(shared_mutex);  // expect: stall, blocking-call
        }
        holder.join();
        aio::sleep(1ms);  // a new step: a second stall

        // A stall inside a read that _FORTIFY_SOURCE turns into __read_chk (bits/unistd.h).
        int fds[2];
        if (::pipe(fds) != 0) {
            return 1;
        }
        std::thread writer([w = fds[1]] {
            std::this_thread::sleep_for(250ms);
            (void)!::write(w, "x", 1);
        });
        char c = 0;
        (void)!::read(fds[0], &c, 1);  // expect: stall, blocking-call
        writer.join();
        ::close(fds[0]);
        ::close(fds[1]);
        aio::sleep(1ms);

        // A wait inside libc that no wrapper sees: the watchdog finds the loop thread asleep
        // in the kernel (futex). The poster is detached and the semaphore static, so no join
        // follows the wait. 100 ms, not 20: the watchdog must look twice while the thread
        // sleeps, and on a loaded CI machine its looks came late enough to miss 20 ms once.
        static sem_t sem;
        ::sem_init(&sem, 0, 0);
        std::thread([] {
            std::this_thread::sleep_for(100ms);
            ::sem_post(&sem);
        }).detach();
        ::sem_wait(&sem);  // expect: blocking-call
        aio::sleep(1ms);

        // A task still pending when the loop closes.
        auto never = aio::create_task([] { aio::sleep(1h); });  // expect: pending-at-close
        never.detach();
        return 0;
    });
}
