// A first look at aio: spawn tasks, sleep, gather, print what happened.
#include <aio/aio.hpp>

#include <chrono>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;

int main() {
    auto t0 = std::chrono::steady_clock::now();
    auto stamp = [&] {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
            .count();
    };
    int total = aio::run([&] {
        auto a = aio::create_task([&] {
            aio::sleep(50ms);
            std::printf("%7.1f ms  a done\n", stamp());
            return 1;
        });
        auto b = aio::create_task([&] {
            aio::sleep(20ms);
            std::printf("%7.1f ms  b done\n", stamp());
            return 2;
        });
        return a.get() + b.get();
    });
    std::printf("total %d\n", total);
}
