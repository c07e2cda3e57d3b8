// The HTTP/1.1 server: routing, one task per connection (aio::start_server's), requests parsed
// by Beast's parser from the connection's buffer, responses written whole or streamed, and
// the graceful shutdown of app_runner::cleanup().
#include "../net/net.hpp"
#include "parser.hpp"

#include <aio/event.hpp>
#include <aio/http/server.hpp>
#include <aio/run.hpp>
#include <aio/server.hpp>
#include <aio/shield.hpp>
#include <aio/signals.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/timeout.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <list>
#include <system_error>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace aio::http {

namespace detail {

// ---------------------------------------------------------------------------------------
// Routing

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
    int version = 11;
    std::string body;
    std::string peer;
    bool keep_alive = true;
    application* app = nullptr;
    const route* matched = nullptr;
    std::vector<std::pair<std::string, std::string>> match;
    std::weak_ptr<connection> conn;
};

namespace {

std::vector<segment> parse_pattern(std::string_view path) {
    if (path.empty() || path.front() != '/') {
        throw value_error("http::application: route path '" + std::string(path) +
                          "' must start with '/'");
    }
    std::vector<segment> out;
    std::string_view rest = path.substr(1);
    for (;;) {
        std::size_t slash = rest.find('/');
        std::string_view part = rest.substr(0, slash);
        segment s;
        if (!part.empty() && part.front() == '{') {
            if (part.back() != '}' || part.size() < 3) {
                throw value_error("http::application: route path '" + std::string(path) +
                                  "': a parameter is written {name} or {name:*}, one whole "
                                  "segment");
            }
            std::string_view inner = part.substr(1, part.size() - 2);
            s.kind = segment::param;
            if (inner.size() > 2 && inner.substr(inner.size() - 2) == ":*") {
                s.kind = segment::tail;
                inner.remove_suffix(2);
                if (slash != std::string_view::npos) {
                    throw value_error("http::application: route path '" + std::string(path) +
                                      "': {" + std::string(inner) +
                                      ":*} matches the rest of the path and must come last");
                }
            }
            if (inner.empty() || inner.find_first_of("{}:/") != std::string_view::npos) {
                throw value_error("http::application: route path '" + std::string(path) +
                                  "': bad parameter name '" + std::string(inner) + "'");
            }
            s.text = std::string(inner);
        } else {
            if (part.find_first_of("{}") != std::string_view::npos) {
                throw value_error("http::application: route path '" + std::string(path) +
                                  "': '{' and '}' are only allowed around a whole segment");
            }
            s.text = std::string(part);
        }
        out.push_back(std::move(s));
        if (slash == std::string_view::npos) {
            break;
        }
        rest = rest.substr(slash + 1);
    }
    return out;
}

// Matches `path` ("/a/b") against the route's segments; fills `params` on success.
bool match_path(const route& r, std::string_view path,
                std::vector<std::pair<std::string, std::string>>* params) {
    std::string_view rest = path.substr(1);
    for (std::size_t i = 0; i < r.segments.size(); ++i) {
        const segment& seg = r.segments[i];
        if (seg.kind == segment::tail) {
            if (params != nullptr) {
                params->emplace_back(seg.text, std::string(rest));
            }
            return true;
        }
        std::size_t slash = rest.find('/');
        bool last_in_path = slash == std::string_view::npos;
        std::string_view part = rest.substr(0, slash);
        if (seg.kind == segment::literal) {
            if (part != seg.text) {
                return false;
            }
        } else {
            if (part.empty()) {
                return false;
            }
            if (params != nullptr) {
                params->emplace_back(seg.text, std::string(part));
            }
        }
        bool last_in_route = i + 1 == r.segments.size();
        if (last_in_route || last_in_path) {
            return last_in_route && last_in_path;
        }
        rest = rest.substr(slash + 1);
    }
    return false;
}

bool method_matches(const route& r, std::string_view method) {
    return r.method == "*" || r.method == method || (method == "HEAD" && r.method == "GET");
}

}  // namespace

struct router {
    std::vector<route> routes;

    response handle(request& req, request_data& d) const {
        std::string allowed;
        for (const route& r : routes) {
            if (!match_path(r, d.path, nullptr)) {
                continue;
            }
            if (method_matches(r, d.method)) {
                d.matched = &r;
                d.match.clear();
                match_path(r, d.path, &d.match);
                return r.fn(req);
            }
            std::string m = r.method == "GET" ? "GET, HEAD" : r.method;
            if (allowed.find(m) == std::string::npos) {
                allowed += allowed.empty() ? m : ", " + m;
            }
        }
        if (!allowed.empty()) {
            throw http_error(405, {}, {{"Allow", allowed}});
        }
        throw http_error(404);
    }
};

