// TLS streams: aio against aio (every stream method over TLS, start_tls, mutual TLS), against
// `openssl s_server` and `openssl s_client`, and against Python's ssl module; certificates
// that must be refused (expired, another host, self-signed, an unknown CA) and the messages
// that say why. Certificates are made at run time by the openssl command (tls_peers.cpp); a
// peer that is not installed is skipped with a warning.
#include "support.hpp"
#include "tls_peers.hpp"

#include <aio/server.hpp>
#include <aio/ssl.hpp>
#include <aio/stream.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace std::chrono_literals;
using aio::ssl_context;
using aio::test::run_test;

namespace {

const aio::test::test_options real_time{.virtual_time = false};

constexpr const char* openssl_path = "/usr/bin/openssl";
constexpr const char* python_path = "/usr/bin/python3";

const aio::test::test_certificates* certs_or_skip() {
    const auto* c = aio::test::certificates();
    if (c == nullptr) {
        WARN("skipped: /usr/bin/openssl is missing or could not make the test certificates");
    }
    return c;
}

ssl_context trusting(const aio::test::test_certificates& c) {
    return ssl_context::client().load_verify_file(c.ca);
}

// A server on a free loopback port whose connections speak TLS with `cert`/`key` and echo
// each line back upper-cased, until EOF.
aio::server upper_echo(const ssl_context& tls) {
    return aio::start_server(
        [](aio::stream& s) {
            for (std::string line = s.read_line(); !line.empty(); line = s.read_line()) {
                for (char& ch : line) {
                    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
                }
                s.write(line);
            }
        },
        "127.0.0.1", 0, {.ssl = tls});
}

void stop(aio::server& srv) {
    srv.close();
    srv.wait_closed();
}

// What the handshake of a client trusting the test CA says about a server presenting
// `cert`/`key` and reached as `host`.
std::string refusal(const aio::test::test_certificates& c, const std::string& cert,
                    const std::string& key, const std::string& host, long* code = nullptr) {
    std::string message;
    run_test(
        [&] {
            auto srv = upper_echo(ssl_context::server(cert, key));
            try {
                auto s = aio::open_connection(host, srv.port(), {.ssl = trusting(c)});
                s.close();
                message = "no error";
            } catch (const aio::ssl_cert_verification_error& e) {
                message = e.what();
                if (code != nullptr) {
                    *code = e.verify_code();
                }
            }
            stop(srv);
        },
        real_time);
    return message;
}

}  // namespace

TEST_CASE("every stream method works over TLS between an aio client and an aio server",
          "[ssl][stream]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    run_test(
        [&] {
            const std::string big(1 << 20, 'x');  // more than the high-water mark: backpressure
            auto srv = aio::start_server(
                [&](aio::stream& s) {
                    CHECK(s.tls_version() == "TLSv1.3");
                    CHECK(s.read_line() == "hello\n");
                    CHECK(s.read_until("END") == "a;b;END");
                    CHECK(s.read_exactly(big.size()) == big);
                    s.write("line one\nline two\n");
                    s.write(big);
                    char buf[8];
                    CHECK(s.read_into(buf) == 0);  // the client's write_eof: close_notify
                    CHECK(s.at_eof());
                    s.write("after eof\n");  // TLS 1.3 half-close: we may still write
                },
                "127.0.0.1", 0, {.ssl = ssl_context::server(c->server, c->server_key)});
            auto s = aio::open_connection("localhost", srv.port(), {.ssl = trusting(*c)});
            CHECK(s.tls_version() == "TLSv1.3");
            s.write("hello\n");
            s.write("a;b;END");
            s.write(big);
            s.drain();
            CHECK(s.read_line() == "line one\n");
            CHECK(s.read(4) == "line");
            CHECK(s.read_until("\n") == " two\n");
            CHECK(s.read_exactly(big.size()) == big);
            s.write_eof();
            CHECK(s.read_line() == "after eof\n");
            CHECK(s.read(10).empty());  // the server's close() sent close_notify
            CHECK(s.at_eof());
            s.close();
            stop(srv);
            CHECK(srv.failed_handshakes() == 0);
        },
        real_time);
}

