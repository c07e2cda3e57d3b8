// Header fields, URLs, reason phrases: the HTTP vocabulary of <aio/http/message.hpp>.
#include <aio/http/message.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace aio::http {

namespace {

char lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

// RFC 9110 token characters.
bool is_tchar(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

void check_field(std::string_view name, std::string_view value) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_tchar)) {
        throw value_error("http::fields: bad header name '" + std::string(name) +
                          "': a name is letters, digits and !#$%&'*+-.^_`|~ only");
    }
    for (char c : value) {
        if (c == '\r' || c == '\n' || c == '\0') {
            throw value_error("http::fields: the value of '" + std::string(name) +
                              "' holds CR, LF or NUL; header values are one line");
        }
    }
}

int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = lower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

[[noreturn]] void bad_url(std::string_view text, const std::string& why) {
    throw invalid_url_error("invalid URL '" + std::string(text) + "': " + why);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// fields

fields::fields(std::initializer_list<value_type> init) {
    for (const auto& [n, v] : init) {
        add(n, v);
    }
}

void fields::add(std::string_view name, std::string_view value) {
    check_field(name, value);
    items_.emplace_back(std::string(name), std::string(value));
}

void fields::set(std::string_view name, std::string_view value) {
    check_field(name, value);
    auto it = std::find_if(items_.begin(), items_.end(),
                           [&](const value_type& f) { return iequals(f.first, name); });
    if (it == items_.end()) {
        items_.emplace_back(std::string(name), std::string(value));
        return;
    }
    it->second.assign(value);
    items_.erase(std::remove_if(std::next(it), items_.end(),
                                [&](const value_type& f) { return iequals(f.first, name); }),
                 items_.end());
}

std::size_t fields::erase(std::string_view name) noexcept {
    auto before = items_.size();
    items_.erase(std::remove_if(items_.begin(), items_.end(),
                                [&](const value_type& f) { return iequals(f.first, name); }),
                 items_.end());
    return before - items_.size();
}

bool fields::contains(std::string_view name) const noexcept {
    return get(name).has_value();
}

std::optional<std::string_view> fields::get(std::string_view name) const noexcept {
    for (const auto& f : items_) {
        if (iequals(f.first, name)) {
            return std::string_view(f.second);
        }
    }
    return std::nullopt;
}

std::string_view fields::value(std::string_view name, std::string_view fallback) const noexcept {
    auto v = get(name);
    return v ? *v : fallback;
}

std::vector<std::string_view> fields::get_all(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const auto& f : items_) {
        if (iequals(f.first, name)) {
            out.emplace_back(f.second);
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// Reason phrases (RFC 9110 §15 and the common extensions)

std::string_view reason_phrase(int status) noexcept {
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 203:
        return "Non-Authoritative Information";
    case 204:
        return "No Content";
    case 205:
        return "Reset Content";
    case 206:
        return "Partial Content";
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 407:
        return "Proxy Authentication Required";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 418:
        return "I'm a teapot";
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Content";
    case 425:
        return "Too Early";
    case 426:
        return "Upgrade Required";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 451:
        return "Unavailable For Legal Reasons";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    case 507:
        return "Insufficient Storage";
    case 511:
        return "Network Authentication Required";
    default:
        return "Unknown";
    }
}

http_error::http_error(int status, std::string text, fields headers)
    : std::runtime_error(std::to_string(status) + " " + std::string(reason_phrase(status)) +
                         (text.empty() ? "" : ": " + text))
    , status_(status)
    , text_(std::move(text))
    , headers_(std::move(headers)) {
    if (status < 100 || status > 599) {
        throw value_error("http_error: status " + std::to_string(status) +
                          " is not an HTTP status (100..599)");
    }
}

// ---------------------------------------------------------------------------------------
// Percent-encoding and queries

std::string percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%' && i + 2 < s.size()) {
            int hi = hex_digit(s[i + 1]);
            int lo = hex_digit(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(plus_is_space && c == '+' ? ' ' : c);
    }
    return out;
}

std::string percent_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out.push_back(c);
        } else {
            auto b = static_cast<unsigned char>(c);
            out.push_back('%');
            out.push_back(hex[b >> 4]);
            out.push_back(hex[b & 0x0F]);
        }
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view q) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!q.empty()) {
        std::size_t amp = q.find('&');
        std::string_view part = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
        if (part.empty()) {
            continue;
        }
        std::size_t eq = part.find('=');
        if (eq == std::string_view::npos) {
            out.emplace_back(percent_decode(part, true), std::string());
        } else {
            out.emplace_back(percent_decode(part.substr(0, eq), true),
                             percent_decode(part.substr(eq + 1), true));
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// URLs

url url::parse(std::string_view text) {
    std::string_view s = text;
    std::size_t colon = s.find("://");
    if (colon == std::string_view::npos) {
        bad_url(text, "no scheme; write it as http://host[:port]/path or https://...");
    }
    std::string scheme(s.substr(0, colon));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(), lower);
    if (scheme != "http" && scheme != "https") {
        bad_url(text, "scheme '" + scheme + "' is not supported; only http:// and https:// are");
    }
    s.remove_prefix(colon + 3);
    if (std::size_t hash = s.find('#'); hash != std::string_view::npos) {
        s = s.substr(0, hash);
    }
    std::size_t end = s.find_first_of("/?");
    std::string_view authority = s.substr(0, end);
    std::string_view rest = end == std::string_view::npos ? std::string_view{} : s.substr(end);
    if (authority.find('@') != std::string_view::npos) {
        bad_url(text, "user information (user@host) is not supported");
    }
    url u;
    u.scheme = scheme;
    u.port = u.default_port();
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        std::size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            bad_url(text, "an IPv6 address opened with '[' is not closed with ']'");
        }
        u.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                bad_url(text, "unexpected text after the IPv6 address");
            }
            port_text = after.substr(1);
            if (port_text.empty()) {
                bad_url(text, "empty port after ':'");
            }
        }
    } else {
        std::size_t c = authority.rfind(':');
        if (c != std::string_view::npos) {
            port_text = authority.substr(c + 1);
            authority = authority.substr(0, c);
            if (port_text.empty()) {
                bad_url(text, "empty port after ':'");
            }
        }
        u.host = std::string(authority);
    }
    if (u.host.empty()) {
        bad_url(text, "no host");
    }
    for (char c : u.host) {
        if (static_cast<unsigned char>(c) <= ' ' || c == '/' || c == '\\' || c == '%') {
            bad_url(text, "the host holds a character a host name cannot have");
        }
    }
    if (!port_text.empty()) {
        unsigned port = 0;
        auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc() || p != port_text.data() + port_text.size() || port == 0 ||
            port > 65535) {
            bad_url(text, "port '" + std::string(port_text) + "' is not a number in 1..65535");
        }
        u.port = static_cast<std::uint16_t>(port);
    }
    for (char c : rest) {
        if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) == 0x7f) {
            bad_url(text, "the path holds a space or a control character; percent-encode it");
        }
    }
    if (rest.empty()) {
        u.target = "/";
    } else if (rest.front() == '?') {
        u.target = "/" + std::string(rest);
    } else {
        u.target = std::string(rest);
    }
    return u;
}

