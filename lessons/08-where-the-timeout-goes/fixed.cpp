// Lesson 08, fixed: the timeout goes around each fetch, so each page can fail on its own and
// the pages that arrive in time are kept.
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <optional>
#include <string>

using namespace std::chrono_literals;

// Fetching a page: the waits stand for the network (a yield point each).
std::string fetch(int url) {
    static const std::chrono::milliseconds latency[] = {100ms, 200ms, 300ms, 1500ms, 2500ms};
    try {
        aio::sleep(latency[url]);
    } catch (const aio::cancelled_error&) {
        // The lesson shows the moment; nothing else would: a cancellation has no message
        // of its own, and the fetch just stops at its yield point.
        lesson::say("page %d: fetch cancelled while waiting", url);
        throw;
    }
    lesson::say("page %d arrived", url);
    return "page " + std::to_string(url);
}

// FIXED: the talk's "spawn tasks" slide: each fetcher has its own deadline and turns its own
// timeout into "no page" (std::nullopt) instead of failing everything.
std::optional<std::string> fetcher(int url) {
    try {
        return aio::timeout(1s, [&] { return fetch(url); });
    } catch (const aio::timeout_error&) {
        lesson::say("page %d: gave up after 1 s", url);
        return std::nullopt;
    }
}

int main() {
    aio::run([] {
        lesson::start();
        std::vector<aio::task<std::optional<std::string>>> tasks;
        for (int url = 0; url < 5; ++url) {
            tasks.push_back(aio::create_task(fetcher, url));
        }
        std::vector<std::optional<std::string>> pages;
        try {
            // FIXED: no deadline here: every fetcher ends by itself within 1 s. (A timeout
            // here too, a little longer, is a fine safety net: "spawn tasks 2".)
            pages = aio::gather(tasks);
        } catch (const aio::timeout_error& e) {
            lesson::say("timeout: %s", e.what());
        }
        int got = 0;
        for (const auto& p : pages) {
            got += p ? 1 : 0;
        }
        lesson::say("got %d of 5 pages after %.1f s", got, lesson::elapsed());
    });
}
