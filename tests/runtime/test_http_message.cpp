// The HTTP vocabulary: header fields, URLs, percent-decoding, queries, reason phrases.
#include <aio/http/message.hpp>

#include <catch2/catch.hpp>

using aio::http::fields;
using aio::http::url;

TEST_CASE("fields compare names without regard to case and keep their order", "[http]") {
    fields f{{"Content-Type", "text/plain"}, {"X-Id", "1"}};
    f.add("x-id", "2");
    CHECK(f.size() == 3);
    CHECK(f.get("content-type") == "text/plain");
    CHECK(f.value("X-ID") == "1");
    CHECK(f.get_all("X-Id") == std::vector<std::string_view>{"1", "2"});
    CHECK_FALSE(f.get("Missing").has_value());
    CHECK(f.value("Missing", "none") == "none");
    f.set("X-ID", "3");
    CHECK(f.get_all("x-id") == std::vector<std::string_view>{"3"});
    CHECK(f.erase("CONTENT-TYPE") == 1);
    CHECK_FALSE(f.contains("content-type"));
}

TEST_CASE("fields reject header injection and names that are not tokens", "[http]") {
    fields f;
    CHECK_THROWS_WITH(f.add("X-A", "1\r\nSet-Cookie: x=1"), Catch::Contains("CR, LF or NUL"));
    CHECK_THROWS_AS(f.add("Bad Name", "1"), aio::value_error);
    CHECK_THROWS_AS(f.add("", "1"), aio::value_error);
    CHECK(f.empty());
}

TEST_CASE("url parses host, port, path and query", "[http]") {
    url u = url::parse("http://Example.com:8080/a/b?x=1#frag");
    CHECK(u.host == "Example.com");
    CHECK(u.port == 8080);
    CHECK(u.target == "/a/b?x=1");
    CHECK(u.path() == "/a/b");
    CHECK(u.query() == "x=1");
    CHECK(u.to_string() == "http://Example.com:8080/a/b?x=1");
    url d = url::parse("HTTP://host");
    CHECK(d.port == 80);
    CHECK(d.target == "/");
    CHECK(d.authority() == "host");
    url q = url::parse("http://h?x");
    CHECK(q.target == "/?x");
}

TEST_CASE("url accepts IPv6 literals in brackets", "[http]") {
    url u = url::parse("http://[::1]:9000/x");
    CHECK(u.host == "::1");
    CHECK(u.port == 9000);
    CHECK(u.authority() == "[::1]:9000");
    CHECK(u.to_string() == "http://[::1]:9000/x");
}

TEST_CASE("a bad URL is an invalid_url_error that says what is wrong", "[http]") {
    using aio::http::invalid_url_error;
    CHECK_THROWS_WITH(url::parse("example.com/x"), Catch::Contains("no scheme"));
    CHECK_THROWS_WITH(url::parse("ftp://example.com/"), Catch::Contains("'ftp' is not supported"));
    CHECK_THROWS_WITH(url::parse("http://:80/"), Catch::Contains("no host"));
    CHECK_THROWS_WITH(url::parse("http://h:99999/"), Catch::Contains("1..65535"));
    CHECK_THROWS_WITH(url::parse("http://h:/"), Catch::Contains("empty port"));
    CHECK_THROWS_WITH(url::parse("http://[::1/"), Catch::Contains("not closed"));
    CHECK_THROWS_WITH(url::parse("http://h/a b"), Catch::Contains("percent-encode"));
    CHECK_THROWS_AS(url::parse("http://u@h/"), invalid_url_error);
}

TEST_CASE("an https url defaults to port 443 and leaves it out of Host", "[http][ssl]") {
    url u = url::parse("HTTPS://example.org/a?b");
    CHECK(u.scheme == "https");
    CHECK(u.port == 443);
    CHECK(u.authority() == "example.org");
    CHECK(u.to_string() == "https://example.org/a?b");
    url p = url::parse("https://example.org:8443/");
    CHECK(p.port == 8443);
    CHECK(p.authority() == "example.org:8443");
    url h = url::parse("https://example.org:80/");
    CHECK(h.authority() == "example.org:80");  // 80 is not https's default
    CHECK(u.resolve("/x").to_string() == "https://example.org/x");
    CHECK(u.resolve("//other/y").to_string() == "https://other/y");
    CHECK(u.resolve("http://plain/").port == 80);
}

TEST_CASE("url resolves absolute, rooted and relative references", "[http]") {
    url base = url::parse("http://h:81/a/b/c?q=1");
    CHECK(base.resolve("/x").to_string() == "http://h:81/x");
    CHECK(base.resolve("d").to_string() == "http://h:81/a/b/d");
    CHECK(base.resolve("?z=2").to_string() == "http://h:81/a/b/c?z=2");
    CHECK(base.resolve("http://other/y").to_string() == "http://other/y");
    CHECK(base.resolve("//other:82/y").to_string() == "http://other:82/y");
    CHECK(base.resolve("/login?next=http://a/").target == "/login?next=http://a/");
    CHECK(base.resolve("../x").to_string() == "http://h:81/a/x");
    CHECK(base.resolve("./y/../z?k=1").to_string() == "http://h:81/a/b/z?k=1");
    CHECK(base.resolve("/a/../../").target == "/");
}

