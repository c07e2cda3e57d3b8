// Lesson 14, fixed: one task owns the reading. The reader reads every line and routes it:
// ticks are shown, PONGs go to the keep-alive through a queue. The keep-alive only writes
// and waits on that queue. (The talk's "split brain" slide: one stream object, used by one
// reader; writing from another task is fine.)
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

// FIXED: the only task that reads the stream. It knows every kind of line and routes it.
void reader(aio::stream& s, aio::queue<std::string>& pongs) {
    for (;;) {
        std::string line = s.read_line();
        if (line.empty()) {
            return;  // EOF: the service is done
        }
        if (line.starts_with("TICK")) {
            lesson::say("ticker:    %s", chomp(line).c_str());
        } else if (line == "PONG\n") {
            pongs.put_nowait(chomp(line));  // FIXED: handed to the keep-alive
        } else {
            lesson::say("ticker:    unexpected line '%s'", chomp(line).c_str());
        }
    }
}

// FIXED: writes PING and waits for the reader to hand it the PONG; it never reads the
// stream itself.
void keepalive(aio::stream& s, aio::queue<std::string>& pongs) {
    for (int n = 1; n <= 3; ++n) {
        aio::sleep(350ms);
        s.write("PING\n");
        std::string reply = aio::timeout(1s, [&] { return pongs.get(); });
        lesson::say("keepalive: %s", reply.c_str());
    }
}

int main() {
    aio::run([] {
        lesson::start();
        aio::server service = aio::start_server(serve_ticks, "127.0.0.1", 0);
        aio::stream conn = aio::open_connection("127.0.0.1", service.port());
        aio::queue<std::string> pongs;
        auto t = aio::create_task(aio::task_options{.name = "reader"}, reader, std::ref(conn),
                                  std::ref(pongs));
        auto k = aio::create_task(aio::task_options{.name = "keepalive"}, keepalive, std::ref(conn),
                                  std::ref(pongs));
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
