// A peer of the TCP echo benchmark (tools/bench/echo): Boost.Asio, one io_context run by one
// thread, completion callbacks (async_read_some, then async_write of what was read, then the
// next read), TCP_NODELAY on every accepted connection. Written the way the Asio examples
// write it: a shared_ptr session per connection, Asio's default handler allocator.
//
// Usage: aio_echo_asio [--host 127.0.0.1] [--port 0]
// The first line on stdout is the bound port.

#include <boost/asio.hpp>

#include <array>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

class session : public std::enable_shared_from_this<session> {
public:
    explicit session(tcp::socket socket)
        : socket_(std::move(socket)) {}

    void start() { read(); }

private:
    void read() {
        socket_.async_read_some(
            asio::buffer(buf_),
            [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                if (!ec) {
                    self->write(n);
                }
            });
    }

    void write(std::size_t n) {
        asio::async_write(socket_, asio::buffer(buf_.data(), n),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                              if (!ec) {
                                  self->read();
                              }
                          });
    }

    tcp::socket socket_;
    std::array<char, 64 * 1024> buf_;
};

void accept(tcp::acceptor& acceptor) {
    acceptor.async_accept([&acceptor](boost::system::error_code ec, tcp::socket socket) {
        if (!ec) {
            socket.set_option(tcp::no_delay(true), ec);
            std::make_shared<session>(std::move(socket))->start();
        } else {
            std::fprintf(stderr, "echo_asio: accept: %s\n", ec.message().c_str());
        }
        accept(acceptor);
    });
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
            std::fprintf(stderr, "usage: aio_echo_asio [--host 127.0.0.1] [--port 0]\n");
            return 2;
        }
    }
    // Concurrency hint 1: one thread runs the context, so Asio can skip its internal locking.
    asio::io_context ctx(1);
    tcp::endpoint endpoint(asio::ip::make_address(host),
                           static_cast<unsigned short>(std::stoi(port)));
    tcp::acceptor acceptor(ctx, endpoint);  // SO_REUSEADDR, listen(SOMAXCONN)
    std::printf("%d\n", int(acceptor.local_endpoint().port()));
    std::fflush(stdout);
    accept(acceptor);
    ctx.run();
}
