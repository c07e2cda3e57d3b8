// Networking internals shared by streams and servers: addresses, name resolution, waiting
// for a socket with a deadline.
#pragma once

#include "../loop_core.hpp"

#include <aio/loop.hpp>
#include <aio/server.hpp>
#include <aio/stream.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

namespace aio::detail {

/// One address to connect to or bind.
struct net_address {
    sockaddr_storage storage{};
    socklen_t length = 0;
    [[nodiscard]] const sockaddr* get() const noexcept {
        return reinterpret_cast<const sockaddr*>(&storage);
    }
    [[nodiscard]] int family() const noexcept { return storage.ss_family; }
};

/// "1.2.3.4:80", "[::1]:80", or the path of a Unix-domain socket.
std::string format_address(const sockaddr* sa, socklen_t len);
/// The port of an IPv4/IPv6 address, 0 otherwise.
std::uint16_t address_port(const sockaddr* sa) noexcept;
/// "host:port" as the user wrote it, IPv6 literals in brackets.
std::string host_port(std::string_view host, std::uint16_t port);

/// The addresses of `host`:`port`. Numeric addresses and "localhost" are answered at once;
/// names are resolved with getaddrinfo on the default executor, within `timeout`. `passive`:
/// for bind(). Yield point for names. Throws std::system_error ("resolve <host>: ..."),
/// timeout_error.
std::vector<net_address> resolve(std::string_view host, std::uint16_t port, bool passive,
                                 duration timeout);

/// A Unix-domain address for `path`; value_error if it is empty or too long.
net_address unix_address(std::string_view path, const char* what);

struct stream_impl;
struct server_impl;

/// Access to the insides of streams and servers, for each other.
struct stream_access {
    static stream_impl* of(const stream& s) noexcept;
    /// Closes from outside the stream's tasks (server::close_clients): reads get EOF at
    /// once; the socket closes as soon as the unsent data is out. Does not suspend.
    static void close_soon(stream& s) noexcept;
    /// Arranges for fn(arg) to be called once, on the loop stack, when the peer hangs up
    /// (EPOLLRDHUP, HUP or ERR); fn == nullptr clears it. Returns false, and arranges
    /// nothing, when the peer is already known to be gone.
    static bool on_hangup(stream& s, void (*fn)(void*) noexcept, void* arg) noexcept;
    /// True when the peer hung up or the connection failed or closed (a pooled connection
    /// that must not be reused).
    static bool peer_gone(const stream& s) noexcept;
    /// Bytes received and not read yet.
    static std::size_t buffered(const stream& s) noexcept;
    /// True once close_soon() was called on it.
    static bool closed_by_owner(const stream& s) noexcept;
    /// The server side of a TLS handshake on an accepted connection, bounded by the
    /// stream's read_timeout. Yield point. On failure the stream is aborted and the error
    /// (ssl_error, timeout_error, std::system_error) thrown.
    static void accept_tls(stream& s, const ssl_context& context);
};
struct server_access {
    static server make(std::shared_ptr<server_impl> impl) noexcept;
};

/// Throws value_error naming the first bad option (negative timeout, zero limit, water marks
/// the wrong way round).
void check_stream_options(const stream_options& o, const char* what);

/// The running loop for a network call; usage_error outside a task.
loop_core& net_loop(const char* what);

/// Suspends the running task on `list` until notified (true) or until `deadline` (false).
/// Cancellation point. `what` (a string literal) names the call, for errors and as what the
/// task waits on (task_ref::waiting_on).
bool wait_until(wait_list& list, time_point deadline, const char* what);

/// now + d on the running loop, saturating (no_timeout: no deadline).
time_point deadline_in(loop_core& l, duration d) noexcept;

/// Throws timeout_error "<op> <peer> timed out after <d> (<which> timeout; ...)".
[[noreturn]] void throw_net_timeout(const std::string& op, const std::string& peer, duration d,
                                    const char* which);

/// Throws std::system_error(err) with "<op> <peer>" as its context.
[[noreturn]] void throw_net_error(int err, const std::string& op, const std::string& peer);

}  // namespace aio::detail
