// Memory per idle task: RSS growth with N tasks alive, each blocked on one event.
// Usage: bench_memory N   (prints one JSON line). See docs/performance.md.
#include <aio/aio.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

long rss_kib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::strtol(line.c_str() + 6, nullptr, 10);
        }
    }
    return -1;
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
    aio::run_options o;
    o.handle_signals = false;
    aio::run(
        [&] {
            aio::event go;
            std::vector<aio::task<void>> tasks;
            tasks.reserve(n);
            long before = rss_kib();
            auto t0 = std::chrono::steady_clock::now();
            for (std::size_t i = 0; i < n; ++i) {
                tasks.push_back(aio::create_task([&go] { go.wait(); }));
            }
            aio::yield();  // every task has run its first step and is parked
            auto t1 = std::chrono::steady_clock::now();
            long after = rss_kib();
            go.set();
            for (auto& t : tasks) {
                t.get();
            }
            double kib = static_cast<double>(after - before) / static_cast<double>(n);
            double us =
                std::chrono::duration<double, std::micro>(t1 - t0).count() / static_cast<double>(n);
            std::printf("{\"tasks\": %zu, \"rss_kib_per_task\": %.3f, "
                        "\"spawn_and_park_us_per_task\": %.3f}\n",
                        n, kib, us);
        },
        o);
}