TEST_CASE("start_tls upgrades a plain connection after a STARTTLS exchange", "[ssl][stream]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    run_test(
        [&] {
            auto server_tls = ssl_context::server(c->server, c->server_key);
            auto srv = aio::start_server(
                [&](aio::stream& s) {
                    CHECK(s.read_line() == "STARTTLS\n");
                    s.write("OK\n");
                    s.start_tls(server_tls);
                    CHECK(s.tls_version().starts_with("TLS"));
                    s.write("secret: " + s.read_line());
                },
                "127.0.0.1", 0);
            auto s = aio::open_connection("127.0.0.1", srv.port());
            CHECK(s.tls_version().empty());
            s.write("STARTTLS\n");
            CHECK(s.read_line() == "OK\n");
            s.start_tls(trusting(*c), "localhost");
            s.write("42\n");
            CHECK(s.read_line() == "secret: 42\n");
            CHECK_THROWS_AS(s.start_tls(trusting(*c), "localhost"), aio::invalid_state_error);
            s.close();
            stop(srv);
        },
        real_time);
}

TEST_CASE("start_tls refuses a verifying client context without a name and unread bytes",
          "[ssl][stream]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    run_test(
        [&] {
            auto srv = aio::start_server(
                [](aio::stream& s) {
                    s.write("early bytes\n");
                    (void)s.read(1);
                },
                "127.0.0.1", 0);
            auto s = aio::open_connection("127.0.0.1", srv.port());
            CHECK_THROWS_WITH(s.start_tls(trusting(*c)), Catch::Contains("server_hostname"));
            CHECK(s.read(5) == "early");
            CHECK_THROWS_WITH(s.start_tls(trusting(*c), "localhost"),
                              Catch::Contains("were received and not read"));
            s.close();
            stop(srv);
        },
        real_time);
}

TEST_CASE("an expired certificate is refused with OpenSSL's reason", "[ssl]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    long code = 0;
    std::string m = refusal(*c, c->expired, c->expired_key, "localhost", &code);
    CHECK_THAT(m, Catch::Contains("TLS handshake with localhost:") &&
                      Catch::Contains("certificate verify failed: certificate has expired"));
    CHECK(code == 10);  // X509_V_ERR_CERT_HAS_EXPIRED
}

TEST_CASE("a certificate for another host is refused as a hostname mismatch", "[ssl]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    CHECK_THAT(refusal(*c, c->wrong_host, c->wrong_host_key, "localhost"),
               Catch::Contains("hostname mismatch"));
    // An IP address is checked against the certificate's IP addresses.
    CHECK_THAT(refusal(*c, c->wrong_host, c->wrong_host_key, "127.0.0.1"),
               Catch::Contains("IP address mismatch"));
    CHECK(refusal(*c, c->server, c->server_key, "127.0.0.1") == "no error");
}

TEST_CASE("a self-signed certificate is refused unless verification is off", "[ssl]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    CHECK_THAT(refusal(*c, c->self_signed, c->self_signed_key, "localhost"),
               Catch::Contains("certificate verify failed: self-signed certificate"));
    run_test(
        [&] {
            auto srv = upper_echo(ssl_context::server(c->self_signed, c->self_signed_key));
            auto insecure = ssl_context::client().set_verify(false);
            CHECK_FALSE(insecure.verify());
            auto s = aio::open_connection("localhost", srv.port(), {.ssl = insecure});
            s.write("hi\n");
            CHECK(s.read_line() == "HI\n");
            s.close();
            // The system CA store does not know the test CA either.
            CHECK_THROWS_WITH(
                aio::open_connection("localhost", srv.port(), {.ssl = ssl_context::client()}),
                Catch::Contains("self-signed certificate"));
            stop(srv);
        },
        real_time);
}

