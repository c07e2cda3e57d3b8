// A raw HTTP peer for server tests: sends exact bytes and collects every byte the server
// answers until it closes. Shared by the HTTP server test files.
#pragma once

#include <aio/stream.hpp>
#include <aio/timeout.hpp>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace aio::test {

/// Sends `raw` on a new connection to 127.0.0.1:`port` and returns everything the server
/// sends until it closes, with "<timeout>" appended when it stays silent for `quiet` (the
/// connection is then still open). A reset by the server propagates as std::system_error.
inline std::string exchange(std::uint16_t port, std::string_view raw,
                            aio::duration quiet = std::chrono::seconds(2)) {
    aio::stream s = aio::open_connection("127.0.0.1", port);
    s.write(raw);
    std::string got;
    try {
        for (;;) {
            std::string part = s.read(65536, quiet);
            if (part.empty()) {
                break;
            }
            got += part;
        }
    } catch (const aio::timeout_error&) {
        got += "<timeout>";
    }
    s.close();
    return got;
}

/// How many responses `all` holds: status lines "HTTP/1.x ddd " (bodies in these tests hold
/// none).
inline std::size_t status_lines(std::string_view all) {
    std::size_t n = 0;
    for (std::size_t at = all.find("HTTP/1."); at != std::string_view::npos;
         at = all.find("HTTP/1.", at + 1)) {
        std::string_view rest = all.substr(at);
        if (rest.size() >= 13 && rest[8] == ' ' && rest[12] == ' ' &&
            std::isdigit(static_cast<unsigned char>(rest[9])) != 0) {
            ++n;
        }
    }
    return n;
}

}  // namespace aio::test
