// The load generator of the TCP echo benchmark (tools/bench/echo): one thread, plain epoll,
// non-blocking sockets, shared by every server so that they all see the same client.
//
// N connections play ping-pong: each sends an M-byte message, waits for the whole echo (and
// checks it byte for byte), then sends the next. After a warm-up, messages completed inside the
// measurement window are counted. With --server-pid the client also samples the server's CPU
// time exactly at the two edges of the window, so the server's CPU per message covers the same
// messages as the count. It also reports how long each side waited for its core during the
// window (run-queue wait from schedstat): other processes on those cores disturb the figures.
//
// Any error, early EOF, garbled echo, stalled connection or connection that completed nothing
// in the window makes it exit non-zero with a message on stderr.

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
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

[[noreturn]] void die(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

void die(const char* fmt, ...) {
    std::fputs("echo_client: error: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fputc('\n', stderr);
    std::exit(1);
}

struct options {
    std::string host = "127.0.0.1";
    std::string port;
    int connections = 50;
    std::size_t size = 64;
    double warmup = 1.0;
    double duration = 5.0;
    long server_pid = 0;  // 0: do not measure the server
    bool json = false;
};

void usage(FILE* out) {
    std::fputs("usage: aio_echo_client --port P [--host 127.0.0.1] [--connections 50] [--size 64]\n"
               "                       [--warmup 1] [--duration 5] [--server-pid PID] [--json]\n"
               "  --server-pid  sample that process's CPU time at the edges of the window\n"
               "  --json        print one JSON object instead of the readable summary\n",
               out);
}

template <typename T>
T parse_number(std::string_view flag, std::string_view text) {
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        die("%.*s: not a number: '%.*s'", int(flag.size()), flag.data(), int(text.size()),
            text.data());
    }
    return value;
}

options parse_options(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&]() -> std::string_view {
            if (i + 1 >= argc) {
                die("%s needs a value", argv[i]);
            }
            return argv[++i];
        };
        if (a == "--host") {
            o.host = value();
        } else if (a == "--port") {
            o.port = value();
        } else if (a == "--connections") {
            o.connections = parse_number<int>(a, value());
        } else if (a == "--size") {
            o.size = parse_number<std::size_t>(a, value());
        } else if (a == "--warmup") {
            o.warmup = parse_number<double>(a, value());
        } else if (a == "--duration") {
            o.duration = parse_number<double>(a, value());
        } else if (a == "--server-pid") {
            o.server_pid = parse_number<long>(a, value());
        } else if (a == "--json") {
            o.json = true;
        } else if (a == "--help" || a == "-h") {
            usage(stdout);
            std::exit(0);
        } else {
            usage(stderr);
            die("unknown argument '%s'", argv[i]);
        }
    }
    if (o.port.empty()) {
        usage(stderr);
        die("--port is required");
    }
    if (o.connections < 1 || o.size < 1 || o.warmup < 0 || o.duration <= 0) {
        die("--connections and --size must be >= 1, --warmup >= 0, --duration > 0");
    }
    return o;
}

