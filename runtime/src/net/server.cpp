// Servers. The listening socket is watched level-triggered; its epoll callback accepts on
// the loop stack (up to a batch per wake-up, so one busy listener cannot starve the rest)
// and starts one task per connection. The connection tasks hold the server's state by
// shared pointer, so a server object may go away before its connections end.
#include "net.hpp"

#include <aio/errors.hpp>
#include <aio/event.hpp>
#include <aio/instrument.hpp>
#include <aio/server.hpp>
#include <aio/task.hpp>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace aio::detail {

struct server_impl : std::enable_shared_from_this<server_impl> {
    struct listener : io_watcher {
        server_impl* owner = nullptr;
        std::string address;
    };

    connection_handler handler;
    server_options opts;
    std::string name;
    std::string unix_path;  // removed on close
    std::vector<std::unique_ptr<listener>> listeners;
    std::shared_ptr<resource_registry> anchor;
    resource_registration registration;
    bool serving = false;
    bool paused = false;  // after an accept error, until the retry timer
    bool logged_pause = false;
    timer_handle retry;
    std::uint64_t accepted = 0;
    std::uint64_t failed_handshakes = 0;
    std::vector<stream*> connections;         // streams of the running connection tasks
    wait_list closed_waiters{"aio::server"};  // wait_closed()

    ~server_impl() { close_listeners(); }

    loop_core* loop() const noexcept { return anchor ? anchor->loop : nullptr; }

    void close_listeners() noexcept {
        loop_core* l = loop();
        for (auto& li : listeners) {
            if (li->fd >= 0) {
                if (l != nullptr && !paused) {
                    l->poller_.remove(*li);
                }
                ::close(li->fd);
                li->fd = -1;
            }
        }
        listeners.clear();
        if (!unix_path.empty()) {
            ::unlink(unix_path.c_str());
            unix_path.clear();
        }
        retry.cancel();
        serving = false;
    }

    void close() noexcept {
        if (!serving && listeners.empty()) {
            return;
        }
        close_listeners();
        registration.close();
        wake_closed();
    }

    void wake_closed() noexcept {
        if (!serving && connections.empty()) {
            while (waiter* w = closed_waiters.pop_front()) {
                notify(*w);
            }
        }
    }

    void on_accept_ready(listener& li) noexcept {
        loop_core* l = loop();
        for (int i = 0; i < 64 && serving && !paused; ++i) {
            sockaddr_storage ss{};
            socklen_t len = sizeof ss;
            int fd = ::accept4(li.fd, reinterpret_cast<sockaddr*>(&ss), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) {
                    continue;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    return;
                }
                pause(*l, errno);
                return;
            }
            logged_pause = false;
            std::string peer = len > sizeof(sa_family_t)
                                   ? format_address(reinterpret_cast<sockaddr*>(&ss), len)
                                   : li.address;
            start_connection(fd, std::move(peer));
        }
    }

    // EMFILE and friends: stop accepting for a while rather than spin or die; say so once.
    void pause(loop_core& l, int err) noexcept {
        if (!logged_pause) {
            logged_pause = true;
            l.report({"Accept error on server '" + name + "'; not accepting for " +
                          format_duration(opts.accept_retry_delay) + ", then trying again",
                      std::make_exception_ptr(
                          std::system_error(err, std::generic_category(), "accept on " + name)),
                      {}});
        }
        paused = true;
        for (auto& li : listeners) {
            l.poller_.remove(*li);
        }
        try {
            time_point when = l.now() + opts.accept_retry_delay;
            std::weak_ptr<server_impl> weak = weak_from_this();
            retry = l.schedule_callback(
                [weak] {
                    if (auto self = weak.lock()) {
                        self->resume();
                    }
                },
                &when);
        } catch (...) {
        }
    }

    void resume() noexcept {
        loop_core* l = loop();
        if (!paused || l == nullptr) {
            return;
        }
        paused = false;
        if (!serving) {
            return;
        }
        for (auto& li : listeners) {
            try {
                l->poller_.add(*li);
            } catch (...) {
            }
        }
    }

    void start_connection(int fd, std::string peer) noexcept {
        try {
            stream s = stream::adopt(fd, opts.connection, peer, true);
            ++accepted;
            auto self = shared_from_this();
            auto t =
                aio::create_task(task_options{.name = name + " <- " + peer},
                                 [self, s = std::move(s)]() mutable { self->run_connection(s); });
            t.detach();
        } catch (...) {
            if (loop_core* l = loop()) {
                l->report({"Could not start a connection task on server '" + name + "'",
                           std::current_exception(),
                           {}});
            }
        }
    }

    void run_connection(stream& s) {
        connections.push_back(&s);
        struct untrack {
            server_impl& self;
            stream& s;
            ~untrack() {
                std::erase(self.connections, &s);
                self.wake_closed();
            }
        } guard{*this, s};
        if (opts.ssl) {
            try {
                stream_access::accept_tls(s, *opts.ssl);
            } catch (const cancelled_error&) {
                throw;
            } catch (...) {
                ++failed_handshakes;  // the stream is aborted
                return;
            }
        }
        try {
            handler(s);
        } catch (const cancelled_error&) {
            s.abort();
            throw;
        } catch (...) {
            s.abort();
            if (stream_access::closed_by_owner(s)) {
                return;  // close_clients() cut it short: its failure is expected
            }
            if (loop_core* l = loop()) {
                std::string who =
                    "connection from " + s.peer_address() + " on server '" + name + "'";
                l->report({"Unhandled exception in a connection handler", std::current_exception(),
                           [who] { return who; }});
            }
            return;
        }
        try {
            s.close();
        } catch (const cancelled_error&) {
            throw;
        } catch (...) {
            s.abort();  // the peer went away with data unsent: nothing more to do
        }
    }
};

