#include "child.hpp"

#include <aio/aio.hpp>

#include <catch2/catch.hpp>

#include <csignal>

namespace {
int recurse(int depth) {
    volatile char frame[1024];
    for (auto& c : frame) {
        c = static_cast<char>(depth);
    }
    return depth == 0 ? frame[0] : recurse(depth - 1) + frame[sizeof frame - 1];
}
}  // namespace

#if !defined(AIO_SANITIZE_ADDRESS)  // AddressSanitizer reports overflows itself

TEST_CASE("in debug mode the stack-overflow message names the line that created the task",
          "[debug][stack]") {
    auto r = aio::test::run_in_child([] {
        aio::run_options o;
        o.handle_signals = false;
        o.debug = "1,color=never";
        aio::run(
            [] {
                auto t = aio::create_task([] { return recurse(1000); });  // no task_options
                t.get();
            },
            o);
    });
    CHECK(r.signaled);
    CHECK(r.signal == SIGABRT);
    CHECK_THAT(r.err, Catch::Contains("stack overflow in task 'task-"));
    CHECK_THAT(r.err, Catch::Contains("It was created at"));
    CHECK_THAT(r.err, Catch::Contains("test_overflow.cpp:"));
}

#endif
