// aio::http::client_session against aio's server and against raw loopback servers that
// misbehave on purpose: keep-alive and pooling, redirects, body framings, timeouts, errors.
#include "support.hpp"

#include <aio/http/client.hpp>
#include <aio/http/server.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace std::chrono_literals;
using aio::http::application;
using aio::http::client_session;
using aio::http::request;
using aio::http::response;
using aio::test::run_test;

namespace {

const aio::test::test_options real_time{.virtual_time = false};

std::string base(const aio::http::app_runner& r) {
    return "http://127.0.0.1:" + std::to_string(r.port());
}

// A raw server that answers every connection with `reply` (after reading the request
// head), then does what `after` says.
aio::server raw_server(std::string reply, bool close_after = true) {
    return aio::start_server(
        [reply, close_after](aio::stream& s) {
            try {
                for (;;) {
                    std::string head = s.read_until("\r\n\r\n", aio::no_timeout);
                    s.write(reply);
                    if (close_after) {
                        return;
                    }
                }
            } catch (const aio::incomplete_read_error&) {
                // The client closed between requests.
            }
        },
        "127.0.0.1", 0);
}

std::string url_of(const aio::server& srv, std::string_view path = "/") {
    return "http://127.0.0.1:" + std::to_string(srv.port()) + std::string(path);
}

}  // namespace

TEST_CASE("the client's defaults are aiohttp's", "[http][client]") {
    aio::http::client_options o;
    CHECK(o.timeouts.total == 300s);
    CHECK(o.timeouts.connect == 30s);
    CHECK(o.timeouts.read == 60s);
    CHECK(o.limit == 100);
    CHECK(o.limit_per_host == 0);
    CHECK(o.keepalive_timeout == 15s);
    CHECK(o.max_redirects == 10);
}

