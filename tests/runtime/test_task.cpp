#include "support.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;
using aio::test::run_test;

TEST_CASE("get returns a child task's value", "[task]") {
    run_test([] {
        auto t = aio::create_task([](int a, int b) { return a + b; }, 2, 3);
        CHECK_FALSE(t.done());
        CHECK(t.get() == 5);
        CHECK(t.done());
        CHECK_FALSE(t.cancelled());
    });
}

TEST_CASE("get rethrows the exception a task raised", "[task]") {
    run_test([] {
        auto t = aio::create_task([]() -> int { throw std::runtime_error("boom"); });
        CHECK_THROWS_WITH(t.get(), "boom");
        CHECK(t.done());
        CHECK(t.exception() != nullptr);
    });
}

TEST_CASE("result and exception refuse a task that is not done", "[task]") {
    run_test([] {
        auto t = aio::create_task([] {
            aio::sleep(1s);
            return 1;
        });
        CHECK_THROWS_AS(t.result(), aio::invalid_state_error);
        CHECK_THROWS_AS(t.exception(), aio::invalid_state_error);
        CHECK_THROWS_WITH(t.result(), Catch::Contains("before it is done"));
        t.cancel();
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);
    });
}

TEST_CASE("result does not suspend once the task is done", "[task]") {
    run_test([] {
        auto t = aio::create_task([] { return std::string("ok"); });
        aio::sleep(0s);
        CHECK(t.done());
        CHECK(t.result() == "ok");
        CHECK(t.exception() == nullptr);
    });
}

TEST_CASE("tasks get default names task-N and keep given names", "[task]") {
    run_test([] {
        auto a = aio::create_task([] {});
        CHECK(a.name() == "task-" + std::to_string(a.id()));
        auto b = aio::create_task(aio::task_options{.name = "fetcher"}, [] {});
        CHECK(b.name() == "fetcher");
        b.set_name("renamed");
        CHECK(b.name() == "renamed");
        CHECK(aio::current_task().name() == "main");
        a.get();
        b.get();
    });
}

TEST_CASE("a task records the line that created it", "[task]") {
    run_test([] {
        // clang-format off
        auto t = aio::create_task(aio::task_options{.name = "x"}, [] {}); int line = __LINE__;
        // clang-format on
        auto site = t.creation_site();
        CHECK(site.line == static_cast<std::uint32_t>(line));
        CHECK_THAT(site.file, Catch::EndsWith("test_task.cpp"));
        t.get();
    });
}

TEST_CASE("a task created without options is symbolized to the calling line", "[task]") {
    run_test([] {
        // clang-format off
        auto t = aio::create_task([] {}); int line = __LINE__;
        // clang-format on
        auto site = t.creation_site();
        CHECK_THAT(site.file, Catch::EndsWith("test_task.cpp"));
        CHECK(site.line == static_cast<std::uint32_t>(line));
        t.get();
    });
}

TEST_CASE("a task cancelled before it starts never runs its function", "[task][cancel]") {
    run_test([] {
        bool ran = false;
        auto t = aio::create_task([&] { ran = true; });
        CHECK(t.cancel("stop"));
        CHECK(t.cancelling() == 1);
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);
        CHECK_FALSE(ran);
        CHECK(t.cancelled());
        CHECK_FALSE(t.cancel());  // already done
    });
}

TEST_CASE("cancelling a sleeping task raises cancelled_error with the message", "[task][cancel]") {
    run_test([] {
        std::string seen;
        auto t = aio::create_task([&] {
            try {
                aio::sleep(10s);
            } catch (const aio::cancelled_error& e) {
                seen = e.message();
                throw;
            }
        });
        aio::sleep(1ms);
        t.cancel("enough");
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);
        CHECK(seen == "enough");
        CHECK(t.cancelled());
    });
}

TEST_CASE("cancelled_error is not a std::exception", "[task][cancel]") {
    STATIC_REQUIRE_FALSE(std::is_base_of_v<std::exception, aio::cancelled_error>);
    run_test([] {
        bool swallowed = false;
        auto t = aio::create_task([&] {
            try {
                aio::sleep(10s);
            } catch (const std::exception&) {
                swallowed = true;  // must not happen
            }
        });
        aio::sleep(0s);
        t.cancel();
        CHECK_THROWS_AS(t.get(), aio::cancelled_error);
        CHECK_FALSE(swallowed);
    });
}

