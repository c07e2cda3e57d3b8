// How many blocks through each path of tests/support/blocking_paths.hpp debug mode reports as
// blocking-call findings, at 1, 5 and 150 ms, and how many of the same blocks made on a thread
// (to_thread) it reports (should be none), and how many runs reported one block twice (a
// wrapper and the kernel watchdog both: should be none; popen before pclose is a call of its
// own). Usage: aio_bench_blocking_paths
// [runs per cell]
#include "blocking_paths.hpp"
#include "debug_run.hpp"

#include <aio/aio.hpp>

#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

int main(int argc, char** argv) {
    using namespace std::chrono_literals;
    const int runs = argc > 1 ? std::atoi(argv[1]) : 5;
    const std::chrono::milliseconds lengths[] = {1ms, 5ms, 150ms};
    std::printf("%-44s %8s %8s %8s %8s %8s\n", "path", "1 ms", "5 ms", "150 ms", "twin", "doubled");
    int total = 0;
    int found[3] = {};
    int twin_findings = 0;
    int doubled = 0;
    for (const auto& path : aio::test::blocking_paths()) {
        std::printf("%-44s", path.name.c_str());
        const int doubled_before = doubled;
        for (int k = 0; k < 3; ++k) {
            int hits = 0;
            for (int i = 0; i < runs; ++i) {
                auto r =
                    aio::test::debug_run([&] { path.block(lengths[k]); }, "only=blocking-call");
                hits += r.count("blocking-call") > 0 ? 1 : 0;
                // The kernel watchdog reporting what a wrapper already counts.
                const bool kernel_finding = r.err.find("blocking system call") != std::string::npos;
                doubled += (path.kernel ? r.count("blocking-call") > 1 : kernel_finding) ? 1 : 0;
            }
            found[k] += hits;
            std::printf(" %5d/%-2d", hits, runs);
        }
        auto twin = aio::test::debug_run([&] { aio::to_thread([&] { path.block(5ms); }); },
                                         "only=blocking-call");
        twin_findings += static_cast<int>(twin.count("blocking-call"));
        std::printf(" %8zu %8d\n", twin.count("blocking-call"), doubled - doubled_before);
        total += runs;
    }
    std::printf("detected: %d/%d at 1 ms, %d/%d at 5 ms, %d/%d at 150 ms; %d findings on the "
                "twins; %d runs with one block reported more than once\n",
                found[0], total, found[1], total, found[2], total, twin_findings, doubled);
}
