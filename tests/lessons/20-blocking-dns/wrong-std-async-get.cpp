// Wrong: getaddrinfo runs on another thread through std::async, but .get() blocks the loop thread
// until it answers: the scaffold sees the loop stand still (and debug mode the blocking wait).
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <atomic>
#include <future>
#include <string>
#include <thread>

#include <netdb.h>
#include <sys/socket.h>

using namespace std::chrono_literals;

std::atomic<long> loop_turns{0};       // counted by a ticker task on the loop (the check)
std::atomic<int> loop_stood_still{0};  // lookups during which the loop did not turn

// Resolves `host` and returns how many addresses it has (or the resolver's error). The
// resolver answers after 30 ms, as one in the same data centre would.
std::string resolve(const char* host) {
    long turns = loop_turns.load();
    std::this_thread::sleep_for(30ms);  // the query's round trip
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(host, "80", &hints, &res);
    if (rc != 0) {
        return gai_strerror(rc);
    }
    int n = 0;
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
        ++n;
    }
    ::freeaddrinfo(res);
    if (loop_turns.load() == turns) {
        ++loop_stood_still;
    }
    return std::to_string(n) + " address(es)";
}

void connect_to(const char* host) {
    auto t0 = lesson::elapsed();
    // TODO: getaddrinfo blocks the calling thread, here the loop's. Resolve on a thread so
    // that only this task waits. (aio::open_connection resolves names without blocking
    // the loop: lesson 13.)
    std::string answer = std::async(std::launch::async, resolve, host).get();
    lesson::say("%-10s -> %s (the loop was blocked %.2f ms)", host, answer.c_str(),
                (lesson::elapsed() - t0) * 1e3);
}

// ---- the lesson's checks: do not edit below this line (the runner reads what it prints) ----
int main() {
    aio::run([] {
        lesson::start();
        auto ticker = aio::create_task([] {
            for (;;) {
                aio::sleep(1ms);
                ++loop_turns;
            }
        });
        std::vector<aio::task<void>> clients;
        for (const char* host : {"localhost", "127.0.0.1", "::1", "localhost"}) {
            clients.push_back(aio::create_task(connect_to, host));
        }
        aio::gather(clients);
        lesson::stop(ticker);
        if (loop_stood_still > 0) {
            lesson::say("check: the loop stood still during %d of 4 name lookups",
                        loop_stood_still.load());
        }
        lesson::say("a real DNS query can wait 5 s per attempt; every task waits with it");
    });
}
