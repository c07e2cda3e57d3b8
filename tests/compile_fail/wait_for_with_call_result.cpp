// expect: wait_for() takes a task variable or a callable
// asyncio's `await asyncio.wait_for(fetch(url), 1)`: here fetch() would run with no deadline.
#include <aio/wait.hpp>

#include <chrono>
#include <string>

using namespace std::chrono_literals;

std::string fetch(const std::string& url) {
    return url;
}

void caller() {
    std::string url = "http://example.com/";
    auto body = aio::wait_for(fetch(url), 1s);
}