TEST_CASE("a session reuses one keep-alive connection for sequential requests", "[http][client]") {
    run_test(
        [] {
            application app;
            app.add_get("/n/{i}", [](request& req) {
                return response::text(std::string(req.match_info("i")));
            });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            client_session http;
            for (int i = 0; i < 10; ++i) {
                CHECK(http.get(base(runner) + "/n/" + std::to_string(i)).text() ==
                      std::to_string(i));
            }
            CHECK(http.connections_opened() == 1);
            // Concurrent requests need several connections; they are pooled afterwards.
            std::vector<aio::task<std::string>> ts;
            for (int i = 0; i < 4; ++i) {
                ts.push_back(aio::create_task(
                    [&, i] { return http.get(base(runner) + "/n/" + std::to_string(i)).text(); }));
            }
            for (int i = 0; i < 4; ++i) {
                CHECK(ts[static_cast<std::size_t>(i)].get() == std::to_string(i));
            }
            CHECK(http.idle_connections() == 4);
            http.close();
            CHECK(http.closed());
            CHECK(http.idle_connections() == 0);
            CHECK_THROWS_WITH(http.get(base(runner) + "/n/1"), Catch::Contains("closed"));
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("limit_per_host makes extra requests wait for a connection", "[http][client]") {
    run_test(
        [] {
            application app;
            int running = 0;
            int most = 0;
            app.add_get("/", [&](request&) {
                most = std::max(most, ++running);
                aio::sleep(20ms);
                --running;
                return response::text("ok");
            });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            client_session http({.limit_per_host = 2});
            std::vector<aio::task<std::string>> ts;
            for (int i = 0; i < 6; ++i) {
                ts.push_back(aio::create_task([&] { return http.get(base(runner) + "/").text(); }));
            }
            for (auto& t : ts) {
                CHECK(t.get() == "ok");
            }
            CHECK(most == 2);
            CHECK(http.connections_opened() == 2);
            http.close();
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("a pooled connection the server closed is replaced without an error", "[http][client]") {
    run_test(
        [] {
            // Announces keep-alive, then closes after each answer anyway.
            auto srv = raw_server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            client_session http;
            for (int i = 0; i < 3; ++i) {
                CHECK(http.get(url_of(srv)).text() == "ok");
                aio::sleep(10ms);
            }
            CHECK(http.connections_opened() == 3);
            http.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("redirects are followed, relative ones too, and 303 turns a POST into a GET",
          "[http][client]") {
    run_test(
        [] {
            application app;
            app.add_post("/submit", [](request&) {
                response r(303);
                r.headers().set("Location", "/result?id=5");
                return r;
            });
            app.add_get("/result", [](request& req) {
                return response::text(req.method() + " " +
                                      std::string(req.query("id").value_or("")) +
                                      " body=" + req.text());
            });
            app.add_get("/loop", [](request&) {
                response r(302);
                r.headers().set("Location", "loop");
                return r;
            });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            client_session http({.max_redirects = 3});
            auto r = http.post(base(runner) + "/submit", "payload");
            CHECK(r.status() == 200);
            CHECK(r.redirects() == 1);
            CHECK(r.url().target == "/result?id=5");
            CHECK(r.text() == "GET 5 body=");
            CHECK_THROWS_WITH(http.get(base(runner) + "/loop"),
                              Catch::Contains("more than 3 redirects"));
            auto no = http.get(base(runner) + "/loop", {.allow_redirects = false});
            CHECK(no.status() == 302);
            no.release();
            http.close();
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("chunked, sized and close-delimited response bodies are all read", "[http][client]") {
    run_test(
        [] {
            auto chunked = raw_server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      "3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n",
                                      false);
            auto until_close = raw_server("HTTP/1.0 200 OK\r\n\r\nuntil the end");
            client_session http;
            auto a = http.get(url_of(chunked));
            CHECK(a.text() == "abcdefg");
            CHECK(http.idle_connections() == 1);  // chunked framing: reusable
            auto b = http.get(url_of(until_close));
            CHECK(b.text() == "until the end");
            http.close();
            chunked.close();
            until_close.close();
            chunked.wait_closed();
            until_close.wait_closed();
        },
        real_time);
}

TEST_CASE("a response cut short is a protocol_error, garbage is a protocol_error",
          "[http][client]") {
    run_test(
        [] {
            auto cut = raw_server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
            auto garbage = raw_server("SSH-2.0-OpenSSH\r\n\r\n");
            auto silent = raw_server("");
            client_session http;
            auto r = http.get(url_of(cut));
            CHECK_THROWS_WITH(r.text(), Catch::Contains("in the middle of the response body"));
            CHECK_THROWS_WITH(http.get(url_of(garbage)), Catch::Contains("malformed response"));
            CHECK_THROWS_WITH(http.get(url_of(silent)),
                              Catch::Contains("closed the connection before sending a response"));
            http.close();
            for (auto* s : {&cut, &garbage, &silent}) {
                s->close();
                s->wait_closed();
            }
        },
        real_time);
}

TEST_CASE("a server that never answers hits the read timeout, which names URL and phase",
          "[http][client]") {
    run_test(
        [] {
            auto stuck = aio::start_server(
                [](aio::stream& s) {
                    // Reads a request and never answers; ends when the client goes away (a
                    // sleep here held wait_closed() for its 5 s).
                    try {
                        (void)s.read_until("\r\n\r\n", 5s);
                        (void)s.read(1, 5s);
                    } catch (const std::exception&) {
                    }
                },
                "127.0.0.1", 0);
            client_session http({.timeouts = {.read = 100ms}});
            auto start = aio::get_running_loop().time();
            try {
                http.get(url_of(stuck, "/quote"));
                FAIL("no timeout");
            } catch (const aio::timeout_error& e) {
                std::string m = e.what();
                CHECK_THAT(m, Catch::Contains("GET " + url_of(stuck, "/quote")));
                CHECK_THAT(m, Catch::Contains("100 ms"));
                CHECK_THAT(m, Catch::Contains("waiting for the response head"));
                CHECK_THAT(m, Catch::Contains("client_timeouts::read"));
            }
            CHECK(aio::get_running_loop().time() - start < 1s);
            // The total timeout, per request.
            CHECK_THROWS_WITH(
                http.get(url_of(stuck), {.timeouts = aio::http::client_timeouts{.total = 50ms}}),
                Catch::Contains("total timeout"));
            http.close();
            stuck.close();
            stuck.abort_clients();
            stuck.wait_closed();
        },
        real_time);
}

TEST_CASE("a request's own total timeout keeps the session's read timeout", "[http][client]") {
    run_test(
        [] {
            // Reads the request and never answers; ends when the client goes away.
            auto stuck = aio::start_server(
                [](aio::stream& s) {
                    try {
                        (void)s.read_until("\r\n\r\n", 5s);
                        (void)s.read(1, 5s);
                    } catch (const std::exception&) {
                        // EOF or a reset: the client gave up.
                    }
                },
                "127.0.0.1", 0);
            client_session http({.timeouts = {.read = 50ms}});
            // The session's other timeouts are the defaults.
            CHECK(http.options().timeouts.total == 300s);
            CHECK(http.options().timeouts.connect == 30s);
            CHECK(http.options().timeouts.read == 50ms);
            auto start = aio::get_running_loop().time();
            // Before, {.total = 5s} replaced every timeout and read went back to its 60 s
            // default: this request then waited the whole 5 s.
            CHECK_THROWS_WITH(http.get(url_of(stuck), {.timeouts = {.total = 5s}}),
                              Catch::Contains("50 ms") && Catch::Contains("client_timeouts::read"));
            CHECK(aio::get_running_loop().time() - start < 1s);
            // no_timeout still disables one for a request: then the total (given) ends it.
            start = aio::get_running_loop().time();
            CHECK_THROWS_WITH(
                http.get(url_of(stuck), {.timeouts = {.total = 150ms, .read = aio::no_timeout}}),
                Catch::Contains("client_timeouts::total"));
            CHECK(aio::get_running_loop().time() - start >= 150ms);
            CHECK_THROWS_AS(http.get(url_of(stuck), {.timeouts = {.connect = -1s}}),
                            aio::value_error);
            http.close();
            stuck.close();
            stuck.abort_clients();
            stuck.wait_closed();
        },
        real_time);
}

TEST_CASE("request_options::params are encoded by the client and decoded by request::query",
          "[http][client][url]") {
    run_test(
        [] {
            application app;
            std::vector<std::pair<std::string, std::string>> seen;
            std::string raw;
            app.add_get("/search", [&](request& req) {
                seen = req.query();
                raw = std::string(req.query_string());
                return response::text("ok");
            });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            client_session http;
            std::vector<std::pair<std::string, std::string>> params{
                {"q", "a b"},       {"page", "2"},
                {"tag", "x"},       {"tag", "y&z=1"},
                {"empty", ""},      {"plus", "1+1"},
                {"path", "/a?b#c"}, {"\xC3\xA9t\xC3\xA9", "\xE2\x82\xAC"}};
            CHECK(http.get(base(runner) + "/search?first=1", {.params = params}).text() == "ok");
            CHECK_THAT(raw,
                       Catch::StartsWith("first=1&q=a%20b&page=2&tag=x&tag=y%26z%3D1&empty=&"));
            auto expected = params;
            expected.insert(expected.begin(), {"first", "1"});
            CHECK(seen == expected);
            http.close();
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("the total timeout also bounds reading the body", "[http][client]") {
    run_test(
        [] {
            application app;
            app.add_get("/trickle", [](request& req) {
                response r;
                r.prepare(req);
                for (int i = 0; i < 100; ++i) {
                    r.write("x");
                    aio::sleep(20ms);
                }
                return r;
            });
            aio::http::app_runner runner(app, {.shutdown_timeout = 10ms});
            runner.start("127.0.0.1", 0);
            // The head comes at once; the body would take 2 s. 400 ms leaves the head room on a
            // loaded machine under ASan (150 ms did not, once in CI).
            client_session http({.timeouts = {.total = 400ms}});
            auto r = http.get(base(runner) + "/trickle");
            CHECK_THROWS_WITH(r.text(), Catch::Contains("total timeout"));
            http.close();
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("a refused connection is a system_error naming the peer", "[http][client]") {
    run_test(
        [] {
            auto srv = aio::start_server([](aio::stream&) {}, "127.0.0.1", 0);
            std::string url = url_of(srv);
            srv.close();
            srv.wait_closed();
            client_session http;
            CHECK_THROWS_AS(http.get(url), std::system_error);
            CHECK(http.connections_opened() == 0);
            http.close();
        },
        real_time);
}

TEST_CASE("bad URLs and bad options are rejected before any I/O", "[http][client]") {
    run_test([] {
        client_session http;
        CHECK_THROWS_AS(http.get("not a url"), aio::http::invalid_url_error);
        CHECK_THROWS_WITH(http.get("ftp://example.com/"),
                          Catch::Contains("'ftp' is not supported"));
        CHECK_THROWS_WITH(http.request("get", "http://x/"), Catch::Contains("upper-case"));
        CHECK_THROWS_AS(client_session({.timeouts = {.total = -1s}}), aio::value_error);
        CHECK_THROWS_AS(client_session({.max_redirects = -1}), aio::value_error);
        http.close();
    });
}