namespace {

// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ':'.
bool has_scheme(std::string_view r) noexcept {
    std::size_t colon = r.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        return false;
    }
    auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (!alpha(r[0])) {
        return false;
    }
    for (char c : r.substr(0, colon)) {
        if (!alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') {
            return false;
        }
    }
    return true;
}

// RFC 3986 §5.2.4, on a path without query.
std::string remove_dot_segments(std::string_view path) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    bool trailing = false;
    while (i <= path.size()) {
        std::size_t j = path.find('/', i);
        if (j == std::string_view::npos) {
            j = path.size();
        }
        std::string_view seg = path.substr(i, j - i);
        trailing = false;
        if (seg == "..") {
            if (!out.empty()) {
                out.pop_back();
            }
            trailing = true;
        } else if (seg == ".") {
            trailing = true;
        } else if (!seg.empty() || j == path.size()) {
            out.push_back(seg);
        }
        i = j + 1;
    }
    std::string r;
    for (auto seg : out) {
        r += '/';
        r += seg;
    }
    if (r.empty() || trailing) {
        r += '/';
    }
    return r;
}

}  // namespace

url url::resolve(std::string_view reference) const {
    if (has_scheme(reference)) {
        return parse(reference);
    }
    if (reference.substr(0, 2) == "//") {
        return parse(scheme + ":" + std::string(reference));
    }
    url u = *this;
    if (reference.empty()) {
        return u;
    }
    if (reference.find_first_of("\r\n ") != std::string_view::npos) {
        bad_url(reference, "a space or a line break in a relative reference");
    }
    if (reference.front() == '/') {
        u.target = std::string(reference);
    } else if (reference.front() == '?') {
        u.target = std::string(path()) + std::string(reference);
    } else {
        std::string_view p = path();
        std::string dir(p.substr(0, p.rfind('/') + 1));
        u.target = dir + std::string(reference);
    }
    if (std::size_t hash = u.target.find('#'); hash != std::string::npos) {
        u.target.resize(hash);
    }
    std::size_t q = u.target.find('?');
    std::string_view p = std::string_view(u.target).substr(0, q);
    if (p.find("/.") != std::string_view::npos) {
        std::string rest = q == std::string::npos ? std::string() : u.target.substr(q);
        u.target = remove_dot_segments(p.substr(1)) + rest;
    }
    return u;
}

std::uint16_t url::default_port() const noexcept {
    return scheme == "https" ? 443 : 80;
}

std::string url::authority() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != default_port()) {
        h += ":" + std::to_string(port);
    }
    return h;
}

std::string url::to_string() const {
    return scheme + "://" + authority() + target;
}

std::string_view url::path() const noexcept {
    std::string_view t = target;
    return t.substr(0, t.find('?'));
}

std::string_view url::query() const noexcept {
    std::string_view t = target;
    std::size_t q = t.find('?');
    return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
}

url url::with_query(const std::vector<std::pair<std::string, std::string>>& params) const {
    url out = *this;
    for (const auto& [name, value] : params) {
        // A target without '?' gets one; one that ends in '?' or '&' (an empty query so far)
        // needs no separator.
        if (out.target.find('?') == std::string::npos) {
            out.target += '?';
        } else if (out.target.back() != '?' && out.target.back() != '&') {
            out.target += '&';
        }
        out.target += percent_encode(name);
        out.target += '=';
        out.target += percent_encode(value);
    }
    return out;
}

}  // namespace aio::http
