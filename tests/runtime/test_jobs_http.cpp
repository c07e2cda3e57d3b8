// aio::jobs::http: the application's scheduler, spawn and shield from handlers, atomic
// handlers that survive a client disconnect and the shutdown.
#include "support.hpp"

#include <aio/http/client.hpp>
#include <aio/http/server.hpp>
#include <aio/jobs/http.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace std::chrono_literals;
using aio::http::application;
using aio::http::request;
using aio::http::response;
using aio::test::run_test;
namespace jh = aio::jobs::http;

namespace {

const aio::test::test_options real_time{.virtual_time = false};

std::string base(const aio::http::app_runner& r) {
    return "http://127.0.0.1:" + std::to_string(r.port());
}

// Sends a request and disconnects (a reset) after `after`.
void request_and_vanish(std::uint16_t port, std::string_view path, aio::duration after) {
    aio::stream s = aio::open_connection("127.0.0.1", port);
    s.write("POST " + std::string(path) + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    aio::sleep(after);
    s.abort();
}

}  // namespace

TEST_CASE("get_scheduler says setup() was not called", "[jobs][http]") {
    run_test([] {
        application app;
        CHECK_THROWS_WITH(jh::get_scheduler(app),
                          Catch::Contains("call aio::jobs::http::setup(app)"));
        jh::setup(app);
        CHECK_THROWS_WITH(jh::get_scheduler(app), Catch::Contains("has not started yet"));
        CHECK_THROWS_WITH(jh::setup(app), Catch::Contains("called twice"));
    });
}

TEST_CASE("setup creates the scheduler at startup and waits for its jobs at cleanup",
          "[jobs][http]") {
    run_test(
        [] {
            application app;
            jh::setup(app, {.limit = 5});
            int done = 0;
            app.add_post("/send", [&](request& req) {
                jh::spawn(
                    req,
                    [&] {
                        aio::sleep(50ms);
                        ++done;
                    },
                    "send mail");
                return response::text("queued", 202);
            });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            CHECK(jh::get_scheduler(app).limit() == 5);
            aio::http::client_session http;
            for (int i = 0; i < 3; ++i) {
                CHECK(http.post(base(runner) + "/send", "").status() == 202);
            }
            CHECK(done == 0);
            CHECK(jh::get_scheduler(app).active_count() == 3);
            http.close();
            runner.cleanup();  // on_cleanup: wait_and_close
            CHECK(done == 3);
        },
        real_time);
}

TEST_CASE("an atomic handler finishes although the client disconnects", "[jobs][http]") {
    run_test(
        [] {
            application app;
            jh::setup(app);
            std::vector<std::string> db;
            auto insert = [&](request&) {
                db.push_back("order");
                aio::sleep(50ms);
                db.push_back("order lines");
                return response::text("stored");
            };
            app.add_post("/plain", insert);
            app.add_post("/atomic", jh::atomic(insert));
            aio::http::app_runner runner(app, {.handler_cancellation = true});
            runner.start("127.0.0.1", 0);
            request_and_vanish(runner.port(), "/plain", 10ms);
            aio::sleep(100ms);
            CHECK(db == std::vector<std::string>{"order"});  // half a record
            db.clear();
            request_and_vanish(runner.port(), "/atomic", 10ms);
            aio::sleep(100ms);
            CHECK(db == std::vector<std::string>{"order", "order lines"});
            CHECK(runner.handlers_cancelled() == 2);  // the waiters were cancelled, not the job
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("an atomic handler's answer and errors reach the client", "[jobs][http]") {
    run_test(
        [] {
            application app;
            jh::setup(app);
            app.add_get("/ok", jh::atomic([](request& req) {
                            return response::text("job saw " + req.path());
                        }));
            app.add_get("/gone",
                        jh::atomic([](request&) -> response { throw aio::http::http_error(410); }));
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            aio::http::client_session http;
            CHECK(http.get(base(runner) + "/ok").text() == "job saw /ok");
            CHECK(http.get(base(runner) + "/gone").status() == 410);
            http.close();
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("an atomic handler survives the graceful shutdown's cancellation", "[jobs][http]") {
    run_test(
        [] {
            application app;
            jh::setup(app);
            bool finished = false;
            app.add_post("/slow", jh::atomic([&](request&) {
                             aio::sleep(150ms);
                             finished = true;
                             return response::text("done");
                         }));
            aio::http::app_runner runner(app, {.shutdown_timeout = 20ms});
            runner.start("127.0.0.1", 0);
            request_and_vanish(runner.port(), "/slow", 10ms);
            runner.cleanup();  // cancels the waiting handler; wait_and_close waits for the job
            CHECK(finished);
        },
        real_time);
}

TEST_CASE("shield from a handler is tracked by the scheduler", "[jobs][http]") {
    run_test(
        [] {
            application app;
            jh::setup(app);
            int saved = 0;
            app.add_post("/save", [&](request& req) {
                int n = jh::shield(req, [&] {
                    aio::sleep(30ms);
                    return ++saved;
                });
                return response::text(std::to_string(n));
            });
            aio::http::app_runner runner(app, {.handler_cancellation = true});
            runner.start("127.0.0.1", 0);
            aio::http::client_session http;
            CHECK(http.post(base(runner) + "/save", "").text() == "1");
            request_and_vanish(runner.port(), "/save", 5ms);
            aio::sleep(60ms);
            CHECK(saved == 2);  // the handler was cancelled, the shielded work was not
            http.close();
            runner.cleanup();
        },
        real_time);
}
