// aio::stream and aio::open_connection, over loopback with port 0.
#include "support.hpp"

#include <aio/server.hpp>
#include <aio/stream.hpp>

#include <catch2/catch.hpp>

#include <cerrno>
#include <string>
#include <system_error>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;
using aio::test::run_test;

namespace {

const aio::test::test_options real_time{.virtual_time = false};

// Echoes every byte back until EOF.
aio::server echo_server() {
    return aio::start_server(
        [](aio::stream& s) {
            while (true) {
                std::string data = s.read(64 * 1024);
                if (data.empty()) {
                    return;
                }
                s.write(data);
            }
        },
        "127.0.0.1", 0);
}

// A TCP port on loopback where nothing listens.
std::uint16_t closed_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

// A listening socket that never accepts, with its backlog full: a further connect stays in
// SYN_SENT (the kernel drops its SYNs), which is how a stuck peer looks from here.
struct black_hole {
    int listener = -1;
    std::vector<int> fillers;
    std::uint16_t port = 0;
    black_hole() {
        listener = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::listen(listener, 0);
        socklen_t len = sizeof a;
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
        for (int i = 0; i < 2; ++i) {  // backlog 0 still takes one; fill it
            int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
            fillers.push_back(fd);
        }
        ::usleep(20'000);  // let the handshakes land in the accept queue
    }
    ~black_hole() {
        for (int fd : fillers) {
            ::close(fd);
        }
        ::close(listener);
    }
};

}  // namespace

TEST_CASE("an echo round trip through open_connection and start_server", "[stream]") {
    run_test(
        [] {
            auto srv = echo_server();
            auto s = aio::open_connection("127.0.0.1", srv.port());
            s.write("hello\n");
            CHECK(s.read_line() == "hello\n");
            CHECK(s.peer_address() == "127.0.0.1:" + std::to_string(srv.port()));
            CHECK(s.local_address().rfind("127.0.0.1:", 0) == 0);
            CHECK(s.peer_port() == srv.port());
            s.close();
            CHECK(s.closed());
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("open_connection resolves localhost and tries each address", "[stream]") {
    run_test(
        [] {
            auto srv = echo_server();  // IPv4 only: ::1 is refused if tried first
            auto s = aio::open_connection("localhost", srv.port());
            s.write("x");
            CHECK(s.read_exactly(1) == "x");
            CHECK(s.peer_address() == "127.0.0.1:" + std::to_string(srv.port()));
            s.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("read returns what is there, up to n bytes", "[stream]") {
    run_test(
        [] {
            auto srv = echo_server();
            auto s = aio::open_connection("127.0.0.1", srv.port());
            s.write("abcdef");
            s.drain();
            std::string got = s.read_exactly(2);
            CHECK(got == "ab");
            CHECK(s.read(100) == "cdef");  // what is buffered, no more
            s.write("0123456789");
            CHECK(s.read_exactly(10) == "0123456789");
            s.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("read_exactly gathers several segments and read_into fills a buffer", "[stream]") {
    run_test(
        [] {
            auto srv = aio::start_server(
                [](aio::stream& s) {
                    for (char c : std::string("abc")) {
                        s.write(std::string(1000, c));
                        s.drain();
                        aio::sleep(2ms);
                    }
                },
                "127.0.0.1", 0);
            auto s = aio::open_connection("127.0.0.1", srv.port());
            std::string all = s.read_exactly(3000);
            CHECK(all == std::string(1000, 'a') + std::string(1000, 'b') + std::string(1000, 'c'));
            char buf[16];
            CHECK(s.read_into(buf) == 0);  // EOF: the handler returned and the server closed
            CHECK(s.at_eof());
            s.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("read_exactly at EOF raises incomplete_read_error with the partial data", "[stream]") {
    run_test(
        [] {
            auto srv = aio::start_server([](aio::stream& s) { s.write("only5"); }, "127.0.0.1", 0);
            auto s = aio::open_connection("127.0.0.1", srv.port());
            try {
                (void)s.read_exactly(10);
                FAIL("no error");
            } catch (const aio::incomplete_read_error& e) {
                CHECK(e.partial() == "only5");
                CHECK(e.expected() == 10);
                CHECK_THAT(e.what(), Catch::Contains("EOF after 5 of 10 bytes"));
            }
            s.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("read_line returns lines, then the last partial line, then empty", "[stream]") {
    run_test(
        [] {
            auto srv = aio::start_server([](aio::stream& s) { s.write("one\ntwo\nthree"); },
                                         "127.0.0.1", 0);
            auto s = aio::open_connection("127.0.0.1", srv.port());
            CHECK(s.read_line() == "one\n");
            CHECK(s.read_line() == "two\n");
            CHECK(s.read_line() == "three");
            CHECK(s.read_line().empty());
            CHECK(s.at_eof());
            s.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("read_until stops after the separator", "[stream]") {
    run_test(
        [] {
            auto srv =
                aio::start_server([](aio::stream& s) { s.write("a\r\n\r\nbody"); }, "127.0.0.1", 0);
            auto s = aio::open_connection("127.0.0.1", srv.port());
            CHECK(s.read_until("\r\n\r\n") == "a\r\n\r\n");
            CHECK(s.read_exactly(4) == "body");
            CHECK_THROWS_AS(s.read_until(""), aio::value_error);
            s.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("a line longer than the limit raises limit_overrun_error and stays buffered",
          "[stream]") {
    run_test(
        [] {
            auto srv = aio::start_server(
                [](aio::stream& s) {
                    s.write(std::string(100, 'x') + "\nshort\n");
                    (void)s.read(1);  // keep the connection open until the client is done
                },
                "127.0.0.1", 0);
            aio::stream_options o;
            o.limit = 50;
            auto s = aio::open_connection("127.0.0.1", srv.port(), o);
            try {
                (void)s.read_line();
                FAIL("no error");
            } catch (const aio::limit_overrun_error& e) {
                CHECK(e.consumed() >= 50);
                CHECK_THAT(e.what(), Catch::Contains("limit of 50"));
            }
            CHECK(s.read_buffer_size() >= 50);  // nothing was lost
            s.set_limit(1000);
            CHECK(s.read_line() == std::string(100, 'x') + "\n");
            CHECK(s.read_line() == "short\n");
            s.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("write_eof lets the peer read EOF while the other direction stays open", "[stream]") {
    run_test(
        [] {
            auto srv = aio::start_server(
                [](aio::stream& s) {
                    std::string all;
                    while (true) {
                        std::string chunk = s.read(1024);
                        if (chunk.empty()) {
                            break;
                        }
                        all += chunk;
                    }
                    s.write("got " + std::to_string(all.size()));
                },
                "127.0.0.1", 0);
            auto s = aio::open_connection("127.0.0.1", srv.port());
            s.write(std::string(5000, 'z'));
            CHECK(s.can_write_eof());
            s.write_eof();
            CHECK_FALSE(s.can_write_eof());
            CHECK(s.is_closing());
            CHECK_THROWS_AS(s.write("more"), aio::usage_error);
            CHECK(s.read(100) == "got 5000");
            s.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("a slow reader makes the writer suspend and the buffer stays bounded",
          "[stream][backpressure]") {
    run_test(
        [] {
            aio::event start_reading;
            std::size_t received = 0;
            auto srv = aio::start_server(
                [&](aio::stream& s) {
                    start_reading.wait();
                    while (true) {
                        std::string chunk = s.read(64 * 1024);
                        if (chunk.empty()) {
                            return;
                        }
                        received += chunk.size();
                    }
                },
                "127.0.0.1", 0);
            aio::stream_options o;
            o.high_water = 32 * 1024;
            o.low_water = 8 * 1024;
            auto s = aio::open_connection("127.0.0.1", srv.port(), o);
            const std::string block(16 * 1024, 'b');
            std::size_t max_buffered = 0;
            std::size_t sent = 0;
            auto writer = aio::create_task([&] {
                for (int i = 0; i < 1024; ++i) {  // 16 MiB, far more than the socket buffers
                    s.write(block);
                    sent += block.size();
                    max_buffered = std::max(max_buffered, s.write_buffer_size());
                }
                s.close();
            });
            aio::sleep(100ms);
            CHECK_FALSE(writer.done());       // suspended: the reader reads nothing
            CHECK(sent < 16u * 1024 * 1024);  // it did not just buffer everything
            CHECK(s.write_buffer_size() <= o.high_water + block.size());
            start_reading.set();
            writer.get();
            CHECK(max_buffered <= o.high_water + block.size());
            srv.close();
            srv.wait_closed();
            CHECK(received == 16u * 1024 * 1024);
        },
        real_time);
}

TEST_CASE("close sends every buffered byte before closing", "[stream]") {
    run_test(
        [] {
            std::size_t received = 0;
            aio::event start_reading;
            auto srv = aio::start_server(
                [&](aio::stream& s) {
                    start_reading.wait();
                    while (true) {
                        std::string chunk = s.read(64 * 1024);
                        if (chunk.empty()) {
                            return;
                        }
                        received += chunk.size();
                    }
                },
                "127.0.0.1", 0);
            aio::stream_options o;
            o.high_water = 8 * 1024 * 1024;  // let write() buffer it all
            auto s = aio::open_connection("127.0.0.1", srv.port(), o);
            s.write(std::string(4 * 1024 * 1024, 'c'));
            CHECK(s.write_buffer_size() > 0);  // the socket could not take 4 MiB at once
            aio::get_running_loop().call_later(20ms, [&] { start_reading.set(); });
            s.close();  // suspends until all of it is out
            CHECK(s.write_buffer_size() == 0);
            srv.close();
            srv.wait_closed();
            CHECK(received == 4u * 1024 * 1024);
        },
        real_time);
}

TEST_CASE("close is idempotent and abort drops unsent data", "[stream]") {
    run_test(
        [] {
            auto srv = echo_server();
            auto s = aio::open_connection("127.0.0.1", srv.port());
            s.close();
            s.close();
            CHECK(s.closed());
            CHECK(s.is_closing());
            CHECK_THROWS_AS(s.write("x"), aio::usage_error);
            auto t = aio::open_connection("127.0.0.1", srv.port());
            t.abort();
            t.abort();
            CHECK(t.closed());
            aio::stream empty;
            CHECK_THROWS_AS(empty.read(1), aio::invalid_state_error);
            empty.close();  // nothing to do
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("a task reading a stream gets EOF when another task closes it", "[stream]") {
    run_test(
        [] {
            auto srv = aio::start_server([](aio::stream& s) { (void)s.read(1); }, "127.0.0.1", 0);
            auto s = aio::open_connection("127.0.0.1", srv.port());
            auto reader = aio::create_task([&] { return s.read(10); });
            aio::sleep(10ms);
            s.close();
            CHECK(reader.get().empty());
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("two tasks reading one stream at once is a usage_error naming the first",
          "[stream][misuse]") {
    run_test(
        [] {
            auto srv = aio::start_server([](aio::stream& s) { (void)s.read(1); }, "127.0.0.1", 0);
            auto s = aio::open_connection("127.0.0.1", srv.port());
            auto first = aio::create_task(aio::task_options{.name = "first reader"},
                                          [&] { return s.read(10); });
            aio::sleep(5ms);
            auto second = aio::create_task([&] { return s.read(10); });
            CHECK_THROWS_WITH(second.get(), Catch::Contains("task 'first reader' is already "
                                                            "reading this stream") &&
                                                Catch::Contains("aio::queue"));
            auto third = aio::create_task([&] { return s.read_line(); });
            CHECK_THROWS_WITH(third.get(), Catch::StartsWith("aio::stream::read_line:"));
            first.cancel();
            CHECK_THROWS_AS(first.get(), aio::cancelled_error);
            s.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("two tasks writing one stream at once is a usage_error", "[stream][misuse]") {
    run_test(
        [] {
            aio::event go;
            auto srv = aio::start_server(
                [&](aio::stream& s) {
                    go.wait();
                    (void)s.read(1);
                },
                "127.0.0.1", 0);
            aio::stream_options o;
            o.high_water = 1024;
            o.low_water = 0;
            auto s = aio::open_connection("127.0.0.1", srv.port(), o);
            auto first = aio::create_task(aio::task_options{.name = "first writer"}, [&] {
                for (int i = 0; i < 10000; ++i) {
                    s.write(std::string(4096, 'w'));  // soon suspends: nobody reads
                }
            });
            aio::sleep(20ms);
            REQUIRE_FALSE(first.done());
            auto second = aio::create_task([&] { s.write("x"); });
            CHECK_THROWS_WITH(second.get(), Catch::Contains("task 'first writer' is already "
                                                            "writing this stream"));
            first.cancel();
            CHECK_THROWS_AS(first.get(), aio::cancelled_error);
            s.abort();
            go.set();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("connection refused is a system_error naming the peer and the operation",
          "[stream][errors]") {
    run_test(
        [] {
            std::uint16_t port = closed_port();
            try {
                (void)aio::open_connection("127.0.0.1", port);
                FAIL("no error");
            } catch (const std::system_error& e) {
                CHECK(e.code().value() == ECONNREFUSED);
                CHECK_THAT(e.what(),
                           Catch::Contains("connect to 127.0.0.1:" + std::to_string(port)));
                CHECK_THAT(e.what(), Catch::Contains("refused"));
            }
        },
        real_time);
}

TEST_CASE("bad arguments to open_connection are value_errors", "[stream][errors]") {
    run_test([] {
        CHECK_THROWS_AS(aio::open_connection("", 80), aio::value_error);
        aio::stream_options o;
        o.read_timeout = -1s;
        CHECK_THROWS_WITH(aio::open_connection("127.0.0.1", 80, o),
                          Catch::Contains("read_timeout must not be negative"));
        o = {};
        o.low_water = 10;
        o.high_water = 5;
        CHECK_THROWS_AS(aio::open_connection("127.0.0.1", 80, o), aio::value_error);
    });
}

TEST_CASE("an unknown host is a system_error naming it", "[stream][errors]") {
    run_test(
        [] {
            CHECK_THROWS_WITH(aio::open_connection("no-such-host.invalid", 80),
                              Catch::Contains("resolve 'no-such-host.invalid'"));
        },
        real_time);
}

TEST_CASE("the connect timeout fires on a peer that never answers", "[stream][timeout]") {
    black_hole hole;
    run_test(
        [&] {
            aio::stream_options o;
            o.connect_timeout = 50ms;
            auto t0 = aio::test::since_start();
            CHECK_THROWS_WITH(aio::open_connection("127.0.0.1", hole.port, o),
                              Catch::Contains("connect to 127.0.0.1:" + std::to_string(hole.port) +
                                              " timed out after 50") &&
                                  Catch::Contains("connect timeout"));
            CHECK(aio::test::since_start() - t0 >= 50ms);
        },
        real_time);
}

TEST_CASE("cancelling a task blocked in connect cancels it", "[stream][cancel]") {
    black_hole hole;
    run_test(
        [&] {
            auto t = aio::create_task([&] { return aio::open_connection("127.0.0.1", hole.port); });
            aio::sleep(20ms);
            t.cancel();
            CHECK_THROWS_AS(t.get(), aio::cancelled_error);
            CHECK(aio::open_resources().empty());  // the half-open socket was closed
        },
        real_time);
}

TEST_CASE("the read timeout fires on a silent peer, naming the peer", "[stream][timeout]") {
    run_test(
        [] {
            aio::event done;
            auto srv = aio::start_server([&](aio::stream&) { done.wait(); }, "127.0.0.1", 0);
            aio::stream_options o;
            o.read_timeout = 30ms;
            auto s = aio::open_connection("127.0.0.1", srv.port(), o);
            CHECK_THROWS_WITH(s.read(10), Catch::Contains("read from 127.0.0.1:") &&
                                              Catch::Contains("timed out after 30") &&
                                              Catch::Contains("read timeout"));
            CHECK_THROWS_AS(s.read_line(10ms), aio::timeout_error);  // per-call override
            CHECK_THROWS_AS(s.read_exactly(5, 10ms), aio::timeout_error);
            done.set();
            s.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("the write timeout fires when the peer stops reading", "[stream][timeout]") {
    run_test(
        [] {
            aio::event done;
            auto srv = aio::start_server([&](aio::stream&) { done.wait(); }, "127.0.0.1", 0);
            aio::stream_options o;
            o.write_timeout = 50ms;
            o.high_water = 64 * 1024;
            auto s = aio::open_connection("127.0.0.1", srv.port(), o);
            CHECK_THROWS_WITH(
                [&] {
                    for (int i = 0; i < 100000; ++i) {
                        s.write(std::string(64 * 1024, 'x'));
                    }
                }(),
                Catch::Contains("write to 127.0.0.1:") && Catch::Contains("write timeout"));
            s.abort();
            done.set();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("no_timeout disables a timeout explicitly", "[stream][timeout]") {
    run_test(
        [] {
            auto srv = aio::start_server(
                [](aio::stream& s) {
                    aio::sleep(60ms);
                    s.write("late");
                },
                "127.0.0.1", 0);
            aio::stream_options o;
            o.read_timeout = 10ms;
            auto s = aio::open_connection("127.0.0.1", srv.port(), o);
            CHECK(s.read(10, aio::no_timeout) == "late");
            s.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("cancelling a task blocked in read or write cancels it and leaves the stream usable",
          "[stream][cancel]") {
    run_test(
        [] {
            auto srv = echo_server();
            auto s = aio::open_connection("127.0.0.1", srv.port());
            auto reader = aio::create_task([&] { return s.read(10); });
            aio::sleep(10ms);
            reader.cancel();
            CHECK_THROWS_AS(reader.get(), aio::cancelled_error);
            s.write("still works");
            CHECK(s.read_exactly(11) == "still works");
            s.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("Unix-domain streams and servers", "[stream][unix]") {
    run_test(
        [] {
            std::string path = "/tmp/aio-test-" + std::to_string(::getpid()) + ".sock";
            auto srv = aio::start_unix_server([](aio::stream& s) { s.write(s.read_line()); }, path);
            REQUIRE(srv.sockets() == std::vector<std::string>{path});
            CHECK(srv.port() == 0);
            auto s = aio::open_unix_connection(path);
            s.write("over unix\n");
            CHECK(s.read_line() == "over unix\n");
            s.close();
            srv.close();
            srv.wait_closed();
            CHECK(::access(path.c_str(), F_OK) != 0);  // the socket file is gone
            CHECK_THROWS_AS(aio::open_unix_connection(path), std::system_error);
            CHECK_THROWS_AS(aio::open_unix_connection(""), aio::value_error);
        },
        real_time);
}

TEST_CASE("IPv6 loopback works when the machine has it", "[stream][ipv6]") {
    run_test(
        [] {
            aio::server srv;
            try {
                srv = aio::start_server([](aio::stream& s) { s.write(s.read_line()); }, "::1", 0);
            } catch (const std::system_error&) {
                WARN("no IPv6 loopback on this machine");
                return;
            }
            CHECK(srv.sockets()[0].rfind("[::1]:", 0) == 0);
            auto s = aio::open_connection("::1", srv.port());
            s.write("six\n");
            CHECK(s.read_line() == "six\n");
            CHECK(s.peer_address() == "[::1]:" + std::to_string(srv.port()));
            s.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("a stream destroyed without close is aborted and its registration closed", "[stream]") {
    run_test(
        [] {
            auto srv = echo_server();
            std::string name = "to 127.0.0.1:" + std::to_string(srv.port());
            auto count = [&] {
                std::size_t n = 0;
                for (const auto& r : aio::open_resources()) {
                    n += r.kind == "stream" && r.name == name ? 1 : 0;
                }
                return n;
            };
            {
                auto s = aio::open_connection("127.0.0.1", srv.port());
                CHECK(count() == 1);
            }
            CHECK(count() == 0);
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("a second reader cannot take buffered data from a task waiting in read_until",
          "[stream][misuse]") {
    run_test(
        [] {
            aio::event more;
            auto srv = aio::start_server(
                [&](aio::stream& s) {
                    s.write("no newline yet");
                    more.wait();
                },
                "127.0.0.1", 0);
            auto s = aio::open_connection("127.0.0.1", srv.port());
            auto liner =
                aio::create_task(aio::task_options{.name = "liner"}, [&] { return s.read_line(); });
            aio::sleep(20ms);  // the line's start is buffered; liner waits for the rest
            REQUIRE(s.read_buffer_size() > 0);
            CHECK_THROWS_WITH(s.read(5), Catch::Contains("task 'liner' is already reading"));
            char buf[4];
            CHECK_THROWS_AS(s.read_into(buf), aio::usage_error);
            CHECK(s.read_buffer_size() == 14);  // nothing was taken
            more.set();
            CHECK(liner.get() == "no newline yet");  // then EOF: the handler returned
            s.close();
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("the write timeout is an idle timeout: a slow but steady reader never trips it",
          "[stream][timeout]") {
    run_test(
        [] {
            std::size_t received = 0;
            auto srv = aio::start_server(
                [&](aio::stream& s) {
                    while (true) {
                        std::string chunk = s.read(64 * 1024);
                        if (chunk.empty()) {
                            return;
                        }
                        received += chunk.size();
                        aio::sleep(3ms);
                    }
                },
                "127.0.0.1", 0);
            aio::stream_options o;
            o.write_timeout = 100ms;
            o.high_water = 64 * 1024;
            o.low_water = 16 * 1024;
            auto s = aio::open_connection("127.0.0.1", srv.port(), o);
            // A small kernel send buffer, so that progress shows in small steps rather than
            // in one wake-up when megabytes of autotuned buffer have drained.
            int sndbuf = 64 * 1024;
            ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
            auto t0 = aio::test::since_start();
            for (int i = 0; i < 128; ++i) {
                s.write(std::string(32 * 1024, 'p'));  // 4 MiB, a few hundred ms
            }
            s.close();
            CHECK(aio::test::since_start() - t0 > 100ms);  // longer than the timeout in all
            srv.close();
            srv.wait_closed();
            CHECK(received == 4u * 1024 * 1024);
        },
        real_time);
}

TEST_CASE("a stream destroyed without close resets the connection", "[stream]") {
    run_test(
        [] {
            std::string seen;
            aio::event done;
            auto srv = aio::start_server(
                [&](aio::stream& s) {
                    try {
                        while (!s.read(64 * 1024).empty()) {
                        }
                        seen = "eof";
                    } catch (const std::system_error& e) {
                        seen = e.what();
                    }
                    done.set();
                },
                "127.0.0.1", 0);
            {
                aio::stream_options o;
                o.high_water = 64 * 1024 * 1024;
                auto s = aio::open_connection("127.0.0.1", srv.port(), o);
                s.write(std::string(8 * 1024 * 1024, 'd'));  // more than the socket takes
            }
            done.wait();
            CHECK_THAT(seen, Catch::Contains("Connection reset"));  // not a clean EOF
            srv.close();
            srv.wait_closed();
        },
        real_time);
}

TEST_CASE("the resolve timeout fires on a name lookup that takes too long", "[stream][timeout]") {
    run_test(
        [] {
            // The lookup takes 1 s; the timeout fires at 30 ms. A bound between the two that a
            // loaded machine does not reach by accident tells them apart.
            aio::detail::set_resolve_delay_for_tests(1s);
            aio::stream_options o;
            o.resolve_timeout = 30ms;
            auto t0 = aio::test::since_start();
            CHECK_THROWS_WITH(aio::open_connection("name.invalid", 80, o),
                              Catch::Contains("resolve 'name.invalid' timed out after 30") &&
                                  Catch::Contains("resolve timeout"));
            CHECK(aio::test::since_start() - t0 < 700ms);  // it did not wait for the lookup
            aio::detail::set_resolve_delay_for_tests(0ms);
        },
        real_time);
}
