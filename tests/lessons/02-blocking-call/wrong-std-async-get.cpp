// Wrong: calc_pi runs on another thread through std::async, but .get() blocks the loop thread
// until it returns: the heartbeat freezes as before (stall, slow-callback).
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <future>
#include <thread>

using namespace std::chrono_literals;

// CPU-bound work: the Leibniz series for pi, computed for `budget` of wall-clock time (so the
// lesson takes as long on a slow machine as on a fast one).
double calc_pi(std::chrono::milliseconds budget) {
    double pi = 0;
    auto end = std::chrono::steady_clock::now() + budget;
    for (long k = 0; std::chrono::steady_clock::now() < end; ++k) {
        pi += (k % 2 == 0 ? 4.0 : -4.0) / static_cast<double>(2 * k + 1);
    }
    return pi;
}

void heartbeat() {
    auto next = std::chrono::steady_clock::now() + 100ms;
    for (int n = 1;; ++n) {
        aio::sleep_until(next);
        auto late = std::chrono::steady_clock::now() - next;
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(late).count();
        lesson::say("heartbeat %2d%s", n, ms > 50 ? "   <-- late: the loop was blocked" : "");
        next += 100ms;
    }
}

double handle_request() {
    // TODO: both calls below block the whole loop: no other task runs until they return.
    // Keep the heartbeat ticking while the request is served.
    double pi = std::async(std::launch::async, calc_pi, 600ms).get();
    aio::sleep(300ms);
    return pi;
}

int main() {
    aio::run([] {
        lesson::start();
        auto beat = aio::create_task(aio::task_options{.name = "heartbeat"}, heartbeat);
        aio::sleep(250ms);
        lesson::say("request arrives");
        auto request = aio::create_task(aio::task_options{.name = "request"}, handle_request);
        lesson::say("request served: pi is %.4f", request.get());
        aio::sleep(250ms);
        lesson::stop(beat);
    });
}
