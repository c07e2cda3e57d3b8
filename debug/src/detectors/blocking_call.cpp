// blocking-call: a known blocking libc call made on the loop thread while a task runs. The
// whole loop stops for as long as the call lasts, however short.
//
// The functions are interposed: this object defines them, so the program's calls (and those of
// libstdc++, e.g. std::this_thread::sleep_for -> nanosleep) land here first, and each one
// forwards to the real function (dlsym(RTLD_NEXT)). Outside debug mode, outside a task, on
// another thread (executor threads), or when nested inside another interposed call, they pass
// straight through. Socket calls count only on sockets in blocking mode; poll and select only
// with a timeout.
#include "detectors.hpp"
#include "kernel_stack.hpp"

#include <aio/detail/config.hpp>
#include <aio/errors.hpp>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace aio::debug {

namespace {

__attribute__((tls_model("initial-exec"))) thread_local session* tls_session = nullptr;
__attribute__((tls_model("initial-exec"))) thread_local int tls_depth = 0;

template <class Fn>
Fn real(const char* name) {
    auto fn = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
    if (fn == nullptr) {
        // A fully static program has no dynamic libc to forward to.
        std::fprintf(stderr,
                     "aio debug: cannot find the C library's %s (a fully static build?); aio's "
                     "blocking-call "
                     "interposition needs a dynamically linked libc\n",
                     name);
        std::abort();
    }
    return fn;
}

bool is_blocking_socket(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        return false;
    }
    int flags = ::fcntl(fd, F_GETFL);
    return flags >= 0 && (flags & O_NONBLOCK) == 0;
}

// Watches one interposed call: decides whether it counts, times it, reports it.
class watch {
public:
    /// `measured`: the call blocks only sometimes (a contended mutex, a pipe, a file, a raw
    /// syscall): it is reported only when it kept the loop `block=` or longer.
    explicit watch(const char* call, bool counts = true, bool measured = false) noexcept
        : call_(call)
        , measured_(measured) {
        ++tls_depth;
        active_ = counts && tls_depth == 1 && tls_session != nullptr &&
                  detail::tls_internal_blocking == 0 && detail::current_task_or_null() != nullptr &&
                  tls_session->wants("blocking-call");
        if (active_) {
            tls_session->set_in_wrapper(true);  // the watchdog leaves this call to us
            start_ = std::chrono::steady_clock::now();
        }
    }
    ~watch() {
        if (active_) {
            int saved = errno;
            const duration took = std::chrono::steady_clock::now() - start_;
            if (!measured_ || took >= tls_session->settings().block) {
                report(took);
            }
            tls_session->set_in_wrapper(false);
            errno = saved;
        }
        --tls_depth;
    }
    watch(const watch&) = delete;
    watch& operator=(const watch&) = delete;

private:
    void report(duration took) noexcept {
        try {
            session& s = *tls_session;
            task_ref t(detail::current_task_or_null());
            raw_finding r = detectors::task_finding(s, t, "blocking-call", "error");
            r.f.duration_ms = std::chrono::duration<double, std::milli>(took).count();
            r.f.message = std::string(call_) + "() blocked the loop for " + format_duration(took);
            r.title = std::string("blocking call ") + call_ + "() in task '" + t.name() + "' (" +
                      format_duration(took) + ")";
            r.culprit = capture_stack();
            r.f.why = "a blocking call stops the whole loop, not just this task: every other task, "
                      "timer and socket waits until it returns";
            r.f.fix =
                "use the async form (aio::sleep instead of sleep, aio::open_connection instead "
                "of connect/getaddrinfo) or move the call to a thread with aio::to_thread";
            r.f.lesson = "02-blocking-call";
            s.report(std::move(r));
        } catch (...) {
        }
    }

    const char* call_;
    bool measured_ = false;
    bool active_ = false;
    std::chrono::steady_clock::time_point start_{};
};

}  // namespace

