// HTTPS: aio::http's client and server over TLS, against each other and against real peers
// (curl --cacert and aiohttp's client against our server; our client against an aiohttp
// server and `openssl s_server -www`). Certificates are made at run time (tls_peers.cpp); a
// peer that is not installed is skipped with a warning.
#include "support.hpp"
#include "tls_peers.hpp"

#include <aio/http/client.hpp>
#include <aio/http/server.hpp>
#include <aio/ssl.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

using namespace std::chrono_literals;
using aio::ssl_context;
using aio::http::application;
using aio::http::client_session;
using aio::http::request;
using aio::http::response;
using aio::test::run_test;

namespace {

const aio::test::test_options real_time{.virtual_time = false};

constexpr const char* curl_path = "/usr/bin/curl";
constexpr const char* python_path = "/usr/bin/python3";
constexpr const char* openssl_path = "/usr/bin/openssl";

const aio::test::test_certificates* certs_or_skip() {
    const auto* c = aio::test::certificates();
    if (c == nullptr) {
        WARN("skipped: /usr/bin/openssl is missing or could not make the test certificates");
    }
    return c;
}

// Asked once, before any loop runs (a blocking std::system is fine there).
bool have_aiohttp() {
    static const bool yes =
        aio::test::have_program(python_path) &&
        std::system("/usr/bin/python3 -c 'import importlib.util, sys; "  // NOLINT
                    "sys.exit(importlib.util.find_spec(\"aiohttp\") is None)' >/dev/null 2>&1") ==
            0;
    return yes;
}

ssl_context trusting(const aio::test::test_certificates& c) {
    return ssl_context::client().load_verify_file(c.ca);
}

// A shell command's standard output and error, run on the default executor (the loop keeps
// serving) and killed after 5 s.
std::string run_shell(const std::string& cmd) {
    return aio::to_thread([cmd] {
        std::string out;
        FILE* p = ::popen(("/usr/bin/timeout -k 1 5 " + cmd + " 2>&1").c_str(), "r");
        if (p == nullptr) {
            return std::string("popen failed");
        }
        char buf[4096];
        std::size_t n = 0;
        while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
            out.append(buf, n);
        }
        ::pclose(p);
        return out;
    });
}

void add_routes(application& app) {
    app.add_get("/hello", [](request&) { return response::text("Hello, World!"); });
    app.add_get("/peer", [](request& req) { return response::text(req.peer()); });
    app.add_get("/host", [](request& req) {
        return response::text(std::string(req.headers().value("Host")));
    });
    app.add_post("/echo", [](request& req) { return response::text("echo:" + req.text()); });
    app.add_get("/stream", [](request& req) {
        response r;
        r.prepare(req);
        for (int i = 0; i < 3; ++i) {
            r.write("part " + std::to_string(i) + "\n");
        }
        r.write_eof();
        return r;
    });
}

// Runs `body(base_url)` with our HTTPS server on a free loopback port, presenting
// `cert`/`key`.
void with_https_server(const std::string& cert, const std::string& key,
                       const std::function<void(const std::string&)>& body) {
    run_test(
        [&] {
            application app;
            add_routes(app);
            aio::http::app_runner runner(app, {.ssl = ssl_context::server(cert, key)});
            runner.start("127.0.0.1", 0);
            try {
                body("https://localhost:" + std::to_string(runner.port()));
            } catch (...) {
                runner.cleanup();
                throw;
            }
            runner.cleanup();
        },
        real_time);
}

}  // namespace

TEST_CASE("client_session speaks HTTPS to an aio server and keeps the connection alive",
          "[https][http][ssl]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    with_https_server(c->server, c->server_key, [&](const std::string& base) {
        client_session http({.ssl = trusting(*c)});
        auto r = http.get(base + "/hello");
        CHECK(r.status() == 200);
        CHECK(r.text() == "Hello, World!");
        CHECK(http.get(base + "/host").text() == base.substr(8));  // localhost:port
        CHECK(http.post(base + "/echo", "sealed").text() == "echo:sealed");
        CHECK(http.get(base + "/stream").text() == "part 0\npart 1\npart 2\n");
        CHECK(http.connections_opened() == 1);
        CHECK(http.get(base + "/peer").text() == http.get(base + "/peer").text());
        http.close();
    });
}

TEST_CASE("client_session verifies against the system CA store by default", "[https][ssl]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    with_https_server(c->server, c->server_key, [&](const std::string& base) {
        client_session http;
        try {
            (void)http.get(base + "/hello");
            FAIL("a certificate from an unknown CA was accepted");
        } catch (const aio::ssl_cert_verification_error& e) {
            CHECK_THAT(e.what(), Catch::StartsWith("GET " + base + "/hello: TLS handshake with "));
            CHECK_THAT(e.what(),
                       Catch::Contains("certificate verify failed: unable to get local issuer"));
        }
        http.close();
    });
}

TEST_CASE("expired, wrong-host and self-signed certificates fail the request with the reason",
          "[https][ssl]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    auto refused = [&](const std::string& cert, const std::string& key) {
        std::string message = "no error";
        with_https_server(cert, key, [&](const std::string& base) {
            client_session http({.ssl = trusting(*c)});
            try {
                (void)http.get(base + "/hello").text();
            } catch (const aio::ssl_cert_verification_error& e) {
                message = e.what();
            }
            http.close();
        });
        return message;
    };
    CHECK_THAT(refused(c->expired, c->expired_key), Catch::Contains("certificate has expired"));
    CHECK_THAT(refused(c->wrong_host, c->wrong_host_key), Catch::Contains("hostname mismatch"));
    CHECK_THAT(refused(c->self_signed, c->self_signed_key),
               Catch::Contains("self-signed certificate"));
}

