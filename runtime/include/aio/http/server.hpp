// HTTP/1.1 server: an application with a router, middlewares and lifecycle hooks, served by a
// runner with keep-alive, limits, timeouts and a graceful shutdown (aiohttp.web). See
// docs/reference/http-server.md.
//
//     aio::http::application app;
//     app.add_get("/users/{id}", [](aio::http::request& req) {
//         return aio::http::response::text("user " + std::string(req.match_info("id")));
//     });
//     aio::http::run_app(app, "127.0.0.1", 8080);  // until Ctrl-C or SIGTERM
#pragma once

#include <aio/http/message.hpp>
#include <aio/loop.hpp>
#include <aio/run.hpp>  // with sleep, task and timeout: a service needs no other aio header
#include <aio/server.hpp>
#include <aio/sleep.hpp>
#include <aio/stream.hpp>
#include <aio/task.hpp>
#include <aio/timeout.hpp>

#include <any>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace aio::http {

class application;
class request;

namespace detail {
struct connection;
struct request_data;
struct router;
struct runner_state;

// Raw JSON text for response::json: anything that converts to std::string_view, except a
// JSON value (which converts too, but means "serialise me") and nullptr (JSON null).
template <class T>
concept raw_json_text = std::convertible_to<const T&, std::string_view> &&
                        !std::same_as<std::remove_cvref_t<T>, nlohmann::json> &&
                        !std::same_as<std::remove_cvref_t<T>, nlohmann::ordered_json> &&
                        !std::same_as<std::remove_cvref_t<T>, std::nullptr_t>;
}  // namespace detail

/// A response to send. Either whole (status, headers, body: sent with a Content-Length when
/// the handler returns) or streamed (aiohttp's StreamResponse): prepare() sends the status
/// and headers, write() sends body parts, write_eof() ends it. Movable and copyable until
/// prepared.
class response {
public:
    /// Status 200, empty body.
    response() = default;
    /// Throws value_error for a status outside 100..599.
    explicit response(int status, std::string body = {},
                      std::string_view content_type = "text/plain; charset=utf-8");
    /// A text/plain response.
    static response text(std::string body, int status = 200);
    /// An application/json response whose body is `body` as given, already JSON text: a
    /// string literal, a std::string or a std::string_view (`response::json(R"({"ok":true})")`).
    /// Throws value_error for a status outside 100..599.
    template <class Text>
    requires detail::raw_json_text<Text>
    static response json(Text&& body, int status = 200) {
        return response(status, std::string(std::forward<Text>(body)), "application/json");
    }
    /// An application/json response whose body is `value.dump()`: `response::json(j)`,
    /// `response::json({{"ok", true}, {"n", 3}})` (a braced list is a JSON value, never raw
    /// text). Throws value_error for a status outside 100..599, nlohmann::json::type_error
    /// for a string that is not UTF-8.
    static response json(const nlohmann::json& value, int status = 200);

    [[nodiscard]] int status() const noexcept { return status_; }
    /// Throws value_error for a status outside 100..599.
    void set_status(int status);
    [[nodiscard]] fields& headers() noexcept { return headers_; }
    [[nodiscard]] const fields& headers() const noexcept { return headers_; }
    [[nodiscard]] const std::string& body() const noexcept { return body_; }
    /// Replaces the body. usage_error once prepared.
    void set_body(std::string body);

    /// Sends the status line and headers now, for a streamed body: with Transfer-Encoding:
    /// chunked unless a Content-Length header was set. Suspends while the socket is busy
    /// (yield point, cancellation point). Throws usage_error when already prepared or when
    /// `req` is not being handled any more, std::system_error when the client is gone.
    void prepare(request& req);
    /// Sends a body part (prepare() first). Suspends while the client is slow to read
    /// (backpressure). Throws usage_error (not prepared, already ended, more than the
    /// announced Content-Length), std::system_error when the client is gone, timeout_error
    /// on the connection's write timeout.
    void write(std::string_view data);
    /// Ends a streamed body. The server calls it when the handler returns without. Idempotent.
    void write_eof();
    [[nodiscard]] bool prepared() const noexcept { return static_cast<bool>(conn_); }

private:
    friend struct detail::connection;
    int status_ = 200;
    fields headers_;
    std::string body_;
    // Set by prepare(): the connection that is sending this response (which keeps the
    // streaming state: chunked or not, bytes still announced, ended).
    std::shared_ptr<detail::connection> conn_;
};

