// WRONG: gather(return_exceptions) under the same deadline, hoping to keep the pages that
// arrived: the deadline still cancels gather, and gather raises. The check must reject it
// (got 0 of 5).
// Lesson 08: where the timeout goes. Five pages are fetched at once; two of them are slow.
// The goal: whatever arrives within 1 s. One timeout around gather() loses every page.
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

// The talk's "spawn tasks": one fetcher per url.
std::optional<std::string> fetcher(int url) {
    return fetch(url);
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
            // TODO: one deadline for everything: when it passes, gather is cancelled, which
            // cancels every fetcher, and the three pages that did arrive are lost with it.
            // Put the timeout where each fetch can fail on its own ("spawn tasks" slide).
            auto outcomes =
                aio::timeout(1s, [&] { return aio::gather(aio::return_exceptions_t{}, tasks); });
            for (auto& o : outcomes) {
                pages.push_back(o.exception() ? std::nullopt : o.value());
            }
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
