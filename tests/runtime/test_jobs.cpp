// aio::jobs::scheduler: the behaviours of aiojobs' test suite (test_scheduler.py and
// test_job.py), ported as behaviours, plus what is specific to C++ (destruction, misuse).
// Every test runs under virtual time, so the timeouts cost nothing.
#include "support.hpp"

#include <aio/jobs/scheduler.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <source_location>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using aio::test::run_test;
namespace jobs = aio::jobs;

namespace {

// Records what the scheduler's exception handler was called with.
struct handler_log {
    struct call {
        std::string message;
        std::string job;
        std::string what;  // the exception's what(), or its type for timeout_error
    };
    std::vector<call> calls;

    jobs::exception_handler_fn fn() {
        return [this](jobs::scheduler&, const jobs::exception_context& c) {
            call k{c.message, c.job ? c.job.name() : "", ""};
            try {
                std::rethrow_exception(c.exception);
            } catch (const aio::timeout_error&) {
                k.what = "timeout_error";
            } catch (const std::exception& e) {
                k.what = e.what();
            } catch (...) {
                k.what = "?";
            }
            calls.push_back(std::move(k));
        };
    }
};

jobs::scheduler_options with_handler(handler_log& log, jobs::scheduler_options o = {}) {
    o.exception_handler = log.fn();
    return o;
}

}  // namespace

// --- construction and options -----------------------------------------------------------

TEST_CASE("a scheduler has aiojobs' defaults", "[jobs][options]") {
    run_test([] {
        jobs::scheduler s;
        CHECK(s.limit() == 100);
        CHECK(s.pending_limit() == 10000);
        CHECK(s.close_timeout() == 100ms);
        CHECK(s.wait_timeout() == 60s);
        CHECK_FALSE(s.exception_handler());
        CHECK_FALSE(s.closed());
        CHECK(s.size() == 0);
        CHECK(s.active_count() == 0);
        CHECK(s.pending_count() == 0);
        s.close();
    });
}

TEST_CASE("scheduler options are kept as given", "[jobs][options]") {
    run_test([] {
        handler_log log;
        jobs::scheduler s({.limit = 2,
                           .pending_limit = 3,
                           .close_timeout = 1s,
                           .wait_timeout = 5s,
                           .exception_handler = log.fn()});
        CHECK(s.limit() == 2);
        CHECK(s.pending_limit() == 3);
        CHECK(s.close_timeout() == 1s);
        CHECK(s.wait_timeout() == 5s);
        CHECK(static_cast<bool>(s.exception_handler()));
        s.close();
    });
}

TEST_CASE("a negative timeout is rejected with a message naming it", "[jobs][options]") {
    run_test([] {
        CHECK_THROWS_WITH(jobs::scheduler({.close_timeout = -1s}),
                          Catch::Contains("close_timeout must not be negative"));
        CHECK_THROWS_WITH(jobs::scheduler({.wait_timeout = -1s}),
                          Catch::Contains("wait_timeout must not be negative"));
    });
}

TEST_CASE("a scheduler cannot be made outside a running loop", "[jobs][options]") {
    CHECK_THROWS_AS(jobs::scheduler(), aio::usage_error);
}

// --- spawn and results --------------------------------------------------------------------

TEST_CASE("a spawned job is active, then closed once awaited, and leaves the scheduler",
          "[jobs][spawn]") {
    run_test([] {
        jobs::scheduler s;
        auto j = s.spawn([] { return 1; });
        CHECK(j.active());
        CHECK_FALSE(j.pending());
        CHECK_FALSE(j.closed());
        CHECK(s.size() == 1);
        CHECK(s.contains(j));
        CHECK(j.wait() == 1);
        CHECK(j.closed());
        CHECK_FALSE(j.active());
        CHECK(s.size() == 0);
        CHECK(s.jobs().empty());
        CHECK_FALSE(s.contains(j));
        s.close();
    });
}

TEST_CASE("wait returns the job's value and does not call the exception handler", "[jobs][spawn]") {
    run_test([] {
        handler_log log;
        jobs::scheduler s(with_handler(log));
        auto j = s.spawn([] {
            aio::sleep(1ms);
            return std::string("done");
        });
        CHECK(j.wait() == "done");
        CHECK(log.calls.empty());
        s.close();
    });
}

TEST_CASE("a job that finished on its own is closed and wait still returns its value",
          "[jobs][spawn]") {
    run_test([] {
        jobs::scheduler s;
        auto j = s.spawn([] { return 5; });
        aio::sleep(1ms);
        CHECK(j.closed());
        CHECK(s.size() == 0);
        CHECK(j.wait() == 5);
        s.close();
    });
}

TEST_CASE("jobs() lists the live jobs oldest first", "[jobs][spawn]") {
    run_test([] {
        jobs::scheduler s;
        auto a = s.spawn([] { aio::sleep(1s); }, "a");
        auto b = s.spawn([] { aio::sleep(1s); }, "b");
        auto list = s.jobs();
        REQUIRE(list.size() == 2);
        CHECK(list[0] == a);
        CHECK(list[1] == b);
        s.close();
    });
}

// --- names -----------------------------------------------------------------------------------

TEST_CASE("a job has the name given to spawn, and its task too", "[jobs][name]") {
    run_test([] {
        jobs::scheduler s;
        auto j = s.spawn([] {}, "test_job_name");
        CHECK(j.name() == "test_job_name");
        CHECK(j.task().name() == "test_job_name");
        s.close();
    });
}

TEST_CASE("a job without a name is named after its task", "[jobs][name]") {
    run_test([] {
        jobs::scheduler s;
        auto j = s.spawn([] {});
        CHECK(j.name().rfind("task-", 0) == 0);
        s.close();
    });
}

