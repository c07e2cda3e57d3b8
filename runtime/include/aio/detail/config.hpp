// Compiler helpers shared by the public headers. Not part of the API.
#pragma once

#define AIO_ALWAYS_INLINE inline __attribute__((always_inline))
#define AIO_NOINLINE __attribute__((noinline))
#define AIO_LIKELY(x) __builtin_expect(!!(x), 1)
#define AIO_UNLIKELY(x) __builtin_expect(!!(x), 0)

namespace aio::detail {

/// Aborts the program with a message naming the broken invariant (a bug in aio).
[[noreturn]] void assertion_failed(const char* expr, const char* file, int line) noexcept;

}  // namespace aio::detail

#define AIO_ASSERT(expr)                                                                           \
    (AIO_LIKELY(expr) ? static_cast<void>(0)                                                       \
                      : ::aio::detail::assertion_failed(#expr, __FILE__, __LINE__))
