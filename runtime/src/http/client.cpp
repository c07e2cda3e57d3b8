// The HTTP/1.1 client: a pool of keep-alive connections per scheme, host, port and TLS
// context, requests written by hand, responses parsed by Beast's parser, every wait bounded
// by the session's timeouts.
#include "../net/net.hpp"
#include "json_message.hpp"
#include "parser.hpp"

#include <aio/http/client.hpp>
#include <aio/instrument.hpp>
#include <aio/stream.hpp>

#include <algorithm>
#include <deque>
#include <limits>
#include <unordered_map>

namespace aio::http {

namespace detail {

struct pooled {
    aio::stream s;
    time_point idle_since;
};

struct host_pool {
    std::deque<pooled> idle;  // the most recently used last
    std::size_t open = 0;     // idle and in use
};

struct client_state {
    explicit client_state(client_options o)
        : opts(std::move(o)) {}

    client_options opts;
    std::optional<ssl_context> default_tls;  // made at the first https request
    std::unordered_map<std::string, host_pool> hosts;
    std::size_t open_total = 0;
    std::uint64_t opened = 0;
    bool closed = false;
    aio::detail::wait_list room{
        "aio::http::client_session"};  // requests waiting for a connection under the limits
    resource_registration registration;

    std::size_t idle_total() const noexcept {
        std::size_t n = 0;
        for (const auto& [k, h] : hosts) {
            n += h.idle.size();
        }
        return n;
    }

    // A connection counted in `open` is gone.
    void forget(const std::string& key) noexcept {
        auto it = hosts.find(key);
        if (it != hosts.end() && it->second.open > 0) {
            --it->second.open;
            --open_total;
        }
        notify();
    }

    void notify() noexcept {
        while (aio::detail::waiter* w = room.pop_front()) {
            aio::detail::notify(*w);
        }
    }

    // Gives a connection back: pooled when it can carry another request, closed otherwise.
    void give_back(const std::string& key, aio::stream s, bool reusable) noexcept {
        if (reusable && !closed && !aio::detail::stream_access::peer_gone(s) &&
            aio::detail::stream_access::buffered(s) == 0) {
            try {
                hosts[key].idle.push_back({std::move(s), aio::get_running_loop().time()});
                notify();
                return;
            } catch (...) {
            }
        }
        if (s) {
            if (reusable) {
                aio::detail::stream_access::close_soon(s);
            } else {
                s.abort();
            }
        }
        forget(key);
    }

    // Closes idle connections that expired or whose server hung up.
    void prune(time_point now) noexcept {
        for (auto& [key, h] : hosts) {
            while (!h.idle.empty()) {
                pooled& p = h.idle.front();
                if (now - p.idle_since < opts.keepalive_timeout &&
                    !aio::detail::stream_access::peer_gone(p.s)) {
                    break;
                }
                aio::detail::stream_access::close_soon(p.s);
                h.idle.pop_front();
                --h.open;
                --open_total;
            }
        }
    }

    // Closes the oldest idle connection of another host to make room under `limit`.
    bool evict_one_idle() noexcept {
        host_pool* victim = nullptr;
        for (auto& [key, h] : hosts) {
            if (!h.idle.empty() && (victim == nullptr ||
                                    h.idle.front().idle_since < victim->idle.front().idle_since)) {
                victim = &h;
            }
        }
        if (victim == nullptr) {
            return false;
        }
        aio::detail::stream_access::close_soon(victim->idle.front().s);
        victim->idle.pop_front();
        --victim->open;
        --open_total;
        return true;
    }
};

// A request's time limits once the request's, the session's and the defaults are merged.
struct timeouts_in_force {
    duration total;
    duration connect;
    duration read;
};

struct client_exchange {
    std::shared_ptr<client_state> st;
    std::string key;
    std::optional<ssl_context> tls;  // https: the context to connect with
    aio::stream s;
    bool reused = false;
    std::optional<parser<false>> p;
    std::string in;
    std::size_t in_begin = 0;
    http::url u;
    std::string method;
    int redirects = 0;
    time_point deadline = no_deadline;
    timeouts_in_force t;
    bool got_bytes = false;
    bool complete = false;  // the whole body was parsed
    bool released = false;
    bool broken = false;       // the connection cannot be reused
    std::size_t max_body = 0;  // 0: no limit
    bool starved = false;      // the parser asked for more: feed it again only after a read