TEST_CASE("renaming a job renames its task", "[jobs][name]") {
    run_test([] {
        jobs::scheduler s;
        auto j = s.spawn([] {}, "original_name");
        j.set_name("changed_name");
        CHECK(j.name() == "changed_name");
        CHECK(j.task().name() == "changed_name");
        s.close();
    });
}

TEST_CASE("a job's where() is the line that spawned it", "[jobs][name]") {
    run_test([] {
        jobs::scheduler s;
        auto j = s.spawn([] {});
        int line = __LINE__ - 1;
        CHECK(j.where().line() == static_cast<std::uint_least32_t>(line));
        CHECK(j.task().creation_site().line == static_cast<std::uint32_t>(line));
        s.close();
    });
}

// --- formatting ------------------------------------------------------------------------------

TEST_CASE("to_string shows the job count and the closed state", "[jobs][format]") {
    run_test([] {
        jobs::scheduler s;
        CHECK(to_string(s) == "<scheduler 'jobs' jobs=0 active=0 pending=0>");
        s.spawn([] { aio::sleep(1s); });
        CHECK(to_string(s) == "<scheduler 'jobs' jobs=1 active=1 pending=0>");
        s.close();
        CHECK(to_string(s) == "<scheduler 'jobs' closed jobs=0 active=0 pending=0>");
    });
}

TEST_CASE("to_string of a job shows active, pending or closed", "[jobs][format]") {
    run_test([] {
        jobs::scheduler s({.limit = 1});
        auto a = s.spawn([] { aio::sleep(1s); }, "a");
        auto b = s.spawn([] {}, "b");
        CHECK(to_string(a) == "<job 'a' active>");
        CHECK(to_string(b) == "<job 'b' pending>");
        a.close();
        CHECK(to_string(a) == "<job 'a' closed>");
        CHECK(to_string(jobs::job_ref{}) == "<job empty>");
        s.close();
    });
}

// --- exceptions ------------------------------------------------------------------------------

TEST_CASE("an exception goes to the task that waits on the job, not to the handler",
          "[jobs][exceptions]") {
    run_test([] {
        handler_log log;
        jobs::scheduler s(with_handler(log));
        auto j = s.spawn([] {
            aio::sleep(0s);
            throw std::runtime_error("boom");
        });
        CHECK_THROWS_WITH(j.wait(), "boom");
        CHECK(j.closed());
        CHECK(s.size() == 0);
        CHECK(log.calls.empty());
        s.close();
    });
}

TEST_CASE("an exception that fails at once also goes to the waiter", "[jobs][exceptions]") {
    run_test([] {
        handler_log log;
        jobs::scheduler s(with_handler(log));
        auto j = s.spawn([]() -> int { throw std::runtime_error("at once"); });
        CHECK_THROWS_WITH(j.wait(), "at once");
        CHECK(log.calls.empty());
        s.close();
    });
}

TEST_CASE("an exception of a job nobody waits on goes to the exception handler",
          "[jobs][exceptions]") {
    run_test([] {
        handler_log log;
        jobs::scheduler s(with_handler(log));
        s.spawn(
            [] {
                aio::sleep(0s);
                throw std::runtime_error("lost?");
            },
            "worker");
        CHECK(s.size() == 1);
        aio::sleep(50ms);
        CHECK(s.size() == 0);
        REQUIRE(log.calls.size() == 1);
        CHECK(log.calls[0].message == "Job processing failed");
        CHECK(log.calls[0].job == "worker");
        CHECK(log.calls[0].what == "lost?");
        s.close();
    });
}

TEST_CASE("an exception raised while the scheduler closes goes to the handler once",
          "[jobs][exceptions]") {
    run_test([] {
        handler_log log;
        jobs::scheduler s(with_handler(log));
        aio::event started;
        s.spawn([&] {
            started.set();
            throw std::runtime_error("on close");
        });
        started.wait();
        s.close();
        CHECK(s.size() == 0);
        REQUIRE(log.calls.size() == 1);
        CHECK(log.calls[0].message == "Job processing failed");
        CHECK(log.calls[0].what == "on close");
    });
}

TEST_CASE("a job failing before close is reported once, not again by close", "[jobs][exceptions]") {
    run_test([] {
        handler_log log;
        jobs::scheduler s(with_handler(log));
        s.spawn([] { throw std::runtime_error("once"); });
        aio::sleep(0s);  // it runs and fails
        s.close();
        CHECK(log.calls.size() == 1);
    });
}

TEST_CASE("wait_and_close sends failures nobody waits on to the handler", "[jobs][exceptions]") {
    run_test([] {
        handler_log log;
        jobs::scheduler s(with_handler(log));
        s.spawn([] {
            aio::sleep(0s);
            throw std::runtime_error("during wait");
        });
        CHECK(s.size() == 1);
        s.wait_and_close();
        CHECK(s.size() == 0);
        REQUIRE(log.calls.size() == 1);
        CHECK(log.calls[0].what == "during wait");
    });
}

TEST_CASE("without a handler, failures go to the loop's exception handler", "[jobs][exceptions]") {
    run_test([] {
        std::vector<std::string> seen;
        aio::get_running_loop().set_exception_handler(
            [&](aio::loop&, const aio::exception_context& c) {
                seen.push_back(c.message + " | " + c.describe_task());
            });
        jobs::scheduler s;
        s.spawn([] { throw std::runtime_error("x"); }, "orphan");
        aio::sleep(1ms);
        REQUIRE(seen.size() == 1);
        CHECK(seen[0].find("Job processing failed") == 0);
        CHECK(seen[0].find("job 'orphan'") != std::string::npos);
        s.close();
        aio::get_running_loop().set_exception_handler({});
    });
}

