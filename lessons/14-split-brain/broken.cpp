// Lesson 14: split brain. A client follows a price ticker: the service pushes a TICK line
// every 100 ms, and answers PING with PONG (a keep-alive). Two tasks share the connection:
// the ticker reads the ticks, and the keep-alive task writes PING and reads "its" PONG. So
// two tasks read one stream, and nobody decides which line belongs to whom.
#include "lesson.hpp"

#include <aio/aio.hpp>
#include <aio/server.hpp>
#include <aio/stream.hpp>

#include <string>

using namespace std::chrono_literals;

// ---- the ticker service: 12 ticks, 100 ms apart; PING gets PONG at any time.

void answer_pings(aio::stream& s) {
    while (!s.read_line().empty()) {
        s.write("PONG\n");
    }
}

void serve_ticks(aio::stream& s) {
    auto pings =
        aio::create_task(aio::task_options{.name = "answer_pings"}, answer_pings, std::ref(s));
    for (int n = 1; n <= 12; ++n) {
        aio::sleep(100ms);
        s.write("TICK ACME 41." + std::to_string(10 + n) + "\n");
    }
    lesson::stop(pings);
}  // the server closes the stream: the client reads EOF

std::string chomp(std::string line) {
    if (!line.empty() && line.back() == '\n') {
        line.pop_back();
    }
    return line;
}

// ---- the client

void ticker(aio::stream& s) {
    for (;;) {
        std::string line = s.read_line();
        if (line.empty()) {
            return;  // EOF: the service is done
        }
        if (line.starts_with("TICK")) {
            lesson::say("ticker:    %s", chomp(line).c_str());
        } else {
            lesson::say("ticker:    unexpected line '%s': not a tick", chomp(line).c_str());
        }
    }
}

void keepalive(aio::stream& s) {
    for (int n = 1; n <= 3; ++n) {
        aio::sleep(350ms);
        s.write("PING\n");
        // TODO: the ticker task is reading this stream right now, and this line makes a
        // second reader. Which of the two gets the PONG? Let one task own the reading and
        // hand the PONG to the keep-alive, which then only writes.
        std::string reply = s.read_line();
        lesson::say("keepalive: %s", chomp(reply).c_str());
    }
}

int main() {
    aio::run([] {
        lesson::start();
        aio::server service = aio::start_server(serve_ticks, "127.0.0.1", 0);
        aio::stream conn = aio::open_connection("127.0.0.1", service.port());
        auto t = aio::create_task(aio::task_options{.name = "ticker"}, ticker, std::ref(conn));
        auto k =
            aio::create_task(aio::task_options{.name = "keepalive"}, keepalive, std::ref(conn));
        try {
            k.get();
            lesson::say("keepalive: 3 pings answered");
        } catch (const aio::usage_error& e) {
            lesson::say("keepalive failed: %s", e.what());
        }
        t.get();
        lesson::say("ticker: end of the feed");
        conn.close();
        service.close();
        service.wait_closed();
    });
}
