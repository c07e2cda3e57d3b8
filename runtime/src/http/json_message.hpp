// What nlohmann::json's parser said, for the error messages of request::json() and
// client_response::json().
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace aio::http::detail {

// e.what() without nlohmann's "[json.exception.parse_error.101] " prefix: "parse error at
// line 1, column 2: syntax error while parsing value - invalid literal; last read: 'x'".
inline std::string parser_message(const nlohmann::json::exception& e) {
    std::string m = e.what();
    if (m.rfind("[json.exception.", 0) == 0) {
        std::size_t end = m.find("] ");
        if (end != std::string::npos) {
            m.erase(0, end + 2);
        }
    }
    return m;
}

}  // namespace aio::http::detail
