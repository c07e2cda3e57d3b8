// WRONG: the split pair kept, drain() added after each write, but the uploader still closes
// "its" writer when done: that hangs up the connection the receipt comes back on. The check
// must reject it ("no receipt").
// Lesson 14: split brain. A backup client uploads 32 MiB to a backup service, then waits for
// the service's receipt. It talks through `split`, a small library shaped like asyncio's
// streams: open_connection() returns a reader and a writer, two objects for one connection.
// The upload task owns the writer and closes it when it is done; the client's other task
// owns the reader and waits for the receipt. But "the writer" is the whole connection.
#include "lesson.hpp"

#include <aio/aio.hpp>
#include <aio/server.hpp>
#include <aio/stream.hpp>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include <sys/socket.h>

using namespace std::chrono_literals;

// ---- split: a connection as a reader/writer pair, as in asyncio (a library: do not edit).
namespace split {

// asyncio.StreamReader: reads. It cannot close the connection.
class reader {
public:
    explicit reader(std::shared_ptr<aio::stream> s)
        : s_(std::move(s)) {}
    std::string read_line() { return s_->read_line(); }

private:
    std::shared_ptr<aio::stream> s_;
};

// asyncio.StreamWriter: write() only buffers and never waits (call drain() to wait until
// the buffer is sent); write_eof() half-closes; close() closes the transport, both ways.
class writer {
public:
    explicit writer(std::shared_ptr<aio::stream> s)
        : s_(std::move(s)) {}
    void write(const std::string& data) { s_->write(data); }
    void drain() { s_->drain(); }
    void write_eof() { s_->write_eof(); }
    void close() { s_->close(); }

private:
    std::shared_ptr<aio::stream> s_;
};

// reader, writer = await asyncio.open_connection(host, port)
inline std::pair<reader, writer> open_connection(const std::string& host, std::uint16_t port) {
    auto s = std::make_shared<aio::stream>(
        aio::open_connection(host, port, {.high_water = std::numeric_limits<std::size_t>::max()}));
    return {reader(s), writer(s)};
}

}  // namespace split

// The backup: 512 chunks of 64 KiB. chunk(n) gives chunk n, read from the disk 1 MiB at a time
// (a yield point every 16 chunks, as any I/O), and notes how far the client is ahead of the
// service: the bytes handed to the connection and not yet received there sit in buffers, most
// of them in the client's memory.
constexpr int chunks = 512;
constexpr long long chunk_size = 64 * 1024;
long long service_received = 0;  // bytes the service has read so far
long long most_unreceived = 0;   // the most bytes handed over and not yet received
std::string chunk(int n) {
    most_unreceived = std::max(most_unreceived, n * chunk_size - service_received);
    if (n % 16 == 0) {
        aio::sleep(0ms);  // stands for reading the next 1 MiB from the disk
    }
    return std::string(chunk_size, static_cast<char>('a' + n % 26));
}

std::string chomp(std::string line) {
    if (!line.empty() && line.back() == '\n') {
        line.pop_back();
    }
    return line;
}

// ---- the backup client: yours to fix.

// Uploads the backup to the service at `port` and returns the service's receipt ("" if none
// came).
std::string run_backup(std::uint16_t port) {
    // TODO: two objects for one connection. The uploader "closes its writer" when it is
    // done, and that closes the connection the receipt must come back on. And its write()
    // never waits for the service: nothing limits what piles up unsent. Use aio's one
    // object, aio::stream: write() waits while too much is unsent (drain is built in),
    // write_eof() says "no more data" and keeps reading possible, close() ends it all, once
    // both directions are done.
    auto [rd, wr] = split::open_connection("127.0.0.1", port);
    auto uploader = aio::create_task(aio::task_options{.name = "uploader"}, [&wr] {
        for (int n = 0; n < chunks; ++n) {
            wr.write(chunk(n));
            wr.drain();
        }
        wr.close();
    });
    std::string receipt = chomp(rd.read_line());
    uploader.get();
    return receipt;
}

// ---- the rest of the program: no need to edit below.

// The backup service: reads until the client's end of data, then sends a receipt.
void backup_service(aio::stream& s) {
    // A fixed receive window (no autotuning up to tcp_rmem's maximum), so that what the
    // kernel holds for the service stays small and the figures are the same on every machine.
    int window = 256 * 1024;
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVBUF, &window, sizeof window);
    try {
        long long unsaved = 0;
        for (std::string part = s.read(64 * 1024); !part.empty(); part = s.read(64 * 1024)) {
            service_received += static_cast<long long>(part.size());
            unsaved += static_cast<long long>(part.size());
            if (unsaved >= 128 * 1024) {
                aio::sleep(1ms);  // stands for writing it to the service's disk
                unsaved = 0;
            }
        }
        s.write("RECEIPT " + std::to_string(service_received >> 20) + " MiB stored\n");
        s.close();
    } catch (const std::system_error&) {
        // The client went away: nobody to send the receipt to.
    }
}

int main() {
    aio::run([] {
        lesson::start();
        aio::server service = aio::start_server(backup_service, "127.0.0.1", 0);
        auto backup =
            aio::create_task(aio::task_options{.name = "backup"}, run_backup, service.port());
        for (int tick = 1; tick <= 30 && !backup.done(); ++tick) {
            aio::sleep(100ms);  // the lesson's watchdog: 3 s at most
        }
        if (!backup.done()) {
            lesson::say("client: no receipt after 3 s; the watchdog cancels the backup");
            lesson::stop(backup);
        } else if (std::string receipt = backup.get(); !receipt.empty()) {
            lesson::say("client: receipt: '%s'", receipt.c_str());
        } else {
            lesson::say("client: no receipt: the connection closed before it came");
        }
        service.close();
        service.wait_closed();
        lesson::say("service: received %lld of %d MiB", service_received >> 20, chunks / 16);
        lesson::say("client: at most %lld MiB were handed over and not yet received",
                    most_unreceived >> 20);
        lesson::say(most_unreceived < 12 * 1024 * 1024
                        ? "client: memory stayed flat: write() waited for the service"
                        : "client: memory climbed: write() never waited for the service");
    });
}
