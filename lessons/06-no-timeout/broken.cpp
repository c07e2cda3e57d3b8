// Lesson 06: no timeout. A dashboard asks a quote service for a price. The service accepts
// the connection, reads the request, and never answers (it is stuck: a deadlock, a full
// disk, a lost packet on a real network). The client waits with no timeout, so it waits
// forever. Here a watchdog in the lesson gives up after 3 s; in production nothing would.
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
    s.write("QUOTE ACME\n");
    lesson::say("request sent, waiting for the answer");
    return s.read_line();
}

int main() {
    aio::run([] {
        lesson::start();
        aio::server service = start_stuck_quote_service();
        // TODO: every network wait in aio has a default timeout (60 s for a read), and this
        // line switches the read timeout off ("some quotes take long"). A peer that never
        // answers now hangs the request forever. Give the request a deadline and handle
        // aio::timeout_error.
        aio::stream conn =
            aio::open_connection("127.0.0.1", service.port(), {.read_timeout = aio::no_timeout});
        auto request =
            aio::create_task(aio::task_options{.name = "fetch_quote"}, fetch_quote, std::ref(conn));
        // The lesson's watchdog. It is another task, so it also shows that the loop is not
        // blocked: only the request waits. In production nobody would be watching.
        for (int tick = 1; tick <= 30 && !request.done(); ++tick) {
            aio::sleep(100ms);  // look often, speak once a second
            if (tick % 10 == 0 && !request.done()) {
                int s = tick / 10;
                lesson::say("still waiting after %d s... (the loop is fine: another task prints "
                            "this)",
                            s);
            }
        }
        if (!request.done()) {
            lesson::say("no answer: the request would have waited forever; the watchdog "
                        "cancels it");
            lesson::stop(request);
        } else {
            lesson::say("quote: %s", request.get().c_str());
        }
        conn.close();
        service.close();
        service.wait_closed();
    });
}
