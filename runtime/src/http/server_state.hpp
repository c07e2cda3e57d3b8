// The HTTP server's internals shared by its parts: router.cpp (routes, the application),
// connection.cpp (one task per connection: requests parsed by Beast's parser from the
// connection's buffer, responses written whole or streamed; request and response), and
// runner.cpp (app_runner, its graceful shutdown, run_app and its SIGTERM).
#pragma once

#include "parser.hpp"

#include <aio/event.hpp>
#include <aio/http/server.hpp>
#include <aio/server.hpp>
#include <aio/task.hpp>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aio::http::detail {

struct segment {
    enum kind_t { literal, param, tail } kind = literal;
    std::string text;  // the literal, or the parameter's name
};

struct route {
    std::string method;  // "GET", ... or "*"
    std::string pattern;
    std::vector<segment> segments;
    handler fn;
};

struct request_data {
    std::string method;
    std::string target;
    std::string path;
    std::size_t query_at = std::string::npos;  // index of '?' in target
    mutable std::optional<std::vector<std::pair<std::string, std::string>>> query;
    fields headers;
    fields trailers;
    int version = 11;
    std::string body;
    std::string peer;
    bool keep_alive = true;
    application* app = nullptr;
    const route* matched = nullptr;
    std::vector<std::pair<std::string, std::string>> match;
    std::weak_ptr<connection> conn;
};

struct router {
    std::vector<route> routes;

    /// Finds the route of `d` and calls its handler; http_error 404 or 405 (with Allow)
    /// when none matches.
    response handle(request& req, request_data& d) const;
};

/// Case-insensitive equality of ASCII tokens.
bool iequals_token(std::string_view a, std::string_view b) noexcept;
/// Hands the exception being handled to the loop's exception handler, as `what` about `who`.
void report_error(const char* what, const std::string& who) noexcept;

struct runner_state;

struct connection : std::enable_shared_from_this<connection> {
    enum class phase { idle, head, body, handling };

    connection(std::shared_ptr<runner_state> r, aio::stream& st)
        : rs(std::move(r))
        , s(st) {}

    std::shared_ptr<runner_state> rs;
    aio::stream& s;
    task_ref task;
    std::list<connection*>::iterator pos;
    phase at = phase::idle;
    std::string in;
    std::size_t in_begin = 0;
    std::string out;
    std::shared_ptr<request_data> current;
    bool first = true;
    bool closed = false;  // the task ended: responses can no longer use it
    bool hung_up = false;
    bool waiting_idle = false;  // between requests, in read_into with nothing buffered
    bool reading_head = false;  // in read_into with no request or only part of its head
    // The response being streamed.
    bool head_sent = false;
    bool chunked = false;
    bool ended = false;
    bool head_only = false;
    std::optional<std::size_t> remaining;
    bool must_close = false;

    void serve();
    bool read_request(parser<true>& p);
    void answer_error(int status, std::string_view text);
    void linger();
    void client_went_away() noexcept;
    void send(response& r);
    void start_stream(response& r, request_data& d);
    void write_body(std::string_view data);
    void end_stream();

    static void on_hangup(void* self) noexcept;
};

struct runner_state : std::enable_shared_from_this<runner_state> {
    runner_state(application& a, serve_options o)
        : app(&a)
        , opts(std::move(o)) {}

    application* app;
    serve_options opts;
    std::string name;  // the listening server's, for messages
    aio::server srv;
    bool started = false;
    bool shutting_down = false;
    bool cleaned_up = false;
    aio::event cleanup_done;
    std::list<connection*> conns;
    std::size_t handlers = 0;
    std::uint64_t handled = 0;
    std::uint64_t cancelled = 0;
    std::uint64_t disconnects = 0;
    std::uint64_t disconnects_noted = 0;  // up to here, said in a note
    time_point next_disconnect_note{};

    void start(const std::function<aio::server(aio::connection_handler)>& listen);
    void cleanup();
    void run_hooks(std::vector<app_hook>& hooks, const char* which) noexcept;
};

}  // namespace aio::http::detail