std::int64_t clock_ns(clockid_t clock) {
    timespec ts{};
    if (clock_gettime(clock, &ts) != 0) {
        die("clock_gettime: %s", std::strerror(errno));
    }
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t now_ns() {
    return clock_ns(CLOCK_MONOTONIC);
}

// Nanoseconds a task spent runnable but waiting for a CPU (the second field of
// /proc/<pid>/schedstat): time other processes took from the core it is pinned to. Near zero
// when the run was not disturbed. -1 when the kernel does not provide it.
std::int64_t runqueue_wait_ns(const char* path) {
    FILE* f = std::fopen(path, "r");
    if (f == nullptr) {
        return -1;
    }
    unsigned long long run = 0;
    unsigned long long wait = 0;
    int n = std::fscanf(f, "%llu %llu", &run, &wait);
    std::fclose(f);
    return n == 2 ? std::int64_t(wait) : -1;
}

// The server's CPU time (user + system, all threads). The process CPU clock has nanosecond
// resolution; /proc/<pid>/stat's utime + stime (clock ticks, 10 ms) is read as a cross-check.
struct server_probe {
    long pid = 0;
    clockid_t clock{};
    std::string stat_path;
    std::string schedstat_path;

    explicit server_probe(long p)
        : pid(p) {
        if (pid == 0) {
            return;
        }
        if (int rc = clock_getcpuclockid(pid_t(pid), &clock); rc != 0) {
            die("cannot read the CPU clock of server pid %ld: %s", pid, std::strerror(rc));
        }
        stat_path = "/proc/" + std::to_string(pid) + "/stat";
        schedstat_path = "/proc/" + std::to_string(pid) + "/schedstat";
    }

    std::int64_t cpu_ns() const {
        timespec ts{};
        if (clock_gettime(clock, &ts) != 0) {
            die("server pid %ld: CPU clock: %s (did the server exit?)", pid, std::strerror(errno));
        }
        return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    }

    std::int64_t stat_ns() const {
        FILE* f = std::fopen(stat_path.c_str(), "r");
        if (f == nullptr) {
            die("%s: %s (did the server exit?)", stat_path.c_str(), std::strerror(errno));
        }
        char buf[1024];
        std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
        std::fclose(f);
        buf[n] = '\0';
        // Fields after the command name (which may contain spaces) start after the last ')'.
        char* p = std::strrchr(buf, ')');
        if (p == nullptr) {
            die("%s: unexpected format", stat_path.c_str());
        }
        // ") state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime"
        unsigned long long utime = 0;
        unsigned long long stime = 0;
        if (std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                        &stime) != 2) {
            die("%s: unexpected format", stat_path.c_str());
        }
        return std::int64_t(utime + stime) * (1'000'000'000 / sysconf(_SC_CLK_TCK));
    }
};

struct connection {
    int fd = -1;
    int index = 0;
    std::vector<unsigned char> out;  // the message in flight
    std::vector<unsigned char> in;   // its echo so far
    std::size_t sent = 0;
    std::size_t received = 0;
    std::uint64_t seq = 0;
    bool want_out = false;  // EPOLLOUT registered (a send is pending)
    std::uint64_t window_messages = 0;
};

class client {
public:
    client(const options& o, const server_probe& server)
        : opt_(o)
        , server_(server)
        , conns_(std::size_t(o.connections)) {
        epfd_ = epoll_create1(EPOLL_CLOEXEC);
        if (epfd_ < 0) {
            die("epoll_create1: %s", std::strerror(errno));
        }
    }

    void connect_all();
    void run();
    void check() const;
    void report() const;

private:
    // One edge of the measurement window: when, and the CPU time of both sides.
    struct sample {
        std::int64_t wall = 0;
        std::int64_t client_cpu = 0;
        std::int64_t server_cpu = 0;
        std::int64_t server_stat = 0;
        std::int64_t client_wait = 0;
        std::int64_t server_wait = 0;
    };
    sample take_sample() const;

    void update_events(connection& c, bool want_out);
    void start_message(connection& c);
    void on_writable(connection& c);
    void on_readable(connection& c);

    const options& opt_;
    const server_probe& server_;
    std::vector<connection> conns_;
    int epfd_ = -1;
    bool measuring_ = false;
    std::uint64_t messages_ = 0;
    sample begin_;
    sample end_;
};

client::sample client::take_sample() const {
    sample s;
    s.wall = now_ns();
    s.client_cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    s.client_wait = runqueue_wait_ns("/proc/thread-self/schedstat");
    if (server_.pid != 0) {
        s.server_cpu = server_.cpu_ns();
        s.server_stat = server_.stat_ns();
        s.server_wait = runqueue_wait_ns(server_.schedstat_path.c_str());
    }
    return s;
}

void client::update_events(connection& c, bool want_out) {
    if (c.want_out == want_out) {
        return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | (want_out ? EPOLLOUT : 0u);
    ev.data.u32 = std::uint32_t(c.index);
    if (epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) {
        die("epoll_ctl: %s", std::strerror(errno));
    }
    c.want_out = want_out;
}

void client::connect_all() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = getaddrinfo(opt_.host.c_str(), opt_.port.c_str(), &hints, &res); rc != 0) {
        die("resolving %s:%s: %s", opt_.host.c_str(), opt_.port.c_str(), gai_strerror(rc));
    }
    for (std::size_t i = 0; i < conns_.size(); ++i) {
        connection& c = conns_[i];
        c.index = int(i);
        c.fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {
            die("socket: %s", std::strerror(errno));
        }
        int one = 1;
        if (setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
            die("TCP_NODELAY: %s", std::strerror(errno));
        }
        if (connect(c.fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
            die("connection %zu to %s:%s: connect: %s", i, opt_.host.c_str(), opt_.port.c_str(),
                std::strerror(errno));
        }
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.u32 = std::uint32_t(i);
        if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
            die("epoll_ctl: %s", std::strerror(errno));
        }
        c.want_out = true;
        c.out.resize(opt_.size);
        c.in.resize(opt_.size);
    }
    freeaddrinfo(res);

    // Wait until every connection is established (or failed).
    std::size_t pending = conns_.size();
    std::int64_t deadline = now_ns() + 10'000'000'000;
    std::vector<epoll_event> events(conns_.size());
    while (pending > 0) {
        int timeout_ms = int(std::max<std::int64_t>(0, (deadline - now_ns()) / 1'000'000));
        int n = epoll_wait(epfd_, events.data(), int(events.size()), timeout_ms);
        if (n < 0 && errno != EINTR) {
            die("epoll_wait: %s", std::strerror(errno));
        }
        if (n == 0 && now_ns() >= deadline) {
            die("%zu of %zu connections to %s:%s not established after 10 s", pending,
                conns_.size(), opt_.host.c_str(), opt_.port.c_str());
        }
        for (int k = 0; k < n; ++k) {
            connection& c = conns_[events[k].data.u32];
            if (!c.want_out) {
                continue;
            }
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
                err = errno;
            }
            if (err != 0) {
                die("connection %d to %s:%s: %s", c.index, opt_.host.c_str(), opt_.port.c_str(),
                    std::strerror(err));
            }
            update_events(c, false);  // from now on: EPOLLIN, EPOLLOUT only while a send is short
            --pending;
        }
    }
}