TEST_CASE("a server that requires a client certificate refuses a client without one", "[ssl]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    run_test(
        [&] {
            auto tls = ssl_context::server(c->server, c->server_key);
            tls.load_verify_file(c->ca).set_verify(true);
            auto srv = upper_echo(tls);
            auto with_cert = trusting(*c).load_cert_chain(c->client, c->client_key);
            auto s = aio::open_connection("localhost", srv.port(), {.ssl = with_cert});
            s.write("mutual\n");
            CHECK(s.read_line() == "MUTUAL\n");
            s.close();
            // TLS 1.3: the client's handshake ends before the server checks; the refusal
            // arrives as an alert on the first read.
            auto anonymous = aio::open_connection("localhost", srv.port(), {.ssl = trusting(*c)});
            anonymous.write("who\n");
            CHECK_THROWS_WITH(anonymous.read_line(), Catch::Contains("certificate required"));
            anonymous.abort();
            stop(srv);
            CHECK(srv.failed_handshakes() == 1);
        },
        real_time);
}

TEST_CASE("a TLS client to a plain server fails with OpenSSL's reason and the server counts a "
          "plain client to a TLS server",
          "[ssl]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    run_test(
        [&] {
            auto plain = aio::start_server(
                [](aio::stream& s) {
                    (void)s.read(1);
                    s.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
                },
                "127.0.0.1", 0);
            CHECK_THROWS_WITH(
                aio::open_connection("127.0.0.1", plain.port(), {.ssl = trusting(*c)}),
                Catch::Contains("TLS handshake with 127.0.0.1:") &&
                    Catch::Contains("wrong version number"));
            stop(plain);

            auto srv = upper_echo(ssl_context::server(c->server, c->server_key));
            auto s = aio::open_connection("127.0.0.1", srv.port());
            s.write("GET / HTTP/1.0\r\n\r\n");
            std::string got;
            for (std::string chunk = s.read(100); !chunk.empty(); chunk = s.read(100)) {
                got += chunk;  // an alert at most: the server closed the connection
            }
            CHECK(got.size() < 10);
            s.close();
            stop(srv);
            CHECK(srv.failed_handshakes() == 1);
        },
        real_time);
}

TEST_CASE("the handshake is bounded by connect_timeout on a client and read_timeout on a server",
          "[ssl][timeout]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    run_test(
        [&] {
            // A server that never answers the client's hello.
            auto mute = aio::start_server(
                [](aio::stream& s) {
                    while (!s.read(1 << 16, aio::no_timeout).empty()) {
                    }
                },
                "127.0.0.1", 0);
            CHECK_THROWS_WITH(aio::open_connection("127.0.0.1", mute.port(),
                                                   {.connect_timeout = 200ms, .ssl = trusting(*c)}),
                              Catch::Contains("TLS handshake with 127.0.0.1:") &&
                                  Catch::Contains("timed out after 200 ms (connect timeout"));
            mute.close_clients();
            stop(mute);
            // A client that never says hello.
            auto srv = aio::start_server([](aio::stream&) {}, "127.0.0.1", 0,
                                         {.connection = {.read_timeout = 300ms},
                                          .ssl = ssl_context::server(c->server, c->server_key)});
            auto s = aio::open_connection("127.0.0.1", srv.port());
            CHECK_THROWS_AS(s.read(1, 10s), std::system_error);  // reset after 300 ms
            CHECK(aio::test::since_start() >= 300ms);
            s.close();
            stop(srv);
            CHECK(srv.failed_handshakes() == 1);
        },
        real_time);
}

