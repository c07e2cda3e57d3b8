// Switching debug mode on with no recompilation: this file registers a factory with the
// runtime at program start. aio::aio links it with --undefined=aio_debug_autoload, so it is
// part of every program linked with aio, even from a static library.
#include "session.hpp"

#include <aio/debug/config.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <unistd.h>

namespace aio::debug {

namespace {

std::atomic<bool> strict_requested{false};
std::size_t strict_baseline = 0;  // findings before strict mode was first switched on

void strict_exit() {
    std::size_t n = session::findings_in_process() - strict_baseline;
    if (n == 0) {
        return;
    }
    std::fflush(nullptr);
    std::fprintf(stderr, "aio debug: strict mode: %zu finding%s; exiting with status 3\n", n,
                 n == 1 ? "" : "s");
    std::fflush(stderr);
    ::_exit(3);
}

std::unique_ptr<instrument> make_session(loop& l, const run_options& options) {
    std::string text;
    if (options.debug) {
        text = *options.debug;
    } else if (const char* env = std::getenv("ASYNC_DEBUG")) {
        text = env;
    }
    parse_result parsed = parse_config(text);
    if (!parsed.error.empty()) {
        std::fprintf(stderr, "%s\n", parsed.error.c_str());
        return nullptr;
    }
    if (!parsed.settings.enabled) {
        return nullptr;
    }
    if (parsed.settings.strict && !strict_requested.exchange(true)) {
        strict_baseline = session::findings_in_process();
        std::atexit(&strict_exit);
    }
    return std::make_unique<session>(std::move(parsed.settings), l, text);
}

struct registrar {
    registrar() noexcept { detail::set_debug_factory(&make_session); }
};
const registrar install;

}  // namespace

}  // namespace aio::debug

/// Referenced by aio::aio's link options so that the linker keeps this object.
extern "C" void aio_debug_autoload() {
}
