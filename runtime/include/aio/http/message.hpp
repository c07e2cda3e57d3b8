// HTTP vocabulary shared by the client and the server: header fields, URLs, status reasons
// and the errors both sides raise. See docs/reference/http-client.md and http-server.md.
#pragma once

#include <aio/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aio::http {

/// Header fields in the order they were added. Names compare without regard to case (as
/// aiohttp's CIMultiDict); a name may appear more than once. Copyable; no operation suspends.
class fields {
public:
    using value_type = std::pair<std::string, std::string>;
    using const_iterator = std::vector<value_type>::const_iterator;

    fields() = default;
    /// `{{"Content-Type", "text/plain"}, {"X-Id", "7"}}`. Throws value_error as add().
    fields(std::initializer_list<value_type> init);

    /// Appends a field (a second field of the same name is kept). Throws value_error when the
    /// name is not an HTTP token or a value holds CR, LF or NUL (header injection).
    void add(std::string_view name, std::string_view value);
    /// Replaces every field called `name` with one field. Throws as add().
    void set(std::string_view name, std::string_view value);
    /// Removes every field called `name`; returns how many there were.
    std::size_t erase(std::string_view name) noexcept;
    /// True when a field called `name` exists.
    [[nodiscard]] bool contains(std::string_view name) const noexcept;
    /// The value of the first field called `name`, if any. The view lives as long as the field.
    [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const noexcept;
    /// The value of the first field called `name`, or `fallback`.
    [[nodiscard]] std::string_view value(std::string_view name,
                                         std::string_view fallback = {}) const noexcept;
    /// Every value of the fields called `name`, in order.
    [[nodiscard]] std::vector<std::string_view> get_all(std::string_view name) const;

    [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
    [[nodiscard]] bool empty() const noexcept { return items_.empty(); }
    [[nodiscard]] const_iterator begin() const noexcept { return items_.begin(); }
    [[nodiscard]] const_iterator end() const noexcept { return items_.end(); }
    void clear() noexcept { items_.clear(); }

    /// Appends without checking: for the parser, whose input is already validated.
    void add_unchecked(std::string name, std::string value) {
        items_.emplace_back(std::move(name), std::move(value));
    }

private:
    std::vector<value_type> items_;
};

/// The standard reason phrase of a status code ("Not Found"), or "Unknown" when there is none.
[[nodiscard]] std::string_view reason_phrase(int status) noexcept;

/// A parsed absolute http or https URL.
struct url {
    /// "http" or "https" (lower case).
    std::string scheme = "http";
    /// Host name or address, IPv6 without brackets.
    std::string host;
    /// The port: the URL's, or the scheme's default (80, 443).
    std::uint16_t port = 80;
    /// Path and query as sent in the request line: always starts with '/'.
    std::string target = "/";

    /// Parses "http[s]://host[:port][/path][?query]" (a fragment is dropped). Throws
    /// invalid_url_error naming the URL and what is wrong with it (another scheme too).
    static url parse(std::string_view text);
    /// The URL `reference` (absolute, or relative as in a Location header) points to when
    /// read relative to this one. Throws invalid_url_error.
    [[nodiscard]] url resolve(std::string_view reference) const;
    /// "http://host:port/target" (the port only when it is not the scheme's default).
    [[nodiscard]] std::string to_string() const;
    /// 443 for https, 80 otherwise.
    [[nodiscard]] std::uint16_t default_port() const noexcept;
    /// The Host header's value: "host", or "host:port" when the port is not the scheme's
    /// default; IPv6 in brackets.
    [[nodiscard]] std::string authority() const;
    /// The target up to '?'.
    [[nodiscard]] std::string_view path() const noexcept;
    /// The target after '?', without it ("" when there is none).
    [[nodiscard]] std::string_view query() const noexcept;
    /// A copy of this URL with `params` appended to its query, each name and value
    /// percent_encode()d, in order, joined by '&' ("name=value"; an empty value gives
    /// "name="); a name may repeat. An existing query is kept and the new pairs come after
    /// it: `url::parse("http://h/search?x=1").with_query({{"q", "a b"}})` is
    /// "http://h/search?x=1&q=a%20b" (yarl's update_query appends the same way). No pair: the
    /// URL unchanged. Does not throw (but bad_alloc).
    [[nodiscard]] url
    with_query(const std::vector<std::pair<std::string, std::string>>& params) const;
};

/// A URL that cannot be used: malformed, or a scheme other than http and https.
class invalid_url_error : public value_error {
public:
    using value_error::value_error;
};

/// Decodes %XX escapes (and '+' as a space when `plus_is_space`). Malformed escapes are kept
/// as they are (as browsers and aiohttp do).
[[nodiscard]] std::string percent_decode(std::string_view s, bool plus_is_space = false);

/// Percent-encodes `s` for a query name or value, or a path segment (RFC 3986 §2.1): the
/// unreserved characters, letters A-Z a-z, digits 0-9 and `-` `.` `_` `~`, stay as they are;
/// every other byte becomes %XX (upper-case hex), a space %20 (not '+'), '/' %2F, and a
/// non-ASCII character its UTF-8 bytes one by one ("é" is "%C3%A9"). The inverse of
/// percent_decode(). Does not throw (but bad_alloc).
[[nodiscard]] std::string percent_encode(std::string_view s);

/// Splits "a=1&b=x%20y" into decoded pairs, in order.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> parse_query(std::string_view q);

/// Raise from a handler to answer with `status` (aiohttp's web.HTTPException): the server
/// sends it as the response, with `text` as the body ("404: Not Found", status and reason,
/// when empty) and `headers` added. Not an error for the server's logs. Throws value_error
/// for a status outside 100..599.
class http_error : public std::runtime_error {
public:
    explicit http_error(int status, std::string text = {}, fields headers = {});
    [[nodiscard]] int status() const noexcept { return status_; }
    [[nodiscard]] const std::string& text() const noexcept { return text_; }
    [[nodiscard]] const fields& headers() const noexcept { return headers_; }

private:
    int status_;
    std::string text_;
    fields headers_;
};

/// Client side: the server answered with an error status and raise_for_status() was called
/// (aiohttp's ClientResponseError).
class response_status_error : public std::runtime_error {
public:
    response_status_error(int status, const std::string& what_arg)
        : std::runtime_error(what_arg)
        , status_(status) {}
    [[nodiscard]] int status() const noexcept { return status_; }

private:
    int status_;
};

/// Client side: the peer closed the connection or sent something that is not HTTP before a
/// whole response arrived (aiohttp's ServerDisconnectedError / ClientPayloadError).
class protocol_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Client side: a response body larger than `max_body_size` (client_options or
/// request_options). A protocol_error, so code that catches those catches it too.
class body_too_large_error : public protocol_error {
public:
    using protocol_error::protocol_error;
};

/// Client side: more redirects than `max_redirects` (aiohttp's TooManyRedirects).
class too_many_redirects_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace aio::http