    // A chunk line or a trailer section is buffered whole before Beast parses it: at most
    // this much of it.
    static constexpr std::size_t max_framing = 64 * 1024;

    std::string where() const { return method + " " + u.to_string(); }

    [[noreturn]] void timed_out(const char* phase, duration limit, bool total) const {
        throw timeout_error(where() + ": timed out after " +
                            format_duration(total ? t.total : limit) + " " + phase + " (" +
                            (total ? "total timeout, client_timeouts::total"
                                   : "read timeout, client_timeouts::read") +
                            "; aio::no_timeout disables it)");
    }

    // The time a wait of at most `phase_limit` may take, and whether the total is what limits.
    std::pair<duration, bool> budget(duration phase_limit) const {
        if (deadline == no_deadline) {
            return {phase_limit, false};
        }
        duration left = std::max(duration::zero(), deadline - aio::get_running_loop().time());
        if (left < phase_limit) {
            return {left, true};
        }
        return {phase_limit, false};
    }

    // Reads at most `most` more bytes (and at most 16 KiB). False at EOF.
    bool fill(const char* phase, std::size_t most = 16384) {
        if (in_begin == in.size()) {
            in.clear();
            in_begin = 0;
        } else if (in_begin > 0) {
            in.erase(0, in_begin);
            in_begin = 0;
        }
        std::size_t used = in.size();
        // At least 1 KiB: a small read_chunk() must not read a chunk line byte by byte.
        std::size_t room = std::clamp<std::size_t>(most, 1024, 16384);
        in.resize(used + room);
        auto [limit, total] = budget(t.read);
        std::size_t got = 0;
        try {
            got = s.read_into(std::span<char>(in.data() + used, room), limit);
        } catch (const timeout_error&) {
            in.resize(used);
            broken = true;
            timed_out(phase, limit, total);
        } catch (const std::system_error& e) {
            in.resize(used);
            broken = true;
            throw protocol_error(where() + ": the connection failed " + phase + " (" + e.what() +
                                 ")");
        } catch (...) {
            in.resize(used);
            broken = true;
            throw;
        }
        in.resize(used + got);
        if (got > 0) {
            got_bytes = true;
            starved = false;
        }
        return got > 0;
    }

    // Feeds buffered bytes; true when the parser made progress or finished.
    void parse_buffered() {
        // Beast must not see the same bytes again after it asked for more: it assumes more
        // came (its final-chunk state asserts so).
        while (!starved && in_begin < in.size() && !p->is_done()) {
            beast_error ec;
            std::size_t n = p->feed(in.data() + in_begin, in.size() - in_begin, ec);
            in_begin += n;
            if (ec == bhttp::error::need_more) {
                starved = true;
                if (p->is_header_done() && in.size() - in_begin > max_framing) {
                    broken = true;
                    throw protocol_error(where() + ": the server sent a chunk line or a trailer "
                                                   "section longer than 64 KiB");
                }
                return;
            }
            if (ec) {
                broken = true;
                throw protocol_error(where() + ": the server sent a malformed response (" +
                                     (p->refused.status != 0 ? p->refused.reason : ec.message()) +
                                     ")");
            }
            if (n == 0) {
                return;
            }
        }
    }

