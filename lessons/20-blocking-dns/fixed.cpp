// Lesson 20, fixed: getaddrinfo runs on the loop's thread pool. The task waits for it; the
// loop does not.
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <string>

#include <netdb.h>
#include <sys/socket.h>

using namespace std::chrono_literals;

// Resolves `host` and returns how many addresses it has (or the resolver's error).
std::string resolve(const char* host) {
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
    return std::to_string(n) + " address(es)";
}

void connect_to(const char* host) {
    auto t0 = lesson::elapsed();
    // FIXED: the blocking resolver call runs on a thread (asyncio's loop.getaddrinfo does the
    // same); this task suspends until it returns.
    std::string answer = aio::to_thread(resolve, host);
    lesson::say("%-10s -> %s (this task waited %.2f ms; the loop did not)", host, answer.c_str(),
                (lesson::elapsed() - t0) * 1e3);
}

int main() {
    aio::run([] {
        lesson::start();
        std::vector<aio::task<void>> clients;
        for (const char* host : {"localhost", "127.0.0.1", "::1", "localhost"}) {
            clients.push_back(aio::create_task(connect_to, host));
        }
        aio::gather(clients);
        lesson::say("a real DNS query can wait 5 s per attempt; every task waits with it");
    });
}
