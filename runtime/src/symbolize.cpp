// Resolving creation sites to file:line. Tasks record a std::source_location when the caller
// built task_options, and always the return address inside the spawning function; the
// address is resolved here, on demand, with backward-cpp and libdw, and cached.
// libdw needs more stack than a fiber has: from inside a task the lookup runs on a helper
// thread (it is only ever done for messages and reports, and cached).
#include "loop_core.hpp"

#define BACKWARD_HAS_DW 1
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include <backward.hpp>

namespace aio::detail {

namespace {

bool is_aio_frame(const std::string& file) {
    return file.find("/include/aio/") != std::string::npos ||
           file.find("/runtime/src/") != std::string::npos;
}

source_site symbolize(void* addr) {
    static std::mutex mutex;
    static std::unordered_map<void*, source_site> cache;
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = cache.find(addr); it != cache.end()) {
        return it->second;
    }
    source_site out;
    try {
        // A return address points after the call; look up the call instruction itself.
        void* lookup = static_cast<char*>(addr) - 1;
        static backward::TraceResolver resolver;  // built once: libdw's view of the objects
        resolver.load_addresses(&lookup, 1);
        backward::ResolvedTrace trace =
            resolver.resolve(backward::ResolvedTrace(backward::Trace(lookup, 0)));
        // Innermost first: the inlined aio templates, then the user's code that called them.
        // backward labels each location with the function called there; the function a
        // location lies in is the next label outwards (the source's label for the last).
        std::vector<backward::ResolvedTrace::SourceLoc> chain;
        chain.push_back(trace.source);
        for (auto& s : trace.inliners) {
            chain.push_back(s);
        }
        for (std::size_t k = 0; k < chain.size(); ++k) {
            const auto& s = chain[k];
            if (!s.filename.empty() && !is_aio_frame(s.filename)) {
                out.file = s.filename;
                out.line = static_cast<std::uint32_t>(s.line);
                out.function = k + 1 < chain.size() ? chain[k + 1].function : trace.source.function;
                break;
            }
        }
        if (out.file.empty() && !chain.empty()) {
            out.file = chain.back().filename;
            out.line = static_cast<std::uint32_t>(chain.back().line);
            out.function = trace.object_function;
        }
    } catch (...) {
    }
    cache.emplace(addr, out);
    return out;
}

}  // namespace

source_site resolve_site(const creation_site& site) noexcept {
    try {
        if (site.file != nullptr) {
            return source_site{site.file, site.line, site.function != nullptr ? site.function : ""};
        }
        if (site.caller != nullptr) {
            if (current_task_or_null() == nullptr) {
                return symbolize(site.caller);
            }
            // On a fiber stack: libdw needs far more stack than a fiber has, so the lookup
            // runs on a short-lived thread with a full-size stack while this task waits.
            source_site out;
            internal_blocking ours;  // not the user's blocking call
            std::thread([&] { out = symbolize(site.caller); }).join();
            return out;
        }
    } catch (...) {
    }
    return {};
}

}  // namespace aio::detail

namespace aio {

std::string source_site::to_string() const {
    if (!file.empty()) {
        std::string s = file;
        if (line != 0) {
            s.push_back(':');
            s.append(std::to_string(line));  // not ":" + ...: GCC 12 -Wrestrict false positive
        }
        return s;
    }
    if (!function.empty()) {
        return function;
    }
    return "?";
}

}  // namespace aio
