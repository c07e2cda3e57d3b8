// Lesson 07, fixed: the dashboard uses aio::http::client_session, a client library with a
// default timeout on every phase (aiohttp's ClientTimeout: total 300 s, connect 30 s, and a
// read idle timeout of 60 s). A forgotten timeout now costs a minute, not forever; and this
// request gets the budget the dashboard can really afford, so it gives up after 0.5 s with
// an aio::timeout_error that names the URL and the phase, and the widget shows its last
// known price.
#include "lesson.hpp"

#include <aio/aio.hpp>
#include <aio/http/client.hpp>
#include <aio/server.hpp>
#include <aio/stream.hpp>

#include <cstdio>
#include <functional>
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

// "300 s", "0.5 s".
std::string seconds(aio::duration d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", std::chrono::duration<double>(d).count());
    return buf;
}

// The dashboard's widget: the price of ACME.
std::string get_quote(aio::http::client_session& http, const std::string& url) {
    lesson::say("GET %s", url.c_str());
    // FIXED: the session's defaults would end this request after 60 s of silence (the read
    // timeout) and 300 s in all (total): a safety net nobody has to remember. But only the
    // caller knows its budget: a dashboard that refreshes every few seconds cannot wait a
    // minute. So this request gets its own limits, for every phase.
    auto r = http.get(url, {.timeouts = aio::http::client_timeouts{
                                .total = 2s,    // the whole exchange, body included
                                .connect = 1s,  // loopback connects in microseconds
                                .read = 500ms,  // the server may stay silent this long
                            }});
    r.raise_for_status();
    return r.text();
}

int main() {
    aio::run([] {
        lesson::start();
        aio::server service = start_stuck_quote_service();
        std::string url = "http://127.0.0.1:" + std::to_string(service.port()) + "/quote/ACME";
        // FIXED: a client library with defaults. Print them: they are the library's answer to
        // "what if the caller forgets?".
        aio::http::client_session http;
        const aio::http::client_timeouts& d = http.options().timeouts;
        lesson::say("client_session defaults: total %s, connect %s, read %s",
                    seconds(d.total).c_str(), seconds(d.connect).c_str(), seconds(d.read).c_str());
        auto request = aio::create_task(aio::task_options{.name = "get_quote"}, get_quote,
                                        std::ref(http), url);
        // The same watchdog as in broken.cpp; now it has nothing to do.
        for (int tick = 1; tick <= 30 && !request.done(); ++tick) {
            aio::sleep(100ms);  // look often, speak once a second
            if (tick % 10 == 0 && !request.done()) {
                lesson::say("still waiting after %d s...", tick / 10);
            }
        }
        if (!request.done()) {
            lesson::say("no answer: the watchdog cancels the request");
            lesson::stop(request);
        } else {
            // FIXED: a timeout is an ordinary error to handle: fall back, retry, report.
            try {
                lesson::say("quote: %s", request.get().c_str());
            } catch (const aio::timeout_error& e) {
                lesson::say("timeout: %s", e.what());
                lesson::say("quote unavailable; showing the last known one (ACME 41.20)");
            }
        }
        http.close();  // FIXED: a session is a resource: close it (debug mode reports it if not)
        service.close();
        service.wait_closed();
    });
}