TEST_CASE("call_exception_handler without a job or a handler reaches the loop's handler",
          "[jobs][exceptions]") {
    run_test([] {
        std::vector<std::string> seen;
        aio::get_running_loop().set_exception_handler(
            [&](aio::loop&, const aio::exception_context& c) { seen.push_back(c.message); });
        jobs::scheduler s;
        s.call_exception_handler({"no job here", {}, {}});
        CHECK(seen == std::vector<std::string>{"no job here"});
        s.close();
        aio::get_running_loop().set_exception_handler({});
    });
}

TEST_CASE("call_exception_handler calls the handler with the scheduler", "[jobs][exceptions]") {
    run_test([] {
        jobs::scheduler* got = nullptr;
        std::string message;
        jobs::scheduler s(
            {.exception_handler = [&](jobs::scheduler& self, const jobs::exception_context& c) {
                got = &self;
                message = c.message;
            }});
        s.call_exception_handler({"custom", {}, {}});
        CHECK(got == &s);
        CHECK(message == "custom");
        s.close();
    });
}

TEST_CASE("an exception thrown by the handler is reported to the loop, not raised",
          "[jobs][exceptions]") {
    run_test([] {
        std::vector<std::string> seen;
        aio::get_running_loop().set_exception_handler(
            [&](aio::loop&, const aio::exception_context& c) { seen.push_back(c.message); });
        jobs::scheduler s(
            {.exception_handler = [](jobs::scheduler&, const jobs::exception_context&) {
                throw std::logic_error("bad handler");
            }});
        s.spawn([] { throw std::runtime_error("x"); });
        aio::sleep(1ms);
        REQUIRE(seen.size() == 1);
        CHECK(seen[0] == "Exception in a job scheduler's exception handler");
        s.close();
        aio::get_running_loop().set_exception_handler({});
    });
}

// --- close -----------------------------------------------------------------------------------

TEST_CASE("close cancels active jobs and empties the scheduler", "[jobs][close]") {
    run_test([] {
        jobs::scheduler s;
        bool cancelled = false;
        auto j = s.spawn([&] {
            try {
                aio::sleep(1s);
            } catch (const aio::cancelled_error&) {
                cancelled = true;
                throw;
            }
        });
        aio::sleep(0s);
        s.close();
        CHECK(cancelled);
        CHECK(j.closed());
        CHECK(s.closed());
        CHECK(s.size() == 0);
        CHECK(s.active_count() == 0);
        CHECK(s.pending_count() == 0);
    });
}

TEST_CASE("close drops pending jobs without running them", "[jobs][close]") {
    run_test([] {
        jobs::scheduler s({.limit = 1});
        bool ran = false;
        s.spawn([] { aio::sleep(1s); });
        auto p = s.spawn([&] { ran = true; });
        CHECK(p.pending());
        s.close();
        CHECK(p.closed());
        CHECK_FALSE(ran);
        aio::sleep(1ms);
        CHECK_FALSE(ran);
    });
}

TEST_CASE("close is idempotent", "[jobs][close]") {
    run_test([] {
        jobs::scheduler s;
        s.spawn([] { aio::sleep(1s); });
        s.close();
        s.close();
        CHECK(s.closed());
    });
}

TEST_CASE("a job that outlives close_timeout is reported as 'Job closing timed out'",
          "[jobs][close]") {
    run_test([] {
        handler_log log;
        jobs::scheduler s(with_handler(log, {.close_timeout = 10ms}));
        aio::event stuck;
        auto j = s.spawn(
            [&] {
                try {
                    aio::sleep(1s);
                } catch (const aio::cancelled_error&) {
                    aio::shield([&] { stuck.wait(); });  // cleanup that takes too long
                    throw;
                }
            },
            "slow");
        aio::sleep(1ms);
        auto before = aio::test::since_start();
        s.close();
        CHECK(aio::test::since_start() - before == 10ms);
        CHECK(j.closed());
        CHECK(s.size() == 0);  // no longer listed, as in aiojobs
        CHECK(s.active_count() == 0);
        REQUIRE(log.calls.size() == 1);
        CHECK(log.calls[0].message == "Job closing timed out");
        CHECK(log.calls[0].job == "slow");
        CHECK(log.calls[0].what == "timeout_error");
        CHECK_THROWS_AS(j.wait(5ms), aio::timeout_error);  // still running: the timeout holds
        stuck.set();
        CHECK_THROWS_AS(j.wait(), aio::cancelled_error);
    });
}

TEST_CASE("spawn after close raises usage_error and runs nothing", "[jobs][close]") {
    run_test([] {
        jobs::scheduler s;
        s.close();
        bool ran = false;
        CHECK_THROWS_WITH(s.spawn([&] { ran = true; }), Catch::Contains("is closed"));
        aio::sleep(1ms);
        CHECK_FALSE(ran);
    });
}

TEST_CASE("a spawner waiting for room gets usage_error when the scheduler closes",
          "[jobs][close]") {
    run_test([] {
        jobs::scheduler s({.limit = 1, .pending_limit = 1});
        s.spawn([] { aio::sleep(1s); });
        s.spawn([] { aio::sleep(1s); });
        auto spawner = aio::create_task([&] { s.spawn([] {}); });
        aio::sleep(1ms);
        CHECK_FALSE(spawner.done());
        s.close();
        CHECK_THROWS_WITH(spawner.get(), Catch::Contains("was closed while spawn() waited"));
    });
}

// --- limit and pending_limit -----------------------------------------------------------------

TEST_CASE("jobs beyond the limit wait in the pending queue", "[jobs][limit]") {
    run_test([] {
        jobs::scheduler s({.limit = 1});
        aio::event e1, e2, e3;
        s.spawn([&] { e1.wait(); });
        CHECK(s.pending_count() == 0);
        s.spawn([&] { e2.wait(); });
        CHECK(s.pending_count() == 1);
        s.spawn([&] { e3.wait(); });
        CHECK(s.pending_count() == 2);
        CHECK(s.active_count() == 1);
        CHECK(s.size() == 3);
        s.close();
    });
}

