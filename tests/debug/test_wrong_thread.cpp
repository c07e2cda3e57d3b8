// wrong-thread for calls that need a loop and find none on their thread, and a wrong-thread
// call that ends the process: the finding reaches stderr and the report all the same.
#include "child.hpp"
#include "debug_run.hpp"

#include <aio/aio.hpp>
#include <aio/detail/config.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <unistd.h>

using namespace std::chrono_literals;
using aio::test::debug_run;

TEST_CASE("create_task on a thread that runs no loop is the running loop's wrong-thread error",
          "[debug][wrong-thread]") {
    std::string thrown;
    auto r = debug_run([&] {
        std::thread th([&] {
            try {
                aio::create_task([] {}).detach();
            } catch (const aio::usage_error& e) {
                thrown = e.what();
            }
        });
        th.join();
    });
    CHECK_THAT(thrown, Catch::Contains("aio::create_task() was called from thread") &&
                           Catch::Contains("which runs no event loop, while the only event loop "
                                           "runs on thread") &&
                           Catch::Contains("call_soon_threadsafe"));
    CHECK(r.count("wrong-thread") == 1);
    CHECK_THAT(r.err, Catch::Contains("[wrong-thread] aio::create_task() called from a thread "
                                      "that does not run the loop at ") &&
                          Catch::Contains("test_wrong_thread.cpp"));
}

TEST_CASE("aio::sleep on an executor thread is a wrong-thread finding", "[debug][wrong-thread]") {
    auto r = debug_run(
        [] { CHECK_THROWS_AS(aio::to_thread([] { aio::sleep(1ms); }), aio::usage_error); });
    CHECK(r.count("wrong-thread") == 1);
    CHECK_THAT(r.err, Catch::Contains("[wrong-thread] aio::sleep"));
}

TEST_CASE("asking for the running loop on another thread is no finding", "[debug][wrong-thread]") {
    bool threw = false;
    auto r = debug_run([&] {
        std::thread th([&] {
            try {
                (void)aio::get_running_loop();
            } catch (const aio::usage_error&) {
                threw = true;
            }
        });
        th.join();
    });
    CHECK(threw);
    CHECK(r.count("wrong-thread") == 0);
}

// (Not under ThreadSanitizer, which does not support starting threads in a child forked from
// a process that has threads: the child exits at its first thread.)
#if !defined(AIO_SANITIZE_THREAD)
TEST_CASE("a wrong-thread call that ends the process still reaches stderr and the report",
          "[debug][wrong-thread]") {
    char path[] = "/tmp/aio-test-report-XXXXXX";
    ::close(::mkstemp(path));
    const std::string report_path = path;
    auto res = aio::test::run_in_child([&] {
        aio::run_options o;
        o.handle_signals = false;
        o.debug = "color=never,report=" + report_path;
        aio::run(
            [] {
                aio::queue<int> q;
                auto getter = aio::create_task([&] { return q.get(); });
                aio::sleep(0s);
                // Uncaught on its thread: std::terminate ends the process. (The statement
                // after the call keeps the call from being a tail call, which would leave
                // this line off the stack.)
                std::thread th([&] {
                    q.put(1);
                    std::this_thread::yield();
                });
                th.join();
            },
            o);
    });
    std::ifstream in(report_path);
    std::stringstream text;
    text << in.rdbuf();
    ::unlink(report_path.c_str());
    CHECK(res.signaled);
    CHECK_THAT(res.err, Catch::Contains("[wrong-thread] aio::queue::put called from a thread") &&
                            Catch::Contains("std::terminate() is ending the program") &&
                            Catch::Contains("aio debug: summary: 1 finding (wrong-thread 1)"));
    // The summary lists the finding with its line and fix, as at a normal close.
    auto summary = res.err.substr(std::min(res.err.find("aio debug: summary:"), res.err.size()));
    CHECK_THAT(summary, Catch::Contains("\n  [wrong-thread] aio::queue::put called from") &&
                            Catch::Contains("q.put(1);") && Catch::Contains("fix: "));
    REQUIRE(!text.str().empty());
    auto j = nlohmann::json::parse(text.str());
    CHECK(j["run"]["ended"] == "terminate");
    REQUIRE(j["findings"].size() == 1);
    CHECK(j["findings"][0]["id"] == "wrong-thread");
    CHECK_THAT(j["findings"][0]["culprit"][0]["file"].get<std::string>(),
               Catch::EndsWith("test_wrong_thread.cpp"));
}
#endif
