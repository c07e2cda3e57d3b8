#include "stacks.hpp"

#define BACKWARD_HAS_DW 1
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <unordered_map>

#include <backward.hpp>
#include <execinfo.h>

namespace aio::debug {

raw_stack capture_stack(std::size_t max) {
    raw_stack out(max);
    int n = ::backtrace(out.data(), static_cast<int>(max));
    out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return out;
}

namespace {

bool is_internal(const frame& f) {
    const std::string& file = f.file;
    const std::string& fn = f.function;
    if (file.find("/runtime/include/aio/") != std::string::npos ||
        file.find("/runtime/src/") != std::string::npos ||
        file.find("/debug/src/") != std::string::npos ||
        file.find("/include/c++/") != std::string::npos ||
        file.find("backward.hpp") != std::string::npos) {
        return true;
    }
    // glibc's own frames (built from ../sysdeps/...), the vDSO and compiler helpers.
    if (file.rfind("../", 0) == 0 || fn.rfind("__", 0) == 0) {
        return true;
    }
    if (fn.rfind("aio::detail::", 0) == 0 || fn.rfind("aio::debug::", 0) == 0 ||
        fn.rfind("std::", 0) == 0 || fn.rfind("__gnu_cxx::", 0) == 0 ||
        fn.rfind("backtrace", 0) == 0 || fn == "make_fcontext" || fn == "jump_fcontext") {
        return true;
    }
    // A frame nothing is known about tells the reader nothing.
    if (file.empty() && fn.empty()) {
        return true;
    }
    return false;
}

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

std::vector<frame> symbolize(const raw_stack& stack, std::size_t depth) {
    static std::mutex mutex;
    std::lock_guard<std::mutex> lock(mutex);
    // Resolve frame by frame and stop as soon as `depth` user frames are known: the frames
    // below them (libc's, the C++ runtime's) are never looked up, and looking one up can
    // mean loading and decompressing that library's debug information (100 ms and more).
    // Leading aio/std frames are skipped, and so are aio/std frames between user frames.
    std::vector<frame> out;
    try {
        bool full = depth == 0;
        for (std::size_t i = 0; i < stack.size() && !full; ++i) {
            for (const frame& f : resolve(stack[i])) {
                if (is_internal(f)) {
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

}  // namespace aio::debug
