// One test that triggers each detector and one that must stay silent, through the JSON
// report and the stderr lines.
#include "debug_run.hpp"

#include <aio/aio.hpp>
#include <aio/http/client.hpp>
#include <aio/jobs/scheduler.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <thread>

#include <dirent.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

using namespace std::chrono_literals;
using aio::test::debug_run;

namespace {
void busy(std::chrono::milliseconds d) {
    auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
    }
}
}  // namespace

TEST_CASE("never-awaited: a dropped task handle is reported with its creation line",
          "[debug][never-awaited]") {
    auto r = debug_run([] {
        {
            auto t = aio::create_task([] { aio::sleep(1ms); });
        }
        aio::sleep(5ms);
    });
    CHECK(r.count("never-awaited") == 1);
    CHECK_THAT(r.err, Catch::Contains("aio debug: [never-awaited] task 'task-"));
    CHECK_THAT(r.err, Catch::Contains("test_findings.cpp:"));
    CHECK_THAT(r.err, Catch::Contains("fix:"));
}

TEST_CASE("never-awaited stays silent for awaited and detached tasks", "[debug][never-awaited]") {
    auto r = debug_run([] {
        auto t = aio::create_task([] { return 1; });
        t.get();
        aio::create_task([] {}).detach();
        aio::sleep(1ms);
    });
    CHECK(r.count("never-awaited") == 0);
}

TEST_CASE("exception-never-retrieved names the exception", "[debug][exception-never-retrieved]") {
    auto r = debug_run([] {
        aio::create_task([] { throw std::runtime_error("lost"); }).detach();
        aio::sleep(1ms);
    });
    CHECK(r.count("exception-never-retrieved") == 1);
    CHECK_THAT(r.err, Catch::Contains("std::runtime_error: lost"));
}

TEST_CASE("exception-never-retrieved reports a task that fails while run() shuts down",
          "[debug][exception-never-retrieved]") {
    // The task is still pending when the main function returns; the close sequence cancels it
    // and it fails with another exception while unwinding. Nobody can retrieve that one.
    auto r = debug_run([] {
        aio::create_task([] {
            try {
                aio::sleep(10s);
            } catch (const aio::cancelled_error&) {
                throw std::runtime_error("failed on the way out");
            }
        }).detach();
        aio::sleep(1ms);
    });
    CHECK(r.count("exception-never-retrieved") == 1);
    CHECK_THAT(r.err, Catch::Contains("std::runtime_error: failed on the way out"));
}

TEST_CASE("exception-never-retrieved stays silent when the exception is retrieved",
          "[debug][exception-never-retrieved]") {
    auto r = debug_run([] {
        auto t = aio::create_task([] { throw std::runtime_error("seen"); });
        CHECK_THROWS(t.get());
    });
    CHECK(r.count("exception-never-retrieved") == 0);
}

TEST_CASE("slow-callback reports a step longer than the threshold", "[debug][slow-callback]") {
    auto r = debug_run(
        [] {
            auto t = aio::create_task([] { busy(30ms); });
            t.get();
        },
        "slow=10ms");
    CHECK(r.count("slow-callback") >= 1);
    auto j = nlohmann::json::parse(r.report);
    CHECK(j["findings"][0]["duration_ms"].get<double>() >= 30);
}

TEST_CASE("slow-callback stays silent for short steps", "[debug][slow-callback]") {
    auto r = debug_run(
        [] {
            for (int i = 0; i < 10; ++i) {
                aio::sleep(1ms);
            }
        },
        "slow=50ms");
    CHECK(r.count("slow-callback") == 0);
}

TEST_CASE("cancel-swallowed reports a task that ate its cancellation",
          "[debug][cancel-swallowed]") {
    auto r = debug_run([] {
        auto t = aio::create_task([] {
            try {
                aio::sleep(1h);
            } catch (const aio::cancelled_error&) {
            }
        });
        aio::sleep(1ms);
        t.cancel();
        t.get();
    });
    CHECK(r.count("cancel-swallowed") == 1);
}

