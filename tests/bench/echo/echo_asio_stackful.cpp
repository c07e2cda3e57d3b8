// A peer of the TCP echo benchmark (tools/bench/echo): Boost.Asio with stackful coroutines
// (asio::spawn, Boost.Coroutine on Boost.Context) on one io_context run by one thread; each
// connection is a coroutine looping async_read_some / async_write with yield, TCP_NODELAY on.
// The closest Asio counterpart of aio's fibers.
//
// Usage: aio_echo_asio_stackful [--host 127.0.0.1] [--port 0]
// The first line on stdout is the bound port.

#include <boost/asio.hpp>
#include <boost/asio/spawn.hpp>

#include <array>
#include <cstdio>
#include <string>
#include <string_view>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

void echo(tcp::socket socket, asio::yield_context yield) {
    std::array<char, 64 * 1024> buf;
    boost::system::error_code ec;
    for (;;) {
        std::size_t n = socket.async_read_some(asio::buffer(buf), yield[ec]);
        if (ec) {
            return;
        }
        asio::async_write(socket, asio::buffer(buf.data(), n), yield[ec]);
        if (ec) {
            return;
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    std::string port = "0";
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if ((a == "--host" || a == "--port") && i + 1 < argc) {
            (a == "--host" ? host : port) = argv[++i];
        } else {
            std::fprintf(stderr, "usage: aio_echo_asio_stackful [--host 127.0.0.1] [--port 0]\n");
            return 2;
        }
    }
    asio::io_context ctx(1);  // one thread runs the context: no internal locking
    tcp::endpoint endpoint(asio::ip::make_address(host),
                           static_cast<unsigned short>(std::stoi(port)));
    tcp::acceptor acceptor(ctx, endpoint);
    std::printf("%d\n", int(acceptor.local_endpoint().port()));
    std::fflush(stdout);
    asio::spawn(ctx, [&](asio::yield_context yield) {
        for (;;) {
            boost::system::error_code ec;
            tcp::socket socket(ctx);
            acceptor.async_accept(socket, yield[ec]);
            if (ec) {
                std::fprintf(stderr, "echo_asio_stackful: accept: %s\n", ec.message().c_str());
                continue;
            }
            socket.set_option(tcp::no_delay(true), ec);
            // The 64 KiB buffer lives on the coroutine's stack: Boost.Coroutine's default
            // (64 KiB) is too small for it.
            asio::spawn(
                ctx,
                [s = std::move(socket)](asio::yield_context y) mutable { echo(std::move(s), y); },
                boost::coroutines::attributes(256 * 1024));
        }
    });
    ctx.run();
}
