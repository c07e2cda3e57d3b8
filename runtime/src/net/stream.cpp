// Streams. A stream owns a non-blocking socket registered once with the loop's epoll,
// edge-triggered for reading and writing, and caches its readiness: an operation tries the
// system call while the socket is known ready and parks only after EAGAIN. A short read
// means the socket was drained, so the next read parks without trying (edge-triggered epoll
// reports any byte that arrives after it), unless the peer already hung up.
//
// Unsent data sits in the write buffer and is flushed from the epoll callback, on the loop
// stack, as the socket becomes writable; write() parks only above the high-water mark.
//
// TLS sits beneath the buffers: with a session (`ssl`), the read buffer holds plaintext from
// SSL_read and the write buffer plaintext for SSL_write, and OpenSSL does the socket I/O
// through the BIO of ssl.cpp, which keeps the same readiness cache. So every stream method
// works unchanged over TLS; only the four places that touch the socket (receive, send,
// half-close, close) ask whether there is a session. OpenSSL can need the other direction
// (a read that must write, a write that must read): the `*_wants_*` flags turn the next
// readiness of that direction into a retry of the blocked one.
#include "net.hpp"
#include "tls.hpp"

#include <aio/errors.hpp>
#include <aio/instrument.hpp>
#include <aio/stream.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <system_error>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace aio::detail {

namespace {
constexpr std::size_t read_chunk = 16 * 1024;
}

struct stream_impl : tls_socket {
    struct watcher : io_watcher {
        stream_impl* owner = nullptr;
    };

    stream_impl(int fd_, stream_options o, std::string peer_, bool unix_domain)
        : opts(std::move(o))
        , peer(std::move(peer_))
        , unix_socket(unix_domain) {
        fd = fd_;
    }

    ~stream_impl() { close_fd(); }
    stream_impl(const stream_impl&) = delete;
    stream_impl& operator=(const stream_impl&) = delete;

    // ---- state (fd, readable, writable: in tls_socket)
    stream_options opts;
    std::string peer;
    bool unix_socket = false;
    watcher w;
    std::shared_ptr<resource_registry> anchor;  // loop->nullptr once the loop closed
    bool registered = false;
    resource_registration registration;

    // read side: bytes [rbeg, rend) of rbuf are unread
    std::unique_ptr<char[]> rbuf;
    std::size_t rcap = 0, rbeg = 0, rend = 0;
    bool peer_hup = false;  // EPOLLRDHUP/HUP seen: read until recv returns 0
    // stream_access::on_hangup(): called once, from the loop, when the peer hangs up.
    void (*hangup_fn)(void*) noexcept = nullptr;
    void* hangup_arg = nullptr;
    bool eof = false;
    int read_error = 0;
    wait_list read_waiters{"aio::stream"};
    task_base* reader = nullptr;

    // write side: bytes [wpos, size) of wbuf are unsent
    std::string wbuf;
    std::size_t wpos = 0;
    int write_error = 0;
    bool eof_requested = false;  // write_eof(): shut down once the buffer is sent
    bool eof_sent = false;
    bool closing = false;
    bool close_when_drained = false;
    bool closed_by_owner = false;  // close_soon() (server::close_clients) closed it  //
                                   // close_soon(): close the socket once the data is out
    wait_list write_waiters{"aio::stream"};
    task_base* writer = nullptr;

    // TLS, once a handshake began (start_tls, or a TLS open_connection / server).
    SSL* ssl = nullptr;
    // Invariant: once set, no OpenSSL call is made on `ssl` again but SSL_free (OpenSSL
    // forbids SSL_shutdown after a fatal error).
    bool tls_failed = false;
    std::string tls_error;           // why the session failed: the errors' message
    bool read_wants_write = false;   // SSL_read needs the socket writable first
    bool write_wants_read = false;   // SSL_write needs the socket readable first
    bool close_notify_sent = false;  // our TLS close_notify is out

    [[nodiscard]] std::size_t unsent() const noexcept { return wbuf.size() - wpos; }
    [[nodiscard]] std::size_t buffered() const noexcept { return rend - rbeg; }

    // ---- epoll

    void register_with(loop_core& l) {
        w.fd = fd;
        w.owner = this;
        w.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        w.on_ready = [](io_watcher* iw, std::uint32_t revents) noexcept {
            static_cast<watcher*>(iw)->owner->on_ready(revents);
        };
        l.poller_.add(w);
        anchor = l.resources_;
        registered = true;
    }

