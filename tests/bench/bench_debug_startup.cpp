// Start-up and per-new-spawning-line cost of debug mode: run it with and without
// ASYNC_DEBUG=1 (docs/performance.md). Prints the time from aio::run to the first line of its
// function, and the time of create_task(...).get() from 20 lines never spawned from before.
#include <aio/aio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

using clk = std::chrono::steady_clock;
using ms = std::chrono::duration<double, std::milli>;

int main() {
    auto before = clk::now();
    double to_main = 0;
    std::vector<double> per;
    aio::run([&] {
        to_main = ms(clk::now() - before).count();
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
        {
            auto t0 = clk::now();
            aio::create_task([] {}).get();
            per.push_back(ms(clk::now() - t0).count());
        }
    });
    std::sort(per.begin(), per.end());
    std::printf("to main %.2f ms; new spawning line: first %.2f ms, median %.2f ms, max %.2f ms\n",
                to_main, per.front(), per[per.size() / 2], per.back());
}
