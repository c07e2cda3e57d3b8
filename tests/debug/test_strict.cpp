#include "child.hpp"

#include <aio/aio.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>

namespace {
void run_with(const char* options, bool leak) {
    aio::run_options o;
    o.handle_signals = false;
    o.debug = options;
    aio::run(
        [&] {
            if (leak) {
                auto t = aio::create_task([] {});
                aio::sleep(std::chrono::milliseconds(0));
            }
        },
        o);
    std::exit(0);  // a normal exit: atexit handlers run
}
}  // namespace

TEST_CASE("strict mode exits non-zero when there were findings, and says so last",
          "[debug][strict]") {
    auto r = aio::test::run_in_child([] { run_with("1,strict,color=never", true); });
    CHECK(r.exited);
    CHECK(r.code == 3);
    CHECK_THAT(r.err,
               Catch::EndsWith("aio debug: strict mode: 1 finding; exiting with status 3\n"));
}

TEST_CASE("strict mode keeps the exit status when there were no findings", "[debug][strict]") {
    auto r = aio::test::run_in_child([] { run_with("1,strict,color=never", false); });
    CHECK(r.exited);
    CHECK(r.code == 0);
}

TEST_CASE("without strict, findings do not change the exit status", "[debug][strict]") {
    auto r = aio::test::run_in_child([] { run_with("1,color=never", true); });
    CHECK(r.exited);
    CHECK(r.code == 0);
    CHECK_THAT(r.err, Catch::Contains("[never-awaited]"));
}
