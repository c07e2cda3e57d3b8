// Lesson 05, fixed: each finding of debug mode, fixed where it points.
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <stdexcept>

using namespace std::chrono_literals;

void send_confirmation(int order) {
    aio::sleep(20ms);
    if (order == 3) {
        throw std::runtime_error("mail server rejected order 3's address");
    }
    lesson::say("order %d: confirmation sent", order);
}

// Parsing a big price list: 150 ms of CPU.
int parse_price_list() {
    auto end = std::chrono::steady_clock::now() + 150ms;
    unsigned long x = 0;  // unsigned: wraps around, no overflow
    while (std::chrono::steady_clock::now() < end) {
        x = x * 31 + 7;
    }
    return static_cast<int>(x & 0xff) + 100;
}

void metrics_reporter() {
    for (int n = 1;; ++n) {
        aio::sleep(200ms);
        lesson::say("metrics: tick %d", n);
    }
}

int main() {
    aio::run([] {
        lesson::start();
        auto metrics = aio::create_task(aio::task_options{.name = "metrics"}, metrics_reporter);
        // FIXED (stall, slow-callback): the CPU-bound parse runs on a thread.
        int prices = aio::to_thread(parse_price_list);
        lesson::say("price list loaded (%d items)", prices);
        // FIXED (never-awaited): keep every handle...
        std::vector<aio::task<void>> confirmations;
        for (int order = 1; order <= 4; ++order) {
            confirmations.push_back(
                aio::create_task(aio::task_options{.name = "confirm"}, send_confirmation, order));
            lesson::say("order %d: placed", order);
        }
        // FIXED (exception-never-retrieved): ...and wait for them, so a failure is seen and
        // handled. return_exceptions: one failed mail does not hide the others.
        auto outcomes = aio::gather(aio::return_exceptions_t{}, confirmations);
        for (std::size_t i = 0; i < outcomes.size(); ++i) {
            if (auto e = outcomes[i].exception()) {
                lesson::say("order %zu: confirmation FAILED: %s", i + 1,
                            aio::describe_exception(e).c_str());
            }
        }
        aio::sleep(300ms);
        lesson::say("shutting down");
        // FIXED (pending-at-close): stop the background task on purpose before returning.
        lesson::stop(metrics);
    });
}
