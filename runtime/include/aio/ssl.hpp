// TLS (OpenSSL 3): the context that says how to verify and what to present (Python's
// ssl.SSLContext), and the errors a TLS connection raises. Streams take a context in
// stream_options::ssl / server_options::ssl or in stream::start_tls(); the HTTP client and
// server take one in their options. See docs/reference/ssl.md.
//
//     auto tls = aio::ssl_context::client();          // system CA store, hostname checked
//     aio::stream s = aio::open_connection("example.org", 443, {.ssl = tls});
//     s.write("HEAD / HTTP/1.0\r\nHost: example.org\r\n\r\n");
//     std::string status = s.read_line();
//     s.close();                                      // sends TLS close_notify, then closes
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace aio {

/// A TLS failure: a handshake that failed (no shared protocol, not TLS at all, an alert from
/// the peer), a corrupt record, or a context that could not load its files (Python's
/// ssl.SSLError). The message names the peer (or the file) and OpenSSL's reason. Derives
/// from std::system_error, so code that catches connection failures catches it too; code()
/// is the OS error when the socket failed underneath, std::errc::protocol_error otherwise.
class ssl_error : public std::system_error {
public:
    ssl_error(std::error_code code, std::string message)
        : std::system_error(code)
        , message_(std::make_shared<const std::string>(std::move(message))) {}
    /// The whole message, without the error code's text appended.
    [[nodiscard]] const char* what() const noexcept override { return message_->c_str(); }

private:
    std::shared_ptr<const std::string> message_;  // shared: copying an exception never throws
};

/// The peer's certificate was refused (Python's ssl.SSLCertVerificationError): expired, not
/// signed by a trusted CA, self-signed, or issued for another name. verify_message() is
/// OpenSSL's text ("certificate has expired", "hostname mismatch", "self-signed
/// certificate"...), verify_code() its X509_V_ERR_* number.
class ssl_cert_verification_error : public ssl_error {
public:
    ssl_cert_verification_error(long verify_code, std::string verify_message, std::string message)
        : ssl_error(std::make_error_code(std::errc::protocol_error), std::move(message))
        , verify_code_(verify_code)
        , verify_message_(std::make_shared<const std::string>(std::move(verify_message))) {}
    [[nodiscard]] long verify_code() const noexcept { return verify_code_; }
    [[nodiscard]] const std::string& verify_message() const noexcept { return *verify_message_; }

private:
    long verify_code_;
    std::shared_ptr<const std::string> verify_message_;
};

namespace detail {
struct ssl_context_impl;
}

/// How one side of TLS connections verifies its peer and what it presents (an OpenSSL
/// SSL_CTX). Make one with client() or server(); copies share the same context (as one
/// Python SSLContext passed to several connections), so a setting changed through one copy
/// applies to every copy and to connections opened afterwards. Contexts may be shared by
/// streams of any loop, but configure one before it is first used. TLS 1.2 is the oldest
/// version either side accepts.
class ssl_context {
public:
    /// A client context: verifies the server's certificate chain against the system's CA
    /// store (SSL_CTX_set_default_verify_paths) and its name against the host connected to.
    /// Does not suspend. Throws ssl_error if OpenSSL cannot make a context.
    [[nodiscard]] static ssl_context client();
    /// A server context presenting the certificate chain in `cert_file` (PEM, the leaf
    /// first) with the private key in `key_file` (PEM). It asks no certificate of its
    /// clients unless set_verify(true) is called (then a client must present one that
    /// chains to a CA given with load_verify_file()). Does not suspend. Throws ssl_error
    /// naming the file and OpenSSL's reason (missing file, not PEM, key and certificate
    /// that do not match).
    [[nodiscard]] static ssl_context server(std::string_view cert_file, std::string_view key_file);

    /// Trusts the CA certificates in the PEM file `ca_file` as well (a private CA, a test
    /// CA). Does not suspend. Throws ssl_error naming the file and the reason.
    ssl_context& load_verify_file(std::string_view ca_file);
    /// Presents the certificate chain in `cert_file` with the key in `key_file`: a server's
    /// identity, or a client certificate for servers that ask for one. Does not suspend.
    /// Throws ssl_error naming the file and the reason.
    ssl_context& load_cert_chain(std::string_view cert_file, std::string_view key_file);
    /// Client: `false` accepts any certificate and any name (Python's CERT_NONE with
    /// check_hostname off): the connection is encrypted but the peer is not authenticated,
    /// so anyone on the path can read it; for tests and for hosts you reach by other
    /// trusted means only. Server: `true` requires a client certificate. Does not suspend.
    ssl_context& set_verify(bool on);
    /// Whether the peer's certificate is verified.
    [[nodiscard]] bool verify() const noexcept;
    /// True for a context made by server().
    [[nodiscard]] bool server_side() const noexcept;
    /// The SSL_CTX*, for settings this class does not offer (ciphers, ALPN...).
    [[nodiscard]] void* native_handle() const noexcept;
    /// True when both are copies of the same context.
    friend bool operator==(const ssl_context& a, const ssl_context& b) noexcept {
        return a.impl_ == b.impl_;
    }

private:
    friend struct detail::ssl_context_impl;
    explicit ssl_context(std::shared_ptr<detail::ssl_context_impl> impl) noexcept;
    std::shared_ptr<detail::ssl_context_impl> impl_;
};

}  // namespace aio