TEST_CASE("a request's own ssl context wins and gets connections of its own", "[https][ssl]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    with_https_server(c->self_signed, c->self_signed_key, [&](const std::string& base) {
        client_session http({.ssl = trusting(*c)});
        CHECK_THROWS_AS(http.get(base + "/hello"), aio::ssl_cert_verification_error);
        auto insecure = ssl_context::client().set_verify(false);
        CHECK(http.get(base + "/hello", {.ssl = insecure}).text() == "Hello, World!");
        CHECK(http.get(base + "/hello", {.ssl = insecure}).text() == "Hello, World!");
        CHECK(http.connections_opened() == 1);  // the failed one never counted
        // The pooled insecure connection must not carry a verifying request.
        CHECK_THROWS_AS(http.get(base + "/hello"), aio::ssl_cert_verification_error);
        http.close();
    });
}

TEST_CASE("curl --cacert talks HTTPS to an aio server", "[https][interop]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    if (!aio::test::have_program(curl_path)) {
        WARN("skipped: " << curl_path << " is missing");
        return;
    }
    with_https_server(c->server, c->server_key, [&](const std::string& base) {
        // Two URLs on one command line: curl reuses the connection (keep-alive over TLS).
        std::string out = run_shell(std::string(curl_path) + " -sS --cacert " + c->ca + " " + base +
                                    "/hello " + base + "/peer -w ' %{http_code}\\n'");
        CHECK_THAT(out, Catch::StartsWith("Hello, World! 200\n127.0.0.1:"));
        // Without the CA, curl refuses our certificate.
        std::string refused = run_shell(std::string(curl_path) + " -sS " + base + "/hello");
        CHECK_THAT(refused, Catch::Contains("certificate"));
    });
}

TEST_CASE("aiohttp's client talks HTTPS to an aio server", "[https][interop]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    if (!have_aiohttp()) {
        WARN("skipped: python3 with aiohttp is missing");
        return;
    }
    with_https_server(c->server, c->server_key, [&](const std::string& base) {
        std::string script = R"PY(
import asyncio, ssl, sys
import aiohttp

async def main():
    ctx = ssl.create_default_context(cafile=sys.argv[1])
    async with aiohttp.ClientSession() as s:
        peers = []
        for path in ('/hello', '/peer', '/peer'):
            async with s.get(sys.argv[2] + path, ssl=ctx) as r:
                body = await r.text()
                if path == '/hello':
                    print(r.status, body)
                else:
                    peers.append(body)
        print('one connection' if peers[0] == peers[1] else 'two connections')

asyncio.run(main())
)PY";
        aio::test::peer_process py({python_path, "-c", script, c->ca, base});
        std::string hello = py.wait_for_line("200");
        std::string reuse = py.wait_for_line("connection");
        INFO(py.err());
        CHECK(hello == "200 Hello, World!");
        CHECK(reuse == "one connection");
    });
}

TEST_CASE("client_session talks HTTPS to an aiohttp server", "[https][interop]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    if (!have_aiohttp()) {
        WARN("skipped: python3 with aiohttp is missing");
        return;
    }
    std::string script = R"PY(
import asyncio, ssl, sys
from aiohttp import web

async def hello(request):
    return web.Response(text='Hello over TLS from aiohttp')

async def main():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    app = web.Application()
    app.add_routes([web.get('/hello', hello)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, '127.0.0.1', 0, ssl_context=ctx)
    await site.start()
    print('port', site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
)PY";
    aio::test::peer_process py({python_path, "-c", script, c->server, c->server_key});
    run_test(
        [&] {
            auto port = aio::test::port_in(py.wait_for_line("port"));
            INFO(py.err());
            REQUIRE(port != 0);
            client_session http({.ssl = trusting(*c)});
            std::string url = "https://localhost:" + std::to_string(port) + "/hello";
            CHECK(http.get(url).text() == "Hello over TLS from aiohttp");
            CHECK(http.get(url).text() == "Hello over TLS from aiohttp");
            CHECK(http.connections_opened() == 1);
            http.close();
        },
        real_time);
}

TEST_CASE("client_session reads a response from openssl s_server -www", "[https][interop]") {
    const auto* c = certs_or_skip();
    if (c == nullptr) {
        return;
    }
    aio::test::peer_process peer({openssl_path, "s_server", "-accept", "127.0.0.1:0", "-cert",
                                  c->server, "-key", c->server_key, "-www", "-naccept", "1"});
    run_test(
        [&] {
            auto port = aio::test::port_in(peer.wait_for_line("ACCEPT"));
            REQUIRE(port != 0);
            client_session http({.ssl = trusting(*c)});
            auto r = http.get("https://127.0.0.1:" + std::to_string(port) + "/");
            CHECK(r.status() == 200);
            // -www answers with a page describing the session: our protocol and cipher.
            CHECK_THAT(r.text(), Catch::Contains("TLSv1.3"));
            http.close();
        },
        real_time);
}
