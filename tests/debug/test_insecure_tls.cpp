// insecure-tls: a TLS client connection with certificate verification off is a warning naming
// the line that opened it; one that verifies (against a CA it was given) is silent.
#include "debug_run.hpp"
#include "tls_peers.hpp"

#include <aio/aio.hpp>

#include <catch2/catch.hpp>

#include <string>

using aio::ssl_context;
using aio::test::debug_run;

namespace {

// A TLS server on a free loopback port answering one line with "ok", and a client opening a
// connection to it with `client`, as a program would.
void talk(const aio::test::test_certificates& c, const ssl_context& client) {
    auto srv = aio::start_server(
        [](aio::stream& s) {
            (void)s.read_line();
            s.write("ok\n");
        },
        "127.0.0.1", 0, {.ssl = ssl_context::server(c.server, c.server_key)});
    auto s = aio::open_connection("localhost", srv.port(), {.ssl = client});  // opened here
    s.write("hi\n");
    (void)s.read_line();
    s.close();
    srv.close();
    srv.wait_closed();
}

}  // namespace

TEST_CASE("insecure-tls: a connection with verification off is reported with its line",
          "[debug][insecure-tls]") {
    const auto* c = aio::test::certificates();
    if (c == nullptr) {
        WARN("skipped: /usr/bin/openssl is missing or could not make the test certificates");
        return;
    }
    auto r =
        debug_run([&] { talk(*c, ssl_context::client().set_verify(false)); }, "only=insecure-tls");
    INFO(r.err);
    CHECK(r.count("insecure-tls") == 1);
    CHECK_THAT(r.err, Catch::Contains("[insecure-tls] TLS connection to localhost") &&
                          Catch::Contains("with certificate verification off") &&
                          Catch::Contains("test_insecure_tls.cpp:26 (talk)"));
}

TEST_CASE("insecure-tls stays silent for a connection that verifies", "[debug][insecure-tls]") {
    const auto* c = aio::test::certificates();
    if (c == nullptr) {
        WARN("skipped: /usr/bin/openssl is missing or could not make the test certificates");
        return;
    }
    auto r = debug_run([&] { talk(*c, ssl_context::client().load_verify_file(c->ca)); },
                       "only=insecure-tls");
    INFO(r.err);
    CHECK(r.count("insecure-tls") == 0);
}
