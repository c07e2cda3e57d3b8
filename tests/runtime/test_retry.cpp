// aio::retry: attempts, exponential backoff with jitter, which exceptions are retried, and a
// cancellation that is never retried or swallowed. Virtual time: the backoffs cost nothing.
#include "support.hpp"

#include <aio/retry.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using aio::test::run_test;

namespace {

struct swallow_watch : aio::instrument {
    int ran_on = 0;
    void ran_on_after_cancel(const aio::task_ref&) noexcept override { ++ran_on; }
};

// A function that fails `failures` times with std::runtime_error("fail <n>"), then returns
// 42, recording the loop time of each call.
struct flaky {
    int failures;
    std::vector<aio::duration> calls{};
    aio::time_point start = aio::get_running_loop().time();
    int operator()() {
        calls.push_back(aio::get_running_loop().time() - start);
        if (static_cast<int>(calls.size()) <= failures) {
            throw std::runtime_error("fail " + std::to_string(calls.size()));
        }
        return 42;
    }
    // Gaps between consecutive calls: the sleeps retry made.
    [[nodiscard]] std::vector<aio::duration> gaps() const {
        std::vector<aio::duration> out;
        for (std::size_t i = 1; i < calls.size(); ++i) {
            out.push_back(calls[i] - calls[i - 1]);
        }
        return out;
    }
};

}  // namespace

TEST_CASE("retry sleeps an exponential backoff capped at max_backoff between attempts",
          "[retry][time]") {
    run_test([] {
        flaky f{5};
        int r = aio::retry(std::ref(f), {.attempts = 6,
                                         .backoff = 100ms,
                                         .max_backoff = 500ms,
                                         .multiplier = 2,
                                         .jitter = aio::jitter_mode::none});
        CHECK(r == 42);
        CHECK(f.gaps() == std::vector<aio::duration>{100ms, 200ms, 400ms, 500ms, 500ms});
    });
}

TEST_CASE("retry returns at once when the first attempt succeeds", "[retry]") {
    run_test([] {
        flaky f{0};
        CHECK(aio::retry(std::ref(f)) == 42);
        CHECK(f.calls == std::vector<aio::duration>{0ms});
    });
}

TEST_CASE("retry rethrows the last attempt's own exception after the last attempt",
          "[retry][time]") {
    run_test([] {
        flaky f{10};
        std::vector<int> reported;
        CHECK_THROWS_WITH(
            aio::retry(std::ref(f), {.attempts = 3,
                                     .backoff = 10ms,
                                     .jitter = aio::jitter_mode::none,
                                     .on_retry =
                                         [&](const aio::retry_event& e) {
                                             reported.push_back(e.attempt);
                                             CHECK(e.delay == 10ms * (1 << (e.attempt - 1)));
                                             CHECK(std::string(e.error.what()) ==
                                                   "fail " + std::to_string(e.attempt));
                                         }}),
            "fail 3");
        CHECK(f.calls.size() == 3);
        CHECK(reported == std::vector<int>{1, 2});
    });
}

TEST_CASE("retry with attempts = 1 calls once and never sleeps", "[retry]") {
    run_test([] {
        flaky f{1};
        CHECK_THROWS_WITH(aio::retry(std::ref(f), {.attempts = 1}), "fail 1");
        CHECK(f.calls == std::vector<aio::duration>{0ms});
    });
}

TEST_CASE("retry's jitter stays within its bounds", "[retry][time]") {
    run_test([] {
        SECTION("full jitter: uniform in [0, backoff)") {
            for (double r : {0.0, 0.25, 0.75}) {
                flaky f{2};
                aio::retry(std::ref(f), {.backoff = 100ms, .random = [r] { return r; }});
                auto scaled = [r](aio::duration d) {
                    return std::chrono::duration_cast<aio::duration>(d * r);
                };
                CHECK(f.gaps() == std::vector<aio::duration>{scaled(100ms), scaled(200ms)});
            }
            flaky f{1};
            aio::retry(std::ref(f), {.backoff = 100ms, .random = [] { return 0.999999; }});
            CHECK(f.gaps()[0] < 100ms);
            CHECK(f.gaps()[0] > 99ms);
        }
        SECTION("equal jitter: backoff/2 + uniform in [0, backoff/2)") {
            flaky f{2};
            aio::retry(std::ref(f), {.backoff = 100ms,
                                     .jitter = aio::jitter_mode::equal,
                                     .random = [] { return 0.5; }});
            CHECK(f.gaps() == std::vector<aio::duration>{75ms, 150ms});
        }
        SECTION("the default random source stays in range") {
            flaky f{8};
            aio::retry(std::ref(f), {.attempts = 9,
                                     .backoff = 100ms,
                                     .max_backoff = 300ms,
                                     .jitter = aio::jitter_mode::equal});
            auto gaps = f.gaps();
            REQUIRE(gaps.size() == 8);
            CHECK(gaps[0] >= 50ms);
            CHECK(gaps[0] < 100ms);
            for (std::size_t i = 2; i < gaps.size(); ++i) {
                CHECK(gaps[i] >= 150ms);
                CHECK(gaps[i] < 300ms);
            }
        }
    });
}

