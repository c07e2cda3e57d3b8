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

namespace aio::http::detail {

namespace bhttp = boost::beast::http;
using beast_error = boost::beast::error_code;

/// Which limit a head broke, beyond Beast's own (header_limit, body_limit).
enum class head_limit { none, request_line, field };

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
    std::string body;

    /// Largest request line and largest single field; 0: no limit. Breaking it fails the
    /// parse with header_limit and sets `exceeded`.
    std::size_t max_field = 0;
    head_limit exceeded = head_limit::none;

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

    void on_field_impl(bhttp::field, boost::beast::string_view name,
                       boost::beast::string_view value, beast_error& ec) override {
        if (max_field != 0 && name.size() + value.size() + 2 > max_field) {
            exceeded = head_limit::field;
            ec = bhttp::error::header_limit;
            return;
        }
        headers.add_unchecked(std::string(name.data(), name.size()),
                              std::string(value.data(), value.size()));
    }

    void on_header_impl(beast_error&) override {}

    void on_body_init_impl(const boost::optional<std::uint64_t>& length, beast_error&) override {
        if (length) {
            body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*length, 1 << 20)));
        }
    }

    std::size_t on_body_impl(boost::beast::string_view s, beast_error&) override {
        body.append(s.data(), s.size());
        return s.size();
    }

    void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, beast_error&) override {}

    std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view s,
                                   beast_error&) override {
        body.append(s.data(), s.size());
        return s.size();
    }

    void on_finish_impl(beast_error&) override {}
};

}  // namespace aio::http::detail
