#include "poller.hpp"

#include <cerrno>
#include <system_error>

#include <sys/epoll.h>
#include <unistd.h>

namespace aio::detail {

poller::poller() {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
        throw std::system_error(errno, std::generic_category(), "aio: epoll_create1");
    }
}

poller::~poller() {
    if (epfd_ >= 0) {
        ::close(epfd_);
    }
}

void poller::add(io_watcher& w) {
    epoll_event ev{};
    ev.events = w.events;
    ev.data.ptr = &w;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, w.fd, &ev) != 0) {
        throw std::system_error(errno, std::generic_category(), "aio: epoll_ctl(ADD)");
    }
    ++watched_;
}

void poller::modify(io_watcher& w) {
    epoll_event ev{};
    ev.events = w.events;
    ev.data.ptr = &w;
    if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, w.fd, &ev) != 0) {
        throw std::system_error(errno, std::generic_category(), "aio: epoll_ctl(MOD)");
    }
}

void poller::remove(io_watcher& w) noexcept {
    epoll_event ev{};
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, w.fd, &ev);
    --watched_;
}

int poller::wait(int timeout_ms) {
    epoll_event events[128];
    int n = ::epoll_wait(epfd_, events, 128, timeout_ms);
    if (n < 0) {
        if (errno == EINTR) {
            return 0;
        }
        throw std::system_error(errno, std::generic_category(), "aio: epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
        auto* w = static_cast<io_watcher*>(events[i].data.ptr);
        w->on_ready(w, events[i].events);
    }
    return n;
}

}  // namespace aio::detail