TEST_CASE("cancel-swallowed stays silent for rethrow and uncancel", "[debug][cancel-swallowed]") {
    auto r = debug_run([] {
        auto a = aio::create_task([] {
            try {
                aio::sleep(1h);
            } catch (...) {
                throw;
            }
        });
        auto b = aio::create_task([] {
            try {
                aio::sleep(1h);
            } catch (const aio::cancelled_error&) {
                aio::current_task().uncancel();  // stopping it is meant
            }
        });
        aio::sleep(1ms);
        a.cancel();
        b.cancel();
        CHECK_THROWS_AS(a.get(), aio::cancelled_error);
        b.get();
    });
    CHECK(r.count("cancel-swallowed") == 0);
}

TEST_CASE("pending-at-close reports where a leftover task waits", "[debug][pending-at-close]") {
    auto r = debug_run([] {
        aio::create_task([] { aio::sleep(1h); }).detach();
        aio::sleep(1ms);
    });
    CHECK(r.count("pending-at-close") == 1);
    auto j = nlohmann::json::parse(r.report);
    auto culprit = j["findings"][0]["culprit"];
    REQUIRE(culprit.size() >= 1);
    CHECK_THAT(culprit[0]["file"].get<std::string>(), Catch::EndsWith("test_findings.cpp"));
}

TEST_CASE("pending-at-close stays silent when every task is awaited", "[debug][pending-at-close]") {
    auto r = debug_run([] {
        auto t = aio::create_task([] { aio::sleep(1ms); });
        t.get();
    });
    CHECK(r.count("pending-at-close") == 0);
}

TEST_CASE("leaked-resource reports an executor never shut down", "[debug][leaked-resource]") {
    auto* leaked = static_cast<aio::thread_pool_executor*>(nullptr);
    auto r = debug_run([&] { leaked = new aio::thread_pool_executor(1, "forgotten"); });
    CHECK(r.count("leaked-resource") == 1);
    CHECK_THAT(r.err, Catch::Contains("executor 'forgotten'"));
    auto j = nlohmann::json::parse(r.report);
    REQUIRE_FALSE(j["findings"][0]["creation"].empty());
    CHECK_THAT(j["findings"][0]["creation"][0]["file"].get<std::string>(),
               Catch::EndsWith("test_findings.cpp"));
    delete leaked;
}

TEST_CASE("leaked-resource stays silent for a closed executor", "[debug][leaked-resource]") {
    auto r = debug_run([] {
        aio::thread_pool_executor pool(1, "tidy");
        aio::run_in_executor(&pool, [] {});
        pool.shutdown();
    });
    CHECK(r.count("leaked-resource") == 0);
}

TEST_CASE("leaked-job reports a scheduler destroyed with live jobs, naming them",
          "[debug][leaked-job]") {
    // verbose: the job list is in the details, which only the full form prints.
    auto r = debug_run(
        [] {
            aio::jobs::scheduler s({.limit = 1, .name = "uploads"});
            s.spawn([] { aio::sleep(1s); }, "upload a");
            s.spawn([] { aio::sleep(1s); }, "upload b");
            aio::sleep(1ms);
        },  // s destroyed without close()
        "1,verbose");
    CHECK(r.count("leaked-job") == 1);
    CHECK_THAT(r.err, Catch::Contains("[leaked-job] job scheduler 'uploads' destroyed without "
                                      "close() while it had 1 active and 1 pending jobs"));
    CHECK_THAT(r.err, Catch::Contains("job 'upload a' (active, spawned at test_findings.cpp:"));
    CHECK_THAT(r.err, Catch::Contains("job 'upload b' (pending, spawned at test_findings.cpp:"));
    auto j = nlohmann::json::parse(r.report);
    REQUIRE_FALSE(j["findings"][0]["creation"].empty());
    CHECK_THAT(j["findings"][0]["creation"][0]["file"].get<std::string>(),
               Catch::EndsWith("test_findings.cpp"));
}

