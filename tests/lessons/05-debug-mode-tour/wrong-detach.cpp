// WRONG: every handle detach()ed to silence never-awaited, and the parse left on the loop.
// detach() says "fire and forget on purpose", but order 3's failure is still never seen, the
// loop is still blocked, and the metrics task is still cut off at exit. The check must reject
// it (exception-never-retrieved, pending-at-close, stall, slow-callback remain).
// Lesson 05: a tour of debug mode. A small order service with four classic mistakes. Run it
// once without debug mode (tools/lessons run 05 --no-debug): it looks fine. Then run it with
// debug mode (tools/lessons run 05) and read what stderr and the JSON report say.
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

// Parsing a big price list: 150 ms of CPU on the loop thread.
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
        // TODO: read the findings (stderr, or the JSON report the runner prints the path of)
        // and fix each one: every finding names its line and says how to fix it.
        aio::create_task(aio::task_options{.name = "metrics"}, metrics_reporter).detach();
        int prices = parse_price_list();
        lesson::say("price list loaded (%d items)", prices);
        for (int order = 1; order <= 4; ++order) {
            aio::create_task(aio::task_options{.name = "confirm"}, send_confirmation, order)
                .detach();
            lesson::say("order %d: placed", order);
        }
        aio::sleep(300ms);
        lesson::say("shutting down");
    });
}