TEST_CASE("a pending job starts when an active one finishes", "[jobs][limit]") {
    run_test([] {
        jobs::scheduler s({.limit = 1});
        aio::event e1, e2;
        CHECK(s.active_count() == 0);
        auto j1 = s.spawn([&] { e1.wait(); });
        CHECK(s.active_count() == 1);
        CHECK(j1.active());
        auto j2 = s.spawn([&] { e2.wait(); });
        CHECK(s.active_count() == 1);
        CHECK(s.pending_count() == 1);
        CHECK(j2.pending());
        e1.set();
        j1.wait();
        CHECK(s.active_count() == 1);
        CHECK(s.pending_count() == 0);
        CHECK(j1.closed());
        CHECK(j2.active());
        e2.set();
        j2.wait();
        CHECK(s.active_count() == 0);
        CHECK(j2.closed());
        s.close();
    });
}

TEST_CASE("a pending job resumes when the active one is closed", "[jobs][limit]") {
    run_test([] {
        jobs::scheduler s({.limit = 1});
        auto j1 = s.spawn([] { aio::sleep(10s); });
        auto j2 = s.spawn([] {});
        CHECK(j2.pending());
        j1.close();
        CHECK(j2.active());
        CHECK_FALSE(j2.closed());
        CHECK_FALSE(j2.pending());
        s.close();
    });
}

TEST_CASE("closing a pending job frees its place and it never runs", "[jobs][limit]") {
    run_test([] {
        jobs::scheduler s({.limit = 1});
        aio::event e1;
        bool ran = false;
        auto j1 = s.spawn([&] { e1.wait(); });
        auto j2 = s.spawn([&] { ran = true; });
        CHECK(s.active_count() == 1);
        j2.close();
        CHECK(j2.closed());
        CHECK_FALSE(j2.pending());
        CHECK(s.pending_count() == 0);
        e1.set();
        j1.wait();
        CHECK(s.active_count() == 0);
        CHECK(s.size() == 0);
        CHECK_FALSE(ran);
        s.close();
    });
}

TEST_CASE("spawn suspends while the pending queue is full", "[jobs][limit]") {
    run_test([] {
        jobs::scheduler s({.limit = 1, .pending_limit = 1});
        aio::event e;
        s.spawn([&] {
            aio::sleep(0s);
            e.wait();
        });
        CHECK(s.active_count() == 1);
        CHECK(s.pending_count() == 0);
        s.spawn([&] { e.wait(); });
        CHECK(s.active_count() == 1);
        CHECK(s.pending_count() == 1);
        CHECK_THROWS_AS(aio::timeout(1s, [&] { s.spawn([&] { e.wait(); }); }), aio::timeout_error);
        CHECK(s.active_count() == 1);
        CHECK(s.pending_count() == 1);
        CHECK(s.size() == 2);
        s.close();
    });
}

TEST_CASE("a spawner blocked on a full queue goes on as jobs finish", "[jobs][limit]") {
    run_test([] {
        jobs::scheduler s({.limit = 1, .pending_limit = 1});
        std::vector<aio::event> gates(3);
        std::vector<jobs::job<void>> spawned;
        auto spawner = aio::create_task([&] {
            for (auto& g : gates) {
                spawned.push_back(s.spawn([&g] { g.wait(); }));
            }
        });
        aio::sleep(0s);
        CHECK(s.size() == 2);
        CHECK(s.active_count() == 1);
        CHECK(s.pending_count() == 1);
        CHECK_FALSE(spawner.done());
        for (auto& g : gates) {
            g.set();
        }
        spawner.get();
        for (auto& j : spawned) {
            j.wait();
        }
        CHECK(s.size() == 0);
        for (auto& j : spawned) {
            CHECK(j.closed());
        }
        s.close();
    });
}

TEST_CASE("cancelling a spawn blocked on a full queue drops its job", "[jobs][limit]") {
    run_test([] {
        jobs::scheduler s({.limit = 1, .pending_limit = 1});
        s.spawn([] { aio::sleep(1s); });
        s.spawn([] { aio::sleep(1s); });
        bool ran = false;
        auto spawner = aio::create_task([&] { s.spawn([&] { ran = true; }); });
        aio::sleep(1ms);
        spawner.cancel();
        CHECK_THROWS_AS(spawner.get(), aio::cancelled_error);
        CHECK(s.size() == 2);
        s.close();
        CHECK_FALSE(ran);
    });
}

TEST_CASE("limit unlimited runs every job at once", "[jobs][limit]") {
    run_test([] {
        jobs::scheduler s({.limit = jobs::unlimited});
        aio::event go;
        std::vector<jobs::job<void>> all;
        for (int i = 0; i < 500; ++i) {
            all.push_back(s.spawn([&] { go.wait(); }));
        }
        CHECK(s.active_count() == 500);
        CHECK(s.pending_count() == 0);
        go.set();
        for (auto& j : all) {
            j.wait();
        }
        CHECK(s.active_count() == 0);
        s.close();
    });
}

TEST_CASE("pending_limit unlimited never makes spawn wait", "[jobs][limit]") {
    run_test([] {
        jobs::scheduler s({.limit = 1, .pending_limit = jobs::unlimited});
        for (int i = 0; i < 20000; ++i) {
            s.spawn([] {});
        }
        CHECK(s.pending_count() == 19999);
        s.wait_and_close();
        CHECK(s.size() == 0);
    });
}

TEST_CASE("jobs run in spawn order through the pending queue", "[jobs][limit]") {
    run_test([] {
        jobs::scheduler s({.limit = 2});
        std::vector<int> order;
        for (int i = 0; i < 6; ++i) {
            s.spawn([&order, i] {
                aio::sleep(1ms);
                order.push_back(i);
            });
        }
        s.wait_and_close();
        CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5});
    });
}