TEST_CASE("leaked-job reports a scheduler still open with jobs when the loop closes",
          "[debug][leaked-job]") {
    auto* leaked = static_cast<aio::jobs::scheduler*>(nullptr);
    auto r = debug_run(
        [&] {
            leaked = new aio::jobs::scheduler({.name = "mailer"});
            leaked->spawn([] { aio::sleep(1s); }, "send welcome");
        },
        "1,verbose");  // the job list is in the details: the full form
    CHECK(r.count("leaked-job") == 1);
    CHECK_THAT(r.err, Catch::Contains("job scheduler 'mailer' never closed, with jobs still live"));
    CHECK_THAT(r.err, Catch::Contains("job 'send welcome' (active"));
    delete leaked;
}

TEST_CASE("leaked-job reports a scheduler never closed even without jobs", "[debug][leaked-job]") {
    auto r = debug_run([] {
        aio::jobs::scheduler s({.name = "idle"});
        aio::sleep(1ms);
    });
    CHECK(r.count("leaked-job") == 1);
    CHECK_THAT(r.err, Catch::Contains("job scheduler 'idle' destroyed without close()"));
}

TEST_CASE("leaked-job stays silent for schedulers that were closed", "[debug][leaked-job]") {
    auto r = debug_run([] {
        aio::jobs::with_scheduler(
            [](aio::jobs::scheduler& s) { s.spawn([] { aio::sleep(1ms); }); });
        aio::jobs::scheduler s({.limit = 1});
        s.spawn([] { aio::sleep(1s); });
        s.spawn([] {});
        s.close();
    });
    CHECK(r.count("leaked-job") == 0);
    CHECK(r.count("leaked-resource") == 0);
    CHECK(r.count("pending-at-close") == 0);
}

TEST_CASE("leaked-resource reports a stream destroyed without close, at its line",
          "[debug][leaked-resource]") {
    auto r = debug_run([] {
        auto srv = aio::start_server([](aio::stream& s) { (void)s.read(1); }, "127.0.0.1", 0);
        {
            auto s = aio::open_connection("127.0.0.1", srv.port());
            s.write("unsent?");
        }  // destroyed without close()
        srv.close();
        srv.wait_closed();
    });
    CHECK(r.count("leaked-resource") == 1);
    CHECK_THAT(r.err, Catch::Contains("[leaked-resource] stream 'to 127.0.0.1:"));
    CHECK_THAT(r.err, Catch::Contains("destroyed without close()"));
}

TEST_CASE("leaked-resource reports a server never closed", "[debug][leaked-resource]") {
    auto* leaked = static_cast<aio::server*>(nullptr);
    auto r = debug_run(
        [&] { leaked = new aio::server(aio::start_server([](aio::stream&) {}, "127.0.0.1", 0)); });
    CHECK(r.count("leaked-resource") == 1);
    CHECK_THAT(r.err, Catch::Contains("[leaked-resource] server '127.0.0.1:"));
    delete leaked;
}

TEST_CASE("leaked-resource stays silent for a stream unwound by a timeout with nothing unsent",
          "[debug][leaked-resource]") {
    auto r = debug_run([] {
        aio::event done;
        auto srv = aio::start_server([&](aio::stream&) { done.wait(); }, "127.0.0.1", 0);
        try {
            aio::timeout(20ms, [&] {
                auto s = aio::open_connection("127.0.0.1", srv.port());
                (void)s.read_line();  // never answered: the timeout unwinds through s
            });
        } catch (const aio::timeout_error&) {
        }
        done.set();
        srv.close();
        srv.wait_closed();
    });
    CHECK(r.count("leaked-resource") == 0);
}