server server_access::make(std::shared_ptr<server_impl> impl) noexcept {
    return server(std::move(impl));
}

}  // namespace aio::detail

namespace aio {

using detail::server_impl;

server::server() noexcept = default;
server::server(std::shared_ptr<server_impl> impl) noexcept
    : impl_(std::move(impl)) {
}
server::server(server&&) noexcept = default;

server& server::operator=(server&& o) noexcept {
    if (this != &o) {
        release("replaced by another server without close()");
        impl_ = std::move(o.impl_);
    }
    return *this;
}

server::~server() {
    release("destroyed without close()");
}

// An open server whose handle goes away: stop listening, reset its connections, report it.
void server::release(const char* what) noexcept {
    if (impl_ && (impl_->serving || !impl_->connections.empty())) {
        if (impl_->serving) {
            impl_->registration.abandon(what);
        }
        impl_->close();
        abort_clients();
    }
}

void server::close() {
    if (impl_) {
        impl_->close();
    }
}

void server::wait_closed() {
    if (!impl_) {
        return;
    }
    while (impl_->serving || !impl_->connections.empty()) {
        (void)detail::wait_until(impl_->closed_waiters, no_deadline, "aio::server::wait_closed");
    }
}

void server::close_clients() {
    if (!impl_) {
        return;
    }
    for (stream* s : std::vector<stream*>(impl_->connections)) {
        detail::stream_access::close_soon(*s);  // EOF for its reads; unsent data still goes
    }
}

void server::abort_clients() noexcept {
    if (!impl_) {
        return;
    }
    for (stream* s : std::vector<stream*>(impl_->connections)) {
        s->abort();
    }
}

void server::serve_forever() {
    if (!impl_) {
        throw invalid_state_error("aio::server::serve_forever: this server is empty");
    }
    try {
        aio::event never;
        never.wait();
    } catch (...) {
        close();
        throw;
    }
}

bool server::is_serving() const noexcept {
    return impl_ && impl_->serving;
}

std::vector<std::string> server::sockets() const {
    std::vector<std::string> out;
    if (impl_) {
        for (auto& li : impl_->listeners) {
            out.push_back(li->address);
        }
    }
    return out;
}

std::uint16_t server::port() const {
    if (!impl_) {
        return 0;
    }
    for (auto& li : impl_->listeners) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        if (::getsockname(li->fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
            return detail::address_port(reinterpret_cast<sockaddr*>(&ss));
        }
    }
    return 0;
}

std::size_t server::connection_count() const noexcept {
    return impl_ ? impl_->connections.size() : 0;
}

std::uint64_t server::accepted_count() const noexcept {
    return impl_ ? impl_->accepted : 0;
}

std::uint64_t server::failed_handshakes() const noexcept {
    return impl_ ? impl_->failed_handshakes : 0;
}

namespace {

void check(const connection_handler& handler, const server_options& o, const char* what) {
    if (!handler) {
        throw value_error(std::string(what) + ": the connection handler is empty");
    }
    if (o.backlog < 1) {
        throw value_error(std::string(what) + ": backlog must be at least 1, got " +
                          std::to_string(o.backlog));
    }
    if (o.accept_retry_delay < duration::zero()) {
        throw value_error(std::string(what) + ": accept_retry_delay must not be negative");
    }
    if (o.ssl && !o.ssl->server_side()) {
        throw value_error(std::string(what) +
                          ": server_options::ssl holds a client context; a server needs "
                          "aio::ssl_context::server(cert_file, key_file)");
    }
    if (o.connection.ssl) {
        throw value_error(std::string(what) +
                          ": set the server's TLS context in server_options::ssl, not in "
                          "server_options::connection.ssl");
    }
    detail::check_stream_options(o.connection, what);
}

// Binds and listens on one address; returns the listener (fd >= 0) or throws.
std::unique_ptr<server_impl::listener> listen_on(const detail::net_address& a,
                                                 const server_options& o, bool dual_stack,
                                                 const char* what) {
    std::string shown = detail::format_address(a.get(), a.length);
    int fd = ::socket(a.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        detail::throw_net_error(errno, std::string(what) + ": socket for", shown);
    }
    int one = 1;
    if (o.reuse_address && a.family() != AF_UNIX) {
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (a.family() == AF_INET6) {
        int v6only = dual_stack ? 0 : 1;
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (::bind(fd, a.get(), a.length) != 0 || ::listen(fd, o.backlog) != 0) {
        int err = errno;
        ::close(fd);
        detail::throw_net_error(err, std::string(what) + ": listen on", shown);
    }
    auto li = std::make_unique<server_impl::listener>();
    li->fd = fd;
    li->events = EPOLLIN;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    li->address = a.family() == AF_UNIX
                      ? shown
                      : detail::format_address(reinterpret_cast<sockaddr*>(&ss), len);
    return li;
}

server start(std::shared_ptr<server_impl> impl) {
    detail::loop_core& l = detail::require_loop("aio::start_server");
    impl->anchor = l.resources_;
    for (auto& li : impl->listeners) {
        li->owner = impl.get();
        li->on_ready = [](detail::io_watcher* w, std::uint32_t) noexcept {
            auto* li = static_cast<server_impl::listener*>(w);
            li->owner->on_accept_ready(*li);
        };
    }
    if (impl->name.empty()) {
        impl->name = impl->listeners.empty() ? std::string("server") : impl->listeners[0]->address;
    }
    for (auto& li : impl->listeners) {
        l.poller_.add(*li);
    }
    impl->serving = true;
    impl->registration = resource_registration("server", impl->name);
    return detail::server_access::make(std::move(impl));
}

}  // namespace

server start_server(connection_handler handler, std::string_view host, std::uint16_t port,
                    server_options options) {
    check(handler, options, "aio::start_server");
    (void)detail::require_loop("aio::start_server");
    auto impl = std::make_shared<server_impl>();
    impl->handler = std::move(handler);
    impl->opts = options;
    impl->name = options.name;
    if (host.empty() || host == "*") {
        // Every interface: one dual-stack IPv6 socket, or IPv4 alone where IPv6 is missing.
        try {
            impl->listeners.push_back(listen_on(detail::resolve("::", port, true, no_timeout)[0],
                                                options, true, "aio::start_server"));
        } catch (const std::system_error& e) {
            if (e.code().value() != EAFNOSUPPORT && e.code().value() != EADDRNOTAVAIL) {
                throw;
            }
            impl->listeners.push_back(
                listen_on(detail::resolve("0.0.0.0", port, true, no_timeout)[0], options, false,
                          "aio::start_server"));
        }
    } else {
        auto addresses = detail::resolve(host, port, true, options.connection.resolve_timeout);
        std::uint16_t bound = port;
        for (auto& a : addresses) {
            if (bound != port) {  // port 0: every address on the port the first one got
                if (a.family() == AF_INET) {
                    reinterpret_cast<sockaddr_in*>(&a.storage)->sin_port = htons(bound);
                } else if (a.family() == AF_INET6) {
                    reinterpret_cast<sockaddr_in6*>(&a.storage)->sin6_port = htons(bound);
                }
            }
            impl->listeners.push_back(listen_on(a, options, false, "aio::start_server"));
            if (port == 0 && bound == 0) {
                sockaddr_storage ss{};
                socklen_t len = sizeof ss;
                ::getsockname(impl->listeners.back()->fd, reinterpret_cast<sockaddr*>(&ss), &len);
                bound = detail::address_port(reinterpret_cast<sockaddr*>(&ss));
            }
        }
    }
    return start(std::move(impl));
}

server start_unix_server(connection_handler handler, std::string_view path,
                         server_options options) {
    check(handler, options, "aio::start_unix_server");
    (void)detail::require_loop("aio::start_unix_server");
    detail::net_address a = detail::unix_address(path, "aio::start_unix_server");
    std::string p(path);
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
        ::unlink(p.c_str());  // a stale socket from an earlier run
    }
    auto impl = std::make_shared<server_impl>();
    impl->handler = std::move(handler);
    impl->opts = options;
    impl->name = options.name;
    impl->listeners.push_back(listen_on(a, options, false, "aio::start_unix_server"));
    impl->unix_path = p;
    return start(std::move(impl));
}

}  // namespace aio
