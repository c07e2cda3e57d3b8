// insecure-tls: a TLS client connection whose server was not authenticated: its ssl_context
// has set_verify(false), so any certificate and any name were accepted. The traffic is
// encrypted, but to whoever answered: anyone on the path can read and change it. Fine in a
// test against a throwaway certificate, a hole anywhere else; hence a warning naming the line
// that opened the connection, once per line (findings merge by their line).
#include "detectors.hpp"

namespace aio::debug::detectors {

void insecure_tls(session& s, std::string_view peer) {
    try {
        raw_finding r;
        if (detail::task_base* b = detail::current_task_or_null(); b != nullptr) {
            r = task_finding(s, task_ref(b), "insecure-tls", "warning");
        } else {
            r.f.id = "insecure-tls";
            r.f.severity = "warning";
        }
        r.f.message = "TLS connection to " + std::string(peer) +
                      " without verifying its certificate (ssl_context::set_verify(false))";
        r.title = "TLS connection to " + std::string(peer) + " with certificate verification off";
        r.culprit = capture_stack();
        r.f.why = "without verification the connection is encrypted to whoever answered: anyone "
                  "on the path can present any certificate, then read and change the traffic";
        r.f.fix = "keep verification on (the default of ssl_context::client()); for a private CA "
                  "or a test certificate, trust it with load_verify_file(ca.pem) instead of "
                  "turning verification off";
        s.report(std::move(r));
    } catch (...) {
    }
}

}  // namespace aio::debug::detectors
