// Lesson 20: blocking DNS. getaddrinfo() is the classic hidden blocking call: it looks like
// a quick function, but it may send queries and wait for answers (seconds, when a resolver
// is slow or unreachable), and the whole loop waits with it. Here it resolves names from
// /etc/hosts (no network needed), so it is fast, and debug mode still catches every call.
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
    // TODO: getaddrinfo blocks the calling thread, here the loop's. Resolve on a thread so
    // that only this task waits. (aio::open_connection resolves names without blocking
    // the loop: lesson 13.)
    std::string answer = resolve(host);
    lesson::say("%-10s -> %s (the loop was blocked %.2f ms)", host, answer.c_str(),
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