// --- job.wait -----------------------------------------------------------------------------------

TEST_CASE("wait with a timeout closes the job and raises timeout_error", "[jobs][wait]") {
    run_test([] {
        jobs::scheduler s;
        auto j = s.spawn([] { aio::sleep(1s); });
        CHECK_THROWS_AS(j.wait(10ms), aio::timeout_error);
        CHECK(j.closed());
        CHECK(s.size() == 0);
        s.close();
    });
}

TEST_CASE("wait on a pending job waits for it to start and finish", "[jobs][wait]") {
    run_test([] {
        jobs::scheduler s({.limit = 1});
        aio::event e;
        s.spawn([&] { e.wait(); });
        auto j = s.spawn([] { return 1; });
        aio::get_running_loop().call_later(10ms, [&] { e.set(); });
        CHECK(j.wait() == 1);
        s.close();
    });
}

TEST_CASE("wait on a pending job that is closed raises cancelled_error", "[jobs][wait]") {
    run_test([] {
        jobs::scheduler s({.limit = 1});
        s.spawn([] { aio::sleep(1s); });
        auto j = s.spawn([] { return 1; });
        auto waiter = aio::create_task([&] { return j.wait(); });
        aio::sleep(1ms);
        j.close();
        CHECK_THROWS_AS(waiter.get(), aio::cancelled_error);
        CHECK_THROWS_AS(j.wait(), aio::cancelled_error);
        s.close();
    });
}

TEST_CASE("cancelling a task that waits on a job does not cancel the job", "[jobs][wait]") {
    run_test([] {
        jobs::scheduler s;
        aio::event e;
        bool finished = false;
        auto j = s.spawn([&] {
            e.wait();
            finished = true;
        });
        auto waiter = aio::create_task([&] { j.wait(); });
        aio::sleep(50ms);
        CHECK(j.active());
        waiter.cancel();
        CHECK_THROWS_AS(waiter.get(), aio::cancelled_error);
        CHECK(j.active());
        e.set();
        j.wait();
        CHECK(finished);
        s.close();
    });
}

TEST_CASE("wait on a job that already failed raises its exception", "[jobs][wait]") {
    run_test([] {
        handler_log log;
        jobs::scheduler s(with_handler(log, {.limit = 1}));
        aio::event second_ran;
        auto j = s.spawn([]() -> int { throw std::runtime_error("early"); });
        s.spawn([&] { second_ran.set(); });
        second_ran.wait();
        CHECK_THROWS_WITH(j.wait(), "early");
        CHECK(log.calls.size() == 1);  // nobody waited when it failed
        s.close();
    });
}

TEST_CASE("wait on a job closed while running raises cancelled_error", "[jobs][wait]") {
    run_test([] {
        jobs::scheduler s;
        auto j = s.spawn([] { aio::sleep(1s); });
        aio::sleep(0s);
        j.close();
        CHECK(j.closed());
        CHECK(j.task().done());
        CHECK_THROWS_AS(j.wait(), aio::cancelled_error);
        s.close();
    });
}

TEST_CASE("wait on an empty job handle raises invalid_state_error", "[jobs][wait]") {
    run_test([] {
        jobs::job<int> j;
        CHECK_THROWS_AS(j.wait(), aio::invalid_state_error);
    });
}

// --- job.close --------------------------------------------------------------------------------

TEST_CASE("closing a job marks it closed and cancels its task", "[jobs][job-close]") {
    run_test([] {
        jobs::scheduler s;
        auto j = s.spawn([] { aio::sleep(1s); });
        j.close();
        CHECK(j.closed());
        CHECK_FALSE(j.active());
        CHECK_FALSE(j.pending());
        CHECK(j.task().cancelled());
        s.close();
    });
}

TEST_CASE("closing a job that fails while closing raises its exception, not to the handler",
          "[jobs][job-close]") {
    run_test([] {
        handler_log log;
        jobs::scheduler s(with_handler(log));
        aio::event started;
        auto j = s.spawn([&] {
            started.set();
            try {
                aio::sleep(10s);
            } catch (const aio::cancelled_error&) {
                throw std::runtime_error("in close");
            }
        });
        started.wait();
        CHECK_THROWS_WITH(j.close(), "in close");
        CHECK(log.calls.empty());
        s.close();
    });
}

TEST_CASE("closing a job that does not stop in time raises timeout_error, not to the handler",
          "[jobs][job-close]") {
    run_test([] {
        handler_log log;
        jobs::scheduler s(with_handler(log, {.close_timeout = 10ms}));
        aio::event started, release;
        auto j = s.spawn([&] {
            started.set();
            try {
                aio::sleep(10s);
            } catch (const aio::cancelled_error&) {
                aio::shield([&] { release.wait(); });
            }
        });
        started.wait();
        CHECK_THROWS_AS(j.close(), aio::timeout_error);
        CHECK(log.calls.empty());
        release.set();
        j.task().wait_done();
        s.close();
    });
}

TEST_CASE("closing a job with an explicit timeout uses it", "[jobs][job-close]") {
    run_test([] {
        jobs::scheduler s({.close_timeout = 10ms});
        aio::event release;
        auto j = s.spawn([&] {
            try {
                aio::sleep(10s);
            } catch (const aio::cancelled_error&) {
                aio::shield([&] { aio::sleep(50ms); });
            }
        });
        aio::sleep(0s);
        j.close(100ms);  // 50 ms of cleanup fits in 100 ms
        CHECK(j.task().done());
        s.close();
    });
}

