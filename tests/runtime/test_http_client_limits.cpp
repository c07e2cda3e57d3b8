// aio::http::client_session's memory stays bounded whatever a server sends: an endless chunk
// extension or trailer section is a protocol_error, and max_body_size caps what text(),
// bytes() and read_chunk() take. Raw loopback servers play the hostile server.
#include "support.hpp"

#include <aio/http/client.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace std::chrono_literals;
using aio::http::client_session;
using aio::test::run_test;

namespace {

const aio::test::test_options real_time{.virtual_time = false};

// A server that reads the request head, sends `head`, then `filler` bytes of 'a' in 64 KiB
// writes, then waits for the client to close.
aio::server hostile_server(std::string head, std::size_t filler) {
    return aio::start_server(
        [head, filler](aio::stream& s) {
            try {
                (void)s.read_until("\r\n\r\n", 5s);
                s.write(head);
                std::string part(64 * 1024, 'a');
                for (std::size_t sent = 0; sent < filler; sent += part.size()) {
                    s.write(part, 5s);
                }
                (void)s.read(1, 5s);
            } catch (...) {
                // The client gave up: what the test wants.
            }
        },
        "127.0.0.1", 0);
}

std::string url_of(const aio::server& srv) {
    return "http://127.0.0.1:" + std::to_string(srv.port()) + "/";
}

}  // namespace

TEST_CASE("an endless chunk extension from a server is a protocol_error, not endless memory",
          "[http][client][limits]") {
    run_test(
        [] {
            // 8 MiB of extension, then silence: before, the client buffered all of it and
            // then timed out.
            auto srv = hostile_server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=",
                                      8u << 20);
            client_session http({.timeouts = {.read = 1500ms}});
            auto r = http.get(url_of(srv));
            CHECK(r.status() == 200);
            CHECK_THROWS_WITH(r.read_chunk(100), Catch::Contains("chunk line or a trailer") &&
                                                     Catch::Contains("64 KiB"));
            r.release();
            http.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("an endless trailer section from a server is a protocol_error",
          "[http][client][limits]") {
    run_test(
        [] {
            auto srv = hostile_server(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: ",
                8u << 20);
            client_session http({.timeouts = {.read = 1500ms}});
            auto r = http.get(url_of(srv));
            CHECK_THROWS_AS(r.text(), aio::http::protocol_error);
            r.release();
            http.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("max_body_size caps text() and read_chunk(), and a request may lift it",
          "[http][client][limits]") {
    run_test(
        [] {
            auto sized = hostile_server("HTTP/1.1 200 OK\r\nContent-Length: 2000\r\nConnection: "
                                        "close\r\n\r\n" +
                                            std::string(2000, 'b'),
                                        0);
            auto chunked = hostile_server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                          "Connection: close\r\n\r\n400\r\n" +
                                              std::string(1024, 'c') + "\r\n400\r\n" +
                                              std::string(1024, 'c') + "\r\n0\r\n\r\n",
                                          0);
            client_session http({.max_body_size = 1000});
            auto r = http.get(url_of(sized));
            CHECK(r.status() == 200);  // the head arrives; the body is refused
            CHECK_THROWS_AS(r.text(), aio::http::body_too_large_error);
            r.release();
            auto c = http.get(url_of(chunked));
            std::size_t got = 0;
            try {
                for (std::string part = c.read_chunk(300); !part.empty();
                     part = c.read_chunk(300)) {
                    CHECK(part.size() <= 300);
                    got += part.size();
                }
                FAIL("the chunked body passed max_body_size");
            } catch (const aio::http::body_too_large_error& e) {
                CHECK(std::string(e.what()).find("max_body_size (1000 bytes)") !=
                      std::string::npos);
                CHECK(std::string(e.what()).find(url_of(chunked)) != std::string::npos);
            }
            CHECK(got <= 1000 + 300);
            c.release();
            CHECK(http.get(url_of(sized), {.max_body_size = 0}).text().size() == 2000);
            http.close();
            for (auto* s : {&sized, &chunked}) {
                s->close();
                s->wait_closed();
            }
        },
        real_time);
}

TEST_CASE("max_body_size ignores the Content-Length of answers that have no body",
          "[http][client][limits]") {
    run_test(
        [] {
            auto head = hostile_server("HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n", 0);
            auto not_modified =
                hostile_server("HTTP/1.1 304 Not Modified\r\nContent-Length: 10000000\r\n\r\n", 0);
            client_session http({.max_body_size = 1000});
            auto h = http.request("HEAD", url_of(head));
            CHECK(h.text().empty());
            auto n = http.get(url_of(not_modified));
            CHECK(n.status() == 304);
            CHECK(n.text().empty());
            http.close();
            for (auto* s : {&head, &not_modified}) {
                s->close();
                s->wait_closed();
            }
        },
        real_time);
}

TEST_CASE("a response header field longer than 8190 bytes is read, within the 64 KiB head",
          "[http][client][limits]") {
    run_test(
        [] {
            auto srv = hostile_server("HTTP/1.1 200 OK\r\nX-Big: " + std::string(9000, 'a') +
                                          "\r\nContent-Length: 2\r\n\r\nok",
                                      0);
            client_session http;
            auto r = http.get(url_of(srv));
            CHECK(r.headers().value("X-Big").size() == 9000);
            CHECK(r.text() == "ok");
            http.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("a chunked response cut after its last chunk line is a protocol_error",
          "[http][client][limits]") {
    run_test(
        [] {
            // Found by the fuzzer: the head and "0\r\n" parsed in one go left the parser
            // asking for more, and the client fed it the same bytes again (Beast asserts).
            auto srv = aio::start_server(
                [](aio::stream& s) {
                    (void)s.read_until("\r\n\r\n", 5s);
                    s.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n");
                    s.close();
                },
                "127.0.0.1", 0);
            client_session http;
            auto r = http.get(url_of(srv));
            CHECK_THROWS_WITH(r.text(), Catch::Contains("closed the connection"));
            http.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}
