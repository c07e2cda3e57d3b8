// Streams: one object for both directions of a TCP or Unix-domain connection
// (asyncio.open_connection's reader and writer in one). See docs/reference/stream.md.
//
//     aio::stream s = aio::open_connection("example.org", 80);
//     s.write("HEAD / HTTP/1.0\r\n\r\n");  // suspends only while too much is unsent
//     std::string status = s.read_line();
//     s.close();                            // suspends until the data is out
#pragma once

#include <aio/loop.hpp>
#include <aio/ssl.hpp>
#include <aio/timeout.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace aio {

/// EOF came before read_exactly() got its bytes, or before read_until() found its separator
/// (asyncio.IncompleteReadError). The bytes read are in partial().
class incomplete_read_error : public std::runtime_error {
public:
    incomplete_read_error(std::string partial, std::size_t expected, const std::string& what)
        : std::runtime_error(what)
        , partial_(std::move(partial))
        , expected_(expected) {}
    /// What was read before EOF (consumed from the stream).
    [[nodiscard]] const std::string& partial() const noexcept { return partial_; }
    /// How many bytes were asked for (0 for read_until: unknown).
    [[nodiscard]] std::size_t expected() const noexcept { return expected_; }

private:
    std::string partial_;
    std::size_t expected_;
};

/// read_until()/read_line() found no separator within the stream's limit
/// (asyncio.LimitOverrunError). The data stays in the stream's buffer.
class limit_overrun_error : public std::runtime_error {
public:
    limit_overrun_error(std::size_t consumed, const std::string& what)
        : std::runtime_error(what)
        , consumed_(consumed) {}
    /// How many bytes are buffered (and would have to be consumed).
    [[nodiscard]] std::size_t consumed() const noexcept { return consumed_; }

private:
    std::size_t consumed_;
};

/// Options of a stream. Every network wait has a timeout; `aio::no_timeout` disables one
/// explicitly. A timeout raises timeout_error naming the operation, the peer and the time.
struct stream_options {
    /// Name resolution (run off the loop, on the default executor).
    duration resolve_timeout = std::chrono::seconds(10);
    /// Establishing the connection, per address tried.
    duration connect_timeout = std::chrono::seconds(30);
    /// Each read that has to wait for data: an idle timeout, restarted by every read call.
    duration read_timeout = std::chrono::seconds(60);
    /// Each wait for unsent data to drain (in write(), drain() and close()): an idle timeout.
    duration write_timeout = std::chrono::seconds(60);
    /// The most read_until()/read_line() buffer while looking for a separator.
    std::size_t limit = 64 * 1024;
    /// write() suspends while more than high_water bytes are unsent, until at most
    /// low_water are left.
    std::size_t high_water = 64 * 1024;
    std::size_t low_water = 16 * 1024;
    /// TCP_NODELAY (no Nagle delay on small writes); ignored for Unix-domain sockets.
    bool nodelay = true;
    /// open_connection(): speak TLS with this client context (ssl_context::client()). The
    /// handshake is part of connecting, bounded by connect_timeout. Servers take their
    /// context in server_options::ssl instead; a context here is refused there.
    std::optional<ssl_context> ssl{};
    /// TLS: the name sent as SNI and checked against the server's certificate; "" means the
    /// host given to open_connection(). An IP address is checked against the certificate's
    /// IP addresses and sent without SNI.
    std::string server_hostname{};
};

namespace detail {
struct stream_impl;
struct stream_access;
/// For aio's tests only: every name lookup (on its executor thread) first sleeps this long,
/// to make the resolve timeout fire without a slow DNS server. Zero by default.
void set_resolve_delay_for_tests(duration d) noexcept;
}  // namespace detail

/// A connected socket, both directions (asyncio StreamReader + StreamWriter). Movable, not
/// copyable. One task may read while another writes; two tasks reading at once, or writing
/// at once, is a usage_error. Use it on the loop thread that opened it. Destroying a stream
/// that is still open aborts it (unsent data is lost; debug mode reports leaked-resource):
/// close() it.
class stream {
public:
    /// An empty stream (not connected).
    stream() noexcept;
    stream(stream&& o) noexcept;
    stream& operator=(stream&& o) noexcept;
    ~stream();
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;

    // ---- reading. Each is a yield point and cancellation point when it has to wait; each
    // throws timeout_error after read_timeout without data, std::system_error when the
    // connection fails (reset...), usage_error when another task is reading.

    /// Up to `n` bytes: what is buffered, or what one receive brings; "" at EOF.
    std::string read(std::size_t n);
    std::string read(std::size_t n, duration timeout);
    /// Reads into `buf` (no allocation); returns the count, 0 at EOF.
    std::size_t read_into(std::span<char> buf);
    std::size_t read_into(std::span<char> buf, duration timeout);
    /// Exactly `n` bytes; incomplete_read_error (with what came) at EOF before that.
    std::string read_exactly(std::size_t n);
    std::string read_exactly(std::size_t n, duration timeout);
    /// Up to and including `sep`. limit_overrun_error if `limit` bytes came without it
    /// (they stay buffered); incomplete_read_error (with what came) at EOF.
    std::string read_until(std::string_view sep);
    std::string read_until(std::string_view sep, duration timeout);
    /// A line including its "\n"; at EOF the last partial line, then "". limit_overrun_error
    /// as read_until.
    std::string read_line();
    std::string read_line(duration timeout);
    /// True once EOF was received and the buffer is empty.
    [[nodiscard]] bool at_eof() const noexcept;

