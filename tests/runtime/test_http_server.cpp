// aio::http's server: routing, requests and responses, keep-alive, limits, timeouts, handler
// cancellation and the graceful shutdown. Loopback only, port 0; raw streams play the
// misbehaving clients, aio::http::client_session the well-behaved ones.
#include "child.hpp"
#include "http_peer.hpp"
#include "support.hpp"

#include <aio/http/client.hpp>
#include <aio/http/server.hpp>
#include <aio/signals.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <string>

#include <unistd.h>

using namespace std::chrono_literals;
using aio::http::application;
using aio::http::fields;
using aio::http::request;
using aio::http::response;
using aio::test::exchange;
using aio::test::run_test;

namespace {

const aio::test::test_options real_time{.virtual_time = false};

std::string base(const aio::http::app_runner& r) {
    return "http://127.0.0.1:" + std::to_string(r.port());
}

void add_hello(application& app) {
    app.add_get("/", [](request&) { return response::text("Hello, World!"); });
}

}  // namespace

TEST_CASE("a GET is answered with status, headers and body", "[http][server]") {
    run_test(
        [] {
            application app;
            app.add_get("/", [](request& req) {
                CHECK(req.method() == "GET");
                CHECK(req.path() == "/");
                CHECK(req.version() == 11);
                CHECK_FALSE(req.peer().empty());
                return response::text("Hello, World!");
            });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            aio::http::client_session http;
            auto r = http.get(base(runner) + "/");
            CHECK(r.status() == 200);
            CHECK(r.reason() == "OK");
            CHECK(r.headers().value("Content-Type") == "text/plain; charset=utf-8");
            CHECK(r.headers().value("Content-Length") == "13");
            CHECK(r.headers().contains("Date"));
            CHECK(r.text() == "Hello, World!");
            http.close();
            runner.cleanup();
            CHECK(runner.requests_handled() == 1);
        },
        real_time);
}