/// A request being handled (aiohttp's web.Request). A cheap handle: copies share the same
/// request, and a copy stays readable after the handler returned (jobs::http::atomic relies
/// on it). The body has been read before the handler runs (up to client_max_size), so no
/// accessor suspends.
class request {
public:
    /// "GET", "POST", ...
    [[nodiscard]] const std::string& method() const noexcept;
    /// The request target in origin form: "/users/7?x=1". A target sent in absolute form
    /// ("http://example.com/users/7?x=1", RFC 9112 §3.2.2) is given here in origin form,
    /// and its authority replaces the Host header, as the RFC requires.
    [[nodiscard]] const std::string& target() const noexcept;
    /// The target's path, percent-decoded: "/users/7".
    [[nodiscard]] const std::string& path() const noexcept;
    /// The target after '?', raw ("" when there is none).
    [[nodiscard]] std::string_view query_string() const noexcept;
    /// The decoded query parameters, in order.
    [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& query() const;
    /// The first query parameter called `name`, if any.
    [[nodiscard]] std::optional<std::string_view> query(std::string_view name) const;
    /// The header fields, as sent (names in their case; several of a name kept in order).
    [[nodiscard]] const fields& headers() const noexcept;
    /// The trailer fields after a chunked body (empty otherwise), kept apart from headers():
    /// they come after the head was checked, so a trailer never stands in for a header.
    [[nodiscard]] const fields& trailers() const noexcept;
    /// HTTP version: 10 or 11 (a request sent as HTTP/1.2 or higher 1.x is served as 1.1,
    /// RFC 9112 §2.3).
    [[nodiscard]] int version() const noexcept;
    /// The body (empty when there was none).
    [[nodiscard]] const std::string& text() const noexcept;
    /// The same bytes as text() (aiohttp's read()).
    [[nodiscard]] const std::string& bytes() const noexcept;
    /// The body parsed as JSON (aiohttp's json()); the Content-Type is not checked. Does not
    /// suspend (the body is already read). A body that is not JSON (an empty one included)
    /// throws http_error(400, "invalid JSON in the request body: <what the parser said>"),
    /// which the server sends as the response unless the handler catches it.
    [[nodiscard]] nlohmann::json json() const;
    /// A path parameter of the matched route: "7" for "/users/{id}". Throws value_error
    /// naming the parameter and the route when the route has no such parameter.
    [[nodiscard]] std::string_view match_info(std::string_view name) const;
    /// The client's address, "127.0.0.1:50412".
    [[nodiscard]] const std::string& peer() const noexcept;
    /// Whether the connection stays open after this exchange.
    [[nodiscard]] bool keep_alive() const noexcept;
    /// The application serving it.
    [[nodiscard]] application& app() const noexcept;

private:
    friend struct detail::connection;
    friend struct detail::router;
    friend struct detail::runner_state;
    friend class application;
    friend class response;
    explicit request(std::shared_ptr<detail::request_data> d) noexcept
        : d_(std::move(d)) {}
    std::shared_ptr<detail::request_data> d_;
};

/// Handles a request and returns the response (or throws http_error for an error status;
/// any other exception becomes a 500 and goes to the loop's exception handler). Runs in the
/// connection's task: it may suspend.
using handler = std::function<response(request&)>;
/// Wraps every handler (aiohttp's middleware): call `next(req)` to go on, or answer without.
using middleware = std::function<response(request&, const handler& next)>;
/// A lifecycle hook: on_startup, on_shutdown, on_cleanup. May suspend.
using app_hook = std::function<void(application&)>;

/// A typed key into application storage (aiohttp's web.AppKey): `app_key<db> db_key{"db"};`.
template <class T>
class app_key {
public:
    explicit app_key(std::string name)
        : name_(std::move(name)) {}
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

private:
    std::string name_;
};

/// The routes, middlewares, hooks and shared state of a web application (aiohttp's
/// web.Application). Set it up before it is served; it must outlive its runner.
class application {
public:
    application();
    ~application();
    application(const application&) = delete;
    application& operator=(const application&) = delete;

