// libFuzzer harness of the HTTP server's request path: an input is the bytes a client sends
// on one connection. Each input runs in a loop of its own (aio::run): an app_runner serves
// the application below on a Unix socket, a peer task writes the input (at once, or line by
// line: fuzz_support.hpp) and half-closes the connection, and the main task reads
// everything the server answers until it closes.
//
// Findings: a crash or a sanitizer report (ASan, UBSan, LeakSanitizer); a connection the
// server keeps open past its own timeouts (the peer gives up after 3 s and aborts); an answer
// that does not begin with a status line; anything that reaches the loop's exception handler
// except the deliberate failure of /boom and a write to a peer that went away. Semantic bugs,
// such as a smuggled request answered as a second one, are not detected here: the tests of
// tests/runtime/test_http_server.cpp check the answers to those exact bytes.
//
// Built two ways (tests/fuzz/CMakeLists.txt): under the fuzz preset with libFuzzer's main
// (tools/fuzz), and everywhere else with replay_main.cpp, which runs every input of
// tests/fuzz/corpus/server once, as a ctest test.
#include "fuzz_support.hpp"

#include <aio/aio.hpp>
#include <aio/http/server.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include <unistd.h>

using namespace std::chrono_literals;
namespace http = aio::http;

namespace {

// What /boom throws: the one handler failure the exception handler may see.
struct deliberate_handler_bug : std::runtime_error {
    deliberate_handler_bug()
        : std::runtime_error("deliberate failure of /boom") {}
};

[[noreturn]] void finding(const std::string& what) {
    aio::fuzz::finding("fuzz_http_server", what);
}

// Sends `data` as chunks of at most `piece` bytes; the last write may be empty.
void write_in_pieces(http::response& r, std::string_view data, std::size_t piece) {
    for (std::size_t at = 0; at < data.size(); at += piece) {
        r.write(data.substr(at, piece));
    }
    r.write("");  // does nothing, by contract
}

void add_routes(http::application& app) {
    // Everything the request accessors return, so that each of them runs on fuzzed input.
    app.add_get("/echo", [](http::request& req) {
        std::string out = req.method() + " " + req.target() + "\npath " + req.path() + "\nquery " +
                          std::string(req.query_string()) + "\n";
        for (const auto& [name, value] : req.query()) {
            out += "q " + name + "=" + value + "\n";
        }
        out += "a=" + std::string(req.query("a").value_or("-")) + "\n";
        for (const auto& [name, value] : req.headers()) {
            out += "h " + name + ": " + value + "\n";
        }
        for (const auto& [name, value] : req.trailers()) {
            out += "t " + name + ": " + value + "\n";
        }
        out += "host " + std::string(req.headers().value("Host", "-")) + "\n";
        out += "version " + std::to_string(req.version()) + "\n";
        out += req.keep_alive() ? "keep-alive\n" : "close\n";
        out += "peer " + req.peer() + "\n";
        return http::response::text(std::move(out));
    });
    app.add_post("/echo", [](http::request& req) {
        http::response r(201, req.text(), "application/octet-stream");
        r.headers().add("X-Length", std::to_string(req.bytes().size()));
        r.headers().add("X-Trailers", std::to_string(req.trailers().size()));
        return r;
    });
    app.add_get("/users/{id}", [](http::request& req) {
        return http::response::text("user " + std::string(req.match_info("id")));
    });
    app.add_get("/static/{tail:*}", [](http::request& req) {
        return http::response::json("\"" + std::string(req.match_info("tail")) + "\"");
    });
    // A streamed body with a Content-Length (prepare, write, write_eof).
    app.add_get("/stream", [](http::request& req) {
        std::string body = req.target() + "\n" + std::string(req.headers().value("Host"));
        http::response r;
        r.headers().set("Content-Type", "text/plain");
        r.headers().set("Content-Length", std::to_string(body.size()));
        r.prepare(req);
        write_in_pieces(r, body, 7);
        r.write_eof();
        return r;
    });
    // A streamed body without a length: chunked to HTTP/1.1, close-delimited to HTTP/1.0.
    // Any method; it sends the request body back (the target when there is none).
    app.add_route("*", "/chunked", [](http::request& req) {
        http::response r;
        r.headers().set("Content-Type", "application/octet-stream");
        r.prepare(req);
        write_in_pieces(r, req.text().empty() ? req.target() : req.text(), 1000);
        return r;  // the server ends the body
    });
    // A header value taken from the request: fields::set refuses what would split the answer.
    app.add_get("/header", [](http::request& req) {
        http::response r = http::response::text("ok");
        try {
            r.headers().set("X-Echo", req.headers().value("X-Echo"));
        } catch (const aio::value_error&) {
            throw http::http_error(400, "bad X-Echo");
        }
        return r;
    });
    app.add_get("/error", [](http::request&) -> http::response {
        throw http::http_error(418, "", {{"X-Why", "fuzz"}});
    });
    app.add_get("/boom", [](http::request&) -> http::response { throw deliberate_handler_bug(); });
    app.add_put("/items/{id}", [](http::request& req) {
        return http::response::json("{\"id\":\"" + std::string(req.match_info("id")) + "\"}", 200);
    });
    // The first middleware answers /mw itself; both add a header to every other answer.
    app.add_middleware([](http::request& req, const http::handler& next) {
        if (req.path() == "/mw") {
            return http::response::text("from the middleware");
        }
        http::response r = next(req);
        if (!r.prepared()) {
            r.headers().set("X-Outer", "1");
        }
        return r;
    });
    app.add_middleware([](http::request& req, const http::handler& next) {
        http::response r = next(req);
        if (!r.prepared()) {
            r.headers().add("X-Inner", "1");
        }
        return r;
    });
}

http::application& fuzz_app() {
    // One application for every input; each input gets a runner of its own, and the
    // application outlives them all.
    static http::application app;
    static const bool routes_added = (add_routes(app), true);
    (void)routes_added;
    return app;
}

http::serve_options fuzz_serve_options() {
    // Short timeouts: an input that leaves a request unfinished costs milliseconds, not the
    // default 30 s. The peer half-closes after the input, so most inputs end on EOF anyway.
    http::serve_options o;
    o.keepalive_timeout = 20ms;
    o.header_timeout = 20ms;
    o.body_timeout = 50ms;
    o.client_max_size = 64 * 1024;  // below the 128 KiB max_len: the 413 path is reachable
    o.shutdown_timeout = 100ms;
    o.server.connection.read_timeout = 50ms;
    o.server.connection.write_timeout = 500ms;
    o.print_banner = false;
    return o;
}

const std::string& socket_path() {
    // One per process: libFuzzer's -jobs runs several processes side by side.
    static const std::string path = "/tmp/aio-fuzz-http-server-" + std::to_string(::getpid());
    return path;
}

void on_loop_exception(aio::loop&, const aio::exception_context& ctx) {
    try {
        if (ctx.exception) {
            std::rethrow_exception(ctx.exception);
        }
    } catch (const deliberate_handler_bug&) {
        return;
    } catch (const std::system_error&) {
        return;  // a write to the peer failed: it had gone (reset after an error answer)
    } catch (const std::exception& e) {
        finding("the loop's exception handler got '" + ctx.message + "': " + e.what());
    } catch (...) {
        finding("the loop's exception handler got '" + ctx.message + "': a non-std exception");
    }
    finding("the loop's exception handler got '" + ctx.message + "' without an exception");
}

// Runs one input against a fresh runner; returns what the server sent.
std::string exchange(std::string_view input) {
    aio::get_running_loop().set_exception_handler(on_loop_exception);
    http::app_runner runner(fuzz_app(), fuzz_serve_options());
    runner.start_unix(socket_path());
    std::string answer;
    {
        aio::stream peer = aio::open_unix_connection(socket_path());
        auto writer = aio::create_task([&] {
            try {
                aio::fuzz::write_input(peer, input);
                peer.write_eof();
            } catch (const std::system_error&) {
                // The server closed first (after an error answer) with input still unsent.
            }
        });
        try {
            aio::timeout(3s, [&] {
                for (;;) {
                    std::string part = peer.read(64 * 1024);
                    if (part.empty()) {
                        break;
                    }
                    answer += part;
                }
            });
        } catch (const aio::timeout_error&) {
            finding("the server kept the connection open for 3 s past the input (a hang); "
                    "answer so far: " +
                    std::to_string(answer.size()) + " bytes");
        } catch (const std::system_error&) {
            // Reset by the server after an error answer, with our input unread: expected.
        }
        if (!writer.done()) {
            writer.cancel("the server closed the connection");
        }
        writer.wait_done();
        if (!writer.cancelled()) {
            writer.get();
        }
        peer.abort();
    }
    runner.cleanup();
    return answer;
}

void check_answer(const std::string& answer) {
    if (aio::fuzz::show()) {
        std::fprintf(stderr, "---- answer (%zu bytes)\n%s\n", answer.size(), answer.c_str());
    }
    if (!answer.empty() && answer.rfind("HTTP/1.1 ", 0) != 0 && answer.rfind("HTTP/1.0 ", 0) != 0) {
        finding("the answer does not begin with a status line: '" + answer.substr(0, 40) + "'");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    aio::run_options ro;
    ro.handle_signals = false;
    ro.main_name = "fuzz peer";
    try {
        check_answer(aio::run([&] { return exchange(input); }, std::move(ro)));
    } catch (const std::exception& e) {
        finding(std::string("an exception escaped the exchange: ") + e.what());
    }
    return 0;
}