TEST_CASE("closing a job that is already closed does nothing", "[jobs][job-close]") {
    run_test([] {
        handler_log log;
        jobs::scheduler s(with_handler(log, {.limit = 1}));
        aio::event second_ran;
        auto j = s.spawn([] { throw std::runtime_error("x"); });
        s.spawn([&] { second_ran.set(); });
        second_ran.wait();
        j.close();
        j.close();
        CHECK(log.calls.size() == 1);
        s.close();
    });
}

TEST_CASE("cancelling the task that closes a job propagates to it", "[jobs][job-close]") {
    run_test([] {
        jobs::scheduler s({.close_timeout = 10s});
        aio::event cancel_seen, unblock;
        auto j = s.spawn([&] {
            try {
                aio::sleep(60s);
            } catch (const aio::cancelled_error&) {
                cancel_seen.set();
                aio::shield([&] { unblock.wait(); });
                throw;
            }
        });
        auto closer = aio::create_task([&] { j.close(); });
        cancel_seen.wait();
        closer.cancel();
        CHECK_THROWS_AS(closer.get(), aio::cancelled_error);
        unblock.set();
        CHECK_THROWS_AS(j.wait(), aio::cancelled_error);
        s.close();
    });
}

TEST_CASE("a closer cancelled as the job finishes still sees its cancellation",
          "[jobs][job-close]") {
    run_test([] {
        jobs::scheduler s({.close_timeout = 10s});
        aio::event cancel_seen, unblock;
        auto j = s.spawn([&] {
            try {
                aio::sleep(60s);
            } catch (const aio::cancelled_error&) {
                cancel_seen.set();
                aio::shield([&] { unblock.wait(); });
                throw;
            }
        });
        auto closer = aio::create_task([&] { j.close(); });
        cancel_seen.wait();
        unblock.set();
        closer.cancel();
        CHECK_THROWS_AS(closer.get(), aio::cancelled_error);
        CHECK_THROWS_AS(j.wait(), aio::cancelled_error);
        s.close();
    });
}

// --- shield -----------------------------------------------------------------------------------

TEST_CASE("shield returns the function's value and forgets the task", "[jobs][shield]") {
    run_test([] {
        jobs::scheduler s;
        auto r = s.shield([] {
            aio::sleep(0s);
            return std::string("TEST");
        });
        CHECK(r == "TEST");
        CHECK(s.shield_count() == 0);
        s.close();
    });
}

TEST_CASE("a shielded function survives its caller's cancellation", "[jobs][shield]") {
    run_test([] {
        jobs::scheduler s;
        bool completed = false;
        auto outer = aio::create_task([&] {
            s.shield([&] {
                aio::sleep(100ms);
                completed = true;
            });
        });
        aio::sleep(0s);
        outer.cancel();
        CHECK_THROWS_AS(outer.get(), aio::cancelled_error);
        CHECK_FALSE(completed);
        CHECK(s.shield_count() == 1);
        aio::sleep(110ms);
        CHECK(completed);
        CHECK(s.shield_count() == 0);
        s.close();
    });
}

TEST_CASE("shield after close raises usage_error", "[jobs][shield]") {
    run_test([] {
        jobs::scheduler s;
        s.close();
        CHECK_THROWS_AS(s.shield([] { return 1; }), aio::usage_error);
    });
}

// --- wait_and_close ---------------------------------------------------------------------------

TEST_CASE("wait_and_close waits for jobs and the shields inside them", "[jobs][wait_and_close]") {
    run_test([] {
        jobs::scheduler s;
        bool inner_done = false, outer_done = false;
        s.spawn([&] {
            s.shield([&] {
                aio::sleep(100ms);
                inner_done = true;
            });
            aio::sleep(100ms);
            outer_done = true;
        });
        aio::sleep(0s);
        CHECK(s.shield_count() == 1);
        CHECK(s.size() == 1);
        s.wait_and_close();
        CHECK(inner_done);
        CHECK(outer_done);
        CHECK(s.shield_count() == 0);
        CHECK(s.size() == 0);
        CHECK(s.closed());
    });
}

TEST_CASE("wait_and_close with a timeout closes what is still running", "[jobs][wait_and_close]") {
    run_test([] {
        jobs::scheduler s;
        bool inner_done = false, outer_cancelled = false;
        s.spawn([&] {
            s.shield([&] {
                aio::sleep(100ms);
                inner_done = true;
            });
            try {
                aio::sleep(500ms);
            } catch (const aio::cancelled_error&) {
                outer_cancelled = true;
                throw;
            }
        });
        aio::sleep(0s);
        auto before = aio::test::since_start();
        s.wait_and_close(200ms);
        CHECK(aio::test::since_start() - before == 200ms);
        CHECK(inner_done);
        CHECK(outer_cancelled);
        CHECK(s.shield_count() == 0);
        CHECK(s.size() == 0);
        CHECK(s.closed());
    });
}

TEST_CASE("wait_and_close cancels a shield still running at its timeout",
          "[jobs][wait_and_close]") {
    run_test([] {
        bool inner_cancelled = false, outer_cancelled = false;
        jobs::with_scheduler({.wait_timeout = 100ms}, [&](jobs::scheduler& s) {
            s.spawn([&] {
                try {
                    s.shield([&] {
                        try {
                            aio::sleep(500ms);
                        } catch (const aio::cancelled_error&) {
                            inner_cancelled = true;
                            throw;
                        }
                    });
                } catch (const aio::cancelled_error&) {
                    outer_cancelled = true;
                }
            });
            aio::sleep(0s);
            CHECK(s.shield_count() == 1);
            CHECK(s.size() == 1);
        });
        CHECK(inner_cancelled);
        CHECK(outer_cancelled);
    });
}