namespace {

// glibc's pthread_create, as [first byte, last byte + 1). A wait inside it is on glibc's own
// short-held locks (its stack cache, the TLS slot table) held by another thread (one that is
// exiting, say) that a loaded machine preempted: it lasts a scheduler quantum or two, without
// debug mode too, and says nothing about the program's design.
std::pair<std::uintptr_t, std::uintptr_t> thread_creation_range() noexcept {
    static const std::pair<std::uintptr_t, std::uintptr_t> range = [] {
        std::pair<std::uintptr_t, std::uintptr_t> r{0, 0};
        // libc's own, not a sanitizer's interceptor of the same name.
        void* libc = ::dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
        void* fn = libc != nullptr ? ::dlsym(libc, "pthread_create") : nullptr;
        Dl_info info{};
        const ElfW(Sym)* sym = nullptr;
        if (fn != nullptr &&
            ::dladdr1(fn, &info, reinterpret_cast<void**>(const_cast<ElfW(Sym)**>(&sym)),
                      RTLD_DL_SYMENT) != 0 &&
            sym != nullptr && info.dli_saddr != nullptr) {
            auto first = reinterpret_cast<std::uintptr_t>(info.dli_saddr);
            r = {first, first + sym->st_size};
        }
        if (libc != nullptr) {
            ::dlclose(libc);
        }
        return r;
    }();
    return range;
}

bool inside_thread_creation(const raw_stack& stack) noexcept {
    const auto [first, end] = thread_creation_range();
    for (void* frame : stack) {
        auto pc = reinterpret_cast<std::uintptr_t>(frame);
        if (pc > first && pc <= end) {  // a return address may be one past the last byte
            return true;
        }
    }
    return false;
}

}  // namespace

namespace detectors {

void kernel_block(session& s, stall_watchdog::kernel_block b) {
    if (inside_thread_creation(b.stack)) {
        return;
    }
    try {
        raw_finding r;
        r.f.id = "blocking-call";
        r.f.severity = "error";
        r.f.task_id = b.task_id;
        r.f.task_name = b.task_name;
        // The task, for its creation stack (the loop thread; a block is rare).
        for (const task_ref& t : aio::all_tasks()) {
            if (t.id() == b.task_id) {
                r = task_finding(s, t, "blocking-call", "error");
                break;
            }
        }
        const std::string call = syscall_name(b.syscall);
        r.f.duration_ms = std::chrono::duration<double, std::milli>(b.blocked).count();
        r.f.message = "the loop thread slept in the kernel in the system call " + call +
                      " for about " + format_duration(b.blocked) +
                      " (seen by the watchdog to one tick, outside aio's interposed calls)";
        r.title = "blocking system call " + call + " in task '" + b.task_name + "' (" +
                  format_duration(b.blocked) + ")";
        r.culprit = std::move(b.stack);
        r.f.why = "a blocking call stops the whole loop, not just this task: every other task, "
                  "timer and socket waits until it returns";
        r.f.fix = "use the async form (aio::sleep instead of sleep, aio::open_connection instead "
                  "of connect/getaddrinfo) or move the call to a thread with aio::to_thread";
        r.f.lesson = "02-blocking-call";
        s.report(std::move(r));
    } catch (...) {
    }
}

}  // namespace detectors

bool tls_session_active() noexcept {
    return tls_session != nullptr && tls_depth == 0 && detail::current_task_or_null() != nullptr;
}

void set_blocking_call_session(session* s) noexcept {
    tls_session = s;
}

}  // namespace aio::debug

using aio::debug::is_blocking_socket;  // NOLINT
using aio::debug::real;
using aio::debug::watch;

