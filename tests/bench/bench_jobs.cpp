// The cost of a job scheduler over bare tasks (issue: scheduler overhead <= 2x bare tasks).
// Each iteration spawns 100k trivial jobs and waits until all are done:
//   jobs_limit_100     through aio::jobs::scheduler{.limit = 100}, then wait_and_close()
//   bare_tasks         create_task for each, then get() each (no bound: 100k fibers alive)
//   bare_tasks_sem_100 create_task for each behind a semaphore of 100 (the hand-made bound)
// Figures and the command that reproduces them are in docs/performance.md.
#include <aio/aio.hpp>
#include <aio/jobs/scheduler.hpp>

#include <vector>

#include <benchmark/benchmark.h>

namespace {

constexpr int jobs_per_iteration = 100'000;

aio::run_options bench_options() {
    aio::run_options o;
    o.handle_signals = false;
    return o;
}

void jobs_limit_100(benchmark::State& state) {
    aio::run(
        [&] {
            for (auto _ : state) {
                aio::jobs::scheduler s({.limit = 100});
                for (int i = 0; i < jobs_per_iteration; ++i) {
                    s.spawn([] {});
                }
                s.wait_and_close();
            }
        },
        bench_options());
    state.SetItemsProcessed(state.iterations() * jobs_per_iteration);
}
BENCHMARK(jobs_limit_100)->Unit(benchmark::kMillisecond);

void bare_tasks(benchmark::State& state) {
    aio::run(
        [&] {
            std::vector<aio::task<void>> all;
            all.reserve(jobs_per_iteration);
            for (auto _ : state) {
                for (int i = 0; i < jobs_per_iteration; ++i) {
                    all.push_back(aio::create_task([] {}));
                }
                for (auto& t : all) {
                    t.get();
                }
                all.clear();
            }
        },
        bench_options());
    state.SetItemsProcessed(state.iterations() * jobs_per_iteration);
}
BENCHMARK(bare_tasks)->Unit(benchmark::kMillisecond);

void bare_tasks_sem_100(benchmark::State& state) {
    aio::run(
        [&] {
            for (auto _ : state) {
                aio::semaphore slots(100);
                int left = jobs_per_iteration;
                aio::event all_done;
                for (int i = 0; i < jobs_per_iteration; ++i) {
                    slots.acquire();
                    aio::create_task([&] {
                        slots.release();
                        if (--left == 0) {
                            all_done.set();
                        }
                    }).detach();
                }
                all_done.wait();
            }
        },
        bench_options());
    state.SetItemsProcessed(state.iterations() * jobs_per_iteration);
}
BENCHMARK(bare_tasks_sem_100)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
