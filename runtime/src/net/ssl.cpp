// TLS contexts and the socket BIO. OpenSSL does its socket I/O through a BIO of ours rather
// than its own socket BIO for two reasons: its socket BIO writes with write(2), which raises
// SIGPIPE when the peer has gone (aio never changes the process's signal dispositions, and
// send(MSG_NOSIGNAL) avoids the signal), and ours keeps the stream's readiness cache true to
// the socket: a receive that would block is what tells the stream to park until epoll reports
// the socket readable again, whichever OpenSSL call (read, write, handshake) made it.
#include "tls.hpp"

#include <aio/errors.hpp>

#include <cerrno>
#include <cstring>

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

namespace aio::detail {

namespace {

int bio_write(BIO* b, const char* data, int len) {
    auto* s = static_cast<tls_socket*>(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = ::send(s->fd, data, static_cast<std::size_t>(len), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            return static_cast<int>(n);
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            s->writable = false;
            BIO_set_retry_write(b);
            return -1;
        }
        s->os_error = errno;
        return -1;
    }
}

int bio_read(BIO* b, char* data, int len) {
    auto* s = static_cast<tls_socket*>(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = ::recv(s->fd, data, static_cast<std::size_t>(len), MSG_DONTWAIT);
        if (n >= 0) {
            s->socket_eof = n == 0 && len > 0;
            s->short_read = n < len;
            return static_cast<int>(n);
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            s->readable = false;
            BIO_set_retry_read(b);
            return -1;
        }
        s->os_error = errno;
        return -1;
    }
}

int bio_puts(BIO* b, const char* str) {
    return bio_write(b, str, static_cast<int>(std::strlen(str)));
}

long bio_ctrl(BIO* b, int cmd, long, void*) {
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;  // writes go straight to the socket: nothing to flush
    case BIO_CTRL_EOF:
        // How OpenSSL tells a peer that closed (then SSL_OP_IGNORE_UNEXPECTED_EOF applies)
        // from a failed read.
        return static_cast<tls_socket*>(BIO_get_data(b))->socket_eof ? 1 : 0;
    default:
        return 0;
    }
}

int bio_create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
}

BIO_METHOD* socket_method() {
    static BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "aio socket");
        if (m != nullptr) {
            BIO_meth_set_write(m, bio_write);
            BIO_meth_set_read(m, bio_read);
            BIO_meth_set_puts(m, bio_puts);
            BIO_meth_set_ctrl(m, bio_ctrl);
            BIO_meth_set_create(m, bio_create);
        }
        return m;
    }();
    return method;
}

// The reason of the error at the head of OpenSSL's queue ("no such file", "unsupported
// protocol"...), the whole queue emptied.
std::string queue_reason() {
    unsigned long first = ERR_get_error();
    while (ERR_get_error() != 0) {
    }
    if (first == 0) {
        return "unknown OpenSSL error";
    }
    char buf[256];
    ERR_error_string_n(first, buf, sizeof buf);
    const char* reason = ERR_reason_error_string(first);
    if (reason == nullptr) {
        return buf;
    }
    return std::string(reason) + " (" + buf + ")";
}

[[noreturn]] void context_error(const std::string& what) {
    throw ssl_error(std::make_error_code(std::errc::protocol_error), what + ": " + queue_reason());
}

SSL_CTX* new_ctx(bool server) {
    ERR_clear_error();
    SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == nullptr) {
        context_error("aio::ssl_context: SSL_CTX_new");
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // ENABLE_PARTIAL_WRITE: SSL_write returns after each record, like send(); the stream
    // keeps the rest in its buffer. ACCEPT_MOVING_WRITE_BUFFER: a retried write may come
    // from another address (the stream's buffer moves as it grows or is compacted); the
    // bytes are the same.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // No renegotiation (TLS 1.2): it makes a write wait for a read. IGNORE_UNEXPECTED_EOF: a
    // peer that closes without close_notify gives EOF, not an error, as with Python's
    // suppress_ragged_eofs; HTTP's own framing (Content-Length, chunks) detects truncation.
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    // Read whole socket buffers, not a record header and then its body: half the receives.
    SSL_CTX_set_read_ahead(ctx, 1);
    return ctx;
}

bool is_ip_literal(const std::string& host) {
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
    if (ip == nullptr) {
        return false;
    }
    ASN1_OCTET_STRING_free(ip);
    return true;
}

}  // namespace

ssl_context_impl::~ssl_context_impl() {
    SSL_CTX_free(ctx);
}

ssl_context ssl_context_impl::make(SSL_CTX* ctx, bool server, bool verify) {
    auto impl = std::make_shared<ssl_context_impl>();
    impl->ctx = ctx;
    impl->server = server;
    impl->verify = verify;
    return ssl_context(std::move(impl));
}