TEST_CASE("uncancel withdraws a cancellation not yet delivered", "[task][cancel]") {
    run_test([] {
        auto t = aio::create_task([] {
            aio::sleep(1ms);
            return 7;
        });
        t.cancel();
        t.cancel();
        CHECK(t.cancelling() == 2);
        CHECK(t.uncancel() == 1);
        CHECK(t.uncancel() == 0);
        CHECK(t.get() == 7);
    });
}

TEST_CASE("a task that swallows its cancellation returns normally", "[task][cancel]") {
    run_test([] {
        auto t = aio::create_task([] {
            try {
                aio::sleep(10s);
            } catch (const aio::cancelled_error&) {
                // swallowed on purpose: debug mode reports this as cancel-swallowed
            }
            return 3;
        });
        aio::sleep(0s);
        t.cancel();
        CHECK(t.get() == 3);
        CHECK_FALSE(t.cancelled());
        CHECK(t.base()->cancels_delivered_ == 1);
    });
}

TEST_CASE("get passes the caller's cancellation on to the awaited task", "[task][cancel]") {
    run_test([] {
        auto inner = aio::create_task([] { aio::sleep(10s); });
        auto outer = aio::create_task([&] { inner.get(); });
        aio::sleep(1ms);
        outer.cancel("from outside");
        CHECK_THROWS_AS(outer.get(), aio::cancelled_error);
        CHECK(inner.cancelled());
    });
}

TEST_CASE("a task cannot get() itself", "[task]") {
    run_test([] {
        aio::task<void> self;
        auto t = aio::create_task([&] {
            aio::sleep(0s);
            self.get();
        });
        self = t;
        CHECK_THROWS_AS(t.get(), aio::usage_error);
    });
}

TEST_CASE("create_task outside a loop is a usage error", "[task]") {
    CHECK_THROWS_WITH(aio::create_task([] {}), Catch::Contains("no running event loop"));
    CHECK_THROWS_AS(aio::get_running_loop(), aio::usage_error);
}

TEST_CASE("done callbacks run on the loop after the task ends", "[task]") {
    run_test([] {
        std::vector<std::string> log;
        auto t = aio::create_task([&] { log.push_back("body"); });
        t.add_done_callback(
            [&](aio::task_ref r) { log.push_back("cb " + std::to_string(r.done())); });
        t.get();
        aio::sleep(0s);
        t.add_done_callback([&](aio::task_ref) { log.push_back("late"); });
        aio::sleep(0s);
        CHECK(log == std::vector<std::string>{"body", "cb 1", "late"});
    });
}

TEST_CASE("all_tasks lists the tasks not done yet", "[task]") {
    run_test([] {
        auto a = aio::create_task([] { aio::sleep(1ms); });
        auto b = aio::create_task([] {});
        CHECK(aio::all_tasks().size() == 3);  // main, a, b
        b.get();
        CHECK(aio::all_tasks().size() == 2);
        a.get();
        CHECK(aio::all_tasks().size() == 1);
        CHECK(aio::current_task() == aio::all_tasks().front());
    });
}

TEST_CASE("current_task is empty outside a task", "[task]") {
    CHECK_FALSE(aio::current_task());
}

TEST_CASE("a move-only result can be taken once", "[task]") {
    run_test([] {
        auto t = aio::create_task([] { return std::make_unique<int>(5); });
        CHECK(*t.get() == 5);
        CHECK_THROWS_AS(t.result(), aio::invalid_state_error);
    });
}

TEST_CASE("a task that suspends inside a catch block keeps its own exception", "[task]") {
    // Each fiber carries its own C++ exception bookkeeping: `throw;` after a switch rethrows
    // this task's exception, not the other task's.
    run_test([] {
        auto body = [](std::string what) {
            try {
                throw std::runtime_error(what);
            } catch (...) {
                aio::sleep(1ms);
                try {
                    throw;
                } catch (const std::runtime_error& e) {
                    return std::string(e.what());
                }
            }
        };
        auto a = aio::create_task(body, "a");
        auto b = aio::create_task(body, "b");
        CHECK(a.get() == "a");
        CHECK(b.get() == "b");
        CHECK(std::uncaught_exceptions() == 0);
    });
}

