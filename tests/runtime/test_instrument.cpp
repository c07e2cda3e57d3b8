#include "support.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>

using namespace std::chrono_literals;

namespace {
aio::run_options with(aio::test::recorder& r) {
    aio::run_options o;
    o.handle_signals = false;
    o.virtual_time = true;
    o.instruments.push_back(&r);
    return o;
}
}  // namespace

TEST_CASE("instrument hooks fire in order over a task's life", "[instrument]") {
    aio::test::recorder r;
    aio::run(
        [] {
            auto t = aio::create_task(aio::task_options{.name = "child"}, [] { aio::sleep(1ms); });
            t.get();
        },
        with(r));
    std::vector<std::string> expected = {
        "spawned main",  "step main", "spawned child", "stepped main", "step child",
        "stepped child", "io wait",   "io done",       "step child",   "stepped child",
        "done child",    "step main", "stepped main",  "done main",    "closing",
    };
    CHECK(r.events == expected);
}

TEST_CASE("instrument sees cancel requests with their message", "[instrument][cancel]") {
    aio::test::recorder r;
    aio::run(
        [] {
            auto t = aio::create_task(aio::task_options{.name = "victim"}, [] { aio::sleep(1h); });
            aio::sleep(0s);
            t.cancel("why");
            CHECK_THROWS_AS(t.get(), aio::cancelled_error);
        },
        with(r));
    CHECK(r.has("cancel victim why"));
}

TEST_CASE("instrument sees a dropped handle and an unretrieved exception", "[instrument]") {
    aio::test::recorder r;
    aio::run_options o = with(r);
    aio::run(
        [] {
            aio::get_running_loop().set_exception_handler(
                [](aio::loop&, const aio::exception_context&) {});
            {
                auto t = aio::create_task(aio::task_options{.name = "forgotten"},
                                          [] { aio::sleep(1ms); });
            }
            {
                auto u = aio::create_task(aio::task_options{.name = "failing"},
                                          [] { throw std::runtime_error("x"); });
                aio::sleep(0s);
            }
            aio::sleep(5ms);
            // A handle that was awaited is not reported when dropped.
            auto w = aio::create_task(aio::task_options{.name = "awaited"}, [] {});
            w.get();
        },
        o);
    CHECK(r.has("dropped forgotten"));
    CHECK(r.has("dropped failing"));
    CHECK(r.has("unretrieved failing"));
    CHECK_FALSE(r.has("dropped awaited"));
    CHECK_FALSE(r.has("unretrieved forgotten"));
}

TEST_CASE("a detached task is not reported as dropped", "[instrument]") {
    aio::test::recorder r;
    aio::run(
        [] {
            aio::create_task(aio::task_options{.name = "bg"}, [] { aio::sleep(1ms); }).detach();
            aio::sleep(5ms);
        },
        with(r));
    CHECK_FALSE(r.has("dropped bg"));
    CHECK(r.has("done bg"));
}

TEST_CASE("instrument sees resources open and close", "[instrument][resource]") {
    aio::test::recorder r;
    aio::run(
        [] {
            aio::thread_pool_executor pool(1);
            pool.shutdown();
        },
        with(r));
    CHECK(r.has("opened executor"));
    CHECK(r.has("closed executor"));
}

TEST_CASE("instruments can be added and removed on a running loop", "[instrument]") {
    aio::test::recorder r;
    aio::run_options o;
    o.handle_signals = false;
    aio::run(
        [&] {
            auto& l = aio::get_running_loop();
            l.add_instrument(&r);
            auto t = aio::create_task(aio::task_options{.name = "seen"}, [] {});
            t.get();
            l.remove_instrument(&r);
            auto u = aio::create_task(aio::task_options{.name = "unseen"}, [] {});
            u.get();
        },
        o);
    CHECK(r.has("spawned seen"));
    CHECK_FALSE(r.has("spawned unseen"));
}
