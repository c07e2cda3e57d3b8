// Lesson 06, fixed: the request has a deadline. When the peer does not answer within 500 ms
// the wait ends with aio::timeout_error, and the dashboard shows its last known quote
// instead of hanging.
#include "lesson.hpp"

#include <aio/aio.hpp>
#include <aio/server.hpp>
#include <aio/stream.hpp>

#include <string>

using namespace std::chrono_literals;

// The stuck peer: it accepts, reads requests, and never writes a byte back.
aio::server start_stuck_quote_service() {
    return aio::start_server(
        [](aio::stream& s) {
            while (!s.read_line(aio::no_timeout).empty()) {
                // "working on it..."
            }
        },
        "127.0.0.1", 0);
}

// Asks for one quote on an open connection: a request line out, an answer line back.
std::string fetch_quote(aio::stream& s) {
    // FIXED: the exchange gets the time this caller can afford (the talk's "explicit
    // timeouts" slide: async with asyncio.timeout(...)). When it passes, the read is
    // cancelled and aio::timeout_error comes out. The stream's own timeouts (60 s per read
    // by default) stay on as the safety net; s.read_line(500ms) would work too, per read.
    return aio::timeout(500ms, [&] {
        s.write("QUOTE ACME\n");
        lesson::say("request sent, waiting for the answer");
        return s.read_line();
    });
}

int main() {
    aio::run([] {
        lesson::start();
        aio::server service = start_stuck_quote_service();
        // FIXED: no aio::no_timeout: the stream keeps its default timeouts.
        aio::stream conn = aio::open_connection("127.0.0.1", service.port());
        auto request =
            aio::create_task(aio::task_options{.name = "fetch_quote"}, fetch_quote, std::ref(conn));
        // The same watchdog as in broken.cpp; now it has nothing to do.
        for (int tick = 1; tick <= 30 && !request.done(); ++tick) {
            aio::sleep(100ms);  // look often, speak once a second
            if (tick % 10 == 0 && !request.done()) {
                int s = tick / 10;
                lesson::say("still waiting after %d s...", s);
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
        conn.close();
        service.close();
        service.wait_closed();
    });
}
