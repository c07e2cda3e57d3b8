// aio::http's server reads requests as RFC 9112 frames them: no request smuggling through
// Transfer-Encoding, one Host, trailers kept apart, the forms and versions the RFC says to
// accept, and bounded memory and time for every part of a request. Each case sends the exact
// bytes an attacker (or an old client) sends.
#include "http_peer.hpp"
#include "support.hpp"

#include <aio/http/client.hpp>
#include <aio/http/server.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace std::string_literals;
using aio::http::application;
using aio::http::request;
using aio::http::response;
using aio::test::exchange;
using aio::test::run_test;
using aio::test::status_lines;

namespace {

const aio::test::test_options real_time{.virtual_time = false};

// POST /echo answers the body; GET /users/{id} the id; GET /who the Host header, whether a
// header X-Authenticated-User came, and the trailers.
void add_routes(application& app) {
    app.add_post("/echo", [](request& req) { return response::text("body=" + req.text()); });
    app.add_get("/users/{id}", [](request& req) {
        return response::text("user " + std::string(req.match_info("id")));
    });
    auto who = [](request& req) {
        std::string t = "host=" + std::string(req.headers().value("Host", "-")) +
                        " auth=" + std::string(req.headers().value("X-Authenticated-User", "-")) +
                        " version=" + std::to_string(req.version()) + " target=" + req.target();
        for (const auto& [n, v] : req.trailers()) {
            t += " trailer " + n + "=" + v;
        }
        return response::text(t);
    };
    app.add_get("/who", who);
    app.add_post("/who", who);
}

// Runs `body` with a served application (routes above) and its runner.
void with_server(const std::function<void(aio::http::app_runner&)>& body,
                 aio::http::serve_options options = {}) {
    run_test(
        [&] {
            application app;
            add_routes(app);
            aio::http::app_runner runner(app, options);
            runner.start("127.0.0.1", 0);
            body(runner);
            runner.cleanup();
        },
        real_time);
}

}  // namespace

