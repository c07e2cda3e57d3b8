// The ceiling of the TCP echo benchmark (tools/bench/echo): a plain single-threaded epoll echo
// server with the fewest system calls we know how to make for ping-pong traffic.
//
// Level-triggered: one recv per readiness (no extra recv just to see EAGAIN, which edge
// triggering would need), then a send of what was read. A send that cannot take everything
// keeps the rest, waits for EPOLLOUT and stops reading that connection until it is flushed, so
// memory stays bounded. Non-blocking sockets, TCP_NODELAY on every accepted connection.
//
// Usage: aio_echo_epoll [--host 127.0.0.1] [--port 0]
// The first line on stdout is the bound port.

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "echo_epoll: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

struct connection {
    int fd = -1;
    std::vector<char> pending;  // echo bytes the socket did not take yet
    std::size_t pending_off = 0;
};

int listen_on(const std::string& host, const std::string& port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* res = nullptr;
    if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
        std::fprintf(stderr, "echo_epoll: %s:%s: %s\n", host.c_str(), port.c_str(),
                     gai_strerror(rc));
        std::exit(1);
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        die("socket");
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        die("bind");
    }
    freeaddrinfo(res);
    if (listen(fd, SOMAXCONN) != 0) {
        die("listen");
    }
    return fd;
}

int bound_port(int fd) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        die("getsockname");
    }
    if (addr.ss_family == AF_INET6) {
        return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    }
    return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

class server {
public:
    explicit server(int listen_fd)
        : listen_fd_(listen_fd) {
        epfd_ = epoll_create1(EPOLL_CLOEXEC);
        if (epfd_ < 0) {
            die("epoll_create1");
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = nullptr;  // the listening socket
        if (epoll_ctl(epfd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0) {
            die("epoll_ctl");
        }
    }

    [[noreturn]] void run() {
        epoll_event events[256];
        for (;;) {
            int n = epoll_wait(epfd_, events, 256, -1);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                die("epoll_wait");
            }
            for (int i = 0; i < n; ++i) {
                auto* c = static_cast<connection*>(events[i].data.ptr);
                if (c == nullptr) {
                    accept_all();
                } else if ((events[i].events & EPOLLOUT) != 0) {
                    flush(c);
                } else {
                    echo(c);
                }
            }
        }
    }

private:
    void accept_all() {
        for (;;) {
            int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                    errno == ECONNABORTED) {
                    return;
                }
                std::fprintf(stderr, "echo_epoll: accept: %s\n", std::strerror(errno));
                return;  // EMFILE and friends: try again on the next readiness
            }
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto* c = new connection;
            c->fd = fd;
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.ptr = c;
            if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
                die("epoll_ctl");
            }
        }
    }

    void close_connection(connection* c) {
        close(c->fd);  // also removes it from the epoll set
        delete c;
    }

    void watch(connection* c, std::uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.ptr = c;
        if (epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
            die("epoll_ctl");
        }
    }

    void echo(connection* c) {
        ssize_t n = recv(c->fd, buf_, sizeof buf_, 0);
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                return;
            }
            close_connection(c);  // EOF or reset
            return;
        }
        std::size_t len = std::size_t(n);
        std::size_t off = 0;
        while (off < len) {
            ssize_t w = send(c->fd, buf_ + off, len - off, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR) {
                    continue;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    c->pending.assign(buf_ + off, buf_ + len);
                    c->pending_off = 0;
                    watch(c, EPOLLOUT);  // stop reading until the echo is out
                    return;
                }
                close_connection(c);
                return;
            }
            off += std::size_t(w);
        }
    }

    void flush(connection* c) {
        while (c->pending_off < c->pending.size()) {
            ssize_t w = send(c->fd, c->pending.data() + c->pending_off,
                             c->pending.size() - c->pending_off, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR) {
                    continue;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    return;
                }
                close_connection(c);
                return;
            }
            c->pending_off += std::size_t(w);
        }
        c->pending.clear();
        c->pending_off = 0;
        watch(c, EPOLLIN);
    }

    int listen_fd_;
    int epfd_ = -1;
    char buf_[64 * 1024];
};

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    std::string host = "127.0.0.1";
    std::string port = "0";
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if ((a == "--host" || a == "--port") && i + 1 < argc) {
            (a == "--host" ? host : port) = argv[++i];
        } else {
            std::fprintf(stderr, "usage: aio_echo_epoll [--host 127.0.0.1] [--port 0]\n");
            return 2;
        }
    }
    int fd = listen_on(host, port);
    std::printf("%d\n", bound_port(fd));
    std::fflush(stdout);
    server s(fd);
    s.run();
}