    /// Adds a route. `method`: "GET", "POST", ... or "*" for any. `path`: "/", "/users/{id}"
    /// (`{name}` matches one path segment; `{name:*}` as the last segment matches the rest).
    /// Routes are tried in the order added. A path that matches with another method gets 405
    /// with an Allow header; no match gets 404. Throws value_error for a path that does not
    /// start with '/' or has a malformed `{...}`, usage_error once the app is being served.
    void add_route(std::string_view method, std::string_view path, handler h);
    /// GET (and HEAD, answered with the GET handler's headers and no body).
    void add_get(std::string_view path, handler h);
    void add_post(std::string_view path, handler h);
    void add_put(std::string_view path, handler h);
    void add_delete(std::string_view path, handler h);
    void add_patch(std::string_view path, handler h);
    /// Adds a middleware; the first added is the outermost. usage_error once served.
    void add_middleware(middleware m);

    // The same with any callable (a lambda, a function): checked here so that a handler of
    // the wrong type is one clear compile error rather than "cannot convert ... to handler".
    // A handler returning std::string is refused on purpose: the content type would be a
    // guess (docs/reference/http-server.md, "Handlers").
    template <class Fn>
    void add_route(std::string_view method, std::string_view path, Fn&& fn) {
        check_handler<Fn>();
        if constexpr (is_handler<Fn>) {
            add_route(method, path, handler(std::forward<Fn>(fn)));
        }
    }
    template <class Fn>
    void add_get(std::string_view path, Fn&& fn) {
        check_handler<Fn>();
        if constexpr (is_handler<Fn>) {
            add_get(path, handler(std::forward<Fn>(fn)));
        }
    }
    template <class Fn>
    void add_post(std::string_view path, Fn&& fn) {
        check_handler<Fn>();
        if constexpr (is_handler<Fn>) {
            add_post(path, handler(std::forward<Fn>(fn)));
        }
    }
    template <class Fn>
    void add_put(std::string_view path, Fn&& fn) {
        check_handler<Fn>();
        if constexpr (is_handler<Fn>) {
            add_put(path, handler(std::forward<Fn>(fn)));
        }
    }
    template <class Fn>
    void add_delete(std::string_view path, Fn&& fn) {
        check_handler<Fn>();
        if constexpr (is_handler<Fn>) {
            add_delete(path, handler(std::forward<Fn>(fn)));
        }
    }
    template <class Fn>
    void add_patch(std::string_view path, Fn&& fn) {
        check_handler<Fn>();
        if constexpr (is_handler<Fn>) {
            add_patch(path, handler(std::forward<Fn>(fn)));
        }
    }
    template <class Fn>
    void add_middleware(Fn&& fn) {
        static_assert(std::is_invocable_r_v<response, Fn&, request&, const handler&>,
                      "a middleware takes (aio::http::request&, const aio::http::handler& next) "
                      "and returns aio::http::response: return next(req) to go on");
        if constexpr (std::is_invocable_r_v<response, Fn&, request&, const handler&>) {
            add_middleware(middleware(std::forward<Fn>(fn)));
        }
    }

    /// Run in order when the app starts (before it accepts), when shutdown begins (after it
    /// stopped accepting, before waiting for handlers), and at the end (after every handler).
    std::vector<app_hook> on_startup;
    std::vector<app_hook> on_shutdown;
    std::vector<app_hook> on_cleanup;

