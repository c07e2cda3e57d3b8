// A program whose tasks are parked in known places, for the inspection tests (aio ps,
// pstree, where, the gdb extension, core files). Two loops on two threads. Each line where a
// task suspends carries a `park:` marker that the tests look up to know the expected line.
//
// Prints "READY <pid>" once every task is parked, then waits until killed. An argument N adds
// N idle tasks (each asleep in a function of its own), to measure the pause of aio ps.
#include <aio/aio.hpp>
#include <aio/jobs/scheduler.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace std::chrono_literals;

namespace {

std::mutex pool_mutex;
std::condition_variable pool_cv;
bool pool_release = false;

volatile int naps = 0;

void nap() {
    aio::sleep(1h);   // park:nap
    naps = naps + 1;  // (no tail call: nap keeps its frame)
}

void hold_then_take(aio::lock& first, aio::lock& second) {
    auto g1 = first.guard();
    aio::sleep(10ms);
    auto g2 = second.guard();  // park:cycle
}

void other_loop(std::atomic<bool>& ready) {
    aio::run_options options;
    options.main_name = "other-main";
    aio::run(
        [&] {
            aio::queue<int> q;
            auto t = aio::create_task(aio::task_options{.name = "other-sleeper"}, [] {
                aio::sleep(2h);  // park:other-sleeper
            });
            auto g = aio::create_task(aio::task_options{.name = "other-getter"}, [&q] {
                return q.get();  // park:other-getter
            });
            aio::sleep(20ms);
            ready = true;
            t.get();  // park:other-main
            (void)g.get();
        },
        options);
}

}  // namespace

int main(int argc, char** argv) {
    const long idle = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 0;
    std::atomic<bool> other_ready{false};
    std::thread other([&] {
        ::pthread_setname_np(::pthread_self(), "second-loop");
        other_loop(other_ready);
    });
    other.detach();
    aio::run([&] {
        aio::event ev;
        aio::event never;
        aio::lock held;
        aio::lock la, lb;
        aio::queue<std::string> q;

        auto sleeper = aio::create_task(aio::task_options{.name = "sleeper"}, [] {
            aio::sleep(1h);  // park:sleeper
        });
        auto event_waiter = aio::create_task(aio::task_options{.name = "event-waiter"}, [&] {
            ev.wait();  // park:event-waiter
        });
        auto holder = aio::create_task(aio::task_options{.name = "lock-holder"}, [&] {
            auto g = held.guard();
            never.wait();  // park:lock-holder
        });
        auto lock_waiter = aio::create_task(aio::task_options{.name = "lock-waiter"}, [&] {
            aio::sleep(1ms);
            auto g = held.guard();  // park:lock-waiter
        });
        auto getter = aio::create_task(aio::task_options{.name = "queue-getter"}, [&] {
            return q.get();  // park:queue-getter
        });
        auto joiner = aio::create_task(aio::task_options{.name = "joiner"}, [&] {
            sleeper.get();  // park:joiner
        });
        auto gatherer = aio::create_task(aio::task_options{.name = "gatherer"}, [] {
            auto a = aio::create_task(aio::task_options{.name = "gather-child-a"}, nap);
            auto b = aio::create_task(aio::task_options{.name = "gather-child-b"}, nap);
            aio::gather(a, b);  // park:gatherer
        });
        auto grouper = aio::create_task(aio::task_options{.name = "grouper"}, [&] {
            aio::with_task_group([&](aio::task_group& g) {  // park:grouper
                g.create_task(aio::task_options{.name = "group-child"}, [&] {
                    ev.wait();  // park:group-child
                });
            });
        });
        auto timed = aio::create_task(aio::task_options{.name = "timed"}, [&] {
            aio::timeout(1h, [&] {
                ev.wait();  // park:timed
            });
        });
        auto threaded = aio::create_task(aio::task_options{.name = "threaded"}, [] {
            aio::to_thread([] {  // park:threaded
                std::unique_lock<std::mutex> l(pool_mutex);
                pool_cv.wait(l, [] { return pool_release; });
            });
        });
        auto cycle_a =
            aio::create_task(aio::task_options{.name = "cycle-a"}, [&] { hold_then_take(la, lb); });
        auto cycle_b =
            aio::create_task(aio::task_options{.name = "cycle-b"}, [&] { hold_then_take(lb, la); });

        // A server that never answers, and a reader waiting for its first line.
        aio::server srv = aio::start_server([&](aio::stream&) { never.wait(); }, "127.0.0.1", 0);
        const std::uint16_t port = srv.port();
        auto reader = aio::create_task(aio::task_options{.name = "reader"}, [port] {
            aio::stream s = aio::open_connection("127.0.0.1", port);
            return s.read_line();  // park:reader
        });

        aio::jobs::scheduler jobs(aio::jobs::scheduler_options{.name = "orders"});
        (void)jobs.spawn(nap, "order-1");
        (void)jobs.spawn(nap, "order-2");
        auto closer = aio::create_task(aio::task_options{.name = "closer"}, [&] {
            aio::sleep(1ms);
            jobs.wait_and_close(aio::no_timeout);  // park:closer
        });

        std::vector<aio::task<void>> idlers;
        for (long i = 0; i < idle; ++i) {
            idlers.push_back(aio::create_task(aio::task_options{.name = "idle"}, nap));
        }

        aio::sleep(50ms);
        while (!other_ready) {
            aio::sleep(5ms);
        }
        std::printf("READY %d\n", static_cast<int>(::getpid()));
        std::fflush(stdout);
        never.wait();  // park:main
    });
    return 0;
}