TEST_CASE("leaked-resource stays silent for streams and servers closed properly",
          "[debug][leaked-resource]") {
    auto r = debug_run([] {
        auto srv =
            aio::start_server([](aio::stream& s) { s.write(s.read_line()); }, "127.0.0.1", 0);
        auto s = aio::open_connection("127.0.0.1", srv.port());
        s.write("ping\n");
        (void)s.read_line();
        s.close();
        srv.close();
        srv.wait_closed();
    });
    CHECK(r.count("leaked-resource") == 0);
    CHECK(r.count("blocking-call") == 0);  // the runtime's own socket calls never count
}

TEST_CASE("never-awaited stays silent for tasks handed to a gather that raised early",
          "[debug][never-awaited]") {
    auto r = debug_run([] {
        try {
            auto a = aio::create_task([] { aio::sleep(5ms); });
            auto b = aio::create_task([] { throw std::runtime_error("early"); });
            aio::gather(a, b);
        } catch (const std::runtime_error&) {
        }
        aio::sleep(10ms);  // a ends; its handle was dropped after gather raised
    });
    CHECK(r.count("never-awaited") == 0);
    CHECK(r.count("exception-never-retrieved") == 0);
}

TEST_CASE("findings from the same site merge with a count", "[debug]") {
    auto r = debug_run([] {
        for (int i = 0; i < 3; ++i) {
            auto t = aio::create_task([] {});
            aio::sleep(0s);
        }
    });
    CHECK(r.ids.size() == 1);
    CHECK(r.count("never-awaited") == 3);
}

TEST_CASE("the report has the documented shape", "[debug][report]") {
    auto r = debug_run([] {
        {
            auto t = aio::create_task([] {});
        }
        aio::sleep(0s);
    });
    auto j = nlohmann::json::parse(r.report);
    CHECK(j["schema"] == "aio-debug-report");
    CHECK(j["version"] == 1);
    for (const char* k : {"program", "pid", "started", "options", "duration_ms", "tasks_spawned",
                          "peak_tasks_alive", "steps"}) {
        CHECK(j["run"].contains(k));
    }
    auto f = j["findings"][0];
    for (const char* k : {"id", "severity", "title", "message", "task", "duration_ms", "at_ms",
                          "culprit", "creation", "why", "fix", "lesson", "count"}) {
        CHECK(f.contains(k));
    }
    CHECK_THAT(r.err, Catch::Contains("aio debug: summary: 1 finding (never-awaited 1)"));
}

TEST_CASE("debug mode off reports nothing", "[debug]") {
    auto r = debug_run(
        [] {
            {
                auto t = aio::create_task([] {});
            }
        },
        "0");
    CHECK(r.report.empty());
    CHECK(r.err.find("aio debug") == std::string::npos);
}

TEST_CASE("a bad ASYNC_DEBUG value prints one line and the program still runs", "[debug][config]") {
    bool ran = false;
    auto r = debug_run([&] { ran = true; }, "slow=soon");
    CHECK(ran);
    CHECK_THAT(r.err, Catch::Contains("bad value") && Catch::Contains("debug mode is off"));
}

namespace {
// About 1 KiB of stack per level, all of it written (as real frames are).
int deep(int depth) {
    volatile char frame[1024];
    for (auto& c : frame) {
        c = static_cast<char>(depth);
    }
    return depth == 0 ? frame[0] : deep(depth - 1) + frame[sizeof frame - 1];
}
}  // namespace

#if !defined(AIO_SANITIZE_ADDRESS)  // ASan's larger frames would overflow the stack instead
TEST_CASE("stack-high-water reports a task that used most of its stack",
          "[debug][stack-high-water]") {
    auto r = debug_run([] {
        auto t = aio::create_task(aio::task_options{.name = "deep", .stack_size = 128 * 1024},
                                  [] { return deep(110); });  // ~110 KiB of 128
        t.get();
    });
    CHECK(r.count("stack-high-water") == 1);
    CHECK_THAT(r.err, Catch::Contains("task 'deep' came close to overflowing its stack"));
}
#endif