// Stamps the message with the connection and its sequence number, so that a lost, repeated
// or reordered byte shows up as a mismatch in the echo.
void client::start_message(connection& c) {
    ++c.seq;
    unsigned char seed = static_cast<unsigned char>(c.seq * 131 + std::uint64_t(c.index) * 7);
    for (std::size_t i = 0; i < c.out.size(); ++i) {
        c.out[i] = static_cast<unsigned char>(seed + i);
    }
    std::uint64_t stamp[2] = {c.seq, std::uint64_t(c.index)};
    std::memcpy(c.out.data(), stamp, std::min(c.out.size(), sizeof stamp));
    c.sent = 0;
    c.received = 0;
    on_writable(c);
}

void client::on_writable(connection& c) {
    while (c.sent < c.out.size()) {
        ssize_t n = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                update_events(c, true);
                return;
            }
            if (errno == EINTR) {
                continue;
            }
            die("connection %d: send: %s", c.index, std::strerror(errno));
        }
        c.sent += std::size_t(n);
    }
    update_events(c, false);
}

void client::on_readable(connection& c) {
    // Reads at most what is still owed: a server that sends more than it received shows up as
    // a mismatch in the next message (or as data after the last one).
    ssize_t n = recv(c.fd, c.in.data() + c.received, c.in.size() - c.received, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return;
        }
        die("connection %d: recv: %s", c.index, std::strerror(errno));
    }
    if (n == 0) {
        die("connection %d: the server closed it after %zu of %zu echoed bytes of message %" PRIu64,
            c.index, c.received, c.in.size(), c.seq);
    }
    c.received += std::size_t(n);
    if (c.received < c.in.size()) {
        return;
    }
    if (c.sent != c.out.size()) {
        die("connection %d: got %zu echoed bytes but sent only %zu", c.index, c.received, c.sent);
    }
    if (std::memcmp(c.in.data(), c.out.data(), c.in.size()) != 0) {
        die("connection %d: message %" PRIu64 ": the echo differs from what was sent", c.index,
            c.seq);
    }
    if (measuring_) {
        ++c.window_messages;
        ++messages_;
    }
    start_message(c);
}

