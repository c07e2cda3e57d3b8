// Compiler helpers shared by the public headers. Not part of the API.
#pragma once

#define AIO_ALWAYS_INLINE inline __attribute__((always_inline))
#define AIO_NOINLINE __attribute__((noinline))
#define AIO_LIKELY(x) __builtin_expect(!!(x), 1)
#define AIO_UNLIKELY(x) __builtin_expect(!!(x), 0)

// Sanitizer builds (GCC defines __SANITIZE_*__, clang answers __has_feature).
#if defined(__SANITIZE_ADDRESS__)
#define AIO_SANITIZE_ADDRESS 1
#endif
#if defined(__SANITIZE_THREAD__)
#define AIO_SANITIZE_THREAD 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(AIO_SANITIZE_ADDRESS)
#define AIO_SANITIZE_ADDRESS 1
#endif
#if __has_feature(thread_sanitizer) && !defined(AIO_SANITIZE_THREAD)
#define AIO_SANITIZE_THREAD 1
#endif
#endif

namespace aio::detail {

/// Aborts the program with a message naming the broken invariant (a bug in aio).
[[noreturn]] void assertion_failed(const char* expr, const char* file, int line) noexcept;

}  // namespace aio::detail

#define AIO_ASSERT(expr)                                                                           \
    (AIO_LIKELY(expr) ? static_cast<void>(0)                                                       \
                      : ::aio::detail::assertion_failed(#expr, __FILE__, __LINE__))