extern "C" {

unsigned int sleep(unsigned int seconds) {
    static auto fn = real<unsigned int (*)(unsigned int)>("sleep");
    watch w("sleep");
    return fn(seconds);
}

int usleep(useconds_t usec) {
    static auto fn = real<int (*)(useconds_t)>("usleep");
    watch w("usleep");
    return fn(usec);
}

int nanosleep(const struct timespec* req, struct timespec* rem) {
    static auto fn = real<int (*)(const struct timespec*, struct timespec*)>("nanosleep");
    watch w("nanosleep");
    return fn(req, rem);
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec* req, struct timespec* rem) {
    static auto fn =
        real<int (*)(clockid_t, int, const struct timespec*, struct timespec*)>("clock_nanosleep");
    watch w("clock_nanosleep");
    return fn(clock, flags, req, rem);
}

int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                struct addrinfo** res) {
    static auto fn =
        real<int (*)(const char*, const char*, const struct addrinfo*, struct addrinfo**)>(
            "getaddrinfo");
    watch w("getaddrinfo");
    return fn(node, service, hints, res);
}

struct hostent* gethostbyname(const char* name) {
    static auto fn = real<struct hostent* (*)(const char*)>("gethostbyname");
    watch w("gethostbyname");
    return fn(name);
}

int connect(int fd, const struct sockaddr* addr, socklen_t len) {
    static auto fn = real<int (*)(int, const struct sockaddr*, socklen_t)>("connect");
    watch w("connect", aio::debug::tls_session_active() && is_blocking_socket(fd));
    return fn(fd, addr, len);
}

int accept(int fd, struct sockaddr* addr, socklen_t* len) {
    static auto fn = real<int (*)(int, struct sockaddr*, socklen_t*)>("accept");
    watch w("accept", aio::debug::tls_session_active() && is_blocking_socket(fd));
    return fn(fd, addr, len);
}

int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
    static auto fn = real<int (*)(int, struct sockaddr*, socklen_t*, int)>("accept4");
    watch w("accept4", aio::debug::tls_session_active() && is_blocking_socket(fd));
    return fn(fd, addr, len, flags);
}

ssize_t recv(int fd, void* buf, size_t n, int flags) {
    static auto fn = real<ssize_t (*)(int, void*, size_t, int)>("recv");
    watch w("recv", (flags & MSG_DONTWAIT) == 0 && aio::debug::tls_session_active() &&
                        is_blocking_socket(fd));
    return fn(fd, buf, n, flags);
}

ssize_t recvfrom(int fd, void* buf, size_t n, int flags, struct sockaddr* addr, socklen_t* len) {
    static auto fn =
        real<ssize_t (*)(int, void*, size_t, int, struct sockaddr*, socklen_t*)>("recvfrom");
    watch w("recvfrom", (flags & MSG_DONTWAIT) == 0 && aio::debug::tls_session_active() &&
                            is_blocking_socket(fd));
    return fn(fd, buf, n, flags, addr, len);
}

ssize_t send(int fd, const void* buf, size_t n, int flags) {
    static auto fn = real<ssize_t (*)(int, const void*, size_t, int)>("send");
    watch w("send", (flags & MSG_DONTWAIT) == 0 && aio::debug::tls_session_active() &&
                        is_blocking_socket(fd));
    return fn(fd, buf, n, flags);
}

ssize_t sendto(int fd, const void* buf, size_t n, int flags, const struct sockaddr* addr,
               socklen_t len) {
    static auto fn =
        real<ssize_t (*)(int, const void*, size_t, int, const struct sockaddr*, socklen_t)>(
            "sendto");
    watch w("sendto", (flags & MSG_DONTWAIT) == 0 && aio::debug::tls_session_active() &&
                          is_blocking_socket(fd));
    return fn(fd, buf, n, flags, addr, len);
}

// A blocking socket always counts; anything else (a pipe, a FIFO, a terminal, a file) counts
// when the call kept the loop `block=` or longer: a read that the page cache answers is not a
// finding, one that waits for the disk or for a writer is.
#define AIO_WATCH_FD_CALL(name, fd)                                                                \
    const bool active_here = aio::debug::tls_session_active();                                     \
    const bool socket_blocks = active_here && is_blocking_socket(fd);                              \
    watch w(name, active_here, active_here && !socket_blocks)