    void read_head() {
        for (;;) {
            parse_buffered();
            if (p->is_header_done()) {
                if (p->status >= 100 && p->status < 200 && p->status != 101) {
                    // An interim response (100 Continue): the real one follows.
                    p.emplace();
                    configure();
                    continue;
                }
                if (p->is_done()) {
                    complete = true;
                    finish();
                }
                return;
            }
            if (!fill("waiting for the response head")) {
                broken = true;
                throw protocol_error(
                    where() + ": the server closed the connection before " +
                    (got_bytes ? "the end of the response head" : "sending a response"));
            }
        }
    }

    void configure() {
        p->body_limit(std::numeric_limits<std::uint64_t>::max());  // none: Beast 1.74 compares none
                                                                   // as smaller than any length
        p->header_limit(64 * 1024);
        p->max_chunk_ext = 8190;
        starved = false;  // a new parser: what is buffered is new to it
        p->max_trailers = max_framing;
        p->eager(true);
        if (method == "HEAD") {
            p->skip(true);
        }
    }

    void check_body_size() {
        if (max_body == 0) {
            return;
        }
        // HEAD, 1xx, 204 and 304 have no body whatever their Content-Length says.
        const bool bodiless =
            method == "HEAD" || p->status / 100 == 1 || p->status == 204 || p->status == 304;
        boost::optional<std::uint64_t> announced;
        if (!bodiless) {
            announced = p->content_length();
        }
        if (p->body_total > max_body || (announced && *announced > max_body)) {
            broken = true;
            throw body_too_large_error(
                where() + ": the response body is larger than max_body_size (" +
                std::to_string(max_body) + " bytes" +
                (announced ? "; Content-Length: " + std::to_string(*announced) : std::string()) +
                ")");
        }
    }

    // Parses until the body is complete, or until `want` bytes of body are buffered, reading
    // at most `most` bytes at a time.
    void read_body(std::size_t want, std::size_t most = 16384) {
        check_body_size();
        for (;;) {
            parse_buffered();
            check_body_size();
            if (p->is_done()) {
                complete = true;
                finish();
                return;
            }
            if (p->body.size() >= want) {
                return;
            }
            if (!fill("reading the response body", most)) {
                if (p->need_eof()) {
                    beast_error ec;
                    p->put_eof(ec);
                    broken = true;  // a body delimited by the close
                    if (!ec) {
                        complete = true;
                        finish();
                        return;
                    }
                }
                broken = true;
                throw protocol_error(where() + ": the server closed the connection in the "
                                               "middle of the response body");
            }
        }
    }

    // The body is complete: the connection goes back to the pool if it can.
    void finish() noexcept {
        if (released) {
            return;
        }
        released = true;
        bool reusable = complete && !broken && p->keep_alive() && in_begin == in.size();
        st->give_back(key, std::move(s), reusable);
    }

    void release() noexcept {
        if (released) {
            return;
        }
        if (!complete) {
            broken = true;
        }
        finish();
    }

    ~client_exchange() { release(); }
};

namespace {

bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x | 0x20) == (y | 0x20);
           });
}

void check_timeouts(const client_timeouts& t, const char* what) {
    auto neg = [](const std::optional<duration>& d) { return d && *d < duration::zero(); };
    if (neg(t.total) || neg(t.connect) || neg(t.read)) {
        throw value_error(std::string(what) +
                          ": a timeout is negative; use a positive duration, or aio::no_timeout "
                          "to disable one");
    }
}

std::string build_request(const client_exchange& x, const client_options& o,
                          const request_options& r) {
    std::string out;
    out.reserve(256 + r.body.size());
    out += x.method;
    out += ' ';
    out += x.u.target;
    out += " HTTP/1.1\r\nHost: ";
    out += x.u.authority();
    out += "\r\n";
    auto skip = [](std::string_view n) {
        return iequal(n, "host") || iequal(n, "content-length") || iequal(n, "connection") ||
               iequal(n, "transfer-encoding");
    };
    for (const auto& [n, v] : o.headers) {
        if (!skip(n) && !r.headers.contains(n)) {
            out += n + ": " + v + "\r\n";
        }
    }
    for (const auto& [n, v] : r.headers) {
        if (!skip(n)) {
            out += n + ": " + v + "\r\n";
        }
    }
    if (!r.headers.contains("User-Agent") && !o.headers.contains("User-Agent")) {
        out += "User-Agent: aio-http\r\n";
    }
    if (!r.headers.contains("Accept") && !o.headers.contains("Accept")) {
        out += "Accept: */*\r\n";
    }
    if (!r.body.empty() || x.method == "POST" || x.method == "PUT" || x.method == "PATCH") {
        out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    }
    out += "\r\n";
    out += r.body;
    return out;
}

}  // namespace

}  // namespace detail