TEST_CASE("stack-high-water stays silent for shallow tasks", "[debug][stack-high-water]") {
    auto r = debug_run([] {
        auto t = aio::create_task(aio::task_options{.name = "shallow", .stack_size = 128 * 1024},
                                  [] { return deep(20); });
        t.get();
    });
    CHECK(r.count("stack-high-water") == 0);
}

TEST_CASE("wrong-thread: an event set from another thread throws and is reported",
          "[debug][wrong-thread]") {
    std::string thrown;
    auto r = debug_run([&] {
        aio::event ev;
        auto waiter = aio::create_task([&] { ev.wait(); });
        aio::sleep(0s);
        std::thread th([&] {
            try {
                ev.set();  // wrong: the event belongs to the loop's thread
            } catch (const aio::usage_error& e) {
                thrown = e.what();
            }
        });
        th.join();
        ev.set();  // right: from the loop thread
        waiter.get();
    });
    CHECK_THAT(thrown, Catch::Contains("call_soon_threadsafe"));
    CHECK(r.count("wrong-thread") == 1);
    CHECK_THAT(
        r.err,
        Catch::Contains(
            "[wrong-thread] aio::event::set called from a thread that does not run the loop"));
}

TEST_CASE("wrong-thread stays silent for call_soon_threadsafe", "[debug][wrong-thread]") {
    auto r = debug_run([] {
        aio::event ev;
        auto& l = aio::get_running_loop();
        auto waiter = aio::create_task([&] { ev.wait(); });
        aio::sleep(0s);
        std::thread th([&] { l.call_soon_threadsafe([&] { ev.set(); }); });
        th.join();
        waiter.get();
    });
    CHECK(r.count("wrong-thread") == 0);
}

TEST_CASE("slow-callback names the yield point where the slow step ended",
          "[debug][slow-callback]") {
    auto r = debug_run(
        [] {
            auto t = aio::create_task([] {
                busy(30ms);
                aio::sleep(5ms);  // the slow step ends here
            });
            t.get();
        },
        "slow=10ms,only=slow-callback");
    REQUIRE(r.count("slow-callback") == 1);
    auto j = nlohmann::json::parse(r.report);
    auto culprit = j["findings"][0]["culprit"];
    REQUIRE_FALSE(culprit.empty());
    CHECK_THAT(culprit[0]["file"].get<std::string>(), Catch::EndsWith("test_findings.cpp"));
    CHECK_THAT(r.err, Catch::Contains("aio::sleep(5ms);  // the slow step ends here"));
}

TEST_CASE("leaked-resource reports an http client_session never closed",
          "[debug][leaked-resource]") {
    auto r = debug_run([] {
        aio::http::client_session http({.name = "api"});
        aio::sleep(1ms);
    });
    CHECK(r.count("leaked-resource") == 1);
    CHECK_THAT(r.err, Catch::Contains("http client session 'api'"));
}

TEST_CASE("leaked-resource stays silent for a closed client_session", "[debug][leaked-resource]") {
    auto r = debug_run([] {
        aio::http::client_session http;
        http.close();
    });
    CHECK(r.count("leaked-resource") == 0);
}

namespace {

std::size_t open_descriptors() {
    std::size_t n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d) != nullptr) {
            ++n;
        }
        ::closedir(d);
    }
    return n;
}

}  // namespace

TEST_CASE("symbolizing findings run after run opens no more descriptors", "[debug]") {
    // The symbolizer keeps the files it reads open (the program, libc, their debug files) and
    // reuses them: a second and a tenth loop with findings open nothing more.
    auto with_findings = [] {
        return debug_run([] {
            (void)aio::create_task([] { aio::sleep(1ms); });  // never-awaited
            ::usleep(100);                                    // blocking-call
            aio::sleep(2ms);
        });
    };
    auto first = with_findings();
    REQUIRE(first.count("never-awaited") == 1);
    const std::size_t after_one = open_descriptors();
    for (int i = 0; i < 9; ++i) {
        CHECK(with_findings().count("blocking-call") == 1);
    }
    CHECK(open_descriptors() == after_one);
}