// ---------------------------------------------------------------------------------------
// Connections

std::string_view http_date() noexcept {
    thread_local std::time_t last = 0;
    thread_local char buf[64] = {};
    thread_local std::size_t len = 0;
    std::time_t now = std::time(nullptr);
    if (now != last) {
        std::tm tm{};
        ::gmtime_r(&now, &tm);
        len = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return {buf, len};
}

bool no_body_status(int status) noexcept {
    return (status >= 100 && status < 200) || status == 204 || status == 304;
}

void append_head(std::string& out, int status, const fields& h, bool keep_alive, int version) {
    out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    char num[8];
    int n = std::snprintf(num, sizeof num, "%d ", status);
    out.append(num, static_cast<std::size_t>(n));
    out += reason_phrase(status);
    out += "\r\n";
    bool has_date = false;
    bool has_server = false;
    for (const auto& [name, value] : h) {
        if (name.size() == 4 && (name == "Date" || name == "date")) {
            has_date = true;
        } else if (name.size() == 6 && (name == "Server" || name == "server")) {
            has_server = true;
        }
        out += name;
        out += ": ";
        out += value;
        out += "\r\n";
    }
    if (!has_server) {
        out += "Server: aio\r\n";
    }
    if (!has_date) {
        out += "Date: ";
        out += http_date();
        out += "\r\n";
    }
    if (!keep_alive) {
        out += "Connection: close\r\n";
    } else if (version == 10) {
        out += "Connection: keep-alive\r\n";
    }
}

bool iequals_token(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x | 0x20) == (y | 0x20);
           });
}

// The fields a handler may not set itself: the connection owns framing.
bool framing_field(std::string_view name) noexcept {
    auto eq = [&](std::string_view f) {
        return name.size() == f.size() &&
               std::equal(name.begin(), name.end(), f.begin(),
                          [](char a, char b) { return (a | 0x20) == (b | 0x20); });
    };
    return eq("content-length") || eq("transfer-encoding") || eq("connection");
}

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

    void start(const std::function<aio::server(aio::connection_handler)>& listen);
    void cleanup();
    void run_hooks(std::vector<app_hook>& hooks, const char* which) noexcept;
};

void report_error(const char* what, const std::string& who) noexcept {
    try {
        aio::get_running_loop().call_exception_handler(
            {what, std::current_exception(), [who] { return who; }});
    } catch (...) {
    }
}

void connection::on_hangup(void* self) noexcept {
    auto* c = static_cast<connection*>(self);
    c->hung_up = true;
    if (c->at == phase::handling && c->task) {
        ++c->rs->cancelled;
        c->task.cancel("the client disconnected");
    }
}

void connection::answer_error(int status, std::string_view text) {
    out.clear();
    fields h{{"Content-Type", "text/plain; charset=utf-8"}};
    std::string body = std::to_string(status) + ": " + std::string(text);
    append_head(out, status, h, false, 11);
    out += "Content-Length: ";
    out += std::to_string(body.size());
    out += "\r\n\r\n";
    out += body;
    s.write(out);
}