// ---------------------------------------------------------------------------------------
// client_response

client_response::client_response() noexcept = default;
client_response::client_response(std::unique_ptr<detail::client_exchange> x) noexcept
    : x_(std::move(x)) {
}
client_response::client_response(client_response&&) noexcept = default;
client_response& client_response::operator=(client_response&&) noexcept = default;
client_response::~client_response() = default;

detail::client_exchange& client_response::require(const char* what) const {
    if (!x_) {
        throw usage_error(std::string(what) +
                          ": this client_response is empty (default-constructed or moved from)");
    }
    return *x_;
}

namespace {
const std::string empty_string;
const fields empty_fields;
const http::url empty_url;
}  // namespace

int client_response::status() const noexcept {
    return x_ ? x_->p->status : 0;
}
const std::string& client_response::reason() const noexcept {
    return x_ ? x_->p->reason : empty_string;
}
const fields& client_response::headers() const noexcept {
    return x_ ? x_->p->headers : empty_fields;
}
const http::url& client_response::url() const noexcept {
    return x_ ? x_->u : empty_url;
}
int client_response::redirects() const noexcept {
    return x_ ? x_->redirects : 0;
}
const std::string& client_response::method() const noexcept {
    return x_ ? x_->method : empty_string;
}
bool client_response::body_complete() const noexcept {
    return x_ && x_->complete;
}

nlohmann::json client_response::json() {
    std::string body = text();
    try {
        return nlohmann::json::parse(body);
    } catch (const nlohmann::json::parse_error& e) {
        detail::client_exchange& x = *x_;
        throw value_error(x.where() + " (status " + std::to_string(x.p->status) +
                          "): the response body is not JSON: " + detail::parser_message(e));
    }
}

std::string client_response::text() {
    detail::client_exchange& x = require("http::client_response::text");
    x.check_body_size();
    if (!x.complete) {
        if (x.released) {
            throw usage_error("http::client_response::text: the response was released before "
                              "its body was read");
        }
        x.read_body(std::numeric_limits<std::size_t>::max());
    }
    return std::exchange(x.p->body, {});
}

std::string client_response::bytes() {
    return text();
}

std::string client_response::read_chunk(std::size_t max) {
    detail::client_exchange& x = require("http::client_response::read_chunk");
    if (max == 0) {
        throw value_error("http::client_response::read_chunk: max must be above 0");
    }
    x.check_body_size();
    if (x.p->body.empty() && !x.complete) {
        if (x.released) {
            throw usage_error("http::client_response::read_chunk: the response was released "
                              "before its body was read");
        }
        x.read_body(1, max);
    }
    std::string& b = x.p->body;
    if (b.size() <= max) {
        return std::exchange(b, {});
    }
    std::string chunk = b.substr(0, max);
    b.erase(0, max);
    return chunk;
}

void client_response::raise_for_status() const {
    detail::client_exchange& x = require("http::client_response::raise_for_status");
    if (x.p->status >= 400) {
        throw response_status_error(x.p->status, x.where() + ": " + std::to_string(x.p->status) +
                                                     " " + x.p->reason);
    }
}

void client_response::release() noexcept {
    if (x_) {
        x_->release();
    }
}

// ---------------------------------------------------------------------------------------
// client_session

