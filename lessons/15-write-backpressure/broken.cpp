// Lesson 15: write without backpressure. A client streams 64 KiB chunks to a peer that reads
// five times slower than the client produces. The stream was given a huge high-water mark
// (1 GiB: the unbounded buffer of asyncio's writer.write() without `await drain()`), so
// write() never waits: what the peer has not taken piles up in the stream's buffer, and
// memory climbs for as long as the program runs.
#include "lesson.hpp"

#include <aio/aio.hpp>
#include <aio/server.hpp>
#include <aio/stream.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace std::chrono_literals;

// ---- the slow peer: reads 8 KiB every 5 ms (1.6 MiB/s), until told to hurry up.

struct peer_state {
    long received = 0;
    bool hurry = false;  // set at the end, so that what is buffered drains quickly
};

aio::server start_slow_peer(peer_state& peer) {
    return aio::start_server(
        [&peer](aio::stream& s) {
            std::vector<char> buf(8 * 1024);
            while (std::size_t n = s.read_into(buf)) {
                peer.received += static_cast<long>(n);
                if (!peer.hurry) {
                    aio::sleep(5ms);
                }
            }
        },
        "127.0.0.1", 0);
}

// ---- the producer: a 64 KiB chunk every 5 ms (12.5 MiB/s), as if read from a disk.

void produce(aio::stream& s, const bool& stop, long& produced) {
    const std::string chunk(64 * 1024, 'x');
    while (!stop) {
        s.write(chunk);
        produced += static_cast<long>(chunk.size());
        aio::sleep(5ms);
    }
}

int main() {
    aio::run([] {
        lesson::start();
        peer_state peer;
        aio::server srv = start_slow_peer(peer);
        // TODO: with a high-water mark of 1 GiB, write() never suspends: nothing slows the
        // producer down to the peer's pace, and the unsent data piles up in memory. Keep
        // the default water marks (64 KiB high, 16 KiB low), so that write() waits for the
        // peer.
        aio::stream conn = aio::open_connection(
            "127.0.0.1", srv.port(), {.high_water = std::size_t{1} << 30, .low_water = 16 * 1024});
        bool stop = false;
        long produced = 0;
        // Memory is compared over the last half second, when the program runs steadily
        // (debug mode loads its symbol tables in the first moments, in the background).
        double rss_half = 0;
        // The verdict reads the stream itself: how much it held unsent at most, sampled over
        // the last half second (memory follows it, but the process's RSS also moves for
        // reasons of its own: allocator, debug mode).
        std::size_t peak_unsent = 0;
        auto producer = aio::create_task(aio::task_options{.name = "producer"}, produce,
                                         std::ref(conn), std::cref(stop), std::ref(produced));
        for (int i = 1; i <= 4; ++i) {
            aio::sleep(250ms);
            if (i == 2) {
                rss_half = lesson::rss_mib();
            }
            if (i >= 2) {
                peak_unsent = std::max(peak_unsent, conn.write_buffer_size());
            }
            lesson::say(
                "produced %6.1f MiB  peer got %6.1f MiB  unsent %6.1f MiB  memory %6.1f MiB",
                produced / 1048576.0, peer.received / 1048576.0,
                static_cast<double>(conn.write_buffer_size()) / 1048576.0, lesson::rss_mib());
        }
        stop = true;
        producer.get();
        double grew = lesson::rss_mib() - rss_half;
        lesson::say("memory grew by %.1f MiB in the last half second", grew);
        lesson::say("at most %.1f MiB were unsent in the last half second",
                    static_cast<double>(peak_unsent) / 1048576.0);
        lesson::say(peak_unsent > (std::size_t{1} << 20)
                        ? "memory climbed: write() never waited for the peer"
                        : "memory stayed flat: write() waited for the peer");
        peer.hurry = true;
        conn.close();  // sends what is still buffered
        srv.close();
        srv.wait_closed();
        lesson::say("closed: the peer got %.1f of %.1f MiB", peer.received / 1048576.0,
                    produced / 1048576.0);
    });
}
