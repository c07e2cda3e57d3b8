// Wrong: the request has a budget, but get_quote swallows the timeout_error and returns a made-up
// quote: the dashboard cannot tell it from a real answer.
#include "lesson.hpp"

#include <aio/aio.hpp>
#include <aio/http/client.hpp>
#include <aio/http/message.hpp>
#include <aio/server.hpp>
#include <aio/stream.hpp>

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
std::string get_quote(const std::string& url) {
    aio::http::client_session http;
    std::string body;
    try {
        auto r = http.get(url, {.timeouts = aio::http::client_timeouts{.read = 500ms}});
        r.raise_for_status();
        body = r.text();
    } catch (const aio::timeout_error&) {
        body = "n/a";
    }
    http.close();
    return body;
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
