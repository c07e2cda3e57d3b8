// The HTTP server's connections: one task per connection (aio::start_server's), requests
// read as RFC 9112 frames them (the raw head checked, then Beast's parser fed from the
// connection's buffer), responses written whole or streamed; and request and response.
#include "../net/net.hpp"
#include "json_message.hpp"
#include "server_state.hpp"

#include <aio/timeout.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <system_error>

namespace aio::http {

namespace detail {

namespace {

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

}  // namespace

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
    linger();
}

// After an error answer the connection closes, often with more of the client's bytes
// unread: closing at once would reset the connection (RST) and the client could lose the
// answer. Send FIN, then read and drop what the client still sends, for a moment (nginx's
// lingering close).
void connection::linger() {
    try {
        s.write_eof();
        aio::loop& lp = aio::get_running_loop();
        time_point until = lp.time() + std::chrono::seconds(1);
        std::size_t dropped = 0;
        char sink[4096];
        while (dropped < (1u << 20)) {
            duration left = until - lp.time();
            if (left <= duration::zero()) {
                break;
            }
            std::size_t got = s.read_into(std::span<char>(sink, sizeof sink), left);
            if (got == 0) {
                break;
            }
            dropped += got;
        }
    } catch (const cancelled_error&) {
        throw;
    } catch (...) {
        // The client is gone, or reset the connection: nothing more to wait for.
    }
}

// A response cut short by the client's going away: counted, and noted at most once a
// minute (a peer hanging up is not the application's error).
void connection::client_went_away() noexcept {
    runner_state& r = *rs;
    ++r.disconnects;
    try {
        aio::loop& lp = aio::get_running_loop();
        if (lp.time() < r.next_disconnect_note) {
            return;
        }
        r.next_disconnect_note = lp.time() + std::chrono::minutes(1);
        std::uint64_t n = r.disconnects - r.disconnects_noted;
        r.disconnects_noted = r.disconnects;
        lp.call_exception_handler({std::to_string(n) +
                                       " client(s) went away while their response was sent (a "
                                       "broken pipe or a reset: not an error; counted in "
                                       "app_runner::client_disconnects(), noted at most once a "
                                       "minute)",
                                   nullptr, [name = r.name] { return "server '" + name + "'"; }});
    } catch (...) {
    }
}

namespace {

// What the raw bytes of a request head say before Beast parses them.
struct head_scan {
    enum result_t { need_more, ready, refused } result = need_more;
    int status = 0;
    std::string why;
};

// Where scan_head got to in a head that is not whole yet: the next line starts `offset`
// bytes after the head's first byte (a head is not consumed before it is whole, so the
// offset survives the buffer's compaction), and it is line number `line`.
struct scan_state {
    std::size_t offset = 0;
    std::size_t line = 0;
};

// Checks the head starting at `in[begin]` on the raw bytes, before Beast sees them: Beast
// unfolds obs-fold silently, knows a request line only once it is whole, and refuses every
// version but 1.0 and 1.1 as a plain "bad version". A request sent as HTTP/1.x (x > 1) is
// rewritten in place to HTTP/1.1 (RFC 9112 §2.3). `ready`: the head is whole and may be fed.
// Resumes where the last call stopped (`st`): each byte is looked at once.
head_scan scan_head(std::string& in, std::size_t begin, const serve_options& o, scan_state& st) {
    for (;; ++st.line) {
        const std::size_t pos = begin + st.offset;
        const std::size_t nl = in.find('\n', pos);
        if (nl == std::string::npos) {
            // The line so far: the request line may still end with its CR.
            if (st.line == 0 && in.size() - pos > o.max_field_size + 1) {
                return {head_scan::refused, 414,
                        "request line longer than " + std::to_string(o.max_field_size) +
                            " bytes (serve_options::max_field_size)"};
            }
            if (in.size() - begin > o.max_head_size) {
                return {head_scan::refused, 431,
                        "request head larger than " + std::to_string(o.max_head_size) +
                            " bytes (serve_options::max_head_size)"};
            }
            return {};
        }
        if (nl == pos || in[nl - 1] != '\r') {
            return {head_scan::refused, 400,
                    "a line of the request head ends with LF alone; lines end with CRLF"};
        }
        std::string_view text(in.data() + pos, nl - 1 - pos);
        if (st.line == 0 && text.size() > o.max_field_size) {
            return {head_scan::refused, 414,
                    "request line longer than " + std::to_string(o.max_field_size) +
                        " bytes (serve_options::max_field_size)"};
        }
        if (nl + 1 - begin > o.max_head_size) {
            return {head_scan::refused, 431,
                    "request head larger than " + std::to_string(o.max_head_size) +
                        " bytes (serve_options::max_head_size)"};
        }
        st.offset = nl + 1 - begin;
        if (st.line == 0) {
            // "... HTTP/d.d"
            if (text.size() >= 9 && text.substr(text.size() - 9, 6) == " HTTP/" &&
                text[text.size() - 2] == '.' &&
                std::isdigit(static_cast<unsigned char>(text[text.size() - 3])) &&
                std::isdigit(static_cast<unsigned char>(text.back()))) {
                char major = text[text.size() - 3];
                char minor = text.back();
                if (major >= '2') {
                    return {head_scan::refused, 505,
                            "HTTP/" + std::string(1, major) + "." + std::string(1, minor) +
                                " is not supported; this server speaks HTTP/1.1"};
                }
                if (major == '1' && minor > '1') {
                    in[nl - 2] = '1';
                }
            }
        } else if (text.empty()) {
            return {head_scan::ready, 0, {}};
        } else if (text.front() == ' ' || text.front() == '\t') {
            return {head_scan::refused, 400,
                    st.line == 1 ? std::string("whitespace between the request line and the "
                                               "first header field (RFC 9112 §2.2)")
                                 : std::string("obsolete line folding (a header line starting "
                                               "with a space or tab) is not accepted (RFC 9112 "
                                               "§5.2)")};
        }
    }
}

// What Beast waits for in a chunked body, checked as it is buffered: the unconsumed bytes
// `rest` start at a chunk line (after the CRLF that ends the previous chunk's data), or at the
// last chunk's line and its trailer section. Empty when nothing is wrong (yet).
std::string check_chunk_wait(std::string_view rest, const serve_options& o) {
    if (rest.substr(0, 2) == "\r\n") {
        rest.remove_prefix(2);
    }
    // Every line Beast waits on ends with CRLF: a bare LF (inside a quoted extension, which
    // Beast's scan accepts, or in a trailer line) is where a front end that ends lines at LF
    // would read another request.
    for (std::size_t nl = rest.find('\n'); nl != std::string_view::npos;
         nl = rest.find('\n', nl + 1)) {
        if (nl == 0 || rest[nl - 1] != '\r') {
            return "a chunk line or trailer line ends with LF alone; lines end with CRLF";
        }
    }
    const std::size_t crlf = rest.find("\r\n");
    std::string_view line = rest.substr(0, crlf);
    if (crlf == std::string_view::npos) {
        if (line.size() > o.max_field_size + 1) {
            return "chunk line (size and extensions) longer than " +
                   std::to_string(o.max_field_size) + " bytes (serve_options::max_field_size)";
        }
        return {};
    }
    // A whole chunk line that Beast still waits on: only the last chunk (zeros) may wait, for
    // its trailers; any other is an extension whose quoted string does not end.
    std::size_t zeros = line.find_first_not_of('0');
    bool last = zeros != 0 && (zeros == std::string_view::npos || line[zeros] == ';');
    if (!last) {
        return "malformed chunk line (a quoted chunk extension that does not end on its line)";
    }
    return {};
}

}  // namespace

// Reads until `p` has a whole request. False: end the connection (quietly, or after an
// error answer it sent).
bool connection::read_request(parser<true>& p) {
    const serve_options& o = rs->opts;
    aio::loop& lp = aio::get_running_loop();
    time_point head_deadline = time_point::max();
    time_point body_deadline = no_deadline;
    bool head_whole = false;
    bool head_begun = false;  // a byte of the request line came (not only empty lines)
    scan_state scanned;
    at = phase::idle;
    for (;;) {
        if (at == phase::idle && in_begin < in.size()) {
            // The first byte, empty lines included, starts the head's clock: a client that
            // trickles CRLFs cannot hold the connection past header_timeout.
            at = phase::head;
            head_deadline = aio::detail::deadline_after(o.header_timeout);
        }
        if (at == phase::head && !head_begun) {
            // RFC 9112 §2.2: empty lines before a request are ignored.
            while (in.size() - in_begin >= 2 && in[in_begin] == '\r' && in[in_begin + 1] == '\n') {
                in_begin += 2;
            }
            // A lone CR may be the start of one more empty line: wait for the rest.
            head_begun =
                in_begin < in.size() && !(in.size() - in_begin == 1 && in[in_begin] == '\r');
        }
        if (head_begun && in_begin < in.size()) {
            if (!head_whole) {
                head_scan h = scan_head(in, in_begin, o, scanned);
                if (h.result == head_scan::refused) {
                    answer_error(h.status, h.why);
                    return false;
                }
                head_whole = h.result == head_scan::ready;
            }
        }
        if (head_whole && in_begin < in.size()) {
            beast_error ec;
            std::size_t n = p.feed(in.data() + in_begin, in.size() - in_begin, ec);
            in_begin += n;
            if ((!ec || ec == bhttp::error::need_more) && !p.is_done() && p.is_header_done() &&
                at != phase::body) {
                at = phase::body;
                body_deadline = aio::detail::deadline_after(o.body_timeout);
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
                if (p.refused.status != 0) {
                    answer_error(p.refused.status, p.refused.reason);
                } else if (ec == bhttp::error::header_limit) {
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
            } else if (at == phase::body && in_begin < in.size()) {
                // Beast waits for a whole chunk line, or a whole trailer section: check what
                // it waits on, and bound what it may make us buffer.
                std::string_view rest(in.data() + in_begin, in.size() - in_begin);
                if (std::string why = check_chunk_wait(rest, o); !why.empty()) {
                    answer_error(400, why);
                    return false;
                }
                if (rest.size() > o.max_head_size) {
                    answer_error(431, "trailer section larger than " +
                                          std::to_string(o.max_head_size) +
                                          " bytes (serve_options::max_head_size)");
                    return false;
                }
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
        if (at != phase::body && rs->shutting_down) {
            return false;  // no request in progress (or only part of a head): close now
        }
        duration timeout;
        bool idle = at == phase::idle;
        if (idle) {
            timeout = first ? o.header_timeout : o.keepalive_timeout;
        } else if (at == phase::head) {
            timeout = std::max(duration::zero(), head_deadline - lp.time());
        } else {
            timeout = o.server.connection.read_timeout;
            if (body_deadline != no_deadline) {
                timeout = std::min(timeout, std::max(duration::zero(), body_deadline - lp.time()));
            }
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
            connection& c;
            ~idle_flag() {
                c.waiting_idle = false;
                c.reading_head = false;
            }
        } flag{*this};
        waiting_idle = idle && used == 0;
        reading_head = at != phase::body;
        try {
            got = s.read_into(std::span<char>(in.data() + used, room), timeout);
        } catch (const timeout_error&) {
            in.resize(used);
            if (at == phase::head) {
                answer_error(408, "request head not received within " +
                                      format_duration(o.header_timeout));
            } else if (at == phase::body) {
                if (lp.time() >= body_deadline) {
                    answer_error(408, "request body not received within " +
                                          format_duration(o.body_timeout) +
                                          " (serve_options::body_timeout)");
                } else {
                    answer_error(408, "request body stalled for " + format_duration(timeout));
                }
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

namespace {

// "http://host[:port]/path?q" → {"host[:port]", "/path?q"}; nullopt when not an absolute
// http or https URL with an authority.
std::optional<std::pair<std::string, std::string>> split_absolute_form(std::string_view t) {
    std::size_t colon = t.find("://");
    if (colon == std::string_view::npos) {
        return std::nullopt;
    }
    std::string_view scheme = t.substr(0, colon);
    if (!iequals_token(scheme, "http") && !iequals_token(scheme, "https")) {
        return std::nullopt;
    }
    std::string_view rest = t.substr(colon + 3);
    std::size_t end = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, end);
    if (authority.empty() || authority.find('@') != std::string_view::npos) {
        return std::nullopt;  // RFC 9110 §4.2.4: no user information
    }
    std::string target = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
    if (target.front() == '?') {
        target.insert(0, "/");
    }
    return std::pair{std::string(authority), std::move(target)};
}

// Whether an exception from a handler is its client going away (a write on a connection the
// client reset or closed).
bool client_gone(std::exception_ptr e) noexcept {
    try {
        std::rethrow_exception(e);
    } catch (const std::system_error& se) {
        const std::error_code& c = se.code();
        return c == std::errc::broken_pipe || c == std::errc::connection_reset ||
               c == std::errc::not_connected || c.value() == ESHUTDOWN;
    } catch (...) {
    }
    return false;
}

}  // namespace

void connection::serve() {
    const serve_options& o = rs->opts;
    application& app = *rs->app;
    for (;;) {
        parser<true> p;
        p.header_limit(
            static_cast<std::uint32_t>(std::min<std::size_t>(o.max_head_size, UINT32_MAX)));
        p.body_limit(o.client_max_size);
        p.max_field = o.max_field_size;
        p.max_chunk_ext = o.max_field_size;
        p.max_trailers = o.max_head_size;
        p.eager(true);
        if (!read_request(p)) {
            return;
        }
        first = false;
        auto d = std::make_shared<request_data>();
        d->method = std::move(p.method);
        d->target = std::move(p.target);
        d->headers = std::move(p.headers);
        if (!d->target.empty() && d->target.front() != '/') {
            // RFC 9112 §3.2.2: absolute-form ("http://host/x") must be accepted, its
            // authority standing for Host. Asterisk-form (OPTIONS *) is not served.
            std::optional<std::pair<std::string, std::string>> abs = split_absolute_form(d->target);
            if (!abs || !valid_host(abs->first)) {
                answer_error(400, "bad request target '" + d->target +
                                      "': a path starting with '/', or an absolute http URL");
                return;
            }
            d->headers.set("Host", abs->first);
            d->target = std::move(abs->second);
        }
        d->query_at = d->target.find('?');
        d->path = percent_decode(std::string_view(d->target).substr(0, d->query_at));
        if (d->path.empty() || d->path.front() != '/') {
            answer_error(400, "bad request target '" + d->target + "'");
            return;
        }
        d->trailers = std::move(p.trailers);
        d->version = p.version;
        d->body = std::move(p.body);
        d->peer = s.peer_address();
        d->keep_alive = p.keep_alive_by_head;
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
            if (client_gone(std::current_exception())) {
                client_went_away();
                return;
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
        try {
            send(r);
        } catch (const std::system_error&) {
            if (!client_gone(std::current_exception())) {
                throw;
            }
            client_went_away();
            return;
        }
        ++rs->handled;
        if (must_close || !d->keep_alive || rs->shutting_down) {
            return;
        }
    }
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

response response::json(const nlohmann::json& value, int status) {
    return response(status, value.dump(), "application/json");
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
const fields& request::trailers() const noexcept {
    return d_->trailers;
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
nlohmann::json request::json() const {
    try {
        return nlohmann::json::parse(d_->body);
    } catch (const nlohmann::json::parse_error& e) {
        throw http_error(400, "invalid JSON in the request body: " + detail::parser_message(e));
    }
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

}  // namespace aio::http