SSL* new_tls_session(const ssl_context& context, tls_socket& sock, bool server,
                     const std::string& hostname) {
    ssl_context_impl& c = ssl_context_impl::of(context);
    ERR_clear_error();
    BIO_METHOD* method = socket_method();
    SSL* ssl = SSL_new(c.ctx);
    BIO* bio = method != nullptr ? BIO_new(method) : nullptr;
    if (ssl == nullptr || bio == nullptr) {
        SSL_free(ssl);
        BIO_free(bio);
        context_error("aio TLS: SSL_new");
    }
    BIO_set_data(bio, &sock);
    SSL_set_bio(ssl, bio, bio);  // the session owns the BIO
    if (server) {
        SSL_set_accept_state(ssl);
        return ssl;
    }
    SSL_set_connect_state(ssl);
    bool ip = is_ip_literal(hostname);
    // SNI carries a DNS name only (RFC 6066 §3).
    if (!hostname.empty() && !ip && SSL_set_tlsext_host_name(ssl, hostname.c_str()) != 1) {
        SSL_free(ssl);
        context_error("aio TLS: server name '" + hostname + "'");
    }
    if (c.verify && !hostname.empty()) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, hostname.c_str())
                    : SSL_set1_host(ssl, hostname.c_str());
        if (ok != 1) {
            SSL_free(ssl);
            context_error("aio TLS: the name to verify, '" + hostname + "'");
        }
        if (!ip) {
            // "*.example.org" matches one label, never a partial one ("w*.example.org").
            SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        }
    }
    return ssl;
}

std::string tls_failure_reason(SSL* ssl, int ssl_err, int os_error, long& verify_code) {
    verify_code = X509_V_OK;
    if (ssl != nullptr) {
        long v = SSL_get_verify_result(ssl);
        if (v != X509_V_OK && SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE) {
            verify_code = v;
            ERR_clear_error();
            return std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
        }
    }
    if (ssl_err == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        return "the peer closed the connection";
    }
    if (ssl_err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        if (os_error != 0) {
            return std::error_code(os_error, std::generic_category()).message();
        }
        return "the peer closed the connection";
    }
    return queue_reason();
}

void throw_tls_error(const std::string& context, const std::string& reason, long verify_code,
                     int os_error) {
    if (verify_code != X509_V_OK) {
        throw ssl_cert_verification_error(verify_code, X509_verify_cert_error_string(verify_code),
                                          context + ": " + reason);
    }
    std::error_code code = os_error != 0 ? std::error_code(os_error, std::generic_category())
                                         : std::make_error_code(std::errc::protocol_error);
    throw ssl_error(code, context + ": " + reason);
}

}  // namespace aio::detail

namespace aio {

using detail::ssl_context_impl;

ssl_context::ssl_context(std::shared_ptr<detail::ssl_context_impl> impl) noexcept
    : impl_(std::move(impl)) {
}

ssl_context ssl_context::client() {
    SSL_CTX* ctx = detail::new_ctx(false);
    ssl_context c = ssl_context_impl::make(ctx, false, true);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        detail::context_error("aio::ssl_context::client: the system CA store");
    }
    return c;
}

ssl_context ssl_context::server(std::string_view cert_file, std::string_view key_file) {
    SSL_CTX* ctx = detail::new_ctx(true);
    ssl_context c = ssl_context_impl::make(ctx, true, false);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    c.load_cert_chain(cert_file, key_file);
    return c;
}

ssl_context& ssl_context::load_verify_file(std::string_view ca_file) {
    std::string f(ca_file);
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(impl_->ctx, f.c_str(), nullptr) != 1) {
        detail::context_error("aio::ssl_context::load_verify_file('" + f + "')");
    }
    if (impl_->server) {
        // The CAs a server names when it asks for a client certificate.
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(f.c_str());
        if (names != nullptr) {
            SSL_CTX_set_client_CA_list(impl_->ctx, names);
        }
        ERR_clear_error();
    }
    return *this;
}

ssl_context& ssl_context::load_cert_chain(std::string_view cert_file, std::string_view key_file) {
    std::string cert(cert_file);
    std::string key(key_file);
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(impl_->ctx, cert.c_str()) != 1) {
        detail::context_error("aio::ssl_context::load_cert_chain: the certificate '" + cert + "'");
    }
    if (SSL_CTX_use_PrivateKey_file(impl_->ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
        bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
        detail::context_error(
            "aio::ssl_context::load_cert_chain: the key '" + key + "'" +
            (mismatch ? " does not belong to the certificate '" + cert + "'" : std::string()));
    }
    if (SSL_CTX_check_private_key(impl_->ctx) != 1) {
        detail::context_error("aio::ssl_context::load_cert_chain: the key '" + key +
                              "' does not belong to the certificate '" + cert + "'");
    }
    return *this;
}

ssl_context& ssl_context::set_verify(bool on) {
    impl_->verify = on;
    int mode = SSL_VERIFY_NONE;
    if (on) {
        mode = impl_->server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER;
    }
    SSL_CTX_set_verify(impl_->ctx, mode, nullptr);
    return *this;
}

bool ssl_context::verify() const noexcept {
    return impl_->verify;
}

bool ssl_context::server_side() const noexcept {
    return impl_->server;
}

void* ssl_context::native_handle() const noexcept {
    return impl_->ctx;
}

}  // namespace aio