TEST_CASE("a Transfer-Encoding whose final coding is not chunked is refused, never read as a "
          "second request",
          "[http][server][framing]") {
    with_server([](aio::http::app_runner& runner) {
        for (std::string te : {"gzip", "identity", "xchunked", "chunked, gzip", "chunked;q=1",
                               "chunked, chunked", "chunked\r\nTransfer-Encoding: chunked", ""}) {
            std::string raw = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te +
                              "\r\n\r\nGET /users/SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n";
            std::string r = exchange(runner.port(), raw);
            CAPTURE(te, r);
            CHECK(r.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
            CHECK(status_lines(r) == 1);
            CHECK(r.find("SMUGGLED") == std::string::npos);
            CHECK(r.find("Connection: close") != std::string::npos);
            CHECK(r.find("<timeout>") == std::string::npos);
        }
        // A coding that frames the body but is not one the server decodes: 501.
        std::string r =
            exchange(runner.port(), "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, "
                                    "chunked\r\n\r\n0\r\n\r\nGET /users/SMUGGLED HTTP/1.1\r\nHost: "
                                    "x\r\n\r\n");
        CHECK(r.rfind("HTTP/1.1 501 Not Implemented\r\n", 0) == 0);
        CHECK(status_lines(r) == 1);
        // Plain chunked is still served, and what follows it is the next request.
        r = exchange(runner.port(),
                     "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
                     "3\r\nabc\r\n0\r\n\r\nGET /users/7 HTTP/1.1\r\nHost: x\r\nConnection: "
                     "close\r\n\r\n");
        CHECK(status_lines(r) == 2);
        CHECK(r.find("body=abc") != std::string::npos);
        CHECK(r.find("user 7") != std::string::npos);
    });
}

TEST_CASE("Transfer-Encoding with Content-Length is refused, in either order",
          "[http][server][framing]") {
    with_server([](aio::http::app_runner& runner) {
        for (std::string fields : {"Transfer-Encoding: gzip\r\nContent-Length: 5",
                                   "Content-Length: 5\r\nTransfer-Encoding: gzip",
                                   "Transfer-Encoding: chunked\r\nContent-Length: 5",
                                   "Content-Length: 5\r\nTransfer-Encoding: chunked"}) {
            std::string r = exchange(runner.port(), "POST /echo HTTP/1.1\r\nHost: x\r\n" + fields +
                                                        "\r\n\r\n0\r\n\r\nGET /users/SMUGGLED "
                                                        "HTTP/1.1\r\nHost: x\r\n\r\n");
            CAPTURE(fields, r);
            CHECK(r.rfind("HTTP/1.1 400", 0) == 0);
            CHECK(status_lines(r) == 1);
            CHECK(r.find("SMUGGLED") == std::string::npos);
        }
        // HTTP/1.0 has no chunked framing at all.
        std::string r =
            exchange(runner.port(), "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "3\r\nabc\r\n0\r\n\r\n");
        CHECK(r.rfind("HTTP/1.1 400", 0) == 0);
        CHECK(r.find("HTTP/1.0") != std::string::npos);
    });
}

TEST_CASE("an HTTP/1.1 request with no Host or with two is refused", "[http][server][framing]") {
    with_server([](aio::http::app_runner& runner) {
        std::string none = exchange(runner.port(), "GET /users/1 HTTP/1.1\r\n\r\n");
        CHECK(none.rfind("HTTP/1.1 400", 0) == 0);
        CHECK(none.find("needs a Host header") != std::string::npos);
        std::string two =
            exchange(runner.port(), "GET /users/1 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
        CHECK(two.rfind("HTTP/1.1 400", 0) == 0);
        CHECK(two.find("2 Host headers") != std::string::npos);
        std::string old = exchange(runner.port(), "GET /users/1 HTTP/1.0\r\n\r\n");
        CHECK(old.rfind("HTTP/1.0 200", 0) == 0);  // HTTP/1.0 had no Host requirement
    });
}

TEST_CASE("trailers are kept apart from the headers, never merged into them",
          "[http][server][framing]") {
    with_server([](aio::http::app_runner& runner) {
        std::string r = exchange(runner.port(),
                                 "POST /who HTTP/1.1\r\nHost: good.example\r\nTransfer-Encoding: "
                                 "chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\nHost: "
                                 "evil.example\r\nX-Authenticated-User: admin\r\n\r\n");
        CAPTURE(r);
        CHECK(r.rfind("HTTP/1.1 200", 0) == 0);
        CHECK(r.find("host=good.example auth=-") != std::string::npos);
        CHECK(r.find("trailer Host=evil.example trailer X-Authenticated-User=admin") !=
              std::string::npos);
        // A trailer naming a framing field is refused.
        std::string framing =
            exchange(runner.port(), "POST /who HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                                    "chunked\r\n\r\n3\r\nabc\r\n0\r\nContent-Length: "
                                    "3\r\n\r\n");
        CHECK(framing.rfind("HTTP/1.1 400", 0) == 0);
    });
}

TEST_CASE("a request line over max_field_size gets 414, and the answer is not lost to a reset",
          "[http][server][framing]") {
    with_server([](aio::http::app_runner& runner) {
        // Longer than the whole head limit too, with more bytes after it: before, 431 and a
        // reset that could destroy the answer.
        std::string raw = "GET /" + std::string(64 * 1024, 'p') + " HTTP/1.1\r\nHost: x\r\n\r\n";
        std::string r = exchange(runner.port(), raw);
        CHECK(r.rfind("HTTP/1.1 414 URI Too Long\r\n", 0) == 0);
        CHECK(r.find("max_field_size") != std::string::npos);
    });
}

TEST_CASE("empty lines before a request are ignored", "[http][server][framing]") {
    with_server([](aio::http::app_runner& runner) {
        std::string r = exchange(
            runner.port(), "\r\n\r\nGET /users/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        CHECK(r.rfind("HTTP/1.1 200", 0) == 0);
        CHECK(r.find("user 3") != std::string::npos);
        // Between keep-alive requests too (an old client's extra CRLF after a body).
        r = exchange(runner.port(),
                     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi\r\n"
                     "GET /users/4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        CHECK(status_lines(r) == 2);
        CHECK(r.find("user 4") != std::string::npos);
    });
}

TEST_CASE("an absolute-form target is served, its authority standing for Host",
          "[http][server][framing]") {
    with_server([](aio::http::app_runner& runner) {
        std::string r =
            exchange(runner.port(), "GET http://Real.Example:8080/who?q=1 HTTP/1.1\r\nHost: "
                                    "other\r\nConnection: close\r\n\r\n");
        CAPTURE(r);
        CHECK(r.rfind("HTTP/1.1 200", 0) == 0);
        CHECK(r.find("host=Real.Example:8080") != std::string::npos);
        CHECK(r.find("target=/who?q=1") != std::string::npos);
        std::string bad = exchange(runner.port(), "GET ftp://x/who HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(bad.rfind("HTTP/1.1 400", 0) == 0);
        std::string star = exchange(runner.port(), "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(star.rfind("HTTP/1.1 400", 0) == 0);
    });
}

TEST_CASE("HTTP/1.2 is served as HTTP/1.1; HTTP/2.0 in a request line gets 505",
          "[http][server][framing]") {
    with_server([](aio::http::app_runner& runner) {
        std::string r =
            exchange(runner.port(), "GET /who HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n");
        CHECK(r.rfind("HTTP/1.1 200", 0) == 0);
        CHECK(r.find("version=11") != std::string::npos);
        r = exchange(runner.port(), "GET /who HTTP/2.0\r\nHost: x\r\n\r\n");
        CHECK(r.rfind("HTTP/1.1 505 HTTP Version Not Supported\r\n", 0) == 0);
        r = exchange(runner.port(), "GET /who HTTP/0.9\r\nHost: x\r\n\r\n");
        CHECK(r.rfind("HTTP/1.1 400", 0) == 0);
    });
}

TEST_CASE("obs-fold is refused; a duplicate Content-Length is accepted only when equal",
          "[http][server][framing]") {
    with_server([](aio::http::app_runner& runner) {
        std::string r =
            exchange(runner.port(), "GET /who HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  2\r\n\r\n");
        CHECK(r.rfind("HTTP/1.1 400", 0) == 0);
        CHECK(r.find("obsolete line folding") != std::string::npos);
        r = exchange(runner.port(), "GET /who HTTP/1.1\r\n Host: x\r\n\r\n");
        CHECK(r.rfind("HTTP/1.1 400", 0) == 0);
        r = exchange(runner.port(), "GET /who HTTP/1.1\nHost: x\n\n");
        CHECK(r.rfind("HTTP/1.1 400", 0) == 0);
        CHECK(r.find("LF alone") != std::string::npos);
        r = exchange(runner.port(),
                     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: "
                     "2\r\nConnection: close\r\n\r\nhi");
        CHECK(r.rfind("HTTP/1.1 200", 0) == 0);
        CHECK(r.find("body=hi") != std::string::npos);
        r = exchange(runner.port(),
                     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: "
                     "3\r\n\r\nhi!");
        CHECK(r.rfind("HTTP/1.1 400", 0) == 0);
    });
}

TEST_CASE("an endless chunk extension or trailer section is refused before it fills memory",
          "[http][server][framing]") {
    aio::http::serve_options o;
    o.server.connection.read_timeout = 1500ms;  // before: the parser waited for the line's end
    with_server(
        [](aio::http::app_runner& runner) {
            std::string head =
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
            std::string ext =
                exchange(runner.port(), head + "3;ext=" + std::string(64 * 1024, 'a'));
            CAPTURE(ext.substr(0, 200));
            CHECK(ext.rfind("HTTP/1.1 400", 0) == 0);
            CHECK(ext.find("chunk line") != std::string::npos);
            std::string trailers = exchange(
                runner.port(), head + "3\r\nabc\r\n0\r\nX-A: " + std::string(64 * 1024, 't'));
            CAPTURE(trailers.substr(0, 200));
            CHECK(trailers.rfind("HTTP/1.1 431", 0) == 0);
            CHECK(trailers.find("trailer section") != std::string::npos);
            // Many small trailer fields, each under max_field_size.
            std::string many;
            for (int i = 0; i < 2000; ++i) {
                many += "X-T" + std::to_string(i) + ": " + std::string(30, 'v') + "\r\n";
            }
            std::string lots = exchange(runner.port(), head + "0\r\n" + many + "\r\n");
            CHECK(lots.rfind("HTTP/1.1 431", 0) == 0);
        },
        o);
}

TEST_CASE("a body trickled in slowly cannot hold a connection past body_timeout",
          "[http][server][framing]") {
    aio::http::serve_options o;
    o.body_timeout = 300ms;
    o.server.connection.read_timeout = 1s;
    with_server(
        [](aio::http::app_runner& runner) {
            aio::stream s = aio::open_connection("127.0.0.1", runner.port());
            s.write("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
            auto& lp = aio::get_running_loop();
            auto began = lp.time();
            std::string got;
            for (int i = 0; i < 40 && got.empty(); ++i) {
                s.write("b");
                try {
                    got = s.read(65536, 100ms);
                } catch (const aio::timeout_error&) {
                }
            }
            CHECK(got.rfind("HTTP/1.1 408", 0) == 0);
            CHECK(got.find("body_timeout") != std::string::npos);
            CHECK(lp.time() - began < 1s);
            s.abort();
        },
        o);
}

TEST_CASE("graceful shutdown closes connections that sent only part of a head at once",
          "[http][server][framing]") {
    run_test(
        [] {
            application app;
            add_routes(app);
            aio::http::app_runner runner(app, {.shutdown_timeout = 10s});
            runner.start("127.0.0.1", 0);
            std::vector<aio::stream> slow;
            for (int i = 0; i < 5; ++i) {
                slow.push_back(aio::open_connection("127.0.0.1", runner.port()));
                slow.back().write("GET /who HTTP/1.1\r\nHo");
            }
            aio::sleep(50ms);
            CHECK(runner.connection_count() == 5);
            auto& lp = aio::get_running_loop();
            auto began = lp.time();
            runner.cleanup();
            CHECK(lp.time() - began < 1s);  // before: the whole shutdown_timeout
            for (auto& s : slow) {
                s.abort();
            }
        },
        real_time);
}

TEST_CASE("a client that goes away mid-response is counted, not reported as an error",
          "[http][server][framing]") {
    run_test(
        [] {
            std::vector<std::string> messages;
            aio::get_running_loop().set_exception_handler(
                [&](aio::loop&, const aio::exception_context& c) {
                    messages.push_back(c.message);
                });
            application app;
            app.add_get("/stream", [](request& req) {
                response r;
                r.prepare(req);
                std::string part(64 * 1024, 'z');
                for (;;) {
                    r.write(part);
                    aio::sleep(1ms);
                }
                return r;
            });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            for (int i = 0; i < 3; ++i) {
                aio::stream s = aio::open_connection("127.0.0.1", runner.port());
                s.write("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
                (void)s.read(1000);
                s.abort();
            }
            for (int i = 0; i < 200 && runner.client_disconnects() < 3; ++i) {
                aio::sleep(10ms);
            }
            CHECK(runner.client_disconnects() == 3);
            runner.cleanup();
            CAPTURE(messages);
            CHECK(std::none_of(messages.begin(), messages.end(), [](const std::string& m) {
                return m.find("Error handling request") != std::string::npos;
            }));
            // One note for the three (at most one a minute).
            CHECK(std::count_if(messages.begin(), messages.end(), [](const std::string& m) {
                      return m.find("went away") != std::string::npos;
                  }) == 1);
        },
        real_time);
}

TEST_CASE("a chunk extension with a control character, or a quote that does not end, is refused",
          "[http][server][framing]") {
    with_server([](aio::http::app_runner& runner) {
        const std::string head =
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        // A bare LF inside a quoted extension: where a front end that ends lines at LF would
        // read a second request.
        std::string lf =
            exchange(runner.port(), head + "2;a=\"\nXY\n0\n\nGET /users/SMUG HTTP/1.1\nHost: "
                                           "x\n\n\"\r\nAB\r\n0\r\n\r\n");
        CAPTURE(lf);
        CHECK(lf.rfind("HTTP/1.1 400", 0) == 0);
        CHECK(status_lines(lf) == 1);
        CHECK(lf.find("SMUG") == std::string::npos);
        std::string nul =
            exchange(runner.port(), head + "3;a=\"\x00\x01\x7f\"\r\nabc\r\n0\r\n\r\n"s);
        CHECK(nul.rfind("HTTP/1.1 400", 0) == 0);
        CHECK(nul.find("control character") != std::string::npos);
        // Before: no answer until body_timeout.
        std::string open_quote = exchange(runner.port(), head + "3;a=\"x\r\nabc\r\n0\r\n\r\n", 1s);
        CHECK(open_quote.rfind("HTTP/1.1 400", 0) == 0);
        CHECK(open_quote.find("<timeout>") == std::string::npos);
        // A trailer line ending in LF alone.
        std::string trailer_lf = exchange(runner.port(), head + "0\r\nX-T: 1\n\r\n", 1s);
        CHECK(trailer_lf.rfind("HTTP/1.1 400", 0) == 0);
    });
}

TEST_CASE("empty lines trickled before a request cannot hold a connection past header_timeout",
          "[http][server][framing]") {
    with_server(
        [](aio::http::app_runner& runner) {
            aio::stream s = aio::open_connection("127.0.0.1", runner.port());
            auto& lp = aio::get_running_loop();
            auto began = lp.time();
            bool closed = false;
            for (int i = 0; i < 20 && !closed; ++i) {
                try {
                    s.write("\r\n");
                    std::string got = s.read(65536, 100ms);
                    closed = true;  // an answer or EOF: the server let go
                } catch (const aio::timeout_error&) {
                } catch (const std::system_error&) {
                    closed = true;
                }
            }
            CHECK(closed);
            CHECK(lp.time() - began < 1s);  // header_timeout is 300 ms
            s.abort();
        },
        {.header_timeout = 300ms});
}

TEST_CASE("a Host that is not a host[:port] is refused, in the field and in absolute form",
          "[http][server][framing]") {
    with_server([](aio::http::app_runner& runner) {
        for (std::string host : {"a, b", "a/b@c", "a:b:c", "e.com%00", "e.com:99999x", "[::1"}) {
            std::string r =
                exchange(runner.port(), "GET /who HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
            CAPTURE(host, r);
            CHECK(r.rfind("HTTP/1.1 400", 0) == 0);
            CHECK(r.find("invalid Host") != std::string::npos);
        }
        for (std::string target :
             {"http://evil#/who", "http://e.com:abc/who", "http://e.com%00/who"}) {
            std::string r =
                exchange(runner.port(), "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
            CAPTURE(target, r);
            CHECK(r.rfind("HTTP/1.1 400", 0) == 0);
        }
        for (std::string host : {"example.com:8080", "[::1]:80", "127.0.0.1", ""}) {
            std::string r = exchange(runner.port(), "GET /who HTTP/1.1\r\nHost: " + host +
                                                        "\r\nConnection: close\r\n\r\n");
            CAPTURE(host, r);
            CHECK(r.rfind("HTTP/1.1 200", 0) == 0);
        }
    });
}

TEST_CASE("a request line of exactly max_field_size bytes is served; one more byte is 414",
          "[http][server][framing]") {
    with_server([](aio::http::app_runner& runner) {
        // "GET /x...x HTTP/1.1": 4 + target + 9 bytes.
        std::string fits = "GET /" + std::string(8190 - 4 - 9 - 1, 'x') + " HTTP/1.1";
        REQUIRE(fits.size() == 8190);
        std::string r = exchange(runner.port(), fits + "\r\nHost: x\r\nConnection: close\r\n\r\n");
        CHECK(r.rfind("HTTP/1.1 404", 0) == 0);
        std::string over = "GET /" + std::string(8190 - 4 - 9, 'x') + " HTTP/1.1";
        r = exchange(runner.port(), over + "\r\nHost: x\r\n\r\n");
        CHECK(r.rfind("HTTP/1.1 414", 0) == 0);
    });
}

TEST_CASE("a trailer Connection: close does not close the connection", "[http][server][framing]") {
    with_server([](aio::http::app_runner& runner) {
        std::string r = exchange(runner.port(),
                                 "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                 "\r\n1\r\na\r\n0\r\nConnection: close\r\n\r\nGET /users/5 "
                                 "HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        CHECK(status_lines(r) == 2);
        CHECK(r.find("user 5") != std::string::npos);
    });
}
