// HTTP/1.1 client: a session with a keep-alive connection pool and default timeouts on every
// phase (aiohttp.ClientSession). See docs/reference/http-client.md.
//
//     aio::http::client_session http;
//     auto r = http.get("http://127.0.0.1:8080/users/7");
//     r.raise_for_status();
//     std::string body = r.text();
//     http.close();
#pragma once

#include <aio/http/message.hpp>
#include <aio/loop.hpp>
#include <aio/run.hpp>  // with the next three: a client program needs no other aio header
#include <aio/sleep.hpp>
#include <aio/ssl.hpp>
#include <aio/task.hpp>
#include <aio/timeout.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace aio::http {

/// Time limits of a request (aiohttp's ClientTimeout). Each field is unset unless given:
/// a session fills its unset fields with the defaults below, a request fills its unset fields
/// with its session's, so `{.timeouts = {.total = 2s}}` on a request bounds the total and
/// keeps the session's connect and read timeouts. `aio::no_timeout` disables one; there is
/// no other way to wait forever.
struct client_timeouts {
    /// The whole request: connecting, sending, the response's head and the whole body
    /// (aiohttp's `total`, default 300 s).
    std::optional<duration> total{};
    /// Connecting, per address tried, name resolution included (aiohttp's `sock_connect`,
    /// default 30 s).
    std::optional<duration> connect{};
    /// How long a connection may make no progress while the request is sent or the response
    /// awaited or read: an idle timeout, restarted by every byte (aiohttp's `sock_read`,
    /// which aiohttp leaves unset; default 60 s).
    std::optional<duration> read{};

    static constexpr duration default_total = std::chrono::seconds(300);
    static constexpr duration default_connect = std::chrono::seconds(30);
    static constexpr duration default_read = std::chrono::seconds(60);

    /// These timeouts, with each unset field taken from `fallback`. Does not throw.
    [[nodiscard]] client_timeouts or_else(const client_timeouts& fallback) const {
        return {total ? total : fallback.total, connect ? connect : fallback.connect,
                read ? read : fallback.read};
    }
};

/// Options of a client_session.
struct client_options {
    /// The session's time limits; a field left unset gets its default (total 300 s, connect
    /// 30 s, read 60 s). options() shows them all set.
    client_timeouts timeouts{.total = client_timeouts::default_total,
                             .connect = client_timeouts::default_connect,
                             .read = client_timeouts::default_read};
    /// Connections open at once, over every host (aiohttp's TCPConnector `limit`); 0: no
    /// limit. A request beyond it waits for a connection (within its timeouts).
    std::size_t limit = 100;
    /// Connections open at once to one host:port (aiohttp's `limit_per_host`); 0: no limit.
    std::size_t limit_per_host = 0;
    /// How long an idle pooled connection is kept (aiohttp's `keepalive_timeout`, 15 s).
    duration keepalive_timeout = std::chrono::seconds(15);
    /// Redirects followed before too_many_redirects_error (aiohttp's `max_redirects`).
    int max_redirects = 10;
    /// Sent with every request (a request's own headers of the same name win).
    fields headers{};
    /// Largest response body text(), bytes() and read_chunk() will take, in bytes; 0: no
    /// limit (aiohttp has none either). Beyond it they throw body_too_large_error and the
    /// connection is closed. Whatever the limit, a chunk line or trailer section from the
    /// server may not exceed 64 KiB (protocol_error): a server cannot make the client buffer
    /// without bound.
    std::size_t max_body_size = 0;
    /// Name for messages and debug-mode reports.
    std::string name{};
    /// The TLS context of https:// requests (a private CA with load_verify_file(), a client
    /// certificate with load_cert_chain(), or set_verify(false)). Unset: a client context of
    /// the session's own, made at the first https request: the system's CA store, the
    /// server's name checked, SNI sent (ssl_context::client()). The TLS handshake is part of
    /// connecting (client_timeouts::connect).
    std::optional<ssl_context> ssl{};
};

/// Per-request settings.
struct request_options {
    /// Header fields of this request. Host, Content-Length and Connection are set by the
    /// client; a User-Agent and Accept are added when missing.
    fields headers{};
    /// Query parameters appended to the URL's query, percent-encoded (aiohttp's `params=`):
    /// `{.params = {{"q", "a b"}, {"page", "2"}}}` sends "?q=a%20b&page=2" (see
    /// url::with_query). Applied to the URL given, not to redirects.
    std::vector<std::pair<std::string, std::string>> params{};
    /// The request body, sent with a Content-Length.
    std::string body{};
    /// A JSON body (aiohttp's `json=`): sent as `json.dump()`, with "Content-Type:
    /// application/json" unless a Content-Type is given. `{.json = {{"name", "x"}}}` sends
    /// {"name":"x"}. Unset (a discarded value, the default): no JSON body; `nullptr` sends
    /// null. With a non-empty `body` too the request throws value_error. A string that is not
    /// UTF-8 makes the request throw nlohmann::json::type_error.
    nlohmann::json json = nlohmann::json(nlohmann::json::value_t::discarded);
    /// This request's time limits: each field given replaces the session's, each field left
    /// unset is the session's (`{.timeouts = {.total = 2s}}` keeps the session's connect and
    /// read timeouts).
    client_timeouts timeouts{};
    /// This request's max_body_size instead of the session's (0: no limit).
    std::optional<std::size_t> max_body_size{};
    /// Follow 301, 302, 303, 307 and 308 answers (303, and 301/302 to a POST, become a GET
    /// without body, as browsers and aiohttp do).
    bool allow_redirects = true;
    /// This request's TLS context instead of the session's (client_options::ssl).
    /// Connections are pooled per scheme, host, port and context, so a connection opened
    /// with one context never carries a request made with another.
    std::optional<ssl_context> ssl{};
};