    /// Stores `value` under `key`, replacing what was there.
    template <class T>
    void set(const app_key<T>& key, T value) {
        storage_[key.name()] = std::move(value);
    }
    /// The value stored under `key`. Throws usage_error when there is none or it has
    /// another type.
    template <class T>
    [[nodiscard]] T& get(const app_key<T>& key) {
        auto it = storage_.find(key.name());
        if (it == storage_.end()) {
            missing_key(key.name());
        }
        T* v = std::any_cast<T>(&it->second);
        if (v == nullptr) {
            wrong_type(key.name());
        }
        return *v;
    }
    template <class T>
    [[nodiscard]] bool contains(const app_key<T>& key) const noexcept {
        auto it = storage_.find(key.name());
        return it != storage_.end() && std::any_cast<T>(&it->second) != nullptr;
    }
    /// Removes the value under `key` (no effect when there is none).
    template <class T>
    void erase(const app_key<T>& key) noexcept {
        storage_.erase(key.name());
    }

    /// Handles `req` through the middlewares and the router (what the server does for each
    /// request). Public for tests and for composing applications.
    response dispatch(request& req) const;

private:
    friend struct detail::connection;
    friend struct detail::runner_state;
    template <class Fn>
    static constexpr bool is_handler = std::is_invocable_r_v<response, Fn&, request&>;
    template <class Fn>
    static constexpr void check_handler() {
        static_assert(is_handler<Fn>,
                      "a handler takes aio::http::request& and returns aio::http::response: "
                      "return aio::http::response::text(...) for a text body");
    }
    [[noreturn]] static void missing_key(const std::string& name);
    [[noreturn]] static void wrong_type(const std::string& name);
    void require_unfrozen(const char* what) const;
    std::unique_ptr<detail::router> router_;
    std::vector<middleware> middlewares_;
    handler chain_;  // middlewares around the router, built when served
    std::map<std::string, std::any, std::less<>> storage_;
    bool frozen_ = false;
};

/// Options of a served application.
struct serve_options {
    /// How long a keep-alive connection may stay idle between requests (aiohttp's
    /// keepalive_timeout, 75 s).
    duration keepalive_timeout = std::chrono::seconds(75);
    /// How long a client may take to send a request's line and headers once it began
    /// (slow clients cannot hold a connection forever): 408 and the connection is closed.
    duration header_timeout = std::chrono::seconds(30);
    /// How long a client may take to send a whole request body once the head is in (a
    /// deadline, not an idle timeout: a client trickling a byte now and then cannot hold a
    /// connection forever): 408 and the connection is closed. The connection's read timeout
    /// (`server.connection.read_timeout`) still bounds each pause within it.
    duration body_timeout = std::chrono::seconds(60);
    /// Largest request body (aiohttp's client_max_size, 1 MiB): 413 beyond it.
    std::size_t client_max_size = 1024 * 1024;
    /// Largest request line, largest single header field and largest chunk line of a
    /// chunked body (aiohttp's max_line_size and max_field_size, 8190): 431 beyond it for a
    /// field, 414 for the request line, 400 for a chunk line (its extensions).
    std::size_t max_field_size = 8190;
    /// Largest request head (request line and every header together), and largest trailer
    /// section of a chunked body: 431 beyond it.
    std::size_t max_head_size = 32 * 1024;
    /// How long the graceful shutdown waits for running handlers before cancelling them
    /// (aiohttp's shutdown_timeout, 60 s).
    duration shutdown_timeout = std::chrono::seconds(60);
    /// Cancel a handler when its client disconnects (aiohttp's handler_cancellation, off
    /// since aiohttp 3.9). Off: the handler runs to its end and its reads and writes on the
    /// closed connection raise std::system_error. On: the handler's task is cancelled at its
    /// next yield point, which may leave half-done work (see lesson 09).
    bool handler_cancellation = false;
    /// Options of the listening socket and of every connection (its read and write idle
    /// timeouts apply to request bodies and to responses).
    aio::server_options server{};
    /// Print "======== Running on http://host:port ========" when run_app starts.
    bool print_banner = true;
    /// Serve HTTPS with this server context (aio::ssl_context::server(cert_file,
    /// key_file)); the same as server.ssl, which it overrides when set. Each connection's
    /// TLS handshake runs before its first request, bounded by server.connection's
    /// read_timeout; a client whose handshake fails is dropped without a response.
    std::optional<ssl_context> ssl{};
};

/// Serves an application on one address (aiohttp's AppRunner + TCPSite). For tests and for
/// programs that run other things beside the server; run_app() is the simple form.
/// Movable, not copyable. Destroying a runner that was started and not cleaned up aborts its
/// connections (debug mode reports the server as `leaked-resource`).
class app_runner {
public:
    /// Throws value_error naming a bad option.
    explicit app_runner(application& app, serve_options options = {});
    app_runner(app_runner&&) noexcept;
    app_runner& operator=(app_runner&&) noexcept;
    ~app_runner();
    app_runner(const app_runner&) = delete;
    app_runner& operator=(const app_runner&) = delete;

