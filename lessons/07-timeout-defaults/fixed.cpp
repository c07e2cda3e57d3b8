// Lesson 07, fixed: the dashboard uses aio::http::client_session, a client library with a
// default timeout on every phase (aiohttp's ClientTimeout: total 300 s, connect 30 s, and a
// read idle timeout of 60 s). A forgotten timeout now costs a minute, not forever; and this
// request gets the budget the dashboard can really afford, so it gives up after 0.5 s with
// an aio::timeout_error that names the URL and the phase, and the widget shows its last
// known price. (tiny_http stays, unused: the scaffold is the same as broken.cpp's.)
#include "lesson.hpp"

#include <aio/aio.hpp>
#include <aio/http/client.hpp>
#include <aio/http/message.hpp>
#include <aio/server.hpp>
#include <aio/stream.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <system_error>

using namespace std::chrono_literals;

// The stuck peer: it accepts, reads the request's head, and never writes a byte back.
aio::server start_stuck_quote_service() {
    return aio::start_server(
        [](aio::stream& s) {
            try {
                while (!s.read_line(aio::no_timeout).empty()) {
                    // "working on it..."
                }
            } catch (const std::system_error&) {
                // The client reset the connection: nothing to answer any more.
            }
        },
        "127.0.0.1", 0);
}

// A hand-rolled HTTP client with no defaults. Its one option is a timeout that defaults to
// "wait forever": the library leaves the decision to every caller, and callers forget.
namespace tiny_http {

struct options {
    aio::duration timeout = aio::no_timeout;  // "the caller knows best"
};

// GET `url` and return the body (HTTP/1.0: the body ends when the server closes).
std::string get(const std::string& url, options o = {}) {
    auto u = aio::http::url::parse(url);
    aio::stream s = aio::open_connection(
        u.host, u.port,
        {.connect_timeout = o.timeout, .read_timeout = o.timeout, .write_timeout = o.timeout});
    s.write("GET " + u.target + " HTTP/1.0\r\nHost: " + u.authority() + "\r\n\r\n");
    std::string status = s.read_line();  // waits as long as o.timeout says: forever
    if (status.find(" 200 ") == std::string::npos) {
        throw std::runtime_error("GET " + url + ": " + status);
    }
    for (std::string h = s.read_line(); !h.empty() && h != "\r\n"; h = s.read_line()) {
        // skip the headers
    }
    std::string body;
    for (std::string part = s.read(4096); !part.empty(); part = s.read(4096)) {
        body += part;
    }
    s.close();
    return body;
}

}  // namespace tiny_http

// The dashboard's widget: the price of ACME. The dashboard refreshes every few seconds: when
// the service does not answer in time, get_quote must give up with aio::timeout_error (the
// dashboard then shows the last known price).
// "300 s", "0.5 s".
std::string seconds(aio::duration d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", std::chrono::duration<double>(d).count());
    return buf;
}

std::string get_quote(const std::string& url) {
    // FIXED: a client library with defaults. Print them: they are the library's answer to
    // "what if the caller forgets?".
    aio::http::client_session http;
    const aio::http::client_timeouts& d = http.options().timeouts;
    lesson::say("client_session defaults: total %s, connect %s, read %s", seconds(*d.total).c_str(),
                seconds(*d.connect).c_str(), seconds(*d.read).c_str());
    try {
        // FIXED: the session's defaults would end this request after 60 s of silence (the
        // read timeout) and 300 s in all (total): a safety net nobody has to remember. But
        // only the caller knows its budget: a dashboard that refreshes every few seconds
        // cannot wait a minute. So this request gets its own limits, for every phase.
        auto r = http.get(url, {.timeouts = aio::http::client_timeouts{
                                    .total = 2s,    // the whole exchange, body included
                                    .connect = 1s,  // loopback connects in microseconds
                                    .read = 500ms,  // the server may stay silent this long
                                }});
        r.raise_for_status();
        std::string body = r.text();
        http.close();
        return body;
    } catch (...) {
        // FIXED: a session is a resource: close it on every path (debug mode reports it if
        // not), then let the timeout_error reach the dashboard, which falls back.
        http.close();
        throw;
    }
}

// ---- the lesson's checks: do not edit below this line (the runner reads what it prints) ----
int main() {
    aio::run([] {
        lesson::start();
        aio::server service = start_stuck_quote_service();
        std::string url = "http://127.0.0.1:" + std::to_string(service.port()) + "/quote/ACME";
        lesson::say("dashboard: GET %s", url.c_str());
        auto request = aio::create_task(aio::task_options{.name = "get_quote"}, get_quote, url);
        // The lesson's watchdog. It is another task, so it also shows that the loop is not
        // blocked: only the request waits. In production nobody would be watching.
        for (int tick = 1; tick <= 30 && !request.done(); ++tick) {
            aio::sleep(100ms);  // look often, speak once a second
            if (tick % 10 == 0 && !request.done()) {
                lesson::say("still waiting after %d s... (the loop is fine: another task prints "
                            "this)",
                            tick / 10);
            }
        }
        if (!request.done()) {
            lesson::say("no answer: the request would have waited forever; the watchdog cancels "
                        "it");
            lesson::stop(request);
        } else {
            try {
                std::string quote = request.get();
                lesson::say("quote: '%s', but the service never answers: check: get_quote "
                            "returned without an answer instead of raising aio::timeout_error",
                            quote.c_str());
            } catch (const aio::timeout_error& e) {
                lesson::say("check: get_quote gave up after %.1f s with aio::timeout_error: %s",
                            lesson::elapsed(), e.what());
                lesson::say("quote unavailable; showing the last known one (ACME 41.20)");
            } catch (const std::exception& e) {
                lesson::say("check: get_quote failed with an error that is not a timeout: %s",
                            e.what());
            }
        }
        service.close();
        service.wait_closed();
    });
}
