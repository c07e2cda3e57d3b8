// Memory per idle task: RSS growth with N tasks alive, each blocked on one event.
// Usage: bench_memory N   (prints one JSON line). See docs/performance.md.
//        bench_memory burst N KIB   N tasks alive at once, each KIB deep into its stack (a
//        burst of connections), then all end: RSS at the peak and after, and the time of a
//        second burst (which reuses pooled stacks, warm or given back to the kernel).
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

// Touches about `kib` KiB of stack.
int deep(int kib) {
    volatile char frame[1024];
    frame[0] = static_cast<char>(kib);
    if (kib <= 1) {
        return frame[0];
    }
    return deep(kib - 1) + frame[0];
}

int burst(std::size_t n, int kib) {
    aio::run_options o;
    o.handle_signals = false;
    aio::run(
        [&] {
            auto once = [&](long* peak) {
                aio::event go;
                std::vector<aio::task<int>> tasks;
                tasks.reserve(n);
                auto t0 = std::chrono::steady_clock::now();
                for (std::size_t i = 0; i < n; ++i) {
                    tasks.push_back(aio::create_task([&go, kib] {
                        int r = deep(kib);
                        go.wait();
                        return r;
                    }));
                }
                aio::yield();
                auto t1 = std::chrono::steady_clock::now();
                *peak = rss_kib();
                go.set();
                for (auto& t : tasks) {
                    (void)t.get();
                }
                return std::chrono::duration<double, std::micro>(t1 - t0).count() /
                       static_cast<double>(n);
            };
            long base = rss_kib();
            long peak1 = 0;
            long peak2 = 0;
            double first = once(&peak1);
            long after1 = rss_kib();
            double second = once(&peak2);
            long after2 = rss_kib();
            std::printf("{\"tasks\": %zu, \"stack_kib_each\": %d, \"rss_mib_base\": %.1f, "
                        "\"rss_mib_peak\": %.1f, \"rss_mib_after\": %.1f, "
                        "\"rss_mib_after_second\": %.1f, \"spawn_us_first\": %.2f, "
                        "\"spawn_us_second\": %.2f}\n",
                        n, kib, base / 1024.0, peak1 / 1024.0, after1 / 1024.0, after2 / 1024.0,
                        first, second);
        },
        o);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::string(argv[1]) == "burst") {
        return burst(argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 5000,
                     argc > 3 ? std::atoi(argv[3]) : 24);
    }
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