ssize_t read(int fd, void* buf, size_t n) {
    static auto fn = real<ssize_t (*)(int, void*, size_t)>("read");
    AIO_WATCH_FD_CALL("read", fd);
    return fn(fd, buf, n);
}

ssize_t write(int fd, const void* buf, size_t n) {
    static auto fn = real<ssize_t (*)(int, const void*, size_t)>("write");
    AIO_WATCH_FD_CALL("write", fd);
    return fn(fd, buf, n);
}

ssize_t readv(int fd, const struct iovec* iov, int n) {
    static auto fn = real<ssize_t (*)(int, const struct iovec*, int)>("readv");
    AIO_WATCH_FD_CALL("readv", fd);
    return fn(fd, iov, n);
}

ssize_t writev(int fd, const struct iovec* iov, int n) {
    static auto fn = real<ssize_t (*)(int, const struct iovec*, int)>("writev");
    AIO_WATCH_FD_CALL("writev", fd);
    return fn(fd, iov, n);
}

// _FORTIFY_SOURCE turns read(), recv() and poll() with a known buffer size into these.
ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
    static auto fn = real<ssize_t (*)(int, void*, size_t, size_t)>("__read_chk");
    AIO_WATCH_FD_CALL("read", fd);
    return fn(fd, buf, n, buflen);
}

ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags) {
    static auto fn = real<ssize_t (*)(int, void*, size_t, size_t, int)>("__recv_chk");
    watch w("recv", (flags & MSG_DONTWAIT) == 0 && aio::debug::tls_session_active() &&
                        is_blocking_socket(fd));
    return fn(fd, buf, n, buflen, flags);
}

int __poll_chk(struct pollfd* fds, nfds_t n, int timeout, size_t fdslen) {
    static auto fn = real<int (*)(struct pollfd*, nfds_t, int, size_t)>("__poll_chk");
    watch w("poll", timeout != 0);
    return fn(fds, n, timeout, fdslen);
}

ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
    static auto fn = real<ssize_t (*)(int, struct msghdr*, int)>("recvmsg");
    watch w("recvmsg", (flags & MSG_DONTWAIT) == 0 && aio::debug::tls_session_active() &&
                           is_blocking_socket(fd));
    return fn(fd, msg, flags);
}

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
    static auto fn = real<ssize_t (*)(int, const struct msghdr*, int)>("sendmsg");
    watch w("sendmsg", (flags & MSG_DONTWAIT) == 0 && aio::debug::tls_session_active() &&
                           is_blocking_socket(fd));
    return fn(fd, msg, flags);
}

int ppoll(struct pollfd* fds, nfds_t n, const struct timespec* timeout, const sigset_t* mask) {
    static auto fn =
        real<int (*)(struct pollfd*, nfds_t, const struct timespec*, const sigset_t*)>("ppoll");
    watch w("ppoll", timeout == nullptr || timeout->tv_sec != 0 || timeout->tv_nsec != 0);
    return fn(fds, n, timeout, mask);
}

int flock(int fd, int op) {
    static auto fn = real<int (*)(int, int)>("flock");
    watch w("flock", (op & LOCK_NB) == 0, true);
    return fn(fd, op);
}

int pclose(FILE* stream) {
    static auto fn = real<int (*)(FILE*)>("pclose");
    watch w("pclose", true, true);  // waits for the command to end
    return fn(stream);
}

