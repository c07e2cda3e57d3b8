// Runtime micro-benchmarks (Google Benchmark). Figures and the commands that reproduce them
// are in docs/performance.md; tools/bench/runtime runs these next to asyncio and uvloop.
#include <aio/aio.hpp>

#include <vector>

#include <benchmark/benchmark.h>

namespace {

aio::run_options bench_options() {
    aio::run_options o;
    o.handle_signals = false;
    return o;
}

// task -> loop -> same task: one sleep(0).
void yield_round_trip(benchmark::State& state) {
    aio::run(
        [&] {
            for (auto _ : state) {
                aio::yield();
            }
        },
        bench_options());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(yield_round_trip);

// Two tasks taking turns: the switch cost with a real partner on the ready queue.
void ping_pong(benchmark::State& state) {
    aio::run(
        [&] {
            bool stop = false;
            auto partner = aio::create_task([&] {
                while (!stop) {
                    aio::yield();
                }
            });
            for (auto _ : state) {
                aio::yield();
            }
            stop = true;
            partner.get();
        },
        bench_options());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(ping_pong);

// Two tasks handing an item back and forth through two queues: each round trip is two parks
// and two wake-ups, the path every wait of the runtime takes (park, notify, resume).
void queue_ping_pong(benchmark::State& state) {
    aio::run(
        [&] {
            aio::queue<int> there;
            aio::queue<int> back;
            auto partner = aio::create_task([&] {
                for (;;) {
                    const int v = there.get();
                    if (v < 0) {
                        return;
                    }
                    back.put_nowait(v);
                }
            });
            for (auto _ : state) {
                there.put_nowait(1);
                benchmark::DoNotOptimize(back.get());
            }
            there.put_nowait(-1);
            partner.get();
        },
        bench_options());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(queue_ping_pong);

// Spawn an empty task and join it, one at a time (stacks are reused).
void spawn_join_sequential(benchmark::State& state) {
    aio::run(
        [&] {
            for (auto _ : state) {
                auto t = aio::create_task([] {});
                t.get();
            }
        },
        bench_options());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(spawn_join_sequential);

// Spawn N tasks that are all alive at once, then join them all; time per task.
void spawn_all_alive(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    aio::run(
        [&] {
            std::vector<aio::task<void>> tasks;
            tasks.reserve(n);
            for (auto _ : state) {
                for (std::size_t i = 0; i < n; ++i) {
                    tasks.push_back(aio::create_task([] {}));
                }
                for (auto& t : tasks) {
                    t.get();
                }
                tasks.clear();
            }
        },
        bench_options());
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(spawn_all_alive)->Arg(100000)->Unit(benchmark::kMillisecond);

// N tasks each blocked on one event, then released: per-task cost with a real stack each.
void spawn_all_blocked(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    aio::run(
        [&] {
            std::vector<aio::task<void>> tasks;
            tasks.reserve(n);
            for (auto _ : state) {
                aio::event go;
                for (std::size_t i = 0; i < n; ++i) {
                    tasks.push_back(aio::create_task([&go] { go.wait(); }));
                }
                aio::yield();
                go.set();
                for (auto& t : tasks) {
                    t.get();
                }
                tasks.clear();
            }
        },
        bench_options());
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(spawn_all_blocked)->Arg(10000)->Unit(benchmark::kMillisecond);

// A timer-heavy workload: N tasks each sleeping 1 us ten times; time per sleep.
void sleep_heavy(benchmark::State& state) {
    const auto n = static_cast<int>(state.range(0));
    aio::run(
        [&] {
            for (auto _ : state) {
                std::vector<aio::task<void>> tasks;
                for (int i = 0; i < n; ++i) {
                    tasks.push_back(aio::create_task([] {
                        for (int k = 0; k < 10; ++k) {
                            aio::sleep(std::chrono::microseconds(1));
                        }
                    }));
                }
                aio::gather(tasks);
            }
        },
        bench_options());
    state.SetItemsProcessed(state.iterations() * n * 10);
}
BENCHMARK(sleep_heavy)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

// Steady state of N live tasks that keep yielding (and of the same with 1 us sleeps): each
// benchmark iteration is one round in which every task takes one step. The tasks and their
// stacks live for the whole run, so fresh-stack page faults stay out of the figure (unlike
// sleep_heavy, which spawns its tasks anew every iteration). Time per task step.
void yield_heavy(benchmark::State& state) {
    const auto n = static_cast<int>(state.range(0));
    aio::run(
        [&] {
            bool stop = false;
            std::vector<aio::task<void>> tasks;
            for (int i = 0; i < n; ++i) {
                tasks.push_back(aio::create_task([&] {
                    while (!stop) {
                        aio::yield();
                    }
                }));
            }
            aio::yield();  // every task has started (and touched its stack)
            for (auto _ : state) {
                aio::yield();  // the main task goes round once: n steps of the others
            }
            stop = true;
            aio::gather(tasks);
        },
        bench_options());
    state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(yield_heavy)->Arg(10000);

void sleep_steady(benchmark::State& state) {
    const auto n = static_cast<int>(state.range(0));
    std::uint64_t steps = 0;
    aio::run(
        [&] {
            bool stop = false;
            std::vector<aio::task<void>> tasks;
            for (int i = 0; i < n; ++i) {
                tasks.push_back(aio::create_task([&] {
                    while (!stop) {
                        aio::sleep(std::chrono::microseconds(1));
                    }
                }));
            }
            aio::sleep(std::chrono::microseconds(1));
            auto steps_before = aio::get_running_loop().stats().steps;
            for (auto _ : state) {
                aio::sleep(std::chrono::microseconds(1));  // about one round of n sleeps
            }
            steps = aio::get_running_loop().stats().steps - steps_before;
            stop = true;
            aio::gather(tasks);
        },
        bench_options());
    // Timers fire by the round, so count the task steps that really ran: time per sleep.
    state.SetItemsProcessed(static_cast<std::int64_t>(steps));
}
BENCHMARK(sleep_steady)->Arg(10000);

}  // namespace

BENCHMARK_MAIN();
