// Servers: accept connections and run a handler task for each (asyncio.start_server).
// See docs/reference/server.md.
//
//     auto srv = aio::start_server([](aio::stream& s) {
//         for (std::string line = s.read_line(); !line.empty(); line = s.read_line()) {
//             s.write(line);
//         }
//     }, "127.0.0.1", 0);
//     std::printf("listening on port %u\n", srv.port());
//     srv.serve_forever();
#pragma once

#include <aio/loop.hpp>
#include <aio/stream.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aio {

/// Runs for each accepted connection, in its own task, with the connection's stream.
/// When it returns the stream is closed (its data flushed); when it throws the stream is
/// aborted and the exception goes to the loop's exception handler.
using connection_handler = std::function<void(stream&)>;

/// Options of a server.
struct server_options {
    /// listen() backlog.
    int backlog = 100;
    /// SO_REUSEADDR (restart on a port in TIME_WAIT).
    bool reuse_address = true;
    /// Options of every accepted stream (timeouts, limits).
    stream_options connection{};
    /// Name for messages, debug-mode reports and connection task names; default: the
    /// address.
    std::string name{};
    /// How long to stop accepting after an accept error such as EMFILE (too many open
    /// files) before trying again.
    duration accept_retry_delay = std::chrono::milliseconds(100);
    /// Speak TLS with this server context (ssl_context::server(cert, key)): each connection
    /// task runs the handshake before the handler, bounded by connection.read_timeout. A
    /// connection whose handshake fails (a client that does not speak TLS, refuses the
    /// certificate, or hangs up) is aborted without running the handler and without a
    /// report: that is a client's doing, not the server's; failed_handshakes() counts them.
    std::optional<ssl_context> ssl{};
};

namespace detail {
struct server_impl;
struct server_access;
}  // namespace detail

/// A listening server (asyncio.Server). Movable, not copyable. Destroying a server that is
/// still open closes its listening sockets and aborts its connections (debug mode reports
/// leaked-resource): close() and wait_closed() it.
class server {
public:
    server() noexcept;
    server(server&&) noexcept;
    server& operator=(server&&) noexcept;
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Stops accepting and closes the listening sockets; connections go on. Idempotent.
    /// Does not suspend.
    void close();
    /// Suspends until the server is closed and every connection task has finished (asyncio
    /// 3.12+ wait_closed). Yield point and cancellation point.
    void wait_closed();
    /// Closes every connection gracefully (each stream's close(): data flushed).
    /// Does not suspend; the handlers see EOF.
    void close_clients();
    /// Aborts every connection (unsent data dropped). Does not suspend.
    void abort_clients() noexcept;
    /// Suspends until cancelled, then closes the server (asyncio serve_forever); the
    /// cancellation is rethrown. Yield point and cancellation point.
    void serve_forever();

    /// True while it accepts connections.
    [[nodiscard]] bool is_serving() const noexcept;
    /// The bound addresses ("127.0.0.1:8080", "[::]:8080", or a Unix socket path).
    [[nodiscard]] std::vector<std::string> sockets() const;
    /// The bound TCP port (useful with port 0); 0 for a Unix-domain server.
    [[nodiscard]] std::uint16_t port() const;
    /// Connections whose handler is still running.
    [[nodiscard]] std::size_t connection_count() const noexcept;
    /// Connections accepted since the start.
    [[nodiscard]] std::uint64_t accepted_count() const noexcept;
    /// TLS servers: connections dropped because their handshake failed.
    [[nodiscard]] std::uint64_t failed_handshakes() const noexcept;

    [[nodiscard]] explicit operator bool() const noexcept { return static_cast<bool>(impl_); }

private:
    friend struct detail::server_access;
    explicit server(std::shared_ptr<detail::server_impl> impl) noexcept;
    void release(const char* what) noexcept;
    std::shared_ptr<detail::server_impl> impl_;  // shared with the connection tasks
};

/// Listens on `host`:`port` (asyncio.start_server) and starts accepting at once. `host`:
/// an IPv4 or IPv6 address or a name (resolved off the loop); "" or "*" means every
/// interface (IPv4 and IPv6). `port` 0 picks a free port (see server::port()). Yield point
/// when a name must be resolved. Throws std::system_error naming the address (in use,
/// permission...), value_error for a bad argument.
server start_server(connection_handler handler, std::string_view host, std::uint16_t port,
                    server_options options = {});

/// Listens on the Unix-domain socket `path` (asyncio.start_unix_server). A stale socket
/// file at `path` is replaced; the file is removed when the server closes. Same contract
/// as start_server.
server start_unix_server(connection_handler handler, std::string_view path,
                         server_options options = {});

}  // namespace aio
