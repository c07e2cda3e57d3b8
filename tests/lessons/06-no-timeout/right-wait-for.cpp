// RIGHT: asyncio.wait_for's form: the exchange runs in a task of its own and the widget waits
// for it at most 500 ms (aio::wait_for cancels it then), falling back to the last known quote.
// It also drops fetch_quote's own "request sent" line: the check reads only the scaffold's.
// Lesson 06: no timeout. A dashboard asks a quote service for a price. The service answers
// "WORKING" every 200 ms while it looks the price up, then the quote. Today its worker is
// stuck (a deadlock, a full disk), but its keep-alive timer is not: "WORKING" keeps coming,
// the quote never does. Every read of the stream has aio's default timeout (60 s), and not
// one read ever waits that long. So the request waits forever. Here a watchdog in the lesson
// gives up after 3 s; in production nothing would.
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

// ---- the dashboard's quote widget: yours to fix.

// Asks for one quote on an open connection. Returns the text the widget shows.
std::string fetch_quote(aio::stream& s) {
    // TODO: each read_line() below has the stream's default timeout (60 s), but that is an
    // idle timeout: every "WORKING" line restarts it, so this exchange can last forever.
    // Only this caller knows how long a quote may take (the dashboard waits 1 s at most):
    // give the whole exchange a deadline, and when it passes show the last known quote
    // ("ACME 41.20") instead of failing.
    auto ask = aio::create_task([&s] {
        s.write("QUOTE ACME\n");
        for (;;) {
            std::string line = s.read_line();
            if (line.starts_with("QUOTE ")) {
                return chomp(line).substr(6);
            }
        }
    });
    try {
        return aio::wait_for(ask, 500ms);
    } catch (const aio::timeout_error&) {
        return std::string("ACME 41.20, last known");
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
