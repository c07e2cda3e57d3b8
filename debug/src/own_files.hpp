// Which source files are aio's own: debug mode (stacks.cpp) and the inspector (tools/inspect)
// tell the user's frames from aio's by these paths.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace aio::debug {

namespace own_files_detail {

// aio's own files, by their path relative to the project (generated: debug/CMakeLists.txt).
inline constexpr const char* own_files[] = {
#include "aio_own_files.inc"
};

// "runtime/include/aio/task.hpp" is also known by its path inside an include directory,
// "aio/task.hpp", which is all an installed, vendored or symlinked copy has in common.
inline const std::unordered_set<std::string_view>& own_suffixes() {
    static const std::unordered_set<std::string_view> set = [] {
        std::unordered_set<std::string_view> s;
        for (const char* f : own_files) {
            std::string_view v(f);
            s.insert(v);
            if (auto at = v.find("/include/aio/"); at != std::string_view::npos) {
                s.insert(v.substr(at + std::string_view("/include/").size()));
            }
        }
        return s;
    }();
    return set;
}

// "a/b/../c" -> "a/c", "a/./b" -> "a/b": compilers record an included file's path as the
// include spelled it ("runtime/src/net/../loop_core.hpp").
inline std::string lexically_normal(std::string_view path) {
    std::vector<std::string_view> parts;
    std::size_t i = 0;
    while (i <= path.size()) {
        std::size_t j = path.find('/', i);
        if (j == std::string_view::npos) {
            j = path.size();
        }
        std::string_view seg = path.substr(i, j - i);
        if (seg == ".." && !parts.empty() && parts.back() != ".." && !parts.back().empty()) {
            parts.pop_back();
        } else if (seg != ".") {
            parts.push_back(seg);
        }
        i = j + 1;
    }
    std::string out;
    for (std::size_t k = 0; k < parts.size(); ++k) {
        out += k == 0 ? "" : "/";
        out += parts[k];
    }
    return out;
}

}  // namespace own_files_detail

/// True for a path that ends, at a '/', in one of aio's own files' paths relative to the
/// project or to an include directory ("aio/task.hpp"): the source tree, an installed
/// prefix, a vendored or symlinked copy alike.
inline bool is_own_file(std::string_view file) {
    if (file.find("/.") != std::string_view::npos) {
        const std::string normal = own_files_detail::lexically_normal(file);
        if (normal != file) {
            return is_own_file(normal);
        }
    }
    const auto& suffixes = own_files_detail::own_suffixes();
    if (suffixes.count(file) != 0) {
        return true;
    }
    for (std::size_t at = file.find('/'); at != std::string_view::npos;
         at = file.find('/', at + 1)) {
        if (suffixes.count(file.substr(at + 1)) != 0) {
            return true;
        }
    }
    return false;
}

}  // namespace aio::debug