void client::run() {
    std::vector<epoll_event> events(conns_.size());
    const std::int64_t start = now_ns();
    const std::int64_t warmup_end = start + std::int64_t(opt_.warmup * 1e9);
    const std::int64_t stall_limit = 5'000'000'000;
    std::int64_t last_progress = start;
    std::int64_t run_end = 0;
    for (connection& c : conns_) {
        start_message(c);
    }
    for (;;) {
        std::int64_t now = now_ns();
        // The edges of the window are taken between two epoll_waits, before handling the
        // events that woke us: messages completed after the first edge count, messages
        // completed after the second do not.
        if (!measuring_ && run_end == 0 && now >= warmup_end) {
            measuring_ = true;
            begin_ = take_sample();
            run_end = begin_.wall + std::int64_t(opt_.duration * 1e9);
        } else if (measuring_ && now >= run_end) {
            measuring_ = false;
            end_ = take_sample();
            return;
        }
        std::int64_t next_edge = measuring_ ? run_end : warmup_end;
        int timeout_ms =
            int(std::clamp<std::int64_t>((next_edge - now + 999'999) / 1'000'000, 0, 1000));
        int n = epoll_wait(epfd_, events.data(), int(events.size()), timeout_ms);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("epoll_wait: %s", std::strerror(errno));
        }
        if (n == 0) {
            if (now_ns() - last_progress > stall_limit) {
                die("no reply from the server for %.0f s", double(stall_limit) / 1e9);
            }
            continue;
        }
        last_progress = now;
        for (int k = 0; k < n; ++k) {
            connection& c = conns_[events[k].data.u32];
            std::uint32_t ev = events[k].events;
            if ((ev & EPOLLOUT) != 0 && c.want_out) {
                on_writable(c);
            }
            if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
                on_readable(c);
            }
        }
    }
}

// After the window: every connection must have made progress in it.
void client::check() const {
    if (messages_ == 0) {
        die("no message completed in the %.1f s window", opt_.duration);
    }
    for (const connection& c : conns_) {
        if (c.window_messages == 0) {
            die("connection %d completed no message in the window (others did %" PRIu64 ")",
                c.index, messages_);
        }
    }
}

void client::report() const {
    const double window = double(end_.wall - begin_.wall) / 1e9;
    const double rate = double(messages_) / window;
    const double client_cpu = double(end_.client_cpu - begin_.client_cpu) / 1e9;
    std::uint64_t lo = UINT64_MAX;
    std::uint64_t hi = 0;
    for (const connection& c : conns_) {
        lo = std::min(lo, c.window_messages);
        hi = std::max(hi, c.window_messages);
    }
    const double server_cpu = double(end_.server_cpu - begin_.server_cpu) / 1e9;
    const double server_stat = double(end_.server_stat - begin_.server_stat) / 1e9;
    const double ns_per_message = messages_ > 0 ? server_cpu * 1e9 / double(messages_) : 0.0;
    // Share of the window each side spent waiting for its core (-1: unknown).
    auto wait_fraction = [&](std::int64_t a, std::int64_t b) {
        return a < 0 || b < 0 ? -1.0 : double(b - a) / 1e9 / window;
    };
    const double client_wait = wait_fraction(begin_.client_wait, end_.client_wait);
    const double server_wait = wait_fraction(begin_.server_wait, end_.server_wait);
    if (opt_.json) {
        std::printf("{\"connections\": %d, \"size\": %zu, \"warmup_s\": %.3f, \"window_s\": %.6f, "
                    "\"messages\": %" PRIu64 ", \"messages_per_s\": %.1f, "
                    "\"min_connection_messages\": %" PRIu64
                    ", \"max_connection_messages\": %" PRIu64 ", "
                    "\"client_cpu_s\": %.6f, \"client_cpu_fraction\": %.4f, "
                    "\"client_wait_fraction\": %.4f",
                    opt_.connections, opt_.size, opt_.warmup, window, messages_, rate, lo, hi,
                    client_cpu, client_cpu / window, client_wait);
        if (server_.pid != 0) {
            std::printf(", \"server_pid\": %ld, \"server_cpu_s\": %.6f, \"server_cpu_fraction\": "
                        "%.4f, \"server_cpu_ns_per_message\": %.2f, \"server_stat_cpu_s\": %.3f, "
                        "\"server_wait_fraction\": %.4f",
                        server_.pid, server_cpu, server_cpu / window, ns_per_message, server_stat,
                        server_wait);
        }
        std::printf("}\n");
    } else {
        std::printf("echo client: %d connections x %zu B, warm-up %.1f s, window %.3f s\n",
                    opt_.connections, opt_.size, opt_.warmup, window);
        std::printf("messages/s:  %.0f  (%" PRIu64 " messages; per connection %" PRIu64
                    " to %" PRIu64 ")\n",
                    rate, messages_, lo, hi);
        std::printf("client CPU:  %.3f s (%.1f %% of one core; waited %.1f %% for it)\n",
                    client_cpu, 100.0 * client_cpu / window, 100.0 * client_wait);
        if (server_.pid != 0) {
            std::printf("server CPU:  %.3f s (%.1f %% of one core; /proc stat says %.2f s; "
                        "waited %.1f %% for it), %.0f ns per message\n",
                        server_cpu, 100.0 * server_cpu / window, server_stat, 100.0 * server_wait,
                        ns_per_message);
        }
    }
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    const options opt = parse_options(argc, argv);
    const server_probe server(opt.server_pid);
    client c(opt, server);
    c.connect_all();
    c.run();
    c.check();
    c.report();
    return 0;
}
