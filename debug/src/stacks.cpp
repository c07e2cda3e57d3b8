#include "stacks.hpp"

#include "own_files.hpp"

#define BACKWARD_HAS_DW 1
#include <cctype>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <backward.hpp>
#include <dlfcn.h>
#include <execinfo.h>
#include <unistd.h>

namespace aio::debug {

raw_stack capture_stack(std::size_t max) {
    raw_stack out(max);
    int n = ::backtrace(out.data(), static_cast<int>(max));
    out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return out;
}

namespace {

// The qualified name of a demangled function, without its return type and parameters:
// "aio::task<int> fetch(int)" -> "fetch", "void aio::detail::run<F>(F&)" -> "aio::detail::run<F>".
std::string_view qualified_name(std::string_view fn) {
    int depth = 0;
    std::size_t name_start = 0;
    for (std::size_t i = 0; i < fn.size(); ++i) {
        const char c = fn[i];
        if (c == '(' && depth == 0) {
            return fn.substr(name_start, i - name_start);
        }
        if (c == '<' || c == '(' || c == '{' || c == '[') {
            ++depth;
        } else if ((c == '>' || c == ')' || c == '}' || c == ']') && depth > 0) {
            --depth;
        } else if (c == ' ' && depth == 0) {
            name_start = i + 1;
        }
    }
    return fn.substr(name_start);
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

// The object (executable or shared library) an address lies in.
std::string object_of(std::uintptr_t address) {
    Dl_info info{};
    if (address != 0 && ::dladdr(reinterpret_cast<void*>(address), &info) != 0 &&
        info.dli_fname != nullptr) {
        return info.dli_fname;
    }
    return {};
}

}  // namespace

frame_origin origin_of(const frame& f) {
    const std::string_view file = f.file;
    const std::string_view name = qualified_name(f.function);
    // aio itself: its headers and sources wherever they are, its namespaces, its fibers.
    // (The capture itself counts as aio's: backtrace() and a sanitizer's interceptor of it.)
    if ((!file.empty() && is_own_file(file)) || starts_with(name, "aio::") ||
        starts_with(name, "backtrace") || starts_with(name, "__interceptor_") ||
        starts_with(name, "__sanitizer") || f.function == "make_fcontext" ||
        f.function == "jump_fcontext" || f.function == "ontop_fcontext" ||
        file.find("backward.hpp") != std::string_view::npos) {
        return frame_origin::aio;
    }
    // The C and C++ libraries: system headers (inlined into the user's code), glibc's own
    // sources (Debian builds them from "./nptl/...", "../sysdeps/..."), the standard
    // library's and the compiler's helpers, and any code in a system library's address range.
    if (starts_with(file, "/usr/include/") || starts_with(file, "/usr/lib/") ||
        file.find("/include/c++/") != std::string_view::npos || starts_with(file, "./") ||
        starts_with(file, "../") || starts_with(file, "bits/") || starts_with(name, "std::") ||
        starts_with(name, "__")) {
        return frame_origin::library;
    }
    const std::string object = object_of(f.address);
    if (starts_with(object, "/lib/") || starts_with(object, "/lib64/") ||
        starts_with(object, "/usr/lib/") || starts_with(object, "/usr/lib64/") ||
        starts_with(object, "linux-vdso")) {
        return frame_origin::library;
    }
    // A frame nothing is known about tells the reader nothing.
    if (file.empty() && f.function.empty()) {
        return frame_origin::library;
    }
    return frame_origin::user;
}

namespace {

bool is_bottom(const frame& f) {
    return f.function == "main" || f.function.rfind("__libc_start", 0) == 0 ||
           f.function == "_start";
}

void add_snippet(frame& f) {
    if (f.file.empty() || f.line == 0) {
        return;
    }
    std::ifstream in(f.file);
    if (!in) {
        return;
    }
    std::string line;
    std::uint32_t n = 0;
    const std::uint32_t first = f.line > 1 ? f.line - 1 : 1;
    while (std::getline(in, line)) {
        ++n;
        if (n >= first && n <= f.line + 1) {
            if (f.snippet.empty()) {
                f.snippet_first_line = n;
            }
            f.snippet.push_back(line);
        }
        if (n > f.line + 1) {
            break;
        }
    }
}

// Every address resolves to one or more frames (inlined calls expand). Cached.
const std::vector<frame>& resolve(void* addr) {
    static std::unordered_map<void*, std::vector<frame>> cache;
    if (auto it = cache.find(addr); it != cache.end()) {
        return it->second;
    }
    std::vector<frame> out;
    try {
        // A return address points after the call; look up the call itself.
        void* lookup = static_cast<char*>(addr) - 1;
        // One resolver for the process: it keeps libdw's view of the loaded objects, which
        // is the expensive part to build.
        static backward::TraceResolver resolver;
        resolver.load_addresses(&lookup, 1);
        backward::ResolvedTrace t =
            resolver.resolve(backward::ResolvedTrace(backward::Trace(lookup, 0)));
        // backward gives the innermost location as "source" and the inlined call sites
        // outwards as "inliners", but labels each location with the function *called* there
        // (and the source with the outermost symbol). The function a location lies in is the
        // label of the next one outwards; the outermost lies in the source's label.
        std::vector<const backward::ResolvedTrace::SourceLoc*> locs{&t.source};
        for (auto& s : t.inliners) {
            locs.push_back(&s);
        }
        for (std::size_t k = 0; k < locs.size(); ++k) {
            frame f;
            f.address = reinterpret_cast<std::uintptr_t>(addr);
            f.file = locs[k]->filename;
            f.line = locs[k]->line;
            f.function = k + 1 < locs.size() ? locs[k + 1]->function : t.source.function;
            if (f.function.empty()) {
                f.function = t.object_function;
            }
            out.push_back(std::move(f));
        }
    } catch (...) {
        frame f;
        f.address = reinterpret_cast<std::uintptr_t>(addr);
        out.push_back(f);
    }
    return cache.emplace(addr, std::move(out)).first->second;
}

}  // namespace

void warm_up_symbolizer() noexcept {
    raw_stack here = capture_stack(4);
    (void)symbolize(here, 1);
}

std::vector<frame> symbolize(const raw_stack& stack, std::size_t depth,
                             std::vector<frame>* inside) {
    static std::mutex mutex;
    std::lock_guard<std::mutex> lock(mutex);
    // Resolve frame by frame and stop as soon as `depth` user frames are known: the frames
    // below them (libc's, the C++ runtime's) are never looked up, and looking one up can
    // mean loading and decompressing that library's debug information (100 ms and more).
    // aio's frames are skipped wherever they are; library frames are skipped too, but the
    // ones the first user frame was calling into are handed back in `inside`.
    std::vector<frame> out;
    std::vector<frame> library;  // library frames seen before the first user frame
    try {
        bool full = depth == 0;
        for (std::size_t i = 0; i < stack.size() && !full; ++i) {
            for (const frame& f : resolve(stack[i])) {
                const frame_origin o = origin_of(f);
                // Library frames the user's call went into, each function once (inlined
                // expansions repeat a name) and only those that have one.
                if (o == frame_origin::library && out.empty() && !f.function.empty() &&
                    (library.empty() || library.back().function != f.function)) {
                    library.push_back(f);
                }
                if (o != frame_origin::user) {
                    continue;
                }
                out.push_back(f);
                if (out.size() >= depth || is_bottom(f)) {
                    full = true;
                    break;
                }
            }
        }
    } catch (...) {
    }
    if (inside != nullptr) {
        // The library frames nearest the user's call say the most ("std::mutex::lock",
        // "pthread_mutex_lock"); keep those, innermost first.
        constexpr std::size_t keep = 4;
        if (library.size() > keep) {
            library.erase(library.begin(), library.end() - keep);
        }
        *inside = out.empty() ? std::vector<frame>{} : std::move(library);
    }
    for (frame& f : out) {
        add_snippet(f);
    }
    return out;
}

std::string where(const std::vector<frame>& frames) {
    if (frames.empty()) {
        return "an unknown place";
    }
    const frame& f = frames.front();
    std::string s;
    if (!f.file.empty()) {
        s = f.file;
        if (f.line != 0) {
            s.append(":").append(std::to_string(f.line));  // GCC 12 -Wrestrict false positive
        }                                                  // with ":" + std::string
        if (!f.function.empty()) {
            s.append(" (").append(f.function).append(")");
        }
    } else if (!f.function.empty()) {
        s = f.function;
    } else {
        char buf[32];
        std::snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(f.address));
        s = buf;
    }
    return s;
}

std::string working_directory_prefix() {
    try {
        char buf[4096];
        if (::getcwd(buf, sizeof buf) == nullptr || buf[0] != '/' || buf[1] == '\0') {
            return {};
        }
        return std::string(buf) + "/";
    } catch (...) {
        return {};
    }
}

std::string relative_paths(std::string text, const std::string& prefix) {
    if (prefix.empty()) {
        return text;
    }
    // A character that can be part of a path: a match right after one is inside another path.
    auto in_path = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '/' || c == '.' ||
               c == '_' || c == '-' || c == '+' || c == '~';
    };
    for (std::size_t at = text.find(prefix); at != std::string::npos;
         at = text.find(prefix, at + 1)) {
        if (at == 0 || !in_path(text[at - 1])) {
            text.erase(at, prefix.size());
        }
    }
    return text;
}

}  // namespace aio::debug