#if !defined(AIO_SANITIZE_THREAD) && !defined(AIO_SANITIZE_ADDRESS)
// Threads: a contended mutex, a condition variable, a join. The uncontended lock, by far the
// common case, is one trylock and costs no clock read. (Not in sanitizer builds: the
// sanitizers intercept these functions themselves, and this definition would hide their
// interceptors, and with them every lock, from the sanitizer.)
int pthread_mutex_lock(pthread_mutex_t* m) {
    static auto fn = real<int (*)(pthread_mutex_t*)>("pthread_mutex_lock");
    if (!aio::debug::tls_session_active()) {
        return fn(m);
    }
    static auto try_fn = real<int (*)(pthread_mutex_t*)>("pthread_mutex_trylock");
    const int got = try_fn(m);
    if (got != EBUSY) {
        return got;  // taken at once (or an error, or a robust mutex's owner died)
    }
    watch w("pthread_mutex_lock", true, true);
    return fn(m);
}

int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
    static auto fn = real<int (*)(pthread_cond_t*, pthread_mutex_t*)>("pthread_cond_wait");
    watch w("pthread_cond_wait", true, true);
    return fn(c, m);
}

int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* t) {
    static auto fn = real<int (*)(pthread_cond_t*, pthread_mutex_t*, const struct timespec*)>(
        "pthread_cond_timedwait");
    watch w("pthread_cond_timedwait", true, true);
    return fn(c, m, t);
}

int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock,
                           const struct timespec* t) {
    static auto fn =
        real<int (*)(pthread_cond_t*, pthread_mutex_t*, clockid_t, const struct timespec*)>(
            "pthread_cond_clockwait");
    watch w("pthread_cond_clockwait", true, true);
    return fn(c, m, clock, t);
}

int pthread_join(pthread_t t, void** ret) {
    static auto fn = real<int (*)(pthread_t, void**)>("pthread_join");
    watch w("pthread_join", true, true);
    return fn(t, ret);
}
#endif

// A raw system call (std::future::get waits with syscall(SYS_futex, ...)): any that kept the
// loop `block=` or longer. The arguments are passed on as six longs, as the kernel takes them
// (glibc's syscall does the same). A caller that passed fewer leaves the last ones unread by
// the kernel but read here: from the register save area, and the sixth from the caller's own
// frame, which AddressSanitizer would call an underflow; hence no_sanitize.
__attribute__((no_sanitize_address)) long syscall(long number, ...) {
    static auto fn = real<long (*)(long, ...)>("syscall");
    va_list args;
    va_start(args, number);
    long a[6];
    for (long& x : a) {
        x = va_arg(args, long);
    }
    va_end(args);
    watch w("syscall", true, true);
    return fn(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int poll(struct pollfd* fds, nfds_t n, int timeout) {
    static auto fn = real<int (*)(struct pollfd*, nfds_t, int)>("poll");
    watch w("poll", timeout != 0);
    return fn(fds, n, timeout);
}

int select(int n, fd_set* r, fd_set* w_, fd_set* e, struct timeval* timeout) {
    static auto fn = real<int (*)(int, fd_set*, fd_set*, fd_set*, struct timeval*)>("select");
    watch w("select", timeout == nullptr || timeout->tv_sec != 0 || timeout->tv_usec != 0);
    return fn(n, r, w_, e, timeout);
}

pid_t waitpid(pid_t pid, int* status, int options) {
    static auto fn = real<pid_t (*)(pid_t, int*, int)>("waitpid");
    watch w("waitpid", (options & WNOHANG) == 0);
    return fn(pid, status, options);
}

int system(const char* command) {
    static auto fn = real<int (*)(const char*)>("system");
    watch w("system");
    return fn(command);
}

FILE* popen(const char* command, const char* type) {
    static auto fn = real<FILE* (*)(const char*, const char*)>("popen");
    watch w("popen");
    return fn(command, type);
}

int fsync(int fd) {
    static auto fn = real<int (*)(int)>("fsync");
    watch w("fsync");
    return fn(fd);
}

int fdatasync(int fd) {
    static auto fn = real<int (*)(int)>("fdatasync");
    watch w("fdatasync");
    return fn(fd);
}

}  // extern "C"
