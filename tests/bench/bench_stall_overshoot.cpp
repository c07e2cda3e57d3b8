// How much longer a 150 ms block gets when debug mode's stall detector catches it: a mutex
// held by another thread (the loop thread blocked in a futex: sampled without a signal) and a
// CPU loop (sampled with a signal). Run it with and without ASYNC_DEBUG=only=stall
// (docs/performance.md); prints the median and the longest of 7, in ms.
#include <aio/aio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using ms = std::chrono::duration<double, std::milli>;

int main() {
    aio::run([] {
        std::vector<double> futex, cpu, step;
        for (int i = 0; i < 7; ++i) {
            std::mutex m;
            std::atomic<bool> held{false};
            std::thread holder([&] {
                std::lock_guard<std::mutex> g(m);
                held = true;
                std::this_thread::sleep_for(150ms);
            });
            while (!held) {
                std::this_thread::yield();
            }
            auto t0 = std::chrono::steady_clock::now();
            { std::lock_guard<std::mutex> g(m); }
            auto t1 = std::chrono::steady_clock::now();
            holder.join();
            futex.push_back(ms(t1 - t0).count());
            aio::sleep(1ms);
            // The step as the loop sees it: from a yield point to the next.
            auto s0 = std::chrono::steady_clock::now();
            aio::sleep(0s);
            auto end = std::chrono::steady_clock::now() + 150ms;
            volatile double x = 0;
            while (std::chrono::steady_clock::now() < end) {
                x = x + 1;
            }
            auto s1 = std::chrono::steady_clock::now();
            cpu.push_back(ms(s1 - end + 150ms).count());
            aio::sleep(0s);
            auto s2 = std::chrono::steady_clock::now();
            step.push_back(ms(s2 - s0).count());
            aio::sleep(1ms);
        }
        auto median = [](std::vector<double> v) {
            std::sort(v.begin(), v.end());
            return v[v.size() / 2];
        };
        std::printf("futex wait for a 150 ms hold: median %.1f ms, max %.1f\n", median(futex),
                    *std::max_element(futex.begin(), futex.end()));
        std::printf("cpu step of 150 ms incl. the next yield: median %.1f ms, max %.1f\n",
                    median(step), *std::max_element(step.begin(), step.end()));
    });
}
