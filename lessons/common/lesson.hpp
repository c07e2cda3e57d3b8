// What every lesson program shares: short timestamped lines.
//
//     lesson::say("heartbeat %d", n);     // prints "[ 0.25 s] heartbeat 3"
//
// Call lesson::start() first thing in the main task: it starts the clock and lets the loop
// turn once, so debug mode's one-time start-up work (about 0.2 s, on the loop thread, before
// the loop's first timers fire) is not mistaken for the lesson's pitfall. stdout is line-buffered
// even into a pipe, so the runner shows each line as it happens and nothing is lost when a hung
// lesson is killed.
#pragma once

#include <aio/errors.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <string>

namespace lesson {

namespace detail {
inline std::chrono::steady_clock::time_point& t0() {
    static std::chrono::steady_clock::time_point t = std::chrono::steady_clock::now();
    return t;
}
inline const bool line_buffered = [] {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    return true;
}();
}  // namespace detail

/// Lets the loop turn once (aio::sleep(0): a yield point), then starts the clock of say().
/// Call it first thing in the main task.
inline void start() {
    aio::sleep(std::chrono::seconds(0));
    detail::t0() = std::chrono::steady_clock::now();
}

/// Seconds since start().
inline double elapsed() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - detail::t0()).count();
}

/// Prints "[ 1.23 s] <text>" and a newline (printf format). Thread-safe (one printf).
[[gnu::format(printf, 1, 2)]] inline void say(const char* fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    std::printf("[%5.2f s] %s\n", elapsed(), text);
}

/// Cancels `t` and waits for it to end (the way to stop a background task such as a
/// heartbeat). Yield point. The task's own cancelled_error is expected and not rethrown; a
/// cancellation of the calling task is.
template <class T>
void stop(aio::task<T>& t) {
    t.cancel();
    try {
        t.get();
    } catch (const aio::cancelled_error&) {
        if (aio::current_task().cancelling() > 0) {
            throw;  // we were cancelled ourselves, not just `t`
        }
    }
}

/// Resident memory of this process in MiB (from /proc/self/status), or -1.
inline double rss_mib() {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::stod(line.substr(6)) / 1024.0;
        }
    }
    return -1;
}

}  // namespace lesson
