// Right: the blocking class is kept, but all its I/O runs on the thread pool: the constructor
// through aio::to_thread, and each price() too.
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;

// ---- the quote service: a separate program in real life, threads here. It greets each
// new connection after 300 ms (it checks the client first), then answers "PRICE <sym>".

struct quote_service {
    int listener = -1;
    std::uint16_t port = 0;
    std::thread acceptor;
    std::vector<std::thread> connections;

    explicit quote_service(int expected_clients) {
        listener = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::listen(listener, 16);
        socklen_t len = sizeof a;
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
        acceptor = std::thread([this, expected_clients] {
            for (int i = 0; i < expected_clients; ++i) {
                int fd = ::accept(listener, nullptr, nullptr);
                if (fd < 0) {
                    return;
                }
                connections.emplace_back([fd] { serve(fd); });
            }
        });
    }
    ~quote_service() {
        acceptor.join();
        for (auto& t : connections) {
            t.join();
        }
        ::close(listener);
    }
    static void serve(int fd) {
        std::this_thread::sleep_for(300ms);  // checking who is calling
        std::string hello = "HELLO quote-service 1.0\n";
        ::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
        char buf[256];
        while (::recv(fd, buf, sizeof buf, 0) > 0) {
            std::string answer = "41.20\n";
            ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
        }
        ::close(fd);
    }
};

// ---- the client class

class price_feed {
public:
    // TODO: this constructor looks cheap and is not: getaddrinfo, connect and recv are
    // blocking calls, and they run on the loop's thread. Keep the constructor cheap (it
    // should only store a connected aio::stream) and do the I/O in a static factory,
    // `static price_feed open(host, port)`, that uses aio::open_connection.
    price_feed(const char* host, std::uint16_t port) {
        addrinfo hints{};
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        if (int rc = ::getaddrinfo(host, std::to_string(port).c_str(), &hints, &res); rc != 0) {
            throw std::runtime_error(std::string("resolve: ") + gai_strerror(rc));
        }
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        int rc = ::connect(fd_, res->ai_addr, res->ai_addrlen);
        ::freeaddrinfo(res);
        if (rc != 0) {
            ::close(fd_);
            throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
        }
        greeting_ = read_line();  // the service's hello
    }
    ~price_feed() { ::close(fd_); }
    price_feed(const price_feed&) = delete;
    price_feed& operator=(const price_feed&) = delete;

    std::string price(const std::string& symbol) {
        std::string request = "PRICE " + symbol + "\n";
        ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL);
        return read_line();
    }
    const std::string& greeting() const { return greeting_; }

private:
    std::string read_line() {
        char buf[256];
        // The service sends one short line at a time: one recv gets it whole.
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n) - 1) : std::string();
    }
    int fd_ = -1;
    std::string greeting_;
};

// ---- the dashboard

void heartbeat() {
    auto next = std::chrono::steady_clock::now() + 100ms;
    for (int n = 1;; ++n) {
        aio::sleep_until(next);
        auto late = std::chrono::steady_clock::now() - next;
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(late).count();
        lesson::say("heartbeat %2d%s", n, ms > 50 ? "   <-- late: the loop was blocked" : "");
        next += 100ms;
    }
}

void widget(int n, std::uint16_t port) {
    auto feed = aio::to_thread([port] { return std::make_unique<price_feed>("localhost", port); });
    std::string price = aio::to_thread([&feed] { return feed->price("ACME"); });
    lesson::say("widget %d: ACME %s (%s)", n, price.c_str(), feed->greeting().c_str());
}

int main() {
    quote_service service(3);
    aio::run([&] {
        lesson::start();
        auto beat = aio::create_task(aio::task_options{.name = "heartbeat"}, heartbeat);
        aio::sleep(150ms);
        std::vector<aio::task<void>> widgets;
        for (int n = 1; n <= 3; ++n) {
            widgets.push_back(
                aio::create_task(aio::task_options{.name = "widget"}, widget, n, service.port));
        }
        aio::gather(widgets);
        lesson::say("dashboard ready after %.2f s", lesson::elapsed());
        aio::sleep(150ms);
        lesson::stop(beat);
    });
}