// Reads until `p` has a whole request. False: end the connection (quietly, or after an
// error answer it sent).
bool connection::read_request(parser<true>& p) {
    const serve_options& o = rs->opts;
    aio::loop& lp = aio::get_running_loop();
    time_point head_deadline = time_point::max();
    at = phase::idle;
    for (;;) {
        if (in_begin < in.size()) {
            if (at == phase::idle) {
                at = phase::head;
                head_deadline = lp.time() + o.header_timeout;
            }
            beast_error ec;
            std::size_t n = p.feed(in.data() + in_begin, in.size() - in_begin, ec);
            in_begin += n;
            if ((!ec || ec == bhttp::error::need_more) && !p.is_done() && p.is_header_done() &&
                at != phase::body) {
                at = phase::body;
                // RFC 9110 §10.1.1: a client that asked for it waits for 100 Continue before
                // it sends the body (curl for a second, aiohttp for ever).
                if (p.version == 11 && iequals_token(p.headers.value("Expect"), "100-continue")) {
                    s.write("HTTP/1.1 100 Continue\r\n\r\n");
                }
            }
            if (!ec) {
                if (p.is_done()) {
                    return true;
                }

                if (n > 0) {
                    continue;
                }
            } else if (ec != bhttp::error::need_more) {
                if (ec == bhttp::error::header_limit) {
                    bool line = p.exceeded == head_limit::request_line;
                    answer_error(line ? 414 : 431, line ? "request line too long"
                                                        : "request header fields too large");
                } else if (ec == bhttp::error::body_limit) {
                    answer_error(413, "request body larger than " +
                                          std::to_string(o.client_max_size) + " bytes");
                } else {
                    answer_error(400, "bad request: " + ec.message());
                }
                return false;
            }
        }
        // Need more bytes.
        if (in_begin == in.size()) {
            in.clear();
            in_begin = 0;
        } else if (in_begin > 0 && in_begin * 2 >= in.size()) {
            in.erase(0, in_begin);
            in_begin = 0;
        }
        if (at == phase::idle && rs->shutting_down) {
            return false;
        }
        duration timeout;
        bool idle = at == phase::idle;
        if (idle) {
            timeout = first ? o.header_timeout : o.keepalive_timeout;
        } else if (at == phase::head) {
            timeout = std::max(duration::zero(), head_deadline - lp.time());
        } else {
            timeout = o.server.connection.read_timeout;
        }
        std::size_t used = in.size();
        // Read into the spare capacity; grow (doubling, at least 16 KiB) when little is left.
        std::size_t room = in.capacity() - used;
        if (room < 4096) {
            room = std::max<std::size_t>(used, 16384);
        }
        in.resize(used + room);
        std::size_t got = 0;
        struct idle_flag {
            bool& f;
            ~idle_flag() { f = false; }
        } flag{waiting_idle};
        waiting_idle = idle && used == 0;
        try {
            got = s.read_into(std::span<char>(in.data() + used, room), timeout);
        } catch (const timeout_error&) {
            in.resize(used);
            if (at == phase::head) {
                answer_error(408, "request head not received within " +
                                      format_duration(o.header_timeout));
            } else if (at == phase::body) {
                answer_error(408, "request body stalled for " + format_duration(timeout));
            }
            return false;  // idle keep-alive connections just close
        }
        in.resize(used + got);
        if (got == 0) {
            if (at == phase::body) {
                beast_error ec;
                p.put_eof(ec);
                if (!ec && p.is_done()) {
                    return true;
                }
            }
            return false;  // the client closed (mid-request or between requests)
        }
    }
}

void connection::send(response& r) {
    request_data& d = *current;
    bool keep = d.keep_alive && !rs->shutting_down && !must_close;
    if (r.prepared() || head_sent) {
        // A streamed response (perhaps not the object returned): end it; never a second head.
        if (!ended) {
            end_stream();
        }
        return;
    }
    out.clear();
    fields* h = &r.headers();
    bool bad_framing =
        std::any_of(h->begin(), h->end(), [](const auto& f) { return framing_field(f.first); });
    fields cleaned;
    if (bad_framing) {
        for (const auto& [n, v] : *h) {
            if (!framing_field(n)) {
                cleaned.add_unchecked(n, v);
            }
        }
        h = &cleaned;
    }
    append_head(out, r.status(), *h, keep, d.version);
    if (!no_body_status(r.status())) {
        out += "Content-Length: ";
        char num[24];
        int n = std::snprintf(num, sizeof num, "%zu", r.body().size());
        out.append(num, static_cast<std::size_t>(n));
        out += "\r\n";
    }
    out += "\r\n";
    if (!head_only && !no_body_status(r.status())) {
        out += r.body();
    }
    s.write(out);
    if (!keep) {
        must_close = true;
    }
}

void connection::start_stream(response& r, request_data& d) {
    bool keep = d.keep_alive && !rs->shutting_down;
    out.clear();
    std::optional<std::size_t> length;
    fields cleaned;
    for (const auto& [n, v] : r.headers()) {
        if (framing_field(n)) {
            if (n.size() == 14 && (n[0] | 0x20) == 'c' && (n[8] | 0x20) == 'l') {
                std::size_t len = 0;
                auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), len);
                if (ec != std::errc() || p != v.data() + v.size()) {
                    throw value_error("http::response::prepare: Content-Length '" + v +
                                      "' is not a number");
                }
                length = len;
            }
            continue;
        }
        cleaned.add_unchecked(n, v);
    }
    chunked = !length && d.version == 11 && !no_body_status(r.status());
    if (!length && !chunked) {
        keep = false;  // HTTP/1.0: the end of the body is the end of the connection
    }
    append_head(out, r.status(), cleaned, keep, d.version);
    if (length) {
        out += "Content-Length: " + std::to_string(*length) + "\r\n";
    } else if (chunked) {
        out += "Transfer-Encoding: chunked\r\n";
    }
    out += "\r\n";
    remaining = length;
    head_sent = true;
    ended = false;
    if (!keep) {
        must_close = true;
    }
    s.write(out);
}