TEST_CASE("arguments are moved into the task and released when it ends", "[task]") {
    run_test([] {
        auto p = std::make_shared<int>(1);
        std::weak_ptr<int> w = p;
        auto t = aio::create_task([](std::shared_ptr<int> q) { return *q; }, std::move(p));
        CHECK(t.get() == 1);
        CHECK(w.expired());
    });
}

TEST_CASE("an empty task handle says so", "[task]") {
    run_test([] {
        aio::task<int> t;
        CHECK_THROWS_AS(t.get(), aio::invalid_state_error);
    });
}

TEST_CASE("a failed task nobody awaited reaches the exception handler", "[task]") {
    std::vector<std::string> messages;
    aio::run_options o;
    o.handle_signals = false;
    o.virtual_time = true;
    aio::run(
        [&] {
            aio::get_running_loop().set_exception_handler(
                [&](aio::loop&, const aio::exception_context& c) {
                    messages.push_back(c.message + " | " + aio::describe_exception(c.exception));
                });
            {
                auto t = aio::create_task([] { throw std::logic_error("lost"); });
                aio::sleep(0s);
                aio::sleep(0s);
            }
            aio::sleep(0s);
        },
        o);
    REQUIRE(messages.size() == 1);
    CHECK_THAT(messages[0], Catch::Contains("Task exception was never retrieved"));
    CHECK_THAT(messages[0], Catch::Contains("std::logic_error: lost"));
}

TEST_CASE("cancelling a task waiting in get() passes the cancellation on at once",
          "[task][cancel]") {
    run_test([] {
        auto inner = aio::create_task([] {
            try {
                aio::sleep(1h);
            } catch (const aio::cancelled_error&) {
                return 42;  // swallows it: the outer task gets the value
            }
            return 0;
        });
        auto outer = aio::create_task([&] { return inner.get(); });
        aio::sleep(0s);
        outer.cancel("stop");
        CHECK(inner.cancelling() == 1);  // inside outer.cancel(), as asyncio's _fut_waiter
        CHECK(outer.cancelling() == 1);
        CHECK(outer.get() == 42);
        CHECK_FALSE(outer.cancelled());
    });
}

namespace {

struct swallow_watch : aio::instrument {
    int ran_on = 0;
    void ran_on_after_cancel(const aio::task_ref&) noexcept override { ++ran_on; }
};

// The pattern of docs/reference/task.md, "Whose cancellation is it?".
std::string wait_for_child(aio::task<void>& child) {
    try {
        child.get();
        return "child done";
    } catch (const aio::cancelled_error&) {
        if (aio::current_task().cancelling() > 0) {
            throw;  // I was cancelled: pass it on
        }
        return "child was cancelled";  // someone cancelled my child, not me: go on
    }
}

}  // namespace

TEST_CASE("a task tells its child's cancellation from its own with cancelling()",
          "[task][cancel]") {
    run_test([] {
        swallow_watch watch;
        auto& l = aio::get_running_loop();
        l.add_instrument(&watch);
        SECTION("the child was cancelled by someone else: cancelling() is 0") {
            auto child = aio::create_task([] { aio::sleep(1h); });
            auto parent = aio::create_task(wait_for_child, std::ref(child));
            aio::sleep(1ms);
            child.cancel();
            CHECK(parent.get() == "child was cancelled");
            CHECK(parent.cancelling() == 0);
        }
        SECTION("the parent was cancelled: cancelling() > 0, get() passed it to the child") {
            auto child = aio::create_task([] { aio::sleep(1h); });
            auto parent = aio::create_task(wait_for_child, std::ref(child));
            aio::sleep(1ms);
            parent.cancel();
            parent.wait_done();
            CHECK(parent.cancelled());
            CHECK(parent.cancelling() == 1);
            CHECK(child.cancelled());
        }
        l.remove_instrument(&watch);
        CHECK(watch.ran_on == 0);  // nothing swallowed: debug mode stays silent
    });
}
