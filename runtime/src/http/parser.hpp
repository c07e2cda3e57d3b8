// The HTTP/1.1 message parser: Boost.Beast's basic_parser fed from our own buffers, its
// callbacks filling aio's types directly (no intermediate beast::http::message).
#pragma once

#include <aio/http/message.hpp>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace aio::http::detail {

namespace bhttp = boost::beast::http;
using beast_error = boost::beast::error_code;

/// Which limit a head broke, beyond Beast's own (header_limit, body_limit).
enum class head_limit { none, request_line, field };

/// A message the parser refused for a reason of aio's own (framing rules Beast does not
/// check, limits on chunk extensions and trailers): the status to answer and why.
struct refusal {
    int status = 0;  // 0: not refused
    std::string reason;
};

/// The Transfer-Encoding rule of RFC 9112 §6.1 and §6.3 for a request, over every
/// Transfer-Encoding field's list (`codings`, in order): exactly one coding, `chunked`, with
/// no parameters. Returns the refusal for anything else (none when `codings` is empty).
inline refusal check_request_transfer_encoding(const std::vector<std::string_view>& codings,
                                               int version, bool has_content_length) {
    if (codings.empty()) {
        return {};
    }
    auto is_chunked = [](std::string_view c) {
        return c.size() == 7 && std::equal(c.begin(), c.end(), "chunked",
                                           [](char a, char b) { return (a | 0x20) == b; });
    };
    if (version < 11) {
        return {400, "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1: its framing "
                     "cannot be trusted)"};
    }
    if (has_content_length) {
        return {400, "both Transfer-Encoding and Content-Length (RFC 9112 §6.3: a request "
                     "smuggling attempt, or a broken client)"};
    }
    std::string_view last = codings.back();
    if (!is_chunked(last)) {
        return {400, "the final transfer coding is '" + std::string(last) +
                         "', not chunked: the request body's length cannot be known (RFC "
                         "9112 §6.3)"};
    }
    for (std::size_t i = 0; i + 1 < codings.size(); ++i) {
        if (is_chunked(codings[i])) {
            return {400, "chunked is applied twice in Transfer-Encoding (RFC 9112 §7)"};
        }
    }
    if (codings.size() > 1) {
        return {501, "transfer coding '" + std::string(codings.front()) +
                         "' is not supported; a request body may only be chunked"};
    }
    return {};
}

/// Whether `v` is a Host value RFC 9112 §3.2 and RFC 3986 §3.2.2 allow: empty, or a host
/// (an IP literal in brackets, or letters, digits and - . _ ~ ! $ & ' ( ) * + ; =) with an
/// optional :port of digits. Percent-encoding is refused too (no legitimate client needs
/// it in a host, and a %00 or %2F would pass on to whatever routes by host).
inline bool valid_host(std::string_view v) noexcept {
    if (v.empty()) {
        return true;
    }
    std::string_view host = v;
    std::string_view port;
    if (v.front() == '[') {
        std::size_t close = v.find(']');
        if (close == std::string_view::npos || close == 1) {
            return false;
        }
        for (char c : v.substr(1, close - 1)) {
            bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (!hex && c != ':' && c != '.') {
                return false;
            }
        }
        host = {};
        std::string_view after = v.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return false;
            }
            port = after.substr(1);
        }
    } else if (std::size_t colon = v.find(':'); colon != std::string_view::npos) {
        host = v.substr(0, colon);
        port = v.substr(colon + 1);
        if (host.empty()) {
            return false;
        }
    }
    for (char c : host) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  std::string_view("-._~!$&'()*+;=").find(c) != std::string_view::npos;
        if (!ok) {
            return false;
        }
    }
    return port.size() <= 5 &&
           std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// Splits a field's comma-separated list into trimmed elements, empty elements dropped
/// (RFC 9110 §5.6.1). Views into `value`.
inline void split_list(std::string_view value, std::vector<std::string_view>& out) {
    while (!value.empty()) {
        std::size_t comma = value.find(',');
        std::string_view e = value.substr(0, comma);
        while (!e.empty() && (e.front() == ' ' || e.front() == '\t')) {
            e.remove_prefix(1);
        }
        while (!e.empty() && (e.back() == ' ' || e.back() == '\t')) {
            e.remove_suffix(1);
        }
        if (!e.empty()) {
            out.push_back(e);
        }
        if (comma == std::string_view::npos) {
            break;
        }
        value.remove_prefix(comma + 1);
    }
}

/// Parses one message (Beast parsers are single-use: make a new one per message).
/// `IsRequest`: a request (server side) or a response (client side). The body accumulates
/// in `body`; the reader takes it from there as it likes.
template <bool IsRequest>
class parser final : public bhttp::basic_parser<IsRequest> {
public:
    parser() = default;

    // The start line.
    std::string method;  // requests
    std::string target;  // requests
    int status = 0;      // responses
    std::string reason;  // responses
    int version = 11;
    fields headers;
    /// The trailer section of a chunked body (RFC 9112 §7.1.2), never merged into `headers`.
    fields trailers;
    std::string body;
    /// Body bytes received so far (taken out of `body` or not).
    std::uint64_t body_total = 0;

