// expect: create_task(fn, args...) takes a callable and the arguments to call it with
// create_task(fetch(url)) calls fetch() on the spot and hands its result, not a function, over.
#include <aio/task.hpp>

#include <string>

std::string fetch(const std::string& url) {
    return url;
}

void caller() {
    std::string url = "http://example.com/";
    auto t = aio::create_task(fetch(url));
    t.detach();
}