void connection::write_body(std::string_view data) {
    if (ended) {
        throw usage_error("http::response::write: the response was ended with write_eof()");
    }
    if (data.empty() || head_only) {
        return;
    }
    if (remaining) {
        if (data.size() > *remaining) {
            throw usage_error("http::response::write: " + std::to_string(data.size()) +
                              " bytes, but only " + std::to_string(*remaining) +
                              " remain of the Content-Length announced");
        }
        *remaining -= data.size();
        s.write(data);
        return;
    }
    if (chunked) {
        char size[24];
        int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
        out.assign(size, static_cast<std::size_t>(n));
        out.append(data);
        out += "\r\n";
        s.write(out);
        return;
    }
    s.write(data);
}

void connection::end_stream() {
    if (ended) {
        return;
    }
    ended = true;
    if (chunked && !head_only) {
        s.write("0\r\n\r\n");
    }
    if (remaining && *remaining > 0) {
        must_close = true;  // the body is short: the client can only tell by the close
    }
}

void connection::serve() {
    const serve_options& o = rs->opts;
    application& app = *rs->app;
    for (;;) {
        parser<true> p;
        p.header_limit(
            static_cast<std::uint32_t>(std::min<std::size_t>(o.max_head_size, UINT32_MAX)));
        p.body_limit(o.client_max_size);
        p.max_field = o.max_field_size;
        p.eager(true);
        if (!read_request(p)) {
            return;
        }
        first = false;
        auto d = std::make_shared<request_data>();
        d->method = std::move(p.method);
        d->target = std::move(p.target);
        d->query_at = d->target.find('?');
        d->path = percent_decode(std::string_view(d->target).substr(0, d->query_at));
        if (d->path.empty() || d->path.front() != '/') {
            // Absolute-form ("http://host/x") and asterisk-form targets are not served.
            answer_error(400, "bad request target '" + d->target + "'");
            return;
        }
        d->headers = std::move(p.headers);
        d->version = p.version;
        d->body = std::move(p.body);
        d->peer = s.peer_address();
        d->keep_alive = p.keep_alive();
        d->app = &app;
        d->conn = weak_from_this();
        current = d;
        head_sent = false;
        chunked = false;
        ended = false;
        remaining.reset();
        head_only = d->method == "HEAD";

        request req(d);
        response r;
        at = phase::handling;
        ++rs->handlers;
        struct count_down {
            connection& c;
            ~count_down() {
                --c.rs->handlers;
                c.at = phase::idle;
            }
        } counted{*this};
        bool watch = o.handler_cancellation;
        if (watch && !aio::detail::stream_access::on_hangup(s, &on_hangup, this)) {
            ++rs->cancelled;
            throw cancelled_error("the client disconnected");
        }
        try {
            r = app.dispatch(req);
        } catch (const http_error& e) {
            r = response(e.status(), e.text().empty() ? std::to_string(e.status()) + ": " +
                                                            std::string(reason_phrase(e.status()))
                                                      : e.text());
            for (const auto& [n, v] : e.headers()) {
                r.headers().add_unchecked(n, v);
            }
        } catch (const cancelled_error&) {
            if (watch) {
                aio::detail::stream_access::on_hangup(s, nullptr, nullptr);
            }
            throw;
        } catch (...) {
            if (watch) {
                aio::detail::stream_access::on_hangup(s, nullptr, nullptr);
            }
            report_error("Error handling request",
                         d->method + " " + d->target + " from " + d->peer);
            if (hung_up || head_sent) {
                return;  // the client is gone, or the response is half sent: no 500 to send
            }
            r = response(500, "500: Internal Server Error");
            must_close = true;
        }
        if (watch) {
            aio::detail::stream_access::on_hangup(s, nullptr, nullptr);
        }
        send(r);
        ++rs->handled;
        if (must_close || !d->keep_alive || rs->shutting_down) {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Runner

void runner_state::run_hooks(std::vector<app_hook>& hooks, const char* which) noexcept {
    for (auto& h : hooks) {
        try {
            h(*app);
        } catch (const cancelled_error&) {
            return;
        } catch (...) {
            report_error(which, "application hook");
        }
    }
}

void runner_state::start(const std::function<aio::server(aio::connection_handler)>& listen) {
    if (started) {
        throw usage_error("http::app_runner::start: already started; one runner serves one "
                          "address (make another runner for another)");
    }
    started = true;
    struct unstart {
        runner_state& r;
        bool armed = true;
        ~unstart() {
            if (armed) {  // a failed start leaves the runner startable again
                r.started = false;
                r.app->frozen_ = false;
            }
        }
    } undo{*this};
    app->chain_ = nullptr;
    app->frozen_ = true;
    handler chain = [r = app->router_.get()](request& req) { return r->handle(req, *req.d_); };
    for (auto it = app->middlewares_.rbegin(); it != app->middlewares_.rend(); ++it) {
        chain = [m = *it, next = std::move(chain)](request& req) { return m(req, next); };
    }
    app->chain_ = std::move(chain);
    for (auto& h : app->on_startup) {
        h(*app);  // a failing startup hook fails start(): nothing is served
    }
    std::weak_ptr<runner_state> weak = weak_from_this();
    auto self = shared_from_this();
    srv = listen([self](aio::stream& st) {
        auto c = std::make_shared<connection>(self, st);
        c->task = aio::current_task();
        self->conns.push_front(c.get());
        c->pos = self->conns.begin();
        struct untrack {
            connection& c;
            ~untrack() {
                c.closed = true;
                c.rs->conns.erase(c.pos);
                c.current.reset();
            }
        } guard{*c};
        try {
            c->serve();
        } catch (const std::system_error&) {
            // The client went away (reset, broken pipe): nothing to report.
            st.abort();
        } catch (const timeout_error&) {
            st.abort();  // a client too slow to read its response
        }
    });
    undo.armed = false;
}

void runner_state::cleanup() {
    if (cleaned_up) {
        cleanup_done.wait();
        return;
    }
    cleaned_up = true;
    shutting_down = true;
    struct done_t {
        runner_state& r;
        ~done_t() { r.cleanup_done.set(); }
    } done{*this};
    if (srv) {
        srv.close();
        for (connection* c : conns) {
            if (c->waiting_idle) {
                aio::detail::stream_access::close_soon(c->s);
            }
        }
    }
    run_hooks(app->on_shutdown, "Error in an on_shutdown hook");
    if (srv) {
        bool finished = false;
        try {
            aio::timeout(opts.shutdown_timeout, [&] { srv.wait_closed(); });
            finished = true;
        } catch (const timeout_error&) {
        }
        if (!finished) {
            for (connection* c : conns) {
                if (c->task && !c->task.done()) {
                    if (c->at == connection::phase::handling) {
                        ++cancelled;
                    }
                    c->task.cancel("the server is shutting down (shutdown_timeout passed)");
                }
            }
            // A handler that swallows its cancellation must not hold the shutdown forever:
            // one more shutdown_timeout, then its connection is aborted and cleanup goes on.
            bool ended = false;
            try {
                aio::timeout(opts.shutdown_timeout, [&] { srv.wait_closed(); });
                ended = true;
            } catch (const timeout_error&) {
            }
            if (!ended) {
                std::size_t left = conns.size();
                srv.abort_clients();
                try {
                    throw std::runtime_error(
                        std::to_string(left) + " connection task(s) still running " +
                        format_duration(opts.shutdown_timeout) +
                        " after they were cancelled (a handler swallowed its cancellation?); "
                        "their connections were aborted and the shutdown goes on without them");
                } catch (...) {
                    report_error("HTTP shutdown: handlers ignored their cancellation",
                                 "server '" + name + "'");
                }
            }
        }
        srv = aio::server();
    }
    run_hooks(app->on_cleanup, "Error in an on_cleanup hook");
}

}  // namespace detail

// ---------------------------------------------------------------------------------------
// response

namespace {
void check_status(int status, const char* what) {
    if (status < 100 || status > 599) {
        throw value_error(std::string(what) + ": status " + std::to_string(status) +
                          " is not an HTTP status (100..599)");
    }
}
}  // namespace

response::response(int status, std::string body, std::string_view content_type)
    : status_(status)
    , body_(std::move(body)) {
    check_status(status, "http::response");
    if (!content_type.empty()) {
        headers_.add_unchecked("Content-Type", std::string(content_type));
    }
}

response response::text(std::string body, int status) {
    return response(status, std::move(body), "text/plain; charset=utf-8");
}

response response::json(std::string body, int status) {
    return response(status, std::move(body), "application/json");
}

void response::set_status(int status) {
    check_status(status, "http::response::set_status");
    status_ = status;
}

void response::set_body(std::string body) {
    if (conn_) {
        throw usage_error("http::response::set_body: the response is prepared (streaming); "
                          "use write()");
    }
    body_ = std::move(body);
}

void response::prepare(request& req) {
    if (conn_) {
        throw usage_error("http::response::prepare: already prepared");
    }
    std::shared_ptr<detail::connection> c = req.d_->conn.lock();
    if (!c || c->closed || c->current != req.d_) {
        throw usage_error("http::response::prepare: the request is not being handled any more "
                          "(its handler returned, or its connection closed)");
    }
    if (c->head_sent) {
        throw usage_error("http::response::prepare: another response to this request was "
                          "already prepared");
    }
    c->start_stream(*this, *req.d_);
    conn_ = std::move(c);
}

void response::write(std::string_view data) {
    if (!conn_) {
        throw usage_error("http::response::write: call prepare(request) first");
    }
    if (conn_->closed) {
        throw usage_error("http::response::write: the connection has closed");
    }
    conn_->write_body(data);
}

void response::write_eof() {
    if (!conn_) {
        throw usage_error("http::response::write_eof: call prepare(request) first");
    }
    if (!conn_->closed) {
        conn_->end_stream();
    }
}

// ---------------------------------------------------------------------------------------
// request

const std::string& request::method() const noexcept {
    return d_->method;
}
const std::string& request::target() const noexcept {
    return d_->target;
}
const std::string& request::path() const noexcept {
    return d_->path;
}
std::string_view request::query_string() const noexcept {
    if (d_->query_at == std::string::npos) {
        return {};
    }
    return std::string_view(d_->target).substr(d_->query_at + 1);
}
const std::vector<std::pair<std::string, std::string>>& request::query() const {
    if (!d_->query) {
        d_->query = parse_query(query_string());
    }
    return *d_->query;
}
std::optional<std::string_view> request::query(std::string_view name) const {
    for (const auto& [k, v] : query()) {
        if (k == name) {
            return std::string_view(v);
        }
    }
    return std::nullopt;
}
const fields& request::headers() const noexcept {
    return d_->headers;
}
int request::version() const noexcept {
    return d_->version;
}
const std::string& request::text() const noexcept {
    return d_->body;
}
const std::string& request::bytes() const noexcept {
    return d_->body;
}
std::string_view request::match_info(std::string_view name) const {
    for (const auto& [k, v] : d_->match) {
        if (k == name) {
            return v;
        }
    }
    std::string route = d_->matched != nullptr ? d_->matched->pattern : std::string("(none)");
    throw value_error("http::request::match_info: route '" + route + "' has no parameter '" +
                      std::string(name) + "'");
}
const std::string& request::peer() const noexcept {
    return d_->peer;
}
bool request::keep_alive() const noexcept {
    return d_->keep_alive;
}
application& request::app() const noexcept {
    return *d_->app;
}

// ---------------------------------------------------------------------------------------
// application

application::application()
    : router_(std::make_unique<detail::router>()) {
}
application::~application() = default;

void application::require_unfrozen(const char* what) const {
    if (frozen_) {
        throw usage_error(std::string(what) +
                          ": the application is being served; add routes and middlewares "
                          "before starting it");
    }
}

void application::add_route(std::string_view method, std::string_view path, handler h) {
    require_unfrozen("http::application::add_route");
    if (method.empty() || (method != "*" && !std::all_of(method.begin(), method.end(), [](char c) {
                               return c >= 'A' && c <= 'Z';
                           }))) {
        throw value_error("http::application::add_route: method '" + std::string(method) +
                          "' should be an upper-case HTTP method (\"GET\", \"POST\", ...) or "
                          "\"*\"");
    }
    if (!h) {
        throw value_error("http::application::add_route: empty handler for " + std::string(method) +
                          " " + std::string(path));
    }
    detail::route r;
    r.method = std::string(method);
    r.pattern = std::string(path);
    r.segments = detail::parse_pattern(path);
    r.fn = std::move(h);
    router_->routes.push_back(std::move(r));
}

void application::add_get(std::string_view path, handler h) {
    add_route("GET", path, std::move(h));
}
void application::add_post(std::string_view path, handler h) {
    add_route("POST", path, std::move(h));
}
void application::add_put(std::string_view path, handler h) {
    add_route("PUT", path, std::move(h));
}
void application::add_delete(std::string_view path, handler h) {
    add_route("DELETE", path, std::move(h));
}
void application::add_patch(std::string_view path, handler h) {
    add_route("PATCH", path, std::move(h));
}

void application::add_middleware(middleware m) {
    require_unfrozen("http::application::add_middleware");
    if (!m) {
        throw value_error("http::application::add_middleware: empty middleware");
    }
    middlewares_.push_back(std::move(m));
}

response application::dispatch(request& req) const {
    if (chain_) {
        return chain_(req);
    }
    // Not served (a test calling dispatch directly): middlewares applied on the fly.
    handler h = [r = router_.get()](request& q) { return r->handle(q, *q.d_); };
    for (auto it = middlewares_.rbegin(); it != middlewares_.rend(); ++it) {
        h = [m = *it, next = std::move(h)](request& q) { return m(q, next); };
    }
    return h(req);
}

void application::missing_key(const std::string& name) {
    throw usage_error("http::application::get: no value stored under key '" + name +
                      "' (set it first, e.g. in an on_startup hook)");
}

void application::wrong_type(const std::string& name) {
    throw usage_error("http::application::get: the value under key '" + name +
                      "' has another type than the key's");
}

// ---------------------------------------------------------------------------------------
// app_runner

namespace {
void check_serve_options(const serve_options& o) {
    auto neg = [](duration d) { return d < duration::zero(); };
    const char* bad = nullptr;
    if (neg(o.keepalive_timeout)) {
        bad = "keepalive_timeout is negative";
    } else if (neg(o.header_timeout)) {
        bad = "header_timeout is negative";
    } else if (neg(o.shutdown_timeout)) {
        bad = "shutdown_timeout is negative";
    } else if (o.max_field_size == 0 || o.max_head_size == 0) {
        bad = "max_field_size and max_head_size must be above 0";
    }
    if (bad != nullptr) {
        throw value_error(std::string("http::serve_options: ") + bad);
    }
    aio::detail::check_stream_options(o.server.connection, "http::serve_options::server");
}
}  // namespace

app_runner::app_runner(application& app, serve_options options) {
    check_serve_options(options);
    s_ = std::make_shared<detail::runner_state>(app, std::move(options));
}
app_runner::app_runner(app_runner&&) noexcept = default;
app_runner& app_runner::operator=(app_runner&& o) noexcept {
    if (this != &o) {
        if (s_) {
            s_->srv = aio::server();
        }
        s_ = std::move(o.s_);
    }
    return *this;
}
app_runner::~app_runner() {
    if (s_) {
        // Breaks the cycle server -> handler -> runner state; a server still open is
        // aborted (and reported by debug mode).
        s_->srv = aio::server();
    }
}

void app_runner::start(std::string_view host, std::uint16_t port) {
    if (!s_) {
        throw usage_error("http::app_runner::start: moved-from runner");
    }
    aio::server_options so = s_->opts.server;
    if (s_->opts.ssl) {
        so.ssl = s_->opts.ssl;
    }
    if (so.name.empty()) {
        so.name = (so.ssl ? "https " : "http ") + aio::detail::host_port(host, port);
    }
    s_->name = so.name;
    s_->start(
        [&](aio::connection_handler h) { return aio::start_server(std::move(h), host, port, so); });
}

void app_runner::start_unix(std::string_view path) {
    if (!s_) {
        throw usage_error("http::app_runner::start_unix: moved-from runner");
    }
    aio::server_options so = s_->opts.server;
    if (s_->opts.ssl) {
        so.ssl = s_->opts.ssl;
    }
    if (so.name.empty()) {
        so.name = "http unix:" + std::string(path);
    }
    s_->name = so.name;
    s_->start(
        [&](aio::connection_handler h) { return aio::start_unix_server(std::move(h), path, so); });
}

void app_runner::cleanup() {
    if (!s_ || !s_->started) {
        return;
    }
    // Not a cancellation point: the shutdown runs in its own task, and a cancelled caller
    // still waits for it to finish before the cancellation goes on.
    auto state = s_;
    auto t =
        aio::create_task(aio::task_options{.name = "http cleanup"}, [state] { state->cleanup(); });
    bool cancelled = false;
    std::optional<cancelled_error> reason;
    for (;;) {
        try {
            t.get();
            break;
        } catch (const cancelled_error& e) {
            if (t.done()) {
                throw;
            }
            cancelled = true;
            reason = e;
        }
    }
    if (cancelled) {
        throw *reason;
    }
}

std::uint16_t app_runner::port() const {
    if (!s_ || !s_->srv) {
        throw usage_error("http::app_runner::port: not started (or cleaned up)");
    }
    return s_->srv.port();
}

std::vector<std::string> app_runner::addresses() const {
    if (!s_ || !s_->srv) {
        return {};
    }
    return s_->srv.sockets();
}

std::size_t app_runner::connection_count() const noexcept {
    return s_ ? s_->conns.size() : 0;
}
std::size_t app_runner::handlers_running() const noexcept {
    return s_ ? s_->handlers : 0;
}
std::uint64_t app_runner::requests_handled() const noexcept {
    return s_ ? s_->handled : 0;
}
std::uint64_t app_runner::handlers_cancelled() const noexcept {
    return s_ ? s_->cancelled : 0;
}

// ---------------------------------------------------------------------------------------
// run_app

namespace {

// SIGTERM while run_app serves: a graceful shutdown, through the loop's signal handling
// (signals.cpp). A SIGTERM handler the application installed on this loop before (its own
// stats, say) still runs first, and is put back when run_app returns; one the application
// installs while run_app serves is kept. SIGTERM is left alone when the process has a
// disposition of its own for it (one not set by aio).
class sigterm_watch {
public:
    explicit sigterm_watch(aio::event& stop) {
        aio::detail::loop_core& l = aio::detail::net_loop("http::run_app");
        if (l.signals_ && l.signals_->handlers[SIGTERM - 1]) {
            previous_ = l.signals_->handlers[SIGTERM - 1];
        } else if (!aio::detail::aio_handles(SIGTERM)) {
            struct sigaction current {};
            ::sigaction(SIGTERM, nullptr, &current);
            if (current.sa_handler != SIG_DFL) {
                return;
            }
        }
        // A call already scheduled may run after run_app has returned: it finds the anchor
        // empty instead of a destroyed event.
        aio::add_signal_handler(SIGTERM, [theirs = previous_, anchor = anchor_] {
            if (theirs) {
                (*theirs)();
            }
            if (*anchor != nullptr) {
                (*anchor)->set();
            }
        });
        ours_ = l.signals_->handlers[SIGTERM - 1];
        loop_ = &l;
        *anchor_ = &stop;
    }
    ~sigterm_watch() {
        *anchor_ = nullptr;
        if (loop_ == nullptr || !loop_->signals_ ||
            loop_->signals_->handlers[SIGTERM - 1] != ours_) {
            return;  // not installed, or the application replaced it meanwhile: keep theirs
        }
        if (previous_) {
            loop_->signals_->handlers[SIGTERM - 1] = previous_;  // the very same handler object
            return;
        }
        try {
            aio::remove_signal_handler(SIGTERM);
        } catch (...) {
        }
    }
    sigterm_watch(const sigterm_watch&) = delete;
    sigterm_watch& operator=(const sigterm_watch&) = delete;

private:
    std::shared_ptr<aio::event*> anchor_ = std::make_shared<aio::event*>(nullptr);
    std::shared_ptr<std::function<void()>> previous_;
    std::shared_ptr<std::function<void()>> ours_;
    aio::detail::loop_core* loop_ = nullptr;
};

void serve_until_stopped(application& app, std::string_view host, std::uint16_t port,
                         const serve_options& options) {
    app_runner runner(app, options);
    runner.start(host, port);
    if (options.print_banner) {
        for (const auto& a : runner.addresses()) {
            std::printf("======== Running on %s://%s ========\n",
                        options.ssl || options.server.ssl ? "https" : "http", a.c_str());
        }
        std::printf("(Press CTRL+C to quit)\n");
        std::fflush(stdout);
    }
    aio::event stop;
    sigterm_watch term(stop);
    try {
        stop.wait();
    } catch (const cancelled_error&) {
        // Ctrl-C (the loop cancels the main task) or a cancelled caller: shut down
        // gracefully, then let the cancellation go on.
        runner.cleanup();
        throw;
    }
    runner.cleanup();
}

}  // namespace

void run_app(application& app, std::string_view host, std::uint16_t port, serve_options options) {
    bool in_loop = true;
    try {
        (void)aio::get_running_loop();
    } catch (const usage_error&) {
        in_loop = false;
    }
    if (in_loop) {
        serve_until_stopped(app, host, port, options);
        return;
    }
    std::string h(host);
    try {
        aio::run([&] { serve_until_stopped(app, h, port, options); });
    } catch (const interrupted_error&) {
        // Ctrl-C: the graceful shutdown has run; returning is what aiohttp's run_app does.
    }
}

}  // namespace aio::http