    /// Largest request line and largest single field; 0: no limit. A request line or field
    /// over it fails the parse with header_limit and sets `exceeded`.
    std::size_t max_field = 0;
    head_limit exceeded = head_limit::none;
    /// Largest chunk extension; 0: no limit. Over it: refused (400).
    std::size_t max_chunk_ext = 0;
    /// Largest trailer section, in bytes as sent; 0: no limit. Over it: refused (431).
    std::size_t max_trailers = 0;
    /// Whether the connection may stay open, as the head said (a trailer cannot change it).
    bool keep_alive_by_head = true;
    /// Set when the parse failed for a reason of aio's own (the error code is then
    /// bhttp::error::bad_value): answer `refused.status`.
    refusal refused;

    /// Feeds bytes; returns how many were consumed (remove them even on error).
    std::size_t feed(const char* data, std::size_t size, beast_error& ec) {
        return this->put(boost::asio::const_buffer(data, size), ec);
    }

private:
    void on_request_impl(bhttp::verb, boost::beast::string_view method_str,
                         boost::beast::string_view target_str, int v, beast_error& ec) override {
        if (max_field != 0 && method_str.size() + target_str.size() + 10 > max_field) {
            exceeded = head_limit::request_line;
            ec = bhttp::error::header_limit;
            return;
        }
        method.assign(method_str.data(), method_str.size());
        target.assign(target_str.data(), target_str.size());
        version = v;
    }

    void on_response_impl(int code, boost::beast::string_view reason_str, int v,
                          beast_error&) override {
        status = code;
        reason.assign(reason_str.data(), reason_str.size());
        version = v;
    }

    void refuse(int status, std::string reason, beast_error& ec) {
        refused = {status, std::move(reason)};
        ec = bhttp::error::bad_value;
    }

    void on_field_impl(bhttp::field f, boost::beast::string_view name,
                       boost::beast::string_view value, beast_error& ec) override {
        if (this->is_header_done()) {  // a trailer field
            trailer_bytes_ += name.size() + value.size() + 4;
            if (max_trailers != 0 && trailer_bytes_ > max_trailers) {
                refuse(431,
                       "trailer section larger than " + std::to_string(max_trailers) + " bytes",
                       ec);
                return;
            }
            trailers.add_unchecked(std::string(name.data(), name.size()),
                                   std::string(value.data(), value.size()));
            return;
        }
        if (max_field != 0 && name.size() + value.size() + 2 > max_field) {
            exceeded = head_limit::field;
            ec = bhttp::error::header_limit;
            return;
        }
        if (f == bhttp::field::transfer_encoding) {
            has_transfer_encoding_ = true;
        } else if (f == bhttp::field::content_length) {
            has_content_length_ = true;
        }
        headers.add_unchecked(std::string(name.data(), name.size()),
                              std::string(value.data(), value.size()));
    }

    void on_header_impl(beast_error& ec) override {
        keep_alive_by_head = this->keep_alive();
        if constexpr (IsRequest) {
            // RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one before.
            std::size_t hosts = headers.get_all("Host").size();
            if ((version >= 11 && hosts != 1) || hosts > 1) {
                refuse(400,
                       hosts == 0 ? std::string("an HTTP/1.1 request needs a Host header (RFC "
                                                "9112 §3.2)")
                                  : std::to_string(hosts) +
                                        " Host headers; a request has one (RFC 9112 §3.2)",
                       ec);
                return;
            }
            if (hosts == 1 && !valid_host(headers.value("Host"))) {
                refuse(400,
                       "invalid Host '" + std::string(headers.value("Host")) +
                           "': a host name or address, and an optional :port (RFC 9112 §3.2)",
                       ec);
                return;
            }
            if (has_transfer_encoding_) {
                std::vector<std::string_view> codings;
                for (std::string_view v : headers.get_all("Transfer-Encoding")) {
                    split_list(v, codings);
                }
                if (codings.empty()) {
                    codings.emplace_back();  // "Transfer-Encoding:" with nothing in it
                }
                refusal r = check_request_transfer_encoding(codings, version, has_content_length_);
                if (r.status != 0) {
                    refused = std::move(r);
                    ec = bhttp::error::bad_value;
                    return;
                }
            }
        }
    }

    void on_body_init_impl(const boost::optional<std::uint64_t>& length, beast_error&) override {
        if (length) {
            body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*length, 1 << 20)));
        }
    }

    std::size_t on_body_impl(boost::beast::string_view s, beast_error&) override {
        body.append(s.data(), s.size());
        body_total += s.size();
        return s.size();
    }

    void on_chunk_header_impl(std::uint64_t, boost::beast::string_view ext,
                              beast_error& ec) override {
        if (max_chunk_ext != 0 && ext.size() > max_chunk_ext) {
            refuse(400, "chunk extension longer than " + std::to_string(max_chunk_ext) + " bytes",
                   ec);
            return;
        }
        // Beast's scan of a quoted extension takes any byte up to the closing quote: a CR, LF
        // or NUL there is where a front end that reads lines differently would end the line.
        for (char c : ext) {
            auto u = static_cast<unsigned char>(c);
            if ((u < 0x20 && c != '\t') || u == 0x7f) {
                refuse(400, "a chunk extension holds a control character (CR, LF, NUL...)", ec);
                return;
            }
        }
    }

    std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view s,
                                   beast_error&) override {
        body.append(s.data(), s.size());
        body_total += s.size();
        return s.size();
    }

    void on_finish_impl(beast_error&) override {}

    bool has_transfer_encoding_ = false;
    bool has_content_length_ = false;
    std::size_t trailer_bytes_ = 0;
};

}  // namespace aio::http::detail
