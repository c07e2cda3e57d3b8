// Waiting for file descriptors: the loop's single blocking point. One implementation,
// epoll (epoll.cpp). The networking layer registers io_watchers; the loop itself registers
// its wake-up eventfd.
#pragma once

#include <cstdint>

namespace aio::detail {

/// A file descriptor somebody waits on. `on_ready` runs on the loop stack with the epoll
/// event bits that fired.
struct io_watcher {
    int fd = -1;
    std::uint32_t events = 0;
    void (*on_ready)(io_watcher*, std::uint32_t revents) noexcept = nullptr;
};

class poller {
public:
    poller();
    ~poller();
    poller(const poller&) = delete;
    poller& operator=(const poller&) = delete;

    /// Starts watching `w.fd` for `w.events`. Throws std::system_error.
    void add(io_watcher& w);
    /// Changes the events of a watched fd. Throws std::system_error.
    void modify(io_watcher& w);
    /// Stops watching; never throws (the fd may already be closed).
    void remove(io_watcher& w) noexcept;

    /// Waits up to `timeout_ms` (-1: no limit, 0: poll) and runs the watchers that are ready.
    /// Returns the number of events. EINTR counts as zero events.
    int wait(int timeout_ms);

    [[nodiscard]] std::uint32_t watched() const noexcept { return watched_; }

private:
    int epfd_ = -1;
    std::uint32_t watched_ = 0;
};

}  // namespace aio::detail
