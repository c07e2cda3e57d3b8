// Lesson 06, fixed: the exchange has a deadline. The stream's default timeouts bound each
// read; only the caller's own budget bounds the whole exchange. When the service has not
// answered within 500 ms, aio::timeout_error comes out and the widget shows the last known
// quote instead of hanging.
#include "lesson.hpp"

#include <aio/aio.hpp>
#include <aio/server.hpp>
#include <aio/stream.hpp>

#include <string>
#include <system_error>

using namespace std::chrono_literals;

std::string chomp(std::string line) {
    if (!line.empty() && line.back() == '\n') {
        line.pop_back();
    }
    return line;
}

// ---- the dashboard's quote widget.

// Asks for one quote on an open connection. Returns the text the widget shows.
std::string fetch_quote(aio::stream& s) {
    // FIXED: the whole exchange gets the time this caller can afford (the talk's "explicit
    // timeouts" slide: async with asyncio.timeout(...)). When it passes, the read in
    // progress is cancelled and aio::timeout_error comes out. A per-read timeout
    // (s.read_line(500ms)) would not do: every "WORKING" line restarts it.
    try {
        return aio::timeout(500ms, [&] {
            s.write("QUOTE ACME\n");
            lesson::say("request sent, waiting for the answer");
            for (;;) {
                std::string line = s.read_line();
                if (line.starts_with("QUOTE ")) {
                    return chomp(line).substr(6);
                }
            }
        });
    } catch (const aio::timeout_error& e) {
        // FIXED: a timeout is an ordinary error to handle: fall back, retry, report.
        lesson::say("quote service: %s", e.what());
        return std::string("ACME 41.20 (last known)");
    }
}

// ---- the rest of the program: no need to edit below.

// The quote service. Its keep-alive says "WORKING" every 200 ms; its worker is stuck, so
// the quote never comes.
void serve_quotes(aio::stream& s) {
    try {
        if (s.read_line().empty()) {
            return;
        }
        for (;;) {
            aio::sleep(200ms);
            s.write("WORKING\n");
        }
    } catch (const std::system_error&) {
        // The client went away: nobody to keep alive.
    }
}

int main() {
    aio::run([] {
        lesson::start();
        aio::server service = aio::start_server(serve_quotes, "127.0.0.1", 0);
        aio::stream conn = aio::open_connection("127.0.0.1", service.port());
        auto widget =
            aio::create_task(aio::task_options{.name = "fetch_quote"}, fetch_quote, std::ref(conn));
        // The lesson's watchdog. It is another task, so it also shows that the loop is not
        // blocked: only the request waits. In production nobody would be watching.
        for (int tick = 1; tick <= 30 && !widget.done(); ++tick) {
            aio::sleep(100ms);  // look often, speak once a second
            if (tick % 10 == 0 && !widget.done()) {
                lesson::say("still waiting after %d s... (the loop is fine: another task prints "
                            "this)",
                            tick / 10);
            }
        }
        if (!widget.done()) {
            lesson::say("no answer: the request would have waited forever; the watchdog "
                        "cancels it");
            lesson::stop(widget);
        } else {
            double took = lesson::elapsed();
            try {
                std::string shown = widget.get();
                lesson::say("dashboard: widget shows '%s' after %.1f s", shown.c_str(), took);
                lesson::say(took < 1.0 ? "dashboard: ready within its 1 s budget"
                                       : "dashboard: too slow: it waits 1 s at most");
            } catch (const aio::timeout_error& e) {
                lesson::say("dashboard: the widget failed (%s): an error page, not a quote",
                            e.what());
            }
        }
        conn.close();
        service.close();
        service.wait_closed();
    });
}