namespace detail {
struct client_state;
struct client_exchange;
}  // namespace detail

/// A response (aiohttp's ClientResponse). The status and headers are there when the request
/// call returns; the body is read by text(), bytes() or read_chunk(). Movable, not copyable.
/// It holds its connection until the body is read or the response is destroyed: a fully read
/// body gives the connection back to the pool, anything else closes it.
class client_response {
public:
    client_response() noexcept;
    client_response(client_response&&) noexcept;
    client_response& operator=(client_response&&) noexcept;
    ~client_response();
    client_response(const client_response&) = delete;
    client_response& operator=(const client_response&) = delete;

    [[nodiscard]] int status() const noexcept;
    [[nodiscard]] const std::string& reason() const noexcept;
    [[nodiscard]] const fields& headers() const noexcept;
    /// The URL that answered (after redirects).
    [[nodiscard]] const http::url& url() const noexcept;
    /// How many redirects were followed to get here.
    [[nodiscard]] int redirects() const noexcept;
    /// The request's method ("GET").
    [[nodiscard]] const std::string& method() const noexcept;

    /// The rest of the body, decoded from chunked transfer encoding if needed. Suspends until
    /// the body is complete (yield point, cancellation point). Throws timeout_error (read idle
    /// or total timeout: the message names the URL and the phase), protocol_error when the
    /// connection ends or fails early, usage_error when the response was released before its
    /// body was read, body_too_large_error beyond max_body_size. Once the body has been
    /// returned, later calls return "".
    std::string text();
    /// The same bytes as text() (aiohttp's read()).
    std::string bytes();
    /// The rest of the body parsed as JSON (aiohttp's json()); the Content-Type is not
    /// checked. Suspends as text() and throws as text(); throws value_error naming the method,
    /// the URL, the status and what the parser said when the body is not JSON.
    nlohmann::json json();
    /// Up to `max` bytes of the body as they arrive; empty once the body is complete.
    /// Suspends while nothing is buffered. Never buffers much more than `max` bytes of body
    /// (it reads at most `max` bytes from the connection at a time). Throws as text().
    std::string read_chunk(std::size_t max = 64 * 1024);
    /// True once the whole body has been received.
    [[nodiscard]] bool body_complete() const noexcept;

    /// Throws response_status_error ("GET <url>: 404 Not Found") when status() >= 400.
    void raise_for_status() const;
    /// Gives the connection up now: back to the pool when the body is complete, closed
    /// otherwise. Does not suspend. Idempotent.
    void release() noexcept;

private:
    friend class client_session;
    explicit client_response(std::unique_ptr<detail::client_exchange> x) noexcept;
    detail::client_exchange& require(const char* what) const;
    std::unique_ptr<detail::client_exchange> x_;
};

/// An HTTP/1.1 client with a connection pool (aiohttp.ClientSession). Use it from tasks of
/// one loop. Close it with close(); a session destroyed or left open when the loop closes is
/// reported by debug mode (`leaked-resource`) and its connections are aborted.
class client_session {
public:
    /// Throws value_error naming a bad option (negative timeout, max_redirects < 0).
    explicit client_session(client_options options = {});
    client_session(client_session&&) noexcept;
    client_session& operator=(client_session&&) noexcept;
    ~client_session();
    client_session(const client_session&) = delete;
    client_session& operator=(const client_session&) = delete;

    /// Sends `method` to `url` and returns once the response's status and headers have
    /// arrived (the body is read from the response). Keeps a connection from the pool or
    /// opens one; retries once on a fresh connection when a pooled one turns out closed by
    /// the server before answering. Follows redirects (see request_options). https:// URLs
    /// speak TLS (see client_options::ssl): verified against the system's CA store by
    /// default. Yield point and cancellation point. Throws invalid_url_error (bad URL),
    /// timeout_error naming the URL, the phase (connect, send, response head, total) and the
    /// duration, std::system_error when connecting fails (refused, unreachable),
    /// ssl_cert_verification_error (a std::system_error) when the server's certificate is
    /// refused ("certificate has expired", "hostname mismatch"...), ssl_error when the TLS
    /// handshake fails otherwise,
    /// protocol_error naming the request when the connection fails or closes later (reset,
    /// broken pipe, EOF) or the answer is not HTTP, too_many_redirects_error, usage_error
    /// after close().
    client_response request(std::string_view method, std::string_view url,
                            request_options options = {});
    /// request("GET", ...).
    client_response get(std::string_view url, request_options options = {});
    /// request("POST", ...) with `body`.
    client_response post(std::string_view url, std::string body, request_options options = {});
    /// request("PUT", ...) with `body`.
    client_response put(std::string_view url, std::string body, request_options options = {});
    /// request("DELETE", ...) (`delete` is a C++ keyword).
    client_response delete_(std::string_view url, request_options options = {});

    /// Closes every pooled connection and refuses further requests; responses still out
    /// close their connections when done. Suspends until the pooled connections are closed
    /// (yield point). Idempotent.
    void close();
    [[nodiscard]] bool closed() const noexcept;

    /// Idle connections in the pool now.
    [[nodiscard]] std::size_t idle_connections() const noexcept;
    /// Connections opened since the session started (keep-alive makes it small).
    [[nodiscard]] std::uint64_t connections_opened() const noexcept;
    /// The session's options. usage_error on a moved-from session.
    [[nodiscard]] const client_options& options() const;

private:
    std::shared_ptr<detail::client_state> s_;  // shared with responses still out
};

}  // namespace aio::http