    /// Runs on_startup, then listens on `host`:`port` (0: a free port, see port()).
    /// Yield point. Throws what a hook throws (nothing is served then), std::system_error
    /// for an address in use, usage_error when already started.
    void start(std::string_view host, std::uint16_t port);
    /// The same on a Unix-domain socket.
    void start_unix(std::string_view path);
    /// The graceful shutdown: stop accepting, close idle keep-alive connections, run
    /// on_shutdown, wait for running handlers up to shutdown_timeout (their connections close
    /// after the response), cancel the rest, run on_cleanup. Suspends until done; a second
    /// call waits for the first. Yield point; cancelling the caller does not stop a shutdown
    /// halfway: the caller still waits for the end, then gets its cancelled_error.
    void cleanup();

    /// The bound port, between start() and cleanup(); usage_error otherwise.
    [[nodiscard]] std::uint16_t port() const;
    /// The bound addresses.
    [[nodiscard]] std::vector<std::string> addresses() const;
    /// Open connections and handlers running now.
    [[nodiscard]] std::size_t connection_count() const noexcept;
    [[nodiscard]] std::size_t handlers_running() const noexcept;
    /// Requests handled since start (responses sent).
    [[nodiscard]] std::uint64_t requests_handled() const noexcept;
    /// Handlers cancelled: by shutdown_timeout or by a client disconnect.
    [[nodiscard]] std::uint64_t handlers_cancelled() const noexcept;
    /// Responses cut short because the client went away while they were sent (a broken pipe
    /// or a reset): counted, not reported one by one as errors (see docs/reference/
    /// http-server.md).
    [[nodiscard]] std::uint64_t client_disconnects() const noexcept;

private:
    std::shared_ptr<detail::runner_state> s_;
};

/// Serves `app` on `host`:`port` until SIGINT or SIGTERM (or until the calling task is
/// cancelled), then shuts down gracefully (app_runner::cleanup()). Called outside aio::run,
/// it runs its own loop (like aiohttp's web.run_app) and returns after the shutdown, for
/// Ctrl-C too. Inside a task it suspends; after SIGTERM it returns, and when the task is
/// cancelled (Ctrl-C cancels the main task) the cancellation goes on after the shutdown.
/// SIGTERM goes through aio::add_signal_handler: a SIGTERM handler the application added on
/// this loop before still runs first (then the shutdown starts) and is back when run_app
/// returns; one it adds while serving is kept. A SIGTERM disposition the process set outside
/// aio is left alone (SIGTERM then does not stop run_app). Throws what app_runner::start()
/// throws.
void run_app(application& app, std::string_view host = "0.0.0.0", std::uint16_t port = 8080,
             serve_options options = {});

}  // namespace aio::http
