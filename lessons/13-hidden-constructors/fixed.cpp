// Lesson 13, fixed: the constructor is cheap (it stores a connected stream), and the I/O is
// in a static factory, price_feed::open, that connects with aio::open_connection (the talk's
// `client = await create_session()`). Its name says it does I/O; each widget waits for its
// own connection while the loop, and the heartbeat, go on.
#include "lesson.hpp"

#include <aio/aio.hpp>
#include <aio/stream.hpp>

#include <string>
#include <thread>
#include <vector>

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
    // FIXED: the factory does the I/O, and says so by its name. open_connection resolves the
    // name off the loop and connects without blocking it; read_line suspends only this
    // task. Each is a yield point, with a default timeout.
    static price_feed open(std::string_view host, std::uint16_t port) {
        aio::stream conn = aio::open_connection(host, port);
        std::string greeting = conn.read_line();
        greeting.pop_back();  // the '\n'
        return price_feed(std::move(conn), std::move(greeting));
    }

    std::string price(const std::string& symbol) {
        conn_.write("PRICE " + symbol + "\n");
        std::string line = conn_.read_line();
        line.pop_back();
        return line;
    }
    const std::string& greeting() const { return greeting_; }
    // FIXED: closing is I/O too (it flushes), so it is a call of its own, not the destructor.
    void close() { conn_.close(); }

private:
    // FIXED: the constructor only stores what open() made: no I/O, cannot fail, cheap.
    price_feed(aio::stream conn, std::string greeting)
        : conn_(std::move(conn))
        , greeting_(std::move(greeting)) {}
    aio::stream conn_;
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
    price_feed feed = price_feed::open("localhost", port);  // FIXED: visibly I/O
    lesson::say("widget %d: ACME %s (%s)", n, feed.price("ACME").c_str(), feed.greeting().c_str());
    feed.close();
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