    void on_ready(std::uint32_t revents) noexcept {
        if ((revents & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
            peer_hup = true;
            if (hangup_fn != nullptr) {
                auto fn = hangup_fn;
                hangup_fn = nullptr;
                fn(hangup_arg);
            }
        }
        if ((revents & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
            readable = true;
            if (write_wants_read) {
                write_wants_read = false;
                writable = true;
                flush();
                wake(write_waiters);
            }
            wake(read_waiters);
        }
        if ((revents & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) {
            writable = true;
            if (read_wants_write) {
                read_wants_write = false;
                readable = true;
                wake(read_waiters);
            }
            if (unsent() > 0 || (eof_requested && !eof_sent)) {
                flush();
            }
            wake(write_waiters);
        }
    }

    static void wake(wait_list& list) noexcept {
        while (waiter* x = list.pop_front()) {
            notify(*x);
        }
    }

    loop_core& loop(const char* what) const {
        loop_core& l = net_loop(what);
        if (!anchor || anchor->loop != &l) {
            throw usage_error(std::string(what) +
                              ": this stream belongs to another loop (or its loop has closed); "
                              "use a stream only in the aio::run that opened it");
        }
        return l;
    }

    // Closes with a reset (RST), not an orderly end (FIN): unsent data was dropped, and the
    // peer must not take what it got for the whole.
    void reset() noexcept {
        if (fd >= 0) {
            linger l{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        }
        closing = true;
        wbuf.clear();
        wpos = 0;
        close_fd();
    }

    void close_fd() noexcept {
        if (fd < 0) {
            return;
        }
        if (registered && anchor && anchor->loop != nullptr) {
            anchor->loop->poller_.remove(w);
        }
        registered = false;
        ::close(fd);
        fd = -1;
        if (ssl != nullptr) {
            SSL_free(ssl);
            ssl = nullptr;
        }
        registration.close();
        wake(read_waiters);
        wake(write_waiters);
    }

    // ---- reading

    // Receives into the buffer. Returns false at EOF. Parks while nothing has arrived.
    bool fill(time_point deadline, duration timeout, const char* what) {
        for (;;) {
            if (read_error != 0) {
                throw_read_error();
            }
            if (eof || fd < 0) {
                eof = true;
                return false;
            }
            if (readable) {
                if (rbeg == rend) {
                    rbeg = rend = 0;
                }
                if (rcap - rend < read_chunk / 4) {
                    grow();
                }
                std::size_t want = rcap - rend;
                ssize_t n = ssl != nullptr ? tls_recv(rbuf.get() + rend, want)
                                           : ::recv(fd, rbuf.get() + rend, want, MSG_DONTWAIT);
                if (n > 0) {
                    rend += static_cast<std::size_t>(n);
                    if (static_cast<std::size_t>(n) < want && !peer_hup && ssl == nullptr) {
                        readable = false;  // drained; epoll reports what comes next
                    }
                    return true;
                }
                if (n == 0) {
                    eof = true;
                    return false;
                }
                if (errno == EINTR) {
                    continue;
                }
                if (errno != EAGAIN && errno != EWOULDBLOCK) {
                    read_error = errno;
                    continue;
                }
                readable = false;
            }
            if (!wait_until(read_waiters, deadline, what)) {
                throw_net_timeout("read from", peer, timeout, "read");
            }
        }
    }

    void grow() {
        std::size_t live = rend - rbeg;
        if (rbeg > 0 && rcap - live >= read_chunk / 4 && rbuf) {
            std::memmove(rbuf.get(), rbuf.get() + rbeg, live);
            rbeg = 0;
            rend = live;
            return;
        }
        std::size_t cap = std::max(read_chunk, (live + read_chunk / 4) * 2);
        auto fresh = std::make_unique<char[]>(cap);
        if (live > 0) {
            std::memcpy(fresh.get(), rbuf.get() + rbeg, live);
        }
        rbuf = std::move(fresh);
        rcap = cap;
        rbeg = 0;
        rend = live;
    }

    std::string take(std::size_t n) {
        n = std::min(n, buffered());
        std::string out(rbuf.get() + rbeg, n);
        rbeg += n;
        return out;
    }

    // ---- writing

    // Sends from the buffer until it is empty or the socket is full. Loop stack or task.
    void flush() noexcept {
        while (unsent() > 0 && writable && write_error == 0 && fd >= 0) {
            ssize_t n = ssl != nullptr
                            ? tls_send(wbuf.data() + wpos, unsent())
                            : ::send(fd, wbuf.data() + wpos, unsent(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                wpos += static_cast<std::size_t>(n);
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                writable = false;
            } else {
                write_error = n < 0 ? errno : EPIPE;
            }
        }
        if (unsent() == 0) {
            wbuf.clear();
            wpos = 0;
            if (eof_requested && !eof_sent && fd >= 0) {
                if (!send_close_notify()) {
                    return;  // the socket is full: again when it is writable
                }
                ::shutdown(fd, SHUT_WR);
                eof_sent = true;
            }
            if (close_when_drained) {
                // One try at close_notify: nobody waits here to retry it.
                (void)send_close_notify();
                close_fd();
                return;
            }
        } else if (write_error != 0 && close_when_drained) {
            close_fd();
        } else if (wpos > 64 * 1024 && wpos > wbuf.size() / 2) {
            wbuf.erase(0, wpos);
            wpos = 0;
        }
    }

    // Parks until at most `target` bytes are unsent.
    // An idle timeout: the deadline restarts whenever some data went out.
    void wait_drained(std::size_t target, duration timeout, const char* what) {
        time_point deadline = no_deadline;
        bool armed = false;
        std::size_t last = unsent();
        while (unsent() > target) {
            if (unsent() < last) {
                last = unsent();
                armed = false;
            }
            if (write_error != 0) {
                throw_write_error();
            }
            if (fd < 0) {
                throw std::system_error(EPIPE, std::generic_category(),
                                        "write to " + peer + ": the stream was aborted");
            }
            if (!armed) {
                deadline = deadline_in(*anchor->loop, timeout);
                armed = true;
            }
            if (!wait_until(write_waiters, deadline, what)) {
                throw_net_timeout("write to", peer, timeout, "write");
            }
        }
        if (write_error != 0) {
            throw_write_error();
        }
    }

    // ---- TLS

    [[noreturn]] void throw_read_error() const {
        if (!tls_error.empty()) {
            throw_tls_error("TLS read from " + peer, tls_error, 0, read_error);
        }
        throw_net_error(read_error, "read from", peer);
    }

    [[noreturn]] void throw_write_error() const {
        if (!tls_error.empty()) {
            throw_tls_error("TLS write to " + peer, tls_error, 0, write_error);
        }
        throw_net_error(write_error, "write to", peer);
    }

    // A fatal error on the session: remembered for every later call, with OpenSSL's reason.
    // Returns the errno-like code the plain paths store (the OS error, or EPROTO).
    int tls_fail(int ssl_err) noexcept {
        long verify = 0;
        try {
            tls_error = tls_failure_reason(ssl, ssl_err, os_error, verify);
        } catch (...) {
            tls_error = "TLS failure";
        }
        tls_failed = true;
        return os_error != 0 ? os_error : EPROTO;
    }

    // SSL_read with recv()'s contract: > 0 bytes, 0 at EOF (close_notify, or a close without
    // it), -1 with errno EAGAIN when the caller must park (the BIO cleared `readable`, or
    // OpenSSL must write first), -1 with another errno on failure (tls_error says why).
    ssize_t tls_recv(char* p, std::size_t n) noexcept {
        if (tls_failed) {
            errno = EPROTO;
            return -1;
        }
        for (;;) {
            std::size_t got = 0;
            ERR_clear_error();
            os_error = 0;
            short_read = false;
            int rc = SSL_read_ex(ssl, p, n, &got);
            if (rc == 1) {
                if (SSL_has_pending(ssl) == 1) {
                    readable = true;  // see handshake(): bytes in OpenSSL, none in the socket
                } else if (short_read && !peer_hup) {
                    // As on the plain path: OpenSSL reads ahead a whole buffer, so a short
                    // receive drained the socket and epoll reports what comes next. This
                    // spares the receive that would only say EAGAIN, one per request.
                    readable = false;
                }
                return static_cast<ssize_t>(got);
            }
            int e = SSL_get_error(ssl, rc);
            if (e == SSL_ERROR_ZERO_RETURN) {
                return 0;
            }
            if (e == SSL_ERROR_WANT_READ) {
                if (!readable) {
                    errno = EAGAIN;
                    return -1;
                }
                continue;  // a record that held no data (a session ticket): read on
            }
            if (e == SSL_ERROR_WANT_WRITE) {
                read_wants_write = true;
                errno = EAGAIN;
                return -1;
            }
            errno = tls_fail(e);
            return -1;
        }
    }

    // SSL_write with send()'s contract (EAGAIN when the socket is full).
    ssize_t tls_send(const char* p, std::size_t n) noexcept {
        if (tls_failed) {
            errno = EPROTO;
            return -1;
        }
        std::size_t put = 0;
        ERR_clear_error();
        os_error = 0;
        int rc = SSL_write_ex(ssl, p, n, &put);
        if (rc == 1) {
            return static_cast<ssize_t>(put);
        }
        int e = SSL_get_error(ssl, rc);
        if (e == SSL_ERROR_WANT_WRITE) {
            errno = EAGAIN;
            return -1;
        }
        if (e == SSL_ERROR_WANT_READ) {
            write_wants_read = true;
            errno = EAGAIN;
            return -1;
        }
        errno = tls_fail(e);
        return -1;
    }

    // Sends TLS's close_notify once (no session: nothing to send). True when it is out or
    // cannot be sent (a failed session or connection: closing goes on without it); false
    // while the socket is full, with `writable` cleared.
    bool send_close_notify() noexcept {
        if (ssl == nullptr || close_notify_sent || tls_failed || write_error != 0 || fd < 0) {
            return true;
        }
        ERR_clear_error();
        int rc = SSL_shutdown(ssl);
        if (rc >= 0) {
            close_notify_sent = true;
            return true;
        }
        int e = SSL_get_error(ssl, rc);
        if (e == SSL_ERROR_WANT_WRITE) {
            writable = false;
            return false;
        }
        ERR_clear_error();
        close_notify_sent = true;  // a failed send is not retried
        return true;
    }

    // Parks until close_notify is out, within `timeout` (an idle write timeout).
    void wait_close_notify(duration timeout, const char* what) {
        time_point deadline = no_deadline;
        bool armed = false;
        while (!send_close_notify()) {
            if (!armed) {
                deadline = deadline_in(*anchor->loop, timeout);
                armed = true;
            }
            if (!wait_until(write_waiters, deadline, what)) {
                throw_net_timeout("TLS shutdown with", peer, timeout, "write");
            }
        }
    }

    // Runs the handshake, parking on whichever direction OpenSSL waits for, until `deadline`.
    // On failure the stream is aborted and the error thrown.
    // `who` names the peer in errors.
    void handshake(time_point deadline, duration timeout, const char* which, const char* what,
                   const std::string& who) {
        try {
            for (;;) {
                if (fd < 0 || closed_by_owner) {
                    throw std::system_error(ECONNABORTED, std::generic_category(),
                                            "TLS handshake with " + who +
                                                ": the stream was closed meanwhile");
                }
                ERR_clear_error();
                os_error = 0;
                int rc = SSL_do_handshake(ssl);
                if (rc == 1) {
                    // Invariant: `readable` is false only when OpenSSL holds no unread
                    // bytes. Reading ahead, the handshake may have taken the peer's first
                    // records with its last message (a client's Finished and its request
                    // come in one segment) while `readable` was never set: the socket is
                    // then empty, epoll reports nothing more, and a read that parked would
                    // wait for data that is already here. So the next read tries first.
                    readable = true;
                    return;
                }
                int e = SSL_get_error(ssl, rc);
                wait_list* list = nullptr;
                if (e == SSL_ERROR_WANT_READ) {
                    if (readable) {
                        continue;
                    }
                    list = &read_waiters;
                } else if (e == SSL_ERROR_WANT_WRITE) {
                    list = &write_waiters;
                } else {
                    long verify = 0;
                    std::string reason = tls_failure_reason(ssl, e, os_error, verify);
                    tls_failed = true;
                    // An orderly close, not a reset: the alert OpenSSL sent (why it failed)
                    // must reach the peer.
                    close_fd();
                    throw_tls_error("TLS handshake with " + who + " failed", reason, verify,
                                    os_error);
                }
                if (!wait_until(*list, deadline, what)) {
                    throw_net_timeout("TLS handshake with", who, timeout, which);
                }
            }
        } catch (...) {
            reset();
            throw;
        }
    }

    // Starts a session from `context` and runs its handshake (open_connection, start_tls,
    // accepted connections of a TLS server).
    // `who` names the peer in errors ("" for the address).
    void start_tls(const ssl_context& context, const std::string& hostname, const char* what,
                   const std::string& who = {}) {
        loop_core& l = loop(what);
        ssl = new_tls_session(context, *this, context.server_side(), hostname);
        bool server = context.server_side();
        duration timeout = server ? opts.read_timeout : opts.connect_timeout;
        handshake(deadline_in(l, timeout), timeout, server ? "read" : "connect", what,
                  who.empty() ? peer : who);
        if (!server && !context.verify() && l.instrumented()) {
            const std::string& named = who.empty() ? peer : who;
            l.each_instrument([&](instrument& i) { i.insecure_connection(named); });
        }
    }
};

stream_impl* stream_access::of(const stream& s) noexcept {
    return s.impl_.get();
}

void stream_access::accept_tls(stream& s, const ssl_context& context) {
    s.impl_->start_tls(context, std::string(), "aio::start_server");
}

bool stream_access::closed_by_owner(const stream& s) noexcept {
    return s.impl_ && s.impl_->closed_by_owner;
}

bool stream_access::on_hangup(stream& s, void (*fn)(void*) noexcept, void* arg) noexcept {
    stream_impl* impl = s.impl_.get();
    if (impl == nullptr) {
        return false;
    }
    if (fn != nullptr && (impl->peer_hup || impl->eof || impl->fd < 0 || impl->read_error != 0)) {
        impl->hangup_fn = nullptr;
        return false;
    }
    impl->hangup_fn = fn;
    impl->hangup_arg = arg;
    return true;
}

bool stream_access::peer_gone(const stream& s) noexcept {
    const stream_impl* impl = s.impl_.get();
    return impl == nullptr || impl->fd < 0 || impl->peer_hup || impl->eof ||
           impl->read_error != 0 || impl->write_error != 0;
}

std::size_t stream_access::buffered(const stream& s) noexcept {
    return s.impl_ ? s.impl_->buffered() : 0;
}

void stream_access::close_soon(stream& s) noexcept {
    stream_impl* impl = s.impl_.get();
    if (impl == nullptr || impl->fd < 0) {
        return;
    }
    impl->closed_by_owner = true;
    impl->closing = true;
    impl->eof = true;
    stream_impl::wake(impl->read_waiters);
    if (impl->unsent() == 0) {
        impl->close_fd();
    } else {
        impl->close_when_drained = true;
        impl->flush();
    }
}

// For the inspector: where a stream's peer ("host:port") lies from each of its wait lists.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
std::int64_t inspect_stream_peer_from_read() noexcept {
    return static_cast<std::int64_t>(offsetof(stream_impl, peer)) -
           static_cast<std::int64_t>(offsetof(stream_impl, read_waiters));
}
std::int64_t inspect_stream_peer_from_write() noexcept {
    return static_cast<std::int64_t>(offsetof(stream_impl, peer)) -
           static_cast<std::int64_t>(offsetof(stream_impl, write_waiters));
}
#pragma GCC diagnostic pop

}  // namespace aio::detail

namespace aio {

using detail::stream_impl;

namespace {

// Marks a task as the stream's reader (or writer) for the length of one operation.
class turn {
public:
    turn(detail::task_base*& slot, const char* what, const char* verb)
        : slot_(slot) {
        detail::task_base* me = detail::current_task_or_null();
        if (slot_ != nullptr && slot_ != me) {
            throw usage_error(std::string(what) + ": task '" + task_ref(slot_).name() +
                              "' is already " + verb + " this stream; two tasks must not " +
                              (verb[0] == 'r' ? "read" : "write") +
                              " one stream at once (let one task do all the " +
                              (verb[0] == 'r' ? "reading and hand what it reads to the others, "
                                                "e.g. through an aio::queue)"
                                              : "writing, or take turns under an aio::lock)"));
        }
        owner_ = slot_ == nullptr;
        slot_ = me;
    }
    ~turn() {
        if (owner_) {
            slot_ = nullptr;
        }
    }
    turn(const turn&) = delete;
    turn& operator=(const turn&) = delete;

private:
    detail::task_base*& slot_;
    bool owner_ = false;
};

}  // namespace

stream::stream() noexcept = default;
stream::stream(std::unique_ptr<stream_impl> impl) noexcept
    : impl_(std::move(impl)) {
}
stream::stream(stream&& o) noexcept = default;

stream& stream::operator=(stream&& o) noexcept {
    if (this != &o) {
        if (impl_ && impl_->fd >= 0) {
            impl_->registration.abandon("destroyed without close(): replaced by another stream");
            impl_->reset();
        }
        impl_ = std::move(o.impl_);
    }
    return *this;
}

stream::~stream() {
    if (impl_ && impl_->fd >= 0 && std::uncaught_exceptions() > 0 && impl_->unsent() == 0) {
        // Unwinding from an error (a timeout, a cancellation) with nothing left to send: the
        // reset is the cleanup the error path needs, not a leak.
        impl_->registration.close();
        impl_->reset();
        return;
    }
    if (impl_ && impl_->fd >= 0) {
        impl_->registration.abandon(impl_->unsent() > 0
                                        ? "destroyed without close(), with " +
                                              std::to_string(impl_->unsent()) + " bytes never sent"
                                        : std::string("destroyed without close()"));
        impl_->reset();
    }
}

stream_impl& stream::require(const char* what) const {
    if (!impl_) {
        throw invalid_state_error(std::string(what) +
                                  ": this aio::stream is empty (default-constructed or moved "
                                  "from); assign it the result of open_connection first");
    }
    return *impl_;
}

stream stream::adopt(int fd, stream_options options, std::string peer, bool accepted) {
    detail::loop_core& l = detail::require_loop("aio::stream");
    bool unix_domain = false;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        unix_domain = ss.ss_family == AF_UNIX;
    }
    auto impl = std::make_unique<stream_impl>(fd, options, std::move(peer), unix_domain);
    try {
        impl->register_with(l);
    } catch (...) {
        impl->fd = -1;  // the caller still owns fd on failure
        throw;
    }
    if (options.nodelay && !unix_domain) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    impl->registration = resource_registration("stream", (accepted ? "from " : "to ") + impl->peer);
    return stream(std::move(impl));
}

// ---- reading

std::string stream::read(std::size_t n) {
    return read(n, require("aio::stream::read").opts.read_timeout);
}

std::string stream::read(std::size_t n, duration timeout) {
    stream_impl& s = require("aio::stream::read");
    turn t(s.reader, "aio::stream::read", "reading");  // even with data buffered: no theft
    if (n == 0) {
        return {};
    }
    if (s.buffered() == 0) {
        detail::loop_core& l = s.loop("aio::stream::read");
        if (!s.fill(detail::deadline_in(l, timeout), timeout, "aio::stream::read")) {
            return {};
        }
    }
    return s.take(n);
}

std::size_t stream::read_into(std::span<char> buf) {
    return read_into(buf, require("aio::stream::read_into").opts.read_timeout);
}

std::size_t stream::read_into(std::span<char> buf, duration timeout) {
    stream_impl& s = require("aio::stream::read_into");
    turn t(s.reader, "aio::stream::read_into", "reading");
    if (buf.empty()) {
        return 0;
    }
    if (s.buffered() > 0) {
        std::size_t n = std::min(buf.size(), s.buffered());
        std::memcpy(buf.data(), s.rbuf.get() + s.rbeg, n);
        s.rbeg += n;
        return n;
    }
    detail::loop_core& l = s.loop("aio::stream::read_into");
    time_point deadline = no_deadline;
    bool armed = false;
    // Straight into the caller's buffer: no copy.
    for (;;) {
        if (s.read_error != 0) {
            s.throw_read_error();
        }
        if (s.eof || s.fd < 0) {
            s.eof = true;
            return 0;
        }
        if (s.readable) {
            ssize_t n = s.ssl != nullptr ? s.tls_recv(buf.data(), buf.size())
                                         : ::recv(s.fd, buf.data(), buf.size(), MSG_DONTWAIT);
            if (n > 0) {
                if (static_cast<std::size_t>(n) < buf.size() && !s.peer_hup && s.ssl == nullptr) {
                    s.readable = false;
                }
                return static_cast<std::size_t>(n);
            }
            if (n == 0) {
                s.eof = true;
                return 0;
            }
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                s.read_error = errno;
                continue;
            }
            s.readable = false;
        }
        if (!armed) {
            deadline = detail::deadline_in(l, timeout);
            armed = true;
        }
        if (!detail::wait_until(s.read_waiters, deadline, "aio::stream::read_into")) {
            detail::throw_net_timeout("read from", s.peer, timeout, "read");
        }
    }
}

std::string stream::read_exactly(std::size_t n) {
    return read_exactly(n, require("aio::stream::read_exactly").opts.read_timeout);
}

std::string stream::read_exactly(std::size_t n, duration timeout) {
    stream_impl& s = require("aio::stream::read_exactly");
    turn t(s.reader, "aio::stream::read_exactly", "reading");
    if (s.buffered() < n) {
        detail::loop_core& l = s.loop("aio::stream::read_exactly");
        while (s.buffered() < n) {
            // The idle timeout restarts whenever data arrives.
            if (!s.fill(detail::deadline_in(l, timeout), timeout, "aio::stream::read_exactly")) {
                std::string partial = s.take(s.buffered());
                std::size_t got = partial.size();
                throw incomplete_read_error(std::move(partial), n,
                                            "read_exactly from " + s.peer + ": EOF after " +
                                                std::to_string(got) + " of " + std::to_string(n) +
                                                " bytes");
            }
        }
    }
    return s.take(n);
}

std::string stream::read_until(std::string_view sep) {
    return read_until(sep, require("aio::stream::read_until").opts.read_timeout);
}

std::string stream::read_until(std::string_view sep, duration timeout) {
    return read_until_as(sep, timeout, "aio::stream::read_until");
}

std::string stream::read_until_as(std::string_view sep, duration timeout, const char* what) {
    stream_impl& s = require(what);
    if (sep.empty()) {
        throw value_error(std::string(what) + ": the separator must not be empty");
    }
    std::size_t searched = 0;  // no match starts before this offset
    turn t(s.reader, what, "reading");
    for (;;) {
        std::string_view have(s.rbuf.get() + s.rbeg, s.buffered());
        if (auto at = have.find(sep, searched); at != std::string_view::npos) {
            if (at + sep.size() > s.opts.limit) {
                throw limit_overrun_error(at + sep.size(), "read_until from " + s.peer +
                                                               ": separator found after " +
                                                               std::to_string(at + sep.size()) +
                                                               " bytes, more than the limit of " +
                                                               std::to_string(s.opts.limit));
            }
            return s.take(at + sep.size());
        }
        if (have.size() >= sep.size()) {
            searched = have.size() - sep.size() + 1;
        }
        if (have.size() > s.opts.limit) {
            throw limit_overrun_error(
                have.size(), "read_until from " + s.peer + ": no separator in " +
                                 std::to_string(have.size()) + " bytes, more than the limit of " +
                                 std::to_string(s.opts.limit) +
                                 " (raise it with set_limit() or stream_options)");
        }
        detail::loop_core& l = s.loop(what);
        if (!s.fill(detail::deadline_in(l, timeout), timeout, what)) {
            std::string partial = s.take(s.buffered());
            throw incomplete_read_error(std::move(partial), 0,
                                        "read_until from " + s.peer + ": EOF before the separator");
        }
    }
}

std::string stream::read_line() {
    return read_line(require("aio::stream::read_line").opts.read_timeout);
}

std::string stream::read_line(duration timeout) {
    try {
        return read_until_as("\n", timeout, "aio::stream::read_line");
    } catch (const incomplete_read_error& e) {
        return e.partial();
    }
}

bool stream::at_eof() const noexcept {
    return !impl_ || ((impl_->eof || impl_->fd < 0) && impl_->buffered() == 0);
}

// ---- writing

void stream::write(std::string_view data) {
    write(data, require("aio::stream::write").opts.write_timeout);
}

void stream::write(std::string_view data, duration timeout) {
    stream_impl& s = require("aio::stream::write");
    if (s.closing || s.eof_requested || s.fd < 0) {
        throw usage_error("aio::stream::write to " + s.peer + ": the stream is " +
                          (s.fd < 0    ? "closed"
                           : s.closing ? "closing"
                                       : "shut for writing "
                                         "(write_eof)"));
    }
    if (s.write_error != 0) {
        s.throw_write_error();
    }
    if (s.writer != nullptr && s.writer != detail::current_task_or_null()) {
        turn t(s.writer, "aio::stream::write", "writing");  // throws
    }
    if (s.unsent() == 0 && s.writable) {
        // Nothing queued: straight to the socket, no copy.
        while (!data.empty()) {
            ssize_t n = s.ssl != nullptr
                            ? s.tls_send(data.data(), data.size())
                            : ::send(s.fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                data.remove_prefix(static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                s.writable = false;
                break;
            }
            s.write_error = n < 0 ? errno : EPIPE;
            s.throw_write_error();
        }
        if (data.empty()) {
            return;
        }
    }
    s.wbuf.append(data);
    if (s.unsent() > s.opts.high_water) {
        (void)s.loop("aio::stream::write");
        turn t(s.writer, "aio::stream::write", "writing");
        s.wait_drained(s.opts.low_water, timeout, "aio::stream::write");
    }
}

void stream::drain() {
    drain(require("aio::stream::drain").opts.write_timeout);
}

void stream::drain(duration timeout) {
    stream_impl& s = require("aio::stream::drain");
    if (s.unsent() == 0) {
        if (s.write_error != 0) {
            s.throw_write_error();
        }
        return;
    }
    (void)s.loop("aio::stream::drain");
    turn t(s.writer, "aio::stream::drain", "writing");
    s.wait_drained(0, timeout, "aio::stream::drain");
}

void stream::write_eof() {
    stream_impl& s = require("aio::stream::write_eof");
    if (s.eof_requested || s.fd < 0) {
        return;
    }
    s.eof_requested = true;
    s.flush();  // shuts down at once when nothing is unsent, else once it is
}

bool stream::can_write_eof() const noexcept {
    return impl_ && impl_->fd >= 0 && !impl_->eof_requested;
}

// ---- closing

void stream::close() {
    if (!impl_) {
        return;
    }
    stream_impl& s = *impl_;
    if (s.fd < 0) {
        return;
    }
    s.closing = true;
    bool notify = s.ssl != nullptr && !s.close_notify_sent && !s.tls_failed;
    if ((s.unsent() > 0 || notify) && s.write_error == 0) {
        try {
            (void)s.loop("aio::stream::close");
            turn t(s.writer, "aio::stream::close", "writing");
            s.wait_drained(0, s.opts.write_timeout, "aio::stream::close");
            s.wait_close_notify(s.opts.write_timeout, "aio::stream::close");
        } catch (...) {
            s.reset();  // the socket never outlives close(), however it ends
            throw;
        }
    }
    s.close_fd();
}

void stream::abort() noexcept {
    if (impl_ && impl_->fd >= 0) {
        impl_->reset();  // RST rather than FIN: the peer learns the data was dropped
    }
}

bool stream::is_closing() const noexcept {
    return !impl_ || impl_->closing || impl_->fd < 0 || impl_->eof_requested;
}

bool stream::closed() const noexcept {
    return !impl_ || impl_->fd < 0;
}

// ---- TLS

void stream::start_tls(const ssl_context& context, std::string_view server_hostname) {
    stream_impl& s = require("aio::stream::start_tls");
    if (s.ssl != nullptr) {
        throw invalid_state_error("aio::stream::start_tls: the stream with " + s.peer +
                                  " already speaks TLS");
    }
    if (s.fd < 0 || s.closing || s.eof_requested) {
        throw invalid_state_error("aio::stream::start_tls: the stream with " + s.peer +
                                  " is closed or closing");
    }
    if (s.buffered() > 0) {
        throw invalid_state_error(
            "aio::stream::start_tls: " + std::to_string(s.buffered()) + " bytes from " + s.peer +
            " were received and not read; they would be lost (read them before the upgrade, "
            "and let the peer start TLS only after it got your answer)");
    }
    if (!context.server_side() && context.verify() && server_hostname.empty()) {
        throw value_error("aio::stream::start_tls: a verifying client context needs the server's "
                          "name (server_hostname) to check its certificate against");
    }
    turn r(s.reader, "aio::stream::start_tls", "reading");
    turn w(s.writer, "aio::stream::start_tls", "writing");
    if (s.unsent() > 0) {
        s.wait_drained(0, s.opts.write_timeout, "aio::stream::start_tls");
    }
    std::string who = s.peer;
    if (!server_hostname.empty() && !context.server_side()) {
        who = std::string(server_hostname) + " (" + s.peer + ")";
    }
    s.start_tls(context, std::string(server_hostname), "aio::stream::start_tls", who);
}

std::string stream::tls_version() const {
    stream_impl& s = require("aio::stream::tls_version");
    return s.ssl != nullptr ? SSL_get_version(s.ssl) : "";
}

// ---- the socket

std::string stream::local_address() const {
    stream_impl& s = require("aio::stream::local_address");
    if (s.fd < 0) {
        return {};
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        detail::throw_net_error(errno, "getsockname of", s.peer);
    }
    return detail::format_address(reinterpret_cast<sockaddr*>(&ss), len);
}

std::string stream::peer_address() const {
    return require("aio::stream::peer_address").peer;
}

std::uint16_t stream::local_port() const {
    stream_impl& s = require("aio::stream::local_port");
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (s.fd < 0 || ::getsockname(s.fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        return 0;
    }
    return detail::address_port(reinterpret_cast<sockaddr*>(&ss));
}

std::uint16_t stream::peer_port() const {
    stream_impl& s = require("aio::stream::peer_port");
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (s.fd < 0 || ::getpeername(s.fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        return 0;
    }
    return detail::address_port(reinterpret_cast<sockaddr*>(&ss));
}

int stream::native_handle() const noexcept {
    return impl_ ? impl_->fd : -1;
}

void stream::set_nodelay(bool on) {
    stream_impl& s = require("aio::stream::set_nodelay");
    int v = on ? 1 : 0;
    if (!s.unix_socket && ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) != 0) {
        detail::throw_net_error(errno, "set TCP_NODELAY on", s.peer);
    }
    s.opts.nodelay = on;
}

const stream_options& stream::options() const {
    return require("aio::stream::options").opts;
}

void stream::set_read_timeout(duration d) {
    if (d < duration::zero()) {
        throw value_error("aio::stream::set_read_timeout: a timeout must not be negative "
                          "(aio::no_timeout disables it)");
    }
    require("aio::stream::set_read_timeout").opts.read_timeout = d;
}

void stream::set_write_timeout(duration d) {
    if (d < duration::zero()) {
        throw value_error("aio::stream::set_write_timeout: a timeout must not be negative "
                          "(aio::no_timeout disables it)");
    }
    require("aio::stream::set_write_timeout").opts.write_timeout = d;
}

void stream::set_limit(std::size_t limit) {
    if (limit == 0) {
        throw value_error("aio::stream::set_limit: the limit must be at least 1 byte");
    }
    require("aio::stream::set_limit").opts.limit = limit;
}

std::size_t stream::read_buffer_size() const noexcept {
    return impl_ ? impl_->buffered() : 0;
}

std::size_t stream::write_buffer_size() const noexcept {
    return impl_ ? impl_->unsent() : 0;
}

// ---- connecting

namespace {}  // namespace

void detail::check_stream_options(const stream_options& o, const char* what) {
    auto negative = [&](duration d, const char* name) {
        if (d < duration::zero()) {
            throw value_error(std::string(what) + ": " + name +
                              " must not be negative (aio::no_timeout disables it)");
        }
    };
    negative(o.resolve_timeout, "resolve_timeout");
    negative(o.connect_timeout, "connect_timeout");
    negative(o.read_timeout, "read_timeout");
    negative(o.write_timeout, "write_timeout");
    if (o.ssl && o.ssl->server_side()) {
        throw value_error(std::string(what) +
                          ": stream_options::ssl holds a server context; connecting needs a "
                          "client one (aio::ssl_context::client())");
    }
    if (o.limit == 0) {
        throw value_error(std::string(what) + ": limit must be at least 1 byte");
    }
    if (o.low_water > o.high_water) {
        throw value_error(std::string(what) + ": low_water (" + std::to_string(o.low_water) +
                          ") must not exceed high_water (" + std::to_string(o.high_water) + ")");
    }
}

namespace {

// Connects a new socket to one address. Returns the stream, or sets `err` (ETIMEDOUT for
// the connect timeout) and returns an empty one. `peer` names the address in the stream;
// `label` names it in errors (with the host name the caller gave).
stream connect_one(const detail::net_address& a, const std::string& peer, const stream_options& o,
                   int& err) {
    detail::loop_core& l = detail::net_loop("aio::open_connection");
    int fd = ::socket(a.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err = errno;
        return {};
    }
    int rc;
    do {
        rc = ::connect(fd, a.get(), a.length);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno != EINPROGRESS) {
        err = errno;
        ::close(fd);
        return {};
    }
    stream s;
    try {
        s = stream::adopt(fd, o, peer, false);
    } catch (...) {
        ::close(fd);
        throw;
    }
    if (rc == 0) {
        return s;
    }
    // In progress: wait for the socket to become writable, then ask how it went. However
    // this ends early (timeout, cancellation), the half-open socket is reset, not leaked.
    stream_impl& impl = *detail::stream_access::of(s);
    impl.writable = false;
    try {
        time_point deadline = detail::deadline_in(l, o.connect_timeout);
        while (!impl.writable) {
            if (!detail::wait_until(impl.write_waiters, deadline, "aio::open_connection")) {
                err = ETIMEDOUT;
                s.abort();
                return {};
            }
        }
    } catch (...) {
        s.abort();
        throw;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) {
        err = so_error;
        s.abort();
        return {};
    }
    return s;
}

}  // namespace

stream open_connection(std::string_view host, std::uint16_t port, stream_options options) {
    detail::check_stream_options(options, "aio::open_connection");
    if (host.empty()) {
        throw value_error("aio::open_connection: the host is empty; give a name or an address "
                          "such as \"127.0.0.1\"");
    }
    (void)detail::net_loop("aio::open_connection()");
    std::string asked = detail::host_port(host, port);
    auto addresses = detail::resolve(host, port, false, options.resolve_timeout);
    int err = 0;
    std::string label;
    for (const auto& a : addresses) {  // each in turn, connect_timeout each
        std::string shown = detail::format_address(a.get(), a.length);
        label = shown == asked ? asked : asked + " (" + shown + ")";
        stream s = connect_one(a, shown, options, err);
        if (s) {
            if (options.ssl) {
                std::string name =
                    options.server_hostname.empty() ? std::string(host) : options.server_hostname;
                detail::stream_access::of(s)->start_tls(*options.ssl, name, "aio::open_connection",
                                                        label);
            }
            return s;
        }
    }
    if (err == ETIMEDOUT) {
        detail::throw_net_timeout("connect to", label, options.connect_timeout, "connect");
    }
    detail::throw_net_error(err, "connect to", label);
}

stream open_unix_connection(std::string_view path, stream_options options) {
    detail::check_stream_options(options, "aio::open_unix_connection");
    (void)detail::net_loop("aio::open_unix_connection()");
    detail::net_address a = detail::unix_address(path, "aio::open_unix_connection");
    int err = 0;
    stream s = connect_one(a, std::string(path), options, err);
    if (!s) {
        if (err == ETIMEDOUT) {
            detail::throw_net_timeout("connect to", std::string(path), options.connect_timeout,
                                      "connect");
        }
        detail::throw_net_error(err, "connect to", std::string(path));
    }
    if (options.ssl) {
        detail::stream_access::of(s)->start_tls(*options.ssl, options.server_hostname,
                                                "aio::open_unix_connection");
    }
    return s;
}

}  // namespace aio