TEST_CASE("contexts name the file and OpenSSL's reason when they cannot load it", "[ssl]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    CHECK_THROWS_AS(ssl_context::server("/nonexistent/cert.pem", c->server_key), aio::ssl_error);
    CHECK_THROWS_WITH(ssl_context::server("/nonexistent/cert.pem", c->server_key),
                      Catch::Contains("'/nonexistent/cert.pem'") &&
                          Catch::Contains("No such file"));
    CHECK_THROWS_WITH(ssl_context::server(c->server, c->expired_key),
                      Catch::Contains("does not belong to the certificate"));
    CHECK_THROWS_WITH(ssl_context::client().load_verify_file(c->server_key),
                      Catch::Contains("load_verify_file"));
    auto a = ssl_context::client();
    auto b = a;
    b.set_verify(false);
    CHECK(a == b);
    CHECK_FALSE(a.verify());  // copies share the context
    run_test([&] {
        CHECK_THROWS_AS(aio::open_connection(
                            "127.0.0.1", 1, {.ssl = ssl_context::server(c->server, c->server_key)}),
                        aio::value_error);
        CHECK_THROWS_AS(
            aio::start_server([](aio::stream&) {}, "127.0.0.1", 0, {.ssl = ssl_context::client()}),
            aio::value_error);
    });
}

TEST_CASE("an aio TLS client talks to openssl s_server", "[ssl][interop]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    aio::test::peer_process peer({openssl_path, "s_server", "-accept", "127.0.0.1:0", "-cert",
                                  c->server, "-key", c->server_key, "-rev", "-naccept", "1"});
    run_test(
        [&] {
            auto port = aio::test::port_in(peer.wait_for_line("ACCEPT"));
            REQUIRE(port != 0);
            auto s = aio::open_connection("localhost", port, {.ssl = trusting(*c)});
            s.write("olleh\n");
            // -rev answers each line reversed, after a banner.
            std::string line;
            for (int i = 0; i < 5 && line != "hello\n"; ++i) {
                line = s.read_line(5s);
            }
            CHECK(line == "hello\n");
            s.close();
        },
        real_time);
}

TEST_CASE("openssl s_client verifies an aio TLS server", "[ssl][interop]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    run_test(
        [&] {
            auto srv = aio::start_server(
                [](aio::stream& s) {
                    s.write("hello from aio\n");
                    (void)s.read(100);
                },
                "127.0.0.1", 0, {.ssl = ssl_context::server(c->server, c->server_key)});
            std::string cmd = std::string("/usr/bin/timeout -k 1 5 ") + openssl_path +
                              " s_client -connect 127.0.0.1:" + std::to_string(srv.port()) +
                              " -CAfile " + c->ca +
                              " -verify_hostname localhost -verify_return_error -brief"
                              " </dev/null 2>&1";
            std::string out = aio::to_thread([cmd] {
                std::string r;
                FILE* p = ::popen(cmd.c_str(), "r");
                if (p != nullptr) {
                    char buf[1024];
                    std::size_t n = 0;
                    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
                        r.append(buf, n);
                    }
                    ::pclose(p);
                }
                return r;
            });
            CHECK_THAT(out, Catch::Contains("Verification: OK"));
            CHECK_THAT(out, Catch::Contains("Protocol version: TLSv1.3"));
            CHECK_THAT(out, Catch::Contains("Verified peername: localhost"));
            stop(srv);
        },
        real_time);
}

TEST_CASE("Python's ssl module talks to an aio TLS server", "[ssl][interop]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    if (!aio::test::have_program(python_path)) {
        WARN("skipped: " << python_path << " is missing");
        return;
    }
    run_test(
        [&] {
            auto srv = upper_echo(ssl_context::server(c->server, c->server_key));
            std::string script =
                "import socket, ssl, sys\n"
                "ctx = ssl.create_default_context(cafile=sys.argv[1])\n"
                "with socket.create_connection(('127.0.0.1', int(sys.argv[2]))) "
                "as raw:\n"
                "    with ctx.wrap_socket(raw, server_hostname='localhost') as s:\n"
                "        s.sendall(b'from python\\n')\n"
                "        data = b''\n"
                "        while not data.endswith(b'\\n'):\n"
                "            data += s.recv(100)\n"
                "        print(s.version(), data.decode().strip())\n";
            aio::test::peer_process py(
                {python_path, "-c", script, c->ca, std::to_string(srv.port())});
            std::string line = py.wait_for_line("FROM PYTHON");
            INFO(py.err());
            CHECK(line == "TLSv1.3 FROM PYTHON");
            stop(srv);
        },
        real_time);
}
