// libFuzzer harness of the HTTP client's response path: an input is the bytes a server sends
// in answer to a request, before it closes the connection. Each input runs in a loop of its
// own (aio::run): a raw server on 127.0.0.1 (port 0) reads each request head, answers every
// connection with the input (at once, or line by line: fuzz_support.hpp) and closes it, and a
// client_session fetches from it twice: once reading the body with text(), once with read_chunk()
// in a loop.
//
// Every aio error is an expected outcome (a malformed response is a protocol_error, a body
// cut short too, a silent server a timeout_error). Findings: a crash or a sanitizer report
// (ASan, UBSan, LeakSanitizer); a fetch that outlives the session's own total timeout by
// seconds (the harness aborts); read_chunk() returning more than it was asked for, or text()
// returning something the second time; anything reaching the loop's exception handler.
//
// Redirects are followed only when the input cannot name another host: it has neither
// "http:" (any case) nor "//" in it. Otherwise a fuzzed Location would send the client to a
// name resolution and to the network. The redirect then goes to the same server, which
// answers with the same bytes: max_redirects is 3.
//
// Built two ways (tests/fuzz/CMakeLists.txt): under the fuzz preset with libFuzzer's main
// (tools/fuzz), and everywhere else with replay_main.cpp, which runs every input of
// tests/fuzz/corpus/client once, as a ctest test.
#include "fuzz_support.hpp"

#include <aio/aio.hpp>
#include <aio/http/client.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

using namespace std::chrono_literals;
namespace http = aio::http;

namespace {

[[noreturn]] void finding(const std::string& what) {
    aio::fuzz::finding("fuzz_http_client", what);
}

bool contains_nocase(std::string_view haystack, std::string_view needle) {
    return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                       [](char a, char b) {
                           return std::tolower(static_cast<unsigned char>(a)) ==
                                  std::tolower(static_cast<unsigned char>(b));
                       }) != haystack.end();
}

void on_loop_exception(aio::loop&, const aio::exception_context& ctx) {
    std::string what = "no exception";
    try {
        if (ctx.exception) {
            std::rethrow_exception(ctx.exception);
        }
    } catch (const std::exception& e) {
        what = e.what();
    } catch (...) {
        what = "a non-std exception";
    }
    finding("the loop's exception handler got '" + ctx.message + "': " + what);
}

// The raw server's side of one connection: the request head, then the input, then the close.
void answer_with(aio::stream& s, std::string_view input) {
    try {
        (void)s.read_until("\r\n\r\n", 2s);
        aio::fuzz::write_input(s, input);
        s.close();
    } catch (const std::system_error&) {
        // The client hung up first (it stops reading at the first malformed byte).
    } catch (const aio::timeout_error&) {
    } catch (const aio::limit_overrun_error&) {
    } catch (const aio::incomplete_read_error&) {
        // The client closed a pooled connection without sending a request on it.
    }
}

http::client_options fuzz_client_options() {
    http::client_options o;
    // The server closes right after the input, so the read timeout only matters for a
    // response that claims more bytes than the input has, and then EOF comes first.
    o.timeouts = {.total = 2s, .connect = 1s, .read = 500ms};
    o.max_redirects = 3;
    return o;
}

// AIO_FUZZ_SHOW=1: the outcome of each fetch on stderr.
void show_outcome(const char* fetch, const std::string& what) {
    if (aio::fuzz::show()) {
        std::fprintf(stderr, "---- %s: %s\n", fetch, what.c_str());
    }
}

// Runs `fetch` and swallows the errors a broken response is expected to cause.
template <class Fn>
void expect_aio_errors(const char* name, Fn&& fetch) {
    try {
        fetch();
    } catch (const http::protocol_error& e) {
        show_outcome(name, e.what());
    } catch (const http::too_many_redirects_error& e) {
        show_outcome(name, e.what());
    } catch (const aio::timeout_error& e) {
        show_outcome(name, e.what());
    } catch (const aio::value_error& e) {
        // http::invalid_url_error: a Location the client cannot follow.
        show_outcome(name, e.what());
    } catch (const std::system_error& e) {
        show_outcome(name, e.what());
    }
}

void exchange(std::string_view input) {
    aio::get_running_loop().set_exception_handler(on_loop_exception);
    aio::server raw =
        aio::start_server([input](aio::stream& s) { answer_with(s, input); }, "127.0.0.1", 0);
    std::string url = "http://127.0.0.1:" + std::to_string(raw.port()) + "/fuzz?q=1";
    http::request_options ro;
    ro.allow_redirects = !contains_nocase(input, "http:") && input.find("//") == input.npos;
    http::client_session session(fuzz_client_options());
    try {
        aio::timeout(6s, [&] {
            expect_aio_errors("text()", [&] {
                http::client_response r = session.get(url, ro);
                (void)r.status();
                (void)r.reason();
                (void)r.headers().value("Content-Type");
                (void)r.body_complete();
                std::string body = r.text();
                if (!r.body_complete()) {
                    finding("text() returned, but body_complete() is false");
                }
                if (!r.text().empty()) {
                    finding("a second text() returned more of the body");
                }
                show_outcome("text()", std::to_string(r.status()) + " after " +
                                           std::to_string(r.redirects()) + " redirect(s), " +
                                           std::to_string(body.size()) + " bytes: " + body);
            });
            expect_aio_errors("read_chunk()", [&] {
                http::client_response r = session.get(url, ro);
                std::size_t total = 0;
                for (std::size_t max : {1, 7, 4096, 65536}) {
                    std::string part = r.read_chunk(max);
                    if (part.size() > max) {
                        finding("read_chunk(" + std::to_string(max) + ") returned " +
                                std::to_string(part.size()) + " bytes");
                    }
                    total += part.size();
                    if (part.empty()) {
                        break;
                    }
                }
                for (std::string part = r.read_chunk(); !part.empty(); part = r.read_chunk()) {
                    total += part.size();
                }
                show_outcome("read_chunk()", std::to_string(r.status()) + ", " +
                                                 std::to_string(total) + " bytes in parts");
            });
        });
    } catch (const aio::timeout_error&) {
        finding("the fetches took over 6 s, three times the session's total timeout (a hang)");
    }
    session.close();
    raw.close();
    raw.wait_closed();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    aio::run_options ro;
    ro.handle_signals = false;
    ro.main_name = "fuzz client";
    try {
        aio::run([&] { exchange(input); }, std::move(ro));
    } catch (const std::exception& e) {
        finding(std::string("an exception escaped the exchange: ") + e.what());
    }
    return 0;
}
