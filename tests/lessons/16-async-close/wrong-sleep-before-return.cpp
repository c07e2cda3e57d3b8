// Wrong: a sleep "so that the data gets out" instead of close(): the stream is still destroyed
// open, which aborts it (leaked-resource), however long the sleep.
#include "lesson.hpp"

#include <aio/aio.hpp>
#include <aio/server.hpp>
#include <aio/stream.hpp>

#include <cstdio>
#include <string>
#include <system_error>

using namespace std::chrono_literals;

constexpr int records = 20000;
int collected = 0;  // records the collector has read

// ---- the collector: reads records line by line, pausing 2 ms every 40 records (about
// 2 MB/s, slower than the shipper writes), until the end of the connection.

void collect(aio::stream& s) {
    bool complete = false;
    try {
        for (std::string line = s.read_line(); !line.empty(); line = s.read_line()) {
            if (line == "END\n") {
                complete = true;
            } else if (++collected % 40 == 0) {
                aio::sleep(2ms);  // storing them
            }
        }
    } catch (const std::system_error& e) {
        lesson::say("collector: %s", e.what());
    }
    lesson::say("collector: got %d of %d records; %s", collected, records,
                complete ? "END received: the log is complete"
                         : "no END line: the end of the log was lost");
}

// ---- the shipper

void ship_logs(std::uint16_t port) {
    aio::stream s = aio::open_connection("127.0.0.1", port);
    std::string batch;
    char record[128];
    for (int i = 1; i <= records; ++i) {
        std::snprintf(record, sizeof record, "%05d 2024-05-01T12:00:00Z INFO request served\n", i);
        batch += record;
        if (i % 100 == 0) {
            s.write(batch);  // 100 records at a time; suspends while > 64 KiB are unsent
            batch.clear();
        }
    }
    s.write("END\n");
    lesson::say("shipper: wrote %d records and END; the collector has read %d so far", records,
                collected);
    aio::sleep(300ms);  // "surely it is all sent by now"
}

int main() {
    aio::run([] {
        lesson::start();
        aio::server collector = aio::start_server(collect, "127.0.0.1", 0);
        ship_logs(collector.port());
        lesson::say("shipper: done");
        collector.close();
        collector.wait_closed();  // until the collector has read everything it will get
    });
}