TEST_CASE("wait_and_close also waits for jobs spawned while it waits", "[jobs][wait_and_close]") {
    run_test([] {
        jobs::scheduler s;
        bool another_spawned = false, another_done = false;
        s.spawn([&] {
            aio::sleep(100ms);
            another_spawned = true;
            s.spawn([&] {
                s.shield([] { aio::sleep(100ms); });
                another_done = true;
            });
        });
        aio::sleep(0s);
        s.wait_and_close();
        CHECK(another_spawned);
        CHECK(another_done);
    });
}

TEST_CASE("wait_and_close waits for pending jobs too", "[jobs][wait_and_close]") {
    run_test([] {
        jobs::scheduler s({.limit = 1});
        int done = 0;
        for (int i = 0; i < 3; ++i) {
            s.spawn([&] {
                aio::sleep(10ms);
                ++done;
            });
        }
        s.wait_and_close();
        CHECK(done == 3);
        CHECK(aio::test::since_start() == 30ms);
    });
}

TEST_CASE("with_scheduler returns the body's value and leaves no job behind",
          "[jobs][wait_and_close]") {
    run_test([] {
        int done = 0;
        int r = jobs::with_scheduler([&](jobs::scheduler& s) {
            s.spawn([&] {
                aio::sleep(10ms);
                ++done;
            });
            return 7;
        });
        CHECK(r == 7);
        CHECK(done == 1);
    });
}

TEST_CASE("with_scheduler closes at once when the body throws", "[jobs][wait_and_close]") {
    run_test([] {
        bool cancelled = false;
        CHECK_THROWS_WITH(jobs::with_scheduler([&](jobs::scheduler& s) {
                              s.spawn([&] {
                                  try {
                                      aio::sleep(10s);
                                  } catch (const aio::cancelled_error&) {
                                      cancelled = true;
                                      throw;
                                  }
                              });
                              aio::sleep(0s);
                              throw std::runtime_error("body failed");
                          }),
                          "body failed");
        CHECK(cancelled);
        CHECK(aio::test::since_start() < 1s);
    });
}

// --- destruction ------------------------------------------------------------------------------

TEST_CASE("destroying an open scheduler cancels its jobs and wakes their waiters",
          "[jobs][destroy]") {
    run_test([] {
        jobs::job<void> active, pending;
        bool cancelled = false;
        {
            jobs::scheduler s({.limit = 1});
            active = s.spawn([&] {
                try {
                    aio::sleep(10s);
                } catch (const aio::cancelled_error&) {
                    cancelled = true;
                    throw;
                }
            });
            pending = s.spawn([] {});
            aio::sleep(0s);
        }
        CHECK(pending.closed());
        CHECK_THROWS_AS(pending.wait(), aio::cancelled_error);
        CHECK_THROWS_AS(active.wait(), aio::cancelled_error);
        CHECK(cancelled);
    });
}

TEST_CASE("a job of a destroyed scheduler that fails reaches the loop's handler",
          "[jobs][destroy]") {
    run_test([] {
        std::vector<std::string> seen;
        aio::get_running_loop().set_exception_handler(
            [&](aio::loop&, const aio::exception_context& c) { seen.push_back(c.message); });
        {
            jobs::scheduler s;
            s.spawn([] {
                try {
                    aio::sleep(10s);
                } catch (const aio::cancelled_error&) {
                }
                throw std::runtime_error("after the scheduler");
            });
            aio::sleep(0s);
        }
        aio::sleep(1ms);
        REQUIRE(seen.size() == 1);
        CHECK(seen[0] == "Job processing failed");
        aio::get_running_loop().set_exception_handler({});
    });
}

// --- spawn(fn, args...) and the forms it shares the name with -----------------------------

TEST_CASE("spawn(fn, args...) calls fn with the arguments, as create_task does", "[jobs][spawn]") {
    run_test([] {
        jobs::scheduler s;
        // A string for a fn that takes one is an argument, not the job's name.
        auto by_value =
            s.spawn([](std::string url) { return url.size(); }, std::string("http://x"));
        auto literal = s.spawn([](const std::string& url) { return url; }, "http://y");
        auto two = s.spawn([](int a, int b) { return a + b; }, 2, 3);
        auto move_only =
            s.spawn([](std::unique_ptr<int> p) { return *p; }, std::make_unique<int>(7));
        int counter = 0;
        auto by_ref = s.spawn([](int& c) { ++c; }, std::ref(counter));
        CHECK(by_value.wait() == 8);
        CHECK(literal.wait() == "http://y");
        CHECK(two.wait() == 5);
        CHECK(move_only.wait() == 7);
        by_ref.wait();
        CHECK(counter == 1);
        CHECK_THAT(by_value.name(), Catch::StartsWith("task-"));
        s.close();
    });
}

TEST_CASE("spawn(fn, name) still names a job whose fn takes no arguments", "[jobs][spawn]") {
    run_test([] {
        jobs::scheduler s;
        auto j = s.spawn([] { return 1; }, "named");
        const auto line = __LINE__ - 1;
        auto k = s.spawn([] {}, std::string("also named"), std::source_location::current());
        CHECK(j.name() == "named");
        CHECK(j.where().line() == line);
        CHECK(k.name() == "also named");
        CHECK(j.wait() == 1);
        k.wait();
        s.close();
    });
}

TEST_CASE("spawn(job_options, fn, args...) names the job and records the calling line",
          "[jobs][spawn]") {
    run_test([] {
        jobs::scheduler s({.limit = 1});
        auto first = s.spawn({.name = "first"}, [] { aio::sleep(1ms); });
        auto add_bang = [](std::string u) { return u + "!"; };
        auto j = s.spawn({.name = "crawl a"}, add_bang, "a");
        const auto line = __LINE__ - 1;
        CHECK(j.pending());
        CHECK(j.name() == "crawl a");
        CHECK(j.where().line() == line);
        CHECK(j.wait() == "a!");
        CHECK(j.task().raw_creation_site().line == line);
        first.wait();
        s.close();
    });
}