client_session::client_session(client_options options) {
    detail::check_timeouts(options.timeouts, "http::client_session");
    if (options.max_redirects < 0) {
        throw value_error("http::client_session: max_redirects is negative; use 0 to follow "
                          "no redirect");
    }
    if (options.keepalive_timeout < duration::zero()) {
        throw value_error("http::client_session: keepalive_timeout is negative");
    }
    // A field the caller left unset gets its default: requests then fill theirs from these.
    options.timeouts = options.timeouts.or_else({.total = client_timeouts::default_total,
                                                 .connect = client_timeouts::default_connect,
                                                 .read = client_timeouts::default_read});
    s_ = std::make_shared<detail::client_state>(std::move(options));
    std::weak_ptr<detail::client_state> weak = s_;
    s_->registration = resource_registration(
        "http client session", s_->opts.name.empty() ? "client_session" : s_->opts.name, [weak] {
            auto st = weak.lock();
            if (!st) {
                return std::string();
            }
            return std::to_string(st->open_total) + " connections open (" +
                   std::to_string(st->idle_total()) + " idle)";
        });
}

client_session::client_session(client_session&&) noexcept = default;

client_session& client_session::operator=(client_session&& o) noexcept {
    if (this != &o) {
        this->~client_session();
        new (this) client_session(std::move(o));
    }
    return *this;
}

client_session::~client_session() {
    if (!s_ || s_->closed) {
        return;
    }
    s_->registration.abandon("destroyed without close()");
    s_->closed = true;
    for (auto& [key, h] : s_->hosts) {
        for (auto& p : h.idle) {
            p.s.abort();
        }
        h.open -= h.idle.size();
        s_->open_total -= h.idle.size();
        h.idle.clear();
    }
}

void client_session::close() {
    if (!s_ || s_->closed) {
        return;
    }
    s_->closed = true;
    std::vector<aio::stream> idle;
    for (auto& [key, h] : s_->hosts) {
        for (auto& p : h.idle) {
            idle.push_back(std::move(p.s));
        }
        h.open -= h.idle.size();
        s_->open_total -= h.idle.size();
        h.idle.clear();
    }
    s_->registration.close();
    s_->notify();
    for (auto& s : idle) {
        try {
            s.close();
        } catch (const cancelled_error&) {
            for (auto& rest : idle) {
                rest.abort();
            }
            throw;
        } catch (...) {
            s.abort();
        }
    }
}

bool client_session::closed() const noexcept {
    return !s_ || s_->closed;
}
std::size_t client_session::idle_connections() const noexcept {
    return s_ ? s_->idle_total() : 0;
}
std::uint64_t client_session::connections_opened() const noexcept {
    return s_ ? s_->opened : 0;
}
const client_options& client_session::options() const {
    if (!s_) {
        throw usage_error("http::client_session::options: moved-from session");
    }
    return s_->opts;
}

client_response client_session::get(std::string_view url, request_options options) {
    return request("GET", url, std::move(options));
}
client_response client_session::post(std::string_view url, std::string body,
                                     request_options options) {
    options.body = std::move(body);
    return request("POST", url, std::move(options));
}
client_response client_session::put(std::string_view url, std::string body,
                                    request_options options) {
    options.body = std::move(body);
    return request("PUT", url, std::move(options));
}
client_response client_session::delete_(std::string_view url, request_options options) {
    return request("DELETE", url, std::move(options));
}

