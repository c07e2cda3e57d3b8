// TLS internals shared by ssl.cpp (contexts, the socket BIO, error texts) and stream.cpp
// (the session under a stream's buffers). Only these two files include OpenSSL.
#pragma once

#include <aio/ssl.hpp>

#include <string>

#include <openssl/ssl.h>

namespace aio::detail {

struct ssl_context_impl {
    SSL_CTX* ctx = nullptr;
    bool server = false;
    bool verify = false;
    ssl_context_impl() = default;
    ssl_context_impl(const ssl_context_impl&) = delete;
    ssl_context_impl& operator=(const ssl_context_impl&) = delete;
    ~ssl_context_impl();
    static ssl_context make(SSL_CTX* ctx, bool server, bool verify);
    static ssl_context_impl& of(const ssl_context& c) noexcept { return *c.impl_; }
};

/// The socket under a TLS session, as the session's BIO sees it: the fd, the stream's
/// readiness cache (a receive or send that would block clears its flag, exactly as the
/// plain-socket paths do, so the stream knows to park), and the OS error of the last failed
/// system call. stream_impl derives from it.
struct tls_socket {
    int fd = -1;
    bool readable = false;
    bool writable = true;
    int os_error = 0;
    bool socket_eof = false;  // a receive returned 0 (OpenSSL asks, to tell EOF from errors)
    bool short_read = false;  // the last receive got less than asked: the socket is drained
};

/// A new client (`server` false) or server session on `sock`, from `context`. For a client,
/// `hostname` is sent as SNI (unless it is an IP address) and, when the context verifies,
/// checked against the certificate (as a DNS name or as an IP address). Throws ssl_error.
SSL* new_tls_session(const ssl_context& context, tls_socket& sock, bool server,
                     const std::string& hostname);

/// Why the last call on `ssl` failed with SSL_get_error() == `ssl_err`: OpenSSL's reason
/// (from the error queue, which this empties), the certificate verification error, or the OS
/// error under it. `verify_code` is set to the X509_V_ERR_* code when the peer's certificate
/// was refused, X509_V_OK (0) otherwise.
std::string tls_failure_reason(SSL* ssl, int ssl_err, int os_error, long& verify_code);

/// Throws ssl_cert_verification_error (verify_code != 0) or ssl_error with
/// "<context>: <reason>" as the message.
[[noreturn]] void throw_tls_error(const std::string& context, const std::string& reason,
                                  long verify_code, int os_error);

}  // namespace aio::detail
