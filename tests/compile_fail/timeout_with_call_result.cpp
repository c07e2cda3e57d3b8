// expect: timeout() takes a callable: aio::timeout(1s, [&] { return fetch(url); })
// The asyncio habit `await asyncio.wait_for(fetch(url), 1)`: here fetch() would run to its end
// before the timeout exists.
#include <aio/timeout.hpp>

#include <chrono>
#include <string>

using namespace std::chrono_literals;

std::string fetch(const std::string& url) {
    return url;
}

void caller() {
    std::string url = "http://example.com/";
    auto body = aio::timeout(1s, fetch(url));
    (void)body;
}