// --- closing many jobs together -------------------------------------------------------------

namespace {

// A job that, once cancelled, takes `cleanup` of loop time to unwind, then rethrows.
auto slow_to_stop(aio::duration cleanup) {
    return [cleanup] {
        try {
            aio::sleep(1h);
        } catch (const aio::cancelled_error&) {
            aio::shield([cleanup] { aio::sleep(cleanup); });
            throw;
        }
    };
}

}  // namespace

TEST_CASE("scheduler::close closes 10 jobs slow to stop in one close_timeout, not ten",
          "[jobs][close]") {
    run_test([] {
        handler_log log;
        jobs::scheduler s(with_handler(log, {.close_timeout = 100ms}));
        for (int i = 0; i < 10; ++i) {
            s.spawn(slow_to_stop(150ms), "stuck " + std::to_string(i));
        }
        aio::sleep(1ms);
        const auto before = aio::test::since_start();
        s.close();
        CHECK(aio::test::since_start() - before == 100ms);
        CHECK(log.calls.size() == 10);
        aio::sleep(100ms);  // their cleanups end
    });
}

TEST_CASE("jobs::close closes a set of jobs together, in one timeout", "[jobs][close]") {
    run_test([] {
        jobs::scheduler s({.close_timeout = 100ms});
        std::vector<jobs::job<void>> batch;
        for (int i = 0; i < 10; ++i) {
            batch.push_back(s.spawn(slow_to_stop(50ms)));
        }
        auto other = s.spawn([] { aio::sleep(1h); }, "other");
        aio::sleep(1ms);
        const auto before = aio::test::since_start();
        jobs::close(batch);  // closing them one by one takes 10 × 50 ms
        CHECK(aio::test::since_start() - before == 50ms);
        for (auto& j : batch) {
            CHECK(j.closed());
            CHECK(j.task().done());
        }
        CHECK(other.active());
        CHECK(s.size() == 1);
        s.close();
    });
}

TEST_CASE("jobs::close raises timeout_error naming the jobs still running at the deadline",
          "[jobs][close]") {
    run_test([] {
        handler_log log;
        jobs::scheduler s(with_handler(log, {.close_timeout = 10s}));
        auto a = s.spawn(slow_to_stop(200ms), "a");
        auto quick = s.spawn([] { aio::sleep(1h); }, "quick");
        auto b = s.spawn(slow_to_stop(300ms), "b");
        aio::sleep(1ms);
        const auto before = aio::test::since_start();
        CHECK_THROWS_WITH(jobs::close({a, quick, b}, 100ms),
                          Catch::Contains("2 of 3 cancelled jobs still ran 100 ms") &&
                              Catch::Contains("'a', 'b'"));
        CHECK(aio::test::since_start() - before == 100ms);
        CHECK(quick.task().done());
        CHECK_FALSE(a.task().done());
        aio::sleep(250ms);
        CHECK(b.task().done());
        CHECK(log.calls.empty());
        s.close();
    });
}

TEST_CASE("jobs::close drops pending jobs, skips closed and repeated ones, and rethrows the "
          "first failure",
          "[jobs][close]") {
    run_test([] {
        handler_log log;
        jobs::scheduler s(with_handler(log, {.limit = 2}));
        auto fails_on_close = [](std::string what) {
            try {
                aio::sleep(1h);
            } catch (const aio::cancelled_error&) {
                throw std::runtime_error(what);
            }
        };
        auto done = s.spawn({.name = "done"}, [] {});
        aio::sleep(1ms);
        CHECK(done.closed());
        auto first = s.spawn(fails_on_close, std::string("first"));
        auto second = s.spawn(fails_on_close, std::string("second"));
        bool ran = false;
        auto pending = s.spawn([&] { ran = true; });
        aio::sleep(1ms);
        CHECK(pending.pending());
        CHECK_THROWS_WITH(jobs::close({first, second, pending, first, done}), "first");
        CHECK(pending.closed());
        REQUIRE(log.calls.size() == 1);
        CHECK(log.calls[0].message == "Job processing failed");
        CHECK(log.calls[0].what == "second");
        aio::sleep(1ms);
        CHECK_FALSE(ran);
        CHECK(s.empty());
        s.close();
    });
}

TEST_CASE("jobs::close rejects an empty handle before closing anything", "[jobs][close]") {
    run_test([] {
        jobs::scheduler s;
        auto j = s.spawn([] { aio::sleep(1h); });
        aio::sleep(1ms);
        CHECK_THROWS_AS(jobs::close({j, jobs::job_ref{}}), aio::invalid_state_error);
        CHECK(j.active());
        CHECK_THROWS_AS(jobs::close({j}, -1ms), aio::value_error);
        s.close();
    });
}

// --- "my job was closed" or "I was cancelled" --------------------------------------------------

TEST_CASE("a task tells a closed job from its own cancellation with cancelling()",
          "[jobs][cancel]") {
    run_test([] {
        jobs::scheduler s;
        auto waiter = [](jobs::job<void> j) -> std::string {
            try {
                j.wait();
                return "job done";
            } catch (const aio::cancelled_error&) {
                if (aio::current_task().cancelling() > 0) {
                    throw;  // I was cancelled: pass it on
                }
                return "job was closed";  // the job's end, not mine: go on
            }
        };
        auto j = s.spawn([] { aio::sleep(1h); });
        auto w = aio::create_task(waiter, j);
        aio::sleep(1ms);
        j.close();
        CHECK(w.get() == "job was closed");

        auto j2 = s.spawn([] { aio::sleep(1h); });
        auto w2 = aio::create_task(waiter, j2);
        aio::sleep(1ms);
        w2.cancel();
        w2.wait_done();
        CHECK(w2.cancelled());
        CHECK(j2.active());  // wait() is shielded: the job runs on
        s.close();
    });
}
