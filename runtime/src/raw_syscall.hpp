// System calls made straight to the kernel, for signal handlers.
//
// A signal handler may only call async-signal-safe functions, and in a program run with
// ASYNC_DEBUG even write(2) is not the C library's any more: debug mode interposes it (and
// may interpose syscall(3)) to find blocking calls. These wrappers issue the system call
// instruction themselves, so a handler never re-enters aio, the loader or a lock.
#pragma once

#include <cerrno>
#include <cstddef>

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace aio::detail {

/// write(2) without the C library: returns the bytes written or -errno. Async-signal-safe;
/// does not touch errno.
inline long raw_write(int fd, const void* buf, std::size_t n) noexcept {
#if defined(__x86_64__)
    long ret;
    register long a1 asm("rdi") = fd;
    register const void* a2 asm("rsi") = buf;
    register std::size_t a3 asm("rdx") = n;
    asm volatile("syscall"
                 : "=a"(ret)
                 : "0"(static_cast<long>(SYS_write)), "r"(a1), "r"(a2), "r"(a3)
                 : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 asm("x8") = SYS_write;
    register long x0 asm("x0") = fd;
    register const void* x1 asm("x1") = buf;
    register std::size_t x2 asm("x2") = n;
    asm volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
#else
    int saved = errno;
    long ret = ::syscall(SYS_write, fd, buf, n);
    if (ret < 0) {
        ret = -errno;
    }
    errno = saved;
    return ret;
#endif
}

}  // namespace aio::detail