TEST_CASE("percent_decode and parse_query decode as browsers encode", "[http]") {
    CHECK(aio::http::percent_decode("a%20b%2Fc") == "a b/c");
    CHECK(aio::http::percent_decode("100%") == "100%");
    CHECK(aio::http::percent_decode("%zz") == "%zz");
    CHECK(aio::http::percent_decode("a+b") == "a+b");
    CHECK(aio::http::percent_decode("a+b", true) == "a b");
    auto q = aio::http::parse_query("a=1&b=x%20y&&c&d=e+f");
    REQUIRE(q.size() == 4);
    CHECK(q[0] == std::pair<std::string, std::string>{"a", "1"});
    CHECK(q[1].second == "x y");
    CHECK(q[2] == std::pair<std::string, std::string>{"c", ""});
    CHECK(q[3].second == "e f");
}

TEST_CASE("percent_encode keeps the unreserved characters and encodes every other byte",
          "[http][url]") {
    using aio::http::percent_encode;
    CHECK(percent_encode("AZaz09-._~") == "AZaz09-._~");
    CHECK(percent_encode("a b") == "a%20b");
    // The reserved characters, so a value can hold them: gen-delims and sub-delims.
    CHECK(percent_encode(":/?#[]@") == "%3A%2F%3F%23%5B%5D%40");
    CHECK(percent_encode("!$&'()*+,;=") == "%21%24%26%27%28%29%2A%2B%2C%3B%3D");
    CHECK(percent_encode("100%") == "100%25");
    // Non-ASCII: the UTF-8 bytes, upper-case hex.
    CHECK(percent_encode("\xC3\xA9t\xC3\xA9") == "%C3%A9t%C3%A9");  // "été"
    CHECK(percent_encode("\xE2\x82\xAC") == "%E2%82%AC");           // "€"
    CHECK(percent_encode(std::string_view("a\0b", 3)) == "a%00b");
    CHECK(percent_encode("") == "");
    // The inverse of percent_decode, for every byte.
    std::string all;
    for (int c = 0; c < 256; ++c) {
        all.push_back(static_cast<char>(c));
    }
    CHECK(aio::http::percent_decode(percent_encode(all)) == all);
    CHECK(aio::http::percent_decode(percent_encode(all), true) == all);
}

TEST_CASE("url::with_query appends encoded pairs to the query", "[http][url]") {
    url u = url::parse("http://h/search");
    CHECK(u.with_query({{"q", "a b"}, {"page", "2"}}).target == "/search?q=a%20b&page=2");
    CHECK(u.with_query({{"q", "a b"}}).to_string() == "http://h/search?q=a%20b");
    // An existing query is kept.
    CHECK(url::parse("http://h/s?x=1").with_query({{"q", "z"}}).target == "/s?x=1&q=z");
    CHECK(url::parse("http://h/s?").with_query({{"q", "z"}}).target == "/s?q=z");
    CHECK(url::parse("http://h/s?x=1&").with_query({{"q", "z"}}).target == "/s?x=1&q=z");
    // Empty values and names, repeated keys, reserved characters in names and values.
    CHECK(u.with_query({{"empty", ""}, {"", "v"}}).target == "/search?empty=&=v");
    CHECK(u.with_query({{"tag", "a"}, {"tag", "b"}}).target == "/search?tag=a&tag=b");
    CHECK(u.with_query({{"a&b=c", "1+1=2&x"}}).target == "/search?a%26b%3Dc=1%2B1%3D2%26x");
    CHECK(u.with_query({{"city", "Z\xC3\xBCrich"}}).target == "/search?city=Z%C3%BCrich");
    // No pair: unchanged; the original is not modified.
    CHECK(u.with_query({}).target == "/search");
    CHECK(u.target == "/search");
    // What parse_query (the server's request::query) decodes is what was encoded.
    std::vector<std::pair<std::string, std::string>> params{
        {"q", "a b+c"}, {"tag", "x"},         {"tag", "y"},
        {"empty", ""},  {"path", "/a/b?c#d"}, {"\xC3\xA9", "\xE2\x82\xAC 100%"}};
    CHECK(aio::http::parse_query(u.with_query(params).query()) == params);
}

TEST_CASE("reason phrases and http_error", "[http]") {
    CHECK(aio::http::reason_phrase(404) == "Not Found");
    CHECK(aio::http::reason_phrase(431) == "Request Header Fields Too Large");
    CHECK(aio::http::reason_phrase(299) == "Unknown");
    aio::http::http_error e(409, "duplicate order", {{"X-Reason", "dup"}});
    CHECK(e.status() == 409);
    CHECK(std::string(e.what()) == "409 Conflict: duplicate order");
    CHECK(e.headers().value("x-reason") == "dup");
    CHECK_THROWS_AS(aio::http::http_error(42), aio::value_error);
}