TEST_CASE("retry retries only what retry_on accepts, and never a logic_error by default",
          "[retry]") {
    run_test([] {
        int calls = 0;
        CHECK_THROWS_AS(aio::retry(
                            [&]() -> int {
                                ++calls;
                                throw aio::usage_error("wrong use");
                            },
                            {.backoff = 1ms}),
                        aio::usage_error);
        CHECK(calls == 1);

        calls = 0;
        auto only_timeouts = [](const std::exception& e) {
            return dynamic_cast<const aio::timeout_error*>(&e) != nullptr;
        };
        CHECK_THROWS_WITH(aio::retry(
                              [&] {
                                  if (++calls < 3) {
                                      throw aio::timeout_error("slow");
                                  }
                                  throw std::runtime_error("404");
                              },
                              {.attempts = 5, .backoff = 1ms, .retry_on = only_timeouts}),
                          "404");
        CHECK(calls == 3);

        calls = 0;
        CHECK_THROWS_AS(aio::retry(
                            [&] {
                                ++calls;
                                throw 7;  // not a std::exception: never retried
                            },
                            {.backoff = 1ms}),
                        int);
        CHECK(calls == 1);
    });
}

TEST_CASE("retry gives up when max_elapsed leaves no time for the next attempt", "[retry][time]") {
    run_test([] {
        flaky f{10};
        CHECK_THROWS_WITH(aio::retry(std::ref(f), {.attempts = 10,
                                                   .backoff = 100ms,
                                                   .jitter = aio::jitter_mode::none,
                                                   .max_elapsed = 500ms}),
                          "fail 3");  // at 0, 100, 300 ms; the next would start at 700 ms
        CHECK(f.calls == std::vector<aio::duration>{0ms, 100ms, 300ms});
    });
}

TEST_CASE("retry never retries or swallows a cancellation, in fn or in the backoff",
          "[retry][cancel]") {
    run_test([] {
        swallow_watch watch;
        auto& l = aio::get_running_loop();
        l.add_instrument(&watch);
        SECTION("cancelled during an attempt") {
            int calls = 0;
            auto t = aio::create_task([&] {
                return aio::retry(
                    [&] {
                        ++calls;
                        aio::sleep(1h);
                        return 1;
                    },
                    {.attempts = 5, .backoff = 1ms});
            });
            aio::sleep(10ms);
            t.cancel();
            t.wait_done();
            CHECK(t.cancelled());
            CHECK(calls == 1);
        }
        SECTION("cancelled during the backoff sleep") {
            flaky f{10};
            auto t = aio::create_task([&] {
                return aio::retry(std::ref(f),
                                  {.attempts = 5, .backoff = 1s, .jitter = aio::jitter_mode::none});
            });
            aio::sleep(500ms);  // in the first backoff
            const auto when = l.time();
            t.cancel();
            t.wait_done();
            CHECK(l.time() == when);
            CHECK(t.cancelled());
            CHECK(f.calls.size() == 1);
        }
        SECTION("a cancelled_error thrown by fn itself is not retried") {
            int calls = 0;
            CHECK_THROWS_AS(aio::retry(
                                [&] {
                                    ++calls;
                                    throw aio::cancelled_error("child gone");
                                },
                                {.backoff = 1ms}),
                            aio::cancelled_error);
            CHECK(calls == 1);
        }
        SECTION("an aio::timeout around retry stops it") {
            flaky f{100};
            CHECK_THROWS_AS(aio::timeout(250ms,
                                         [&] {
                                             return aio::retry(std::ref(f),
                                                               {.attempts = 100,
                                                                .backoff = 100ms,
                                                                .multiplier = 1,
                                                                .jitter = aio::jitter_mode::none});
                                         }),
                            aio::timeout_error);
            CHECK(f.calls.size() == 3);  // 0, 100, 200 ms; cut in the sleep to 300 ms
        }
        l.remove_instrument(&watch);
        CHECK(watch.ran_on == 0);
    });
}

TEST_CASE("retry rejects options it cannot use before calling fn", "[retry]") {
    run_test([] {
        int calls = 0;
        auto fn = [&] { return ++calls; };
        CHECK_THROWS_AS(aio::retry(fn, {.attempts = 0}), aio::value_error);
        CHECK_THROWS_AS(aio::retry(fn, {.backoff = -1ms}), aio::value_error);
        CHECK_THROWS_AS(aio::retry(fn, {.multiplier = 0.5}), aio::value_error);
        CHECK(calls == 0);
    });
}
