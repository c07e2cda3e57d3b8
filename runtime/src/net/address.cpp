// Addresses, name resolution and deadline waits for the networking layer.
#include "net.hpp"

#include <aio/errors.hpp>
#include <aio/executor.hpp>
#include <aio/timeout.hpp>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>
#include <thread>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

namespace aio::detail {

std::string format_address(const sockaddr* sa, socklen_t len) {
    char host[INET6_ADDRSTRLEN] = {};
    switch (sa->sa_family) {
    case AF_INET: {
        const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
    }
    case AF_INET6: {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        std::string out;
        out.reserve(INET6_ADDRSTRLEN + 8);
        out.append("[").append(host).append("]:").append(std::to_string(ntohs(in6->sin6_port)));
        return out;
    }
    case AF_UNIX: {
        const auto* un = reinterpret_cast<const sockaddr_un*>(sa);
        auto max = static_cast<std::size_t>(len) > offsetof(sockaddr_un, sun_path)
                       ? static_cast<std::size_t>(len) - offsetof(sockaddr_un, sun_path)
                       : 0;
        std::string path(un->sun_path, ::strnlen(un->sun_path, std::min(max, sizeof un->sun_path)));
        return path.empty() ? std::string("unix:(unnamed)") : path;
    }
    default:
        return "(address family " + std::to_string(sa->sa_family) + ")";
    }
}

std::uint16_t address_port(const sockaddr* sa) noexcept {
    if (sa->sa_family == AF_INET) {
        return ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
    }
    if (sa->sa_family == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port);
    }
    return 0;
}

std::string host_port(std::string_view host, std::uint16_t port) {
    bool v6 = host.find(':') != std::string_view::npos && host.front() != '[';
    std::string out;
    out.reserve(host.size() + 8);
    if (v6) {
        out.push_back('[');
    }
    out.append(host);
    if (v6) {
        out.push_back(']');
    }
    out.push_back(':');
    out.append(std::to_string(port));
    return out;
}

namespace {

// getaddrinfo's errors (EAI_*), with gai_strerror's words.
class resolve_category_t : public std::error_category {
public:
    const char* name() const noexcept override { return "resolve"; }
    std::string message(int code) const override { return ::gai_strerror(code); }
};
const resolve_category_t resolve_category;

std::atomic<std::int64_t> resolve_delay{0};

bool numeric(std::string_view host, std::uint16_t port, net_address& out) {
    std::string h(host);
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') {
        h = h.substr(1, h.size() - 2);
    }
    auto* in = reinterpret_cast<sockaddr_in*>(&out.storage);
    if (::inet_pton(AF_INET, h.c_str(), &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        out.length = sizeof(sockaddr_in);
        return true;
    }
    out.storage = {};
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    if (::inet_pton(AF_INET6, h.c_str(), &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        out.length = sizeof(sockaddr_in6);
        return true;
    }
    out.storage = {};
    return false;
}

}  // namespace

std::vector<net_address> resolve(std::string_view host, std::uint16_t port, bool passive,
                                 duration timeout) {
    std::vector<net_address> out;
    net_address a;
    if (numeric(host, port, a)) {
        out.push_back(a);
        return out;
    }
    if (host == "localhost") {  // RFC 6761: always the loopback addresses
        numeric("127.0.0.1", port, a);
        out.push_back(a);
        numeric("::1", port, a);
        out.push_back(a);
        return out;
    }
    std::string name(host);
    std::string service = std::to_string(port);
    auto lookup = [name, service, passive]() {
        if (auto d = resolve_delay.load(std::memory_order_relaxed); d > 0) {
            std::this_thread::sleep_for(std::chrono::nanoseconds(d));
        }
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_ADDRCONFIG | (passive ? AI_PASSIVE : 0);
        addrinfo* res = nullptr;
        int rc = ::getaddrinfo(name.c_str(), service.c_str(), &hints, &res);
        std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, ::freeaddrinfo);
        if (rc != 0) {
            if (rc == EAI_SYSTEM) {
                throw std::system_error(errno, std::generic_category(), "resolve '" + name + "'");
            }
            throw std::system_error(rc, resolve_category, "resolve '" + name + "'");
        }
        std::vector<net_address> found;
        for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
            if (ai->ai_addrlen <= sizeof(sockaddr_storage)) {
                net_address n;
                std::memcpy(&n.storage, ai->ai_addr, ai->ai_addrlen);
                n.length = ai->ai_addrlen;
                found.push_back(n);
            }
        }
        return found;
    };
    try {
        out = aio::timeout(timeout, [&] { return aio::to_thread(lookup); });
    } catch (const timeout_error&) {
        throw_net_timeout("resolve", "'" + name + "'", timeout, "resolve");
    }
    if (out.empty()) {
        throw std::system_error(EAI_NONAME, resolve_category, "resolve '" + name + "'");
    }
    return out;
}

void set_resolve_delay_for_tests(duration d) noexcept {
    resolve_delay.store(d.count(), std::memory_order_relaxed);
}

net_address unix_address(std::string_view path, const char* what) {
    net_address a;
    auto* un = reinterpret_cast<sockaddr_un*>(&a.storage);
    if (path.empty() || path.size() >= sizeof un->sun_path) {
        throw value_error(std::string(what) + ": a Unix socket path must have 1 to " +
                          std::to_string(sizeof un->sun_path - 1) + " bytes, got " +
                          std::to_string(path.size()));
    }
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, path.data(), path.size());
    a.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    return a;
}

loop_core& net_loop(const char* what) {
    (void)require_task(what);
    return require_loop(what);
}

time_point deadline_in(loop_core& l, duration d) noexcept {
    if (d == no_timeout) {
        return no_deadline;
    }
    time_point now = l.now();
    return d > no_deadline - now ? no_deadline : now + d;
}

bool wait_until(wait_list& list, time_point deadline, const char* what) {
    task_base& me = require_task(what);
    waiter w{&me};
    waiter_guard guard(list, w);
    deadline_timer timer(*me.loop_, w, deadline);
    const bool notified = park_or_cancelled(me, what);
    if (AIO_UNLIKELY(w.gone != nullptr)) {
        raise_abandoned(me, w);
    }
    if (!notified) {
        deliver_cancel(me);
    }
    return w.status != 2;
}

void throw_net_timeout(const std::string& op, const std::string& peer, duration d,
                       const char* which) {
    throw timeout_error(op + " " + peer + " timed out after " + format_duration(d) + " (" + which +
                        " timeout; set it in the options or per call, aio::no_timeout "
                        "to wait without limit)");
}

void throw_net_error(int err, const std::string& op, const std::string& peer) {
    throw std::system_error(err, std::generic_category(), op + " " + peer);
}

}  // namespace aio::detail