    // ---- writing

    /// Sends `data`, buffering what the socket does not take at once. Suspends while more
    /// than high_water bytes are unsent (drain is built in: memory stays bounded) — a yield
    /// point and cancellation point then. Throws timeout_error if the buffer does not drain
    /// within write_timeout, std::system_error if the connection failed, usage_error after
    /// write_eof()/close() or while another task is suspended writing.
    void write(std::string_view data);
    void write(std::string_view data, duration timeout);
    /// Suspends until every buffered byte is handed to the kernel. Same errors as write().
    void drain();
    void drain(duration timeout);
    /// Half-closes: no more writes; the peer reads EOF once the buffer is sent. Does not
    /// suspend.
    void write_eof();
    [[nodiscard]] bool can_write_eof() const noexcept;

    // ---- closing

    /// Sends what is buffered, then closes the socket (asyncio close() + wait_closed()).
    /// Idempotent. A task blocked reading gets EOF. Yield point and cancellation point while
    /// data is unsent; if that takes longer than write_timeout, or the caller is cancelled,
    /// the stream is aborted (the socket is closed all the same) and the error is raised.
    void close();
    /// Closes at once, dropping unsent data (asyncio transport.abort()). Never throws.
    void abort() noexcept;
    /// True once close(), abort() or write_eof() was called, or the stream is empty.
    [[nodiscard]] bool is_closing() const noexcept;
    /// True if the socket is closed or the stream is empty.
    [[nodiscard]] bool closed() const noexcept;

    // ---- TLS

    /// Upgrades the open connection to TLS (asyncio's StreamWriter.start_tls): a client
    /// handshake for a client context (`server_hostname` is sent as SNI and verified, as in
    /// stream_options::server_hostname; it must not be empty when the context verifies), a
    /// server handshake for a server context. Unsent data is sent first, in clear. From then
    /// on every read and write goes through TLS, and close()/write_eof() send TLS's
    /// close_notify. Yield point and cancellation point; bounded by connect_timeout for a
    /// client and read_timeout for a server (timeout_error). Throws ssl_error naming the
    /// peer and OpenSSL's reason, ssl_cert_verification_error when the peer's certificate is
    /// refused ("certificate has expired", "hostname mismatch"...), invalid_state_error when
    /// the stream already speaks TLS or holds received bytes not read yet (they would be
    /// lost), value_error for a verifying client context without a name. A failed handshake
    /// aborts the stream.
    void start_tls(const ssl_context& context, std::string_view server_hostname = {});
    /// The TLS version in use ("TLSv1.3"), "" for a plain connection.
    [[nodiscard]] std::string tls_version() const;

    // ---- the socket

    /// "127.0.0.1:8080", "[::1]:8080" or a Unix socket path.
    [[nodiscard]] std::string local_address() const;
    [[nodiscard]] std::string peer_address() const;
    /// The local / peer port (0 for Unix-domain sockets).
    [[nodiscard]] std::uint16_t local_port() const;
    [[nodiscard]] std::uint16_t peer_port() const;
    /// The file descriptor, for socket options (-1 once closed). Do not read, write or close
    /// it directly.
    [[nodiscard]] int native_handle() const noexcept;
    /// Sets TCP_NODELAY. Throws std::system_error.
    void set_nodelay(bool on);
    /// The options in force; the setters change them for the calls that follow.
    [[nodiscard]] const stream_options& options() const;
    void set_read_timeout(duration d);
    void set_write_timeout(duration d);
    void set_limit(std::size_t limit);
    /// Bytes received and not yet read; bytes written and not yet sent.
    [[nodiscard]] std::size_t read_buffer_size() const noexcept;
    [[nodiscard]] std::size_t write_buffer_size() const noexcept;

    [[nodiscard]] explicit operator bool() const noexcept { return static_cast<bool>(impl_); }

    /// Wraps a connected socket (for aio's own servers). Takes ownership of `fd`.
    static stream adopt(int fd, stream_options options, std::string peer, bool accepted);

private:
    friend struct detail::stream_access;
    explicit stream(std::unique_ptr<detail::stream_impl> impl) noexcept;
    detail::stream_impl& require(const char* what) const;
    std::string read_until_as(std::string_view sep, duration timeout, const char* what);
    std::unique_ptr<detail::stream_impl> impl_;
};

/// Connects to `host`:`port` over TCP (asyncio.open_connection). `host` is a name, an IPv4
/// or an IPv6 address; names are resolved off the loop (resolve_timeout) and each address
/// is tried in turn (connect_timeout each). Yield point and cancellation point. Throws
/// std::system_error naming the peer and the operation (refused, unreachable, unknown
/// host...), timeout_error, value_error for an empty host.
stream open_connection(std::string_view host, std::uint16_t port, stream_options options = {});

/// Connects to the Unix-domain socket at `path` (asyncio.open_unix_connection). Same
/// contract as open_connection.
stream open_unix_connection(std::string_view path, stream_options options = {});

}  // namespace aio