TEST_CASE("path parameters, the query and the body reach the handler", "[http][server]") {
    run_test(
        [] {
            application app;
            app.add_post("/users/{id}/notes", [](request& req) {
                CHECK(req.match_info("id") == "7 x");
                CHECK(req.query("tag") == "a b");
                CHECK(req.query_string() == "tag=a+b");
                CHECK_FALSE(req.query("missing").has_value());
                CHECK_THROWS_WITH(req.match_info("nope"), Catch::Contains("'/users/{id}/notes'"));
                return response::json("{\"got\":\"" + req.text() + "\"}", 201);
            });
            app.add_get("/static/{rest:*}", [](request& req) {
                return response::text(std::string(req.match_info("rest")));
            });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            aio::http::client_session http;
            auto r = http.post(base(runner) + "/users/7%20x/notes?tag=a+b", "hello");
            CHECK(r.status() == 201);
            CHECK(r.headers().value("content-type") == "application/json");
            CHECK(r.text() == "{\"got\":\"hello\"}");
            CHECK(http.get(base(runner) + "/static/css/site.css").text() == "css/site.css");
            http.close();
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("an unknown path is 404, a known path with another method is 405 with Allow",
          "[http][server]") {
    run_test(
        [] {
            application app;
            app.add_get("/items", [](request&) { return response::text("list"); });
            app.add_post("/items", [](request&) { return response::text("added"); });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            aio::http::client_session http;
            auto nf = http.get(base(runner) + "/nothing");
            CHECK(nf.status() == 404);
            CHECK(nf.text() == "404: Not Found");
            auto na = http.delete_(base(runner) + "/items");
            CHECK(na.status() == 405);
            CHECK(na.headers().value("Allow") == "GET, HEAD, POST");
            na.release();
            auto head = http.request("HEAD", base(runner) + "/items");
            CHECK(head.status() == 200);
            CHECK(head.headers().value("Content-Length") == "4");
            CHECK(head.text().empty());
            http.close();
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("http_error from a handler becomes its status; other exceptions become 500",
          "[http][server]") {
    std::vector<std::string> reported;
    run_test(
        [&] {
            aio::get_running_loop().set_exception_handler(
                [&](aio::loop&, const aio::exception_context& c) {
                    reported.push_back(c.message);
                });
            application app;
            app.add_get("/conflict", [](request&) -> response {
                throw aio::http::http_error(409, "order exists", {{"X-Order", "12"}});
            });
            app.add_get("/bug", [](request&) -> response { throw std::runtime_error("oops"); });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            aio::http::client_session http;
            auto c = http.get(base(runner) + "/conflict");
            CHECK(c.status() == 409);
            CHECK(c.headers().value("X-Order") == "12");
            CHECK(c.text() == "order exists");
            CHECK(reported.empty());
            auto b = http.get(base(runner) + "/bug");
            CHECK(b.status() == 500);
            CHECK(b.headers().value("Connection") == "close");
            CHECK(b.text() == "500: Internal Server Error");
            CHECK_THROWS_AS(b.raise_for_status(), aio::http::response_status_error);
            http.close();
            runner.cleanup();
        },
        real_time);
    REQUIRE(reported.size() == 1);
    CHECK(reported[0] == "Error handling request");
}

TEST_CASE("middlewares wrap handlers, the first added outermost", "[http][server]") {
    run_test(
        [] {
            application app;
            std::vector<std::string> order;
            app.add_middleware([&](request& req, const aio::http::handler& next) {
                order.push_back("outer in");
                response r = next(req);
                r.headers().set("X-Outer", "1");
                order.push_back("outer out");
                return r;
            });
            app.add_middleware([&](request& req, const aio::http::handler& next) {
                if (req.headers().contains("X-Deny")) {
                    return response::text("denied", 403);
                }
                order.push_back("inner");
                return next(req);
            });
            app.add_get("/", [&](request&) {
                order.push_back("handler");
                return response::text("ok");
            });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            aio::http::client_session http;
            auto r = http.get(base(runner) + "/");
            CHECK(r.headers().value("X-Outer") == "1");
            r.release();
            CHECK(order == std::vector<std::string>{"outer in", "inner", "handler", "outer out"});
            auto d = http.get(base(runner) + "/", {.headers = {{"X-Deny", "1"}}});
            CHECK(d.status() == 403);
            CHECK(d.headers().value("X-Outer") == "1");
            d.release();
            http.close();
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("hooks run in order and app storage is typed", "[http][server]") {
    run_test(
        [] {
            application app;
            aio::http::app_key<int> counter{"counter"};
            aio::http::app_key<std::string> other{"counter"};
            std::vector<std::string> log;
            app.on_startup.push_back([&](application& a) {
                a.set(counter, 41);
                log.push_back("startup");
            });
            app.on_shutdown.push_back([&](application&) { log.push_back("shutdown"); });
            app.on_cleanup.push_back([&](application& a) {
                log.push_back("cleanup " + std::to_string(a.get(counter)));
            });
            app.add_get("/", [&](request& req) {
                ++req.app().get(counter);
                return response::text("ok");
            });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            CHECK(log == std::vector<std::string>{"startup"});
            CHECK_THROWS_WITH(app.get(other), Catch::Contains("another type"));
            CHECK_THROWS_WITH(app.add_get("/late", [](request&) { return response(); }),
                              Catch::Contains("being served"));
            aio::http::client_session http;
            http.get(base(runner) + "/").release();
            http.close();
            runner.cleanup();
            CHECK(log == std::vector<std::string>{"startup", "shutdown", "cleanup 42"});
        },
        real_time);
}

TEST_CASE("keep-alive serves several requests on one connection, pipelined too", "[http][server]") {
    run_test(
        [] {
            application app;
            add_hello(app);
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            aio::http::client_session http;
            for (int i = 0; i < 5; ++i) {
                CHECK(http.get(base(runner) + "/").text() == "Hello, World!");
            }
            CHECK(http.connections_opened() == 1);
            CHECK(http.idle_connections() == 1);
            http.close();
            std::string two =
                exchange(runner.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                                        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            CHECK(two.find("Hello, World!") != std::string::npos);
            CHECK(two.rfind("Hello, World!") != two.find("Hello, World!"));
            CHECK(two.find("Connection: close") != std::string::npos);
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("HTTP/1.0 closes after the response unless it asks for keep-alive", "[http][server]") {
    run_test(
        [] {
            application app;
            add_hello(app);
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            std::string r = exchange(runner.port(), "GET / HTTP/1.0\r\n\r\n");
            CHECK(r.rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
            CHECK(r.find("Connection: close") != std::string::npos);
            CHECK(r.find("<timeout>") == std::string::npos);
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("malformed requests get 400 and the connection closed", "[http][server]") {
    run_test(
        [] {
            application app;
            add_hello(app);
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            for (std::string_view bad : {std::string_view("NOT HTTP AT ALL\r\n\r\n"),
                                         std::string_view("GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
                                         std::string_view("GET / HTTP/1.1\r\nContent-Length: "
                                                          "x\r\n\r\n")}) {
                std::string r = exchange(runner.port(), bad);
                CAPTURE(bad, r);
                CHECK(r.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
                CHECK(r.find("<timeout>") == std::string::npos);
            }
            // The server is still fine.
            aio::http::client_session http;
            CHECK(http.get(base(runner) + "/").status() == 200);
            http.close();
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("a body over client_max_size is 413, header fields over the limits are 431 and 414",
          "[http][server]") {
    run_test(
        [] {
            application app;
            app.add_post("/", [](request& req) {
                return response::text(std::to_string(req.text().size()));
            });
            app.add_get("/", [](request&) { return response::text("ok"); });
            aio::http::app_runner runner(
                app, {.client_max_size = 1000, .max_field_size = 200, .max_head_size = 1000});
            runner.start("127.0.0.1", 0);
            aio::http::client_session http;
            CHECK(http.post(base(runner) + "/", std::string(1000, 'x')).text() == "1000");
            auto big = http.post(base(runner) + "/", std::string(1001, 'x'));
            CHECK(big.status() == 413);
            big.release();
            auto field =
                http.get(base(runner) + "/", {.headers = {{"X-Big", std::string(300, 'a')}}});
            CHECK(field.status() == 431);
            field.release();
            fields many;
            for (int i = 0; i < 20; ++i) {
                many.add("X-H" + std::to_string(i), std::string(60, 'b'));
            }
            auto head = http.get(base(runner) + "/", {.headers = many});
            CHECK(head.status() == 431);
            head.release();
            auto line = http.get(base(runner) + "/" + std::string(300, 'p'));
            CHECK(line.status() == 414);
            line.release();
            std::string chunked =
                exchange(runner.port(), "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                                        "chunked\r\n\r\n400\r\n" +
                                            std::string(1024, 'c') + "\r\n0\r\n\r\n");
            CHECK(chunked.rfind("HTTP/1.1 413", 0) == 0);
            http.close();
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("chunked request bodies are decoded", "[http][server]") {
    run_test(
        [] {
            application app;
            app.add_post("/", [](request& req) { return response::text("got " + req.text()); });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            std::string r = exchange(
                runner.port(), "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                               "Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
            CHECK(r.find("got hello world") != std::string::npos);
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("a streamed response is sent chunked and read as it arrives", "[http][server]") {
    run_test(
        [] {
            application app;
            app.add_get("/events", [](request& req) {
                response r;
                r.headers().set("Content-Type", "text/event-stream");
                r.prepare(req);
                for (int i = 0; i < 3; ++i) {
                    r.write("event " + std::to_string(i) + "\n");
                    aio::sleep(5ms);
                }
                r.write_eof();
                CHECK_THROWS_AS(r.write("late"), aio::usage_error);
                return r;
            });
            app.add_get("/sized", [](request& req) {
                response r;
                r.headers().set("Content-Length", "10");
                r.prepare(req);
                r.write("01234");
                CHECK_THROWS_WITH(r.write("567890"), Catch::Contains("Content-Length"));
                r.write("56789");
                return r;  // write_eof() by the server
            });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            aio::http::client_session http;
            auto r = http.get(base(runner) + "/events");
            CHECK(r.headers().value("Transfer-Encoding") == "chunked");
            std::string all;
            int chunks = 0;
            for (std::string c = r.read_chunk(); !c.empty(); c = r.read_chunk()) {
                all += c;
                ++chunks;
            }
            CHECK(all == "event 0\nevent 1\nevent 2\n");
            CHECK(chunks >= 2);
            CHECK(r.body_complete());
            CHECK(http.get(base(runner) + "/sized").text() == "0123456789");
            CHECK(http.connections_opened() == 1);
            http.close();
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("a client that sends its head too slowly gets 408 and is disconnected",
          "[http][server]") {
    run_test(
        [] {
            application app;
            add_hello(app);
            aio::http::app_runner runner(app, {.header_timeout = 100ms});
            runner.start("127.0.0.1", 0);
            aio::stream s = aio::open_connection("127.0.0.1", runner.port());
            s.write("GET / HTTP/1.1\r\n");
            auto start = aio::get_running_loop().time();
            std::string r;
            for (std::string part = s.read(4096, 2s); !part.empty(); part = s.read(4096, 2s)) {
                r += part;
            }
            CHECK(r.rfind("HTTP/1.1 408", 0) == 0);
            CHECK(aio::get_running_loop().time() - start < 1s);
            s.close();
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("an idle keep-alive connection is closed after keepalive_timeout", "[http][server]") {
    run_test(
        [] {
            application app;
            add_hello(app);
            aio::http::app_runner runner(app, {.keepalive_timeout = 100ms});
            runner.start("127.0.0.1", 0);
            aio::stream s = aio::open_connection("127.0.0.1", runner.port());
            s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            std::string r;
            for (std::string part = s.read(4096, 2s); !part.empty(); part = s.read(4096, 2s)) {
                r += part;
            }
            CHECK(r.find("Hello, World!") != std::string::npos);  // then EOF, no error answer
            CHECK(r.find("408") == std::string::npos);
            s.close();
            CHECK(runner.connection_count() == 0);
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("graceful shutdown finishes in-flight requests and closes idle connections",
          "[http][server]") {
    run_test(
        [] {
            application app;
            app.add_get("/slow", [](request&) {
                aio::sleep(100ms);
                return response::text("done");
            });
            app.add_get("/", [](request&) { return response::text("hi"); });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            std::string url = base(runner);
            aio::http::client_session idle_client;
            idle_client.get(base(runner) + "/").text();  // leaves an idle keep-alive connection
            aio::http::client_session http;
            std::vector<aio::task<std::string>> inflight;
            for (int i = 0; i < 3; ++i) {
                inflight.push_back(aio::create_task([&] {
                    auto r = http.get(base(runner) + "/slow");
                    CHECK(r.headers().value("Connection") == "close");
                    return r.text();
                }));
            }
            aio::sleep(20ms);
            CHECK(runner.handlers_running() == 3);
            runner.cleanup();
            for (auto& t : inflight) {
                CHECK(t.get() == "done");
            }
            CHECK(runner.handlers_cancelled() == 0);
            CHECK(runner.requests_handled() == 4);
            CHECK_THROWS_AS(http.get(url + "/"), std::system_error);  // no longer listening
            http.close();
            idle_client.close();
        },
        real_time);
}

TEST_CASE("graceful shutdown cancels handlers that outlast shutdown_timeout", "[http][server]") {
    run_test(
        [] {
            application app;
            bool finished = false;
            app.add_get("/forever", [&](request&) {
                aio::sleep(10s);
                finished = true;
                return response::text("never");
            });
            aio::http::app_runner runner(app, {.shutdown_timeout = 100ms});
            runner.start("127.0.0.1", 0);
            std::string base_url = base(runner);
            aio::http::client_session http;
            auto t = aio::create_task([&] { return http.get(base_url + "/forever"); });
            aio::sleep(20ms);
            auto start = aio::get_running_loop().time();
            runner.cleanup();
            CHECK(aio::get_running_loop().time() - start < 1s);
            CHECK(runner.handlers_cancelled() == 1);
            CHECK_FALSE(finished);
            // The handler was cancelled and its connection reset.
            CHECK_THROWS_WITH(t.get(), Catch::Contains("GET " + base_url + "/forever") &&
                                           Catch::Contains("the connection failed"));
            http.close();
        },
        real_time);
}

TEST_CASE("with handler_cancellation off, a client disconnect does not stop the handler",
          "[http][server]") {
    run_test(
        [] {
            application app;
            bool finished = false;
            app.add_get("/work", [&](request&) {
                aio::sleep(100ms);
                finished = true;
                return response::text("done");
            });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            aio::stream s = aio::open_connection("127.0.0.1", runner.port());
            s.write("GET /work HTTP/1.1\r\nHost: x\r\n\r\n");
            aio::sleep(20ms);
            s.abort();
            aio::sleep(150ms);
            CHECK(finished);
            CHECK(runner.handlers_cancelled() == 0);
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("with handler_cancellation on, a client disconnect cancels the handler",
          "[http][server]") {
    run_test(
        [] {
            application app;
            bool finished = false;
            bool cancelled = false;
            app.add_get("/work", [&](request&) {
                try {
                    aio::sleep(1s);
                } catch (const aio::cancelled_error&) {
                    cancelled = true;
                    throw;
                }
                finished = true;
                return response::text("done");
            });
            aio::http::app_runner runner(app, {.handler_cancellation = true});
            runner.start("127.0.0.1", 0);
            aio::stream s = aio::open_connection("127.0.0.1", runner.port());
            s.write("GET /work HTTP/1.1\r\nHost: x\r\n\r\n");
            aio::sleep(20ms);
            s.abort();
            aio::sleep(50ms);
            CHECK(cancelled);
            CHECK_FALSE(finished);
            CHECK(runner.handlers_cancelled() == 1);
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("bad options and routes are rejected with a message", "[http][server]") {
    run_test([] {
        application app;
        CHECK_THROWS_WITH(app.add_get("users", [](request&) { return response(); }),
                          Catch::Contains("must start with '/'"));
        CHECK_THROWS_WITH(app.add_get("/a/{id", [](request&) { return response(); }),
                          Catch::Contains("{name}"));
        CHECK_THROWS_WITH(app.add_get("/{rest:*}/x", [](request&) { return response(); }),
                          Catch::Contains("must come last"));
        CHECK_THROWS_WITH(app.add_route("get", "/", [](request&) { return response(); }),
                          Catch::Contains("upper-case"));
        CHECK_THROWS_AS(aio::http::app_runner(app, {.keepalive_timeout = -1s}), aio::value_error);
        CHECK_THROWS_AS(response(600), aio::value_error);
    });
}

namespace {

// run_app in a child process, outside any loop, stopped by `sig` once it serves.
aio::test::child_result run_app_until(int sig) {
    return aio::test::run_in_child([sig] {
        application app;
        add_hello(app);
        app.on_startup.push_back([sig](application&) {
            aio::create_task([sig] {
                aio::sleep(50ms);
                ::kill(::getpid(), sig);
            }).detach();
        });
        app.on_shutdown.push_back([](application&) { std::fputs("shutdown ran\n", stderr); });
        app.on_cleanup.push_back([](application&) { std::fputs("cleanup ran\n", stderr); });
        aio::http::run_app(app, "127.0.0.1", 0, {.print_banner = false});
        std::fputs("run_app returned\n", stderr);
    });
}

}  // namespace

TEST_CASE("run_app shuts down gracefully on SIGTERM and returns", "[http][server]") {
    auto r = run_app_until(SIGTERM);
    CHECK(r.exited);
    CHECK(r.code == 0);
    CHECK_THAT(r.err, Catch::Contains("shutdown ran\ncleanup ran\nrun_app returned"));
}

TEST_CASE("run_app keeps the application's own SIGTERM handler and gives it back",
          "[http][server][signal]") {
    auto r = aio::test::run_in_child([] {
        aio::run([] {
            application app;
            add_hello(app);
            aio::add_signal_handler(SIGTERM, [] { std::fputs("app's SIGTERM handler\n", stderr); });
            app.on_startup.push_back([](application&) {
                aio::create_task([] {
                    aio::sleep(50ms);
                    ::kill(::getpid(), SIGTERM);
                }).detach();
            });
            aio::http::run_app(app, "127.0.0.1", 0, {.print_banner = false});
            std::fputs("run_app returned\n", stderr);
            if (aio::remove_signal_handler(SIGTERM)) {
                std::fputs("handler is back\n", stderr);
            }
        });
    });
    CHECK(r.exited);
    CHECK(r.code == 0);
    CHECK_THAT(r.err, Catch::Contains("app's SIGTERM handler\nrun_app returned\nhandler is back"));
}

TEST_CASE("run_app shuts down gracefully on Ctrl-C and returns", "[http][server]") {
    auto r = run_app_until(SIGINT);
    CHECK(r.exited);
    CHECK(r.code == 0);
    CHECK_THAT(r.err, Catch::Contains("shutdown ran\ncleanup ran\nrun_app returned"));
}

TEST_CASE("a handler that streams one response and returns another sends one head",
          "[http][server]") {
    run_test(
        [] {
            application app;
            app.add_get("/", [](request& req) {
                response streamed;
                streamed.prepare(req);
                streamed.write("streamed");
                return response::text("ignored");
            });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            std::string r =
                exchange(runner.port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            CHECK(r.find("HTTP/1.1 200") == 0);
            CHECK(r.find("HTTP/1.1", 1) == std::string::npos);
            CHECK(r.find("streamed") != std::string::npos);
            CHECK(r.find("ignored") == std::string::npos);
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("a runner whose startup hook failed can be started again", "[http][server]") {
    run_test(
        [] {
            application app;
            add_hello(app);
            bool fail = true;
            app.on_startup.push_back([&](application&) {
                if (fail) {
                    throw std::runtime_error("database not ready");
                }
            });
            aio::http::app_runner runner(app);
            CHECK_THROWS_WITH(runner.start("127.0.0.1", 0), "database not ready");
            fail = false;
            runner.start("127.0.0.1", 0);
            aio::http::client_session http;
            CHECK(http.get(base(runner) + "/").status() == 200);
            http.close();
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("a handler that swallows its cancellation cannot hold the shutdown forever",
          "[http][server]") {
    std::vector<std::string> reported;
    run_test(
        [&] {
            aio::get_running_loop().set_exception_handler(
                [&](aio::loop&, const aio::exception_context& c) {
                    reported.push_back(c.message);
                });
            application app;
            bool done = false;
            app.add_get("/stubborn", [&](request&) {
                try {
                    aio::sleep(10s);
                } catch (const aio::cancelled_error&) {
                    aio::sleep(900ms);  // ignores the cancellation and goes on
                }
                done = true;
                return response::text("late");
            });
            aio::http::app_runner runner(app, {.shutdown_timeout = 50ms});
            runner.start("127.0.0.1", 0);
            aio::stream s = aio::open_connection("127.0.0.1", runner.port());
            s.write("GET /stubborn HTTP/1.1\r\nHost: x\r\n\r\n");
            aio::sleep(20ms);
            auto start = aio::get_running_loop().time();
            runner.cleanup();
            // Two shutdown_timeouts (100 ms), not the handler's 900 ms: a bound between the
            // two that a loaded machine does not reach by accident.
            CHECK(aio::get_running_loop().time() - start < 600ms);
            CHECK_FALSE(done);
            aio::sleep(1s);  // the stubborn handler ends on its own
            CHECK(done);
            s.abort();
        },
        real_time);
    CHECK(std::count(reported.begin(), reported.end(),
                     "HTTP shutdown: handlers ignored their cancellation") == 1);
}
