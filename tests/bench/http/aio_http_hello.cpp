// aio's server in the HTTP benchmark (tools/bench/http): an aio::http::application with one
// GET "/" route answering "Hello, World!" as text/plain, served by an app_runner with the
// default options (keep-alive, limits and timeouts as a user would get them).
//
// Usage: aio_bench_http_hello [--host 127.0.0.1] [--port 0] [--tls-cert C --tls-key K]
// With a certificate and key (PEM) it serves HTTPS (serve_options::ssl). The first line on stdout
// is the bound port (an app_runner rather than run_app(), so that port 0 works: run_app() does not
// say which port it bound). Runs until Ctrl-C (aio::run cancels the main task, which shuts the
// runner down gracefully) or SIGTERM (the default action).
#include <aio/aio.hpp>
#include <aio/http/server.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
    const char* usage = "usage: aio_bench_http_hello [--host H] [--port P] [--tls-cert C "
                        "--tls-key K]\n";
    std::string host = "127.0.0.1";
    int port = 0;
    std::string cert;
    std::string key;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--host") == 0) {
            host = argv[i + 1];
        } else if (std::strcmp(argv[i], "--port") == 0) {
            port = std::atoi(argv[i + 1]);
        } else if (std::strcmp(argv[i], "--tls-cert") == 0) {
            cert = argv[i + 1];
        } else if (std::strcmp(argv[i], "--tls-key") == 0) {
            key = argv[i + 1];
        } else {
            std::fprintf(stderr, "%s", usage);
            return 2;
        }
    }
    if (argc % 2 == 0 || cert.empty() != key.empty()) {
        std::fprintf(stderr, "%s", usage);
        return 2;
    }

    aio::http::application app;
    app.add_get("/",
                [](aio::http::request&) { return aio::http::response::text("Hello, World!"); });
    try {
        aio::run([&] {
            aio::http::serve_options options{.print_banner = false};
            if (!cert.empty()) {
                options.ssl = aio::ssl_context::server(cert, key);
            }
            aio::http::app_runner runner(app, options);
            runner.start(host, static_cast<std::uint16_t>(port));
            std::printf("%u\n", runner.port());
            std::fflush(stdout);
            try {
                aio::sleep(aio::no_timeout);  // serve until cancelled (Ctrl-C)
            } catch (...) {
                runner.cleanup();  // graceful shutdown, then let the cancellation go on
                throw;
            }
        });
    } catch (const aio::interrupted_error&) {
    }
    return 0;
}