namespace {

// Takes a pooled connection to `key` or opens a new one, within the limits.
void acquire_connection(detail::client_state& st, detail::client_exchange& x) {
    aio::loop& lp = aio::get_running_loop();
    const client_options& o = st.opts;
    auto [limit, total] = x.budget(x.t.connect);
    time_point give_up = limit == no_timeout ? no_deadline : lp.time() + limit;
    for (;;) {
        if (st.closed) {
            throw usage_error(x.where() + ": the client_session is closed");
        }
        st.prune(lp.time());
        detail::host_pool& h = st.hosts[x.key];
        if (!h.idle.empty()) {
            x.s = std::move(h.idle.back().s);
            h.idle.pop_back();
            x.reused = true;
            return;
        }
        bool host_full = o.limit_per_host != 0 && h.open >= o.limit_per_host;
        bool all_full = o.limit != 0 && st.open_total >= o.limit;
        if (all_full && !host_full && st.evict_one_idle()) {
            all_full = false;
        }
        if (!host_full && !all_full) {
            ++h.open;
            ++st.open_total;
            break;
        }
        // Wait for a connection to be given back or closed.
        bool woke = aio::detail::wait_until(st.room, give_up, "http::client_session::request");
        if (!woke) {
            throw timeout_error(x.where() + ": timed out after " +
                                format_duration(total ? x.t.total : x.t.connect) +
                                " waiting for a free connection (" +
                                (o.limit_per_host != 0 ? "limit_per_host " : "limit ") +
                                "reached; " + (total ? "total" : "connect") +
                                " timeout, aio::no_timeout disables it)");
        }
    }
    // Open a new connection; the slot taken above is given back if that fails.
    try {
        auto [climit, ctotal] = x.budget(x.t.connect);
        stream_options so;
        so.connect_timeout = climit;
        so.resolve_timeout = climit;
        so.read_timeout = x.t.read;
        so.ssl = x.tls;
        try {
            x.s = aio::open_connection(x.u.host, x.u.port, so);
        } catch (const ssl_cert_verification_error& e) {
            throw ssl_cert_verification_error(e.verify_code(), e.verify_message(),
                                              x.where() + ": " + e.what());
        } catch (const ssl_error& e) {
            throw ssl_error(e.code(), x.where() + ": " + e.what());
        } catch (const timeout_error&) {
            throw timeout_error(x.where() + ": timed out after " +
                                format_duration(ctotal ? x.t.total : x.t.connect) +
                                " connecting (" +
                                (ctotal ? "total timeout, client_timeouts::total"
                                        : "connect timeout, client_timeouts::connect") +
                                "; aio::no_timeout disables it)");
        }
        ++st.opened;
        x.reused = false;
    } catch (...) {
        st.forget(x.key);
        throw;
    }
}

// The TLS context of a request to `u`: none for http, else the request's, the session's,
// or the session's default one.
std::optional<ssl_context> tls_for(detail::client_state& st, const http::url& u,
                                   const request_options& r) {
    if (u.scheme != "https") {
        return std::nullopt;
    }
    if (r.ssl) {
        return r.ssl;
    }
    if (st.opts.ssl) {
        return st.opts.ssl;
    }
    if (!st.default_tls) {
        st.default_tls = ssl_context::client();
    }
    return st.default_tls;
}

// Pooled connections are interchangeable only with the same scheme, host, port and TLS
// context (a connection opened with verification off must not serve a verifying request).
std::string pool_key(const http::url& u, const std::optional<ssl_context>& tls) {
    std::string key = u.scheme + "://" + u.host + ":" + std::to_string(u.port);
    if (tls) {
        key += " tls@" + std::to_string(reinterpret_cast<std::uintptr_t>(tls->native_handle()));
    }
    return key;
}

bool is_redirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

client_response client_session::request(std::string_view method, std::string_view url_text,
                                        request_options options) {
    if (!s_) {
        throw usage_error("http::client_session::request: moved-from session");
    }
    if (s_->closed) {
        throw usage_error(std::string(method) + " " + std::string(url_text) +
                          ": the client_session is closed");
    }
    if (method.empty() ||
        !std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
        throw value_error("http::client_session::request: method '" + std::string(method) +
                          "' should be an upper-case HTTP method (\"GET\", \"POST\", ...)");
    }
    detail::check_timeouts(options.timeouts, "http::client_session::request");
    if (!options.json.is_discarded()) {
        if (!options.body.empty()) {
            throw value_error(std::string(method) + " " + std::string(url_text) +
                              ": request_options has both a body and json; give one of them");
        }
        options.body = options.json.dump();
        if (!options.headers.contains("Content-Type") &&
            !s_->opts.headers.contains("Content-Type")) {
            options.headers.add("Content-Type", "application/json");
        }
    }
    // The session's timeouts are all set (its constructor filled them in), so these are too.
    client_timeouts given = options.timeouts.or_else(s_->opts.timeouts);
    detail::timeouts_in_force t{*given.total, *given.connect, *given.read};
    http::url u = http::url::parse(url_text).with_query(options.params);
    aio::loop& lp = aio::get_running_loop();
    time_point deadline = t.total == no_timeout ? no_deadline : lp.time() + t.total;
    std::string m(method);
    int redirects = 0;
    for (;;) {
        auto x = std::make_unique<detail::client_exchange>();
        x->st = s_;
        x->u = u;
        x->method = m;
        x->t = t;
        x->max_body = options.max_body_size ? *options.max_body_size : s_->opts.max_body_size;
        x->deadline = deadline;
        x->redirects = redirects;
        x->tls = tls_for(*s_, u, options);
        x->key = pool_key(u, x->tls);
        std::string wire;
        for (int attempt = 0;; ++attempt) {
            acquire_connection(*s_, *x);
            if (wire.empty()) {
                wire = detail::build_request(*x, s_->opts, options);
            }
            x->p.emplace();
            x->configure();
            x->in.clear();
            x->in_begin = 0;
            x->got_bytes = false;
            x->broken = false;
            x->released = false;
            x->complete = false;
            try {
                auto [wlimit, wtotal] = x->budget(t.read);
                try {
                    x->s.write(wire, wlimit);
                } catch (const std::system_error& e) {
                    x->broken = true;
                    throw protocol_error(x->where() +
                                         ": the connection failed sending the request (" +
                                         e.what() + ")");
                } catch (const timeout_error&) {
                    x->broken = true;
                    throw timeout_error(x->where() + ": timed out after " +
                                        format_duration(wtotal ? t.total : wlimit) +
                                        " sending the request (" +
                                        (wtotal ? "total timeout, client_timeouts::total"
                                                : "read timeout, client_timeouts::read") +
                                        "; aio::no_timeout disables it)");
                }
                x->read_head();
                break;
            } catch (const timeout_error&) {
                x->release();
                throw;
            } catch (const std::exception&) {
                // A pooled connection the server closed meanwhile fails before any byte of
                // the response: try once more on a new connection.
                // Only idempotent methods: a POST may have been acted on (aiohttp does the same).
                bool idempotent = m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "PUT" ||
                                  m == "DELETE" || m == "TRACE";
                bool stale = idempotent && x->reused && !x->got_bytes && attempt == 0;
                x->broken = true;
                x->release();
                if (stale) {
                    continue;
                }
                throw;
            }
        }
        int status = x->p->status;
        if (options.allow_redirects && is_redirect(status) && x->p->headers.contains("Location")) {
            if (redirects >= s_->opts.max_redirects) {
                throw too_many_redirects_error(x->where() + ": more than " +
                                               std::to_string(s_->opts.max_redirects) +
                                               " redirects (client_options::max_redirects)");
            }
            http::url next = u.resolve(x->p->headers.value("Location"));
            client_response hop(std::move(x));
            hop.text();  // read and drop the body so the connection can be reused
            hop.release();
            if (status == 303 ? m != "HEAD" : ((status == 301 || status == 302) && m == "POST")) {
                m = "GET";
                options.body.clear();
                // The headers that describe a body go with it (as browsers do on such a
                // redirect): a GET without a body announcing application/json is a lie.
                for (const char* h :
                     {"Content-Type", "Content-Encoding", "Content-Language", "Content-Location"}) {
                    options.headers.erase(h);
                }
            }
            u = std::move(next);
            ++redirects;
            continue;
        }
        return client_response(std::move(x));
    }
}

}  // namespace aio::http
