// TLS test fixtures: certificates made at run time with the `openssl` command (a CA, a server
// certificate for localhost and 127.0.0.1, an expired one, one for another host, a
// self-signed one, a client certificate), and a peer process whose output is read line by
// line (openssl s_server, a Python server). Both are made outside the loop or read on the
// default executor: nothing here blocks the loop thread.
#pragma once

#include <string>
#include <vector>

namespace aio::test {

/// Paths of PEM files in a temporary directory, removed when the process exits.
struct test_certificates {
    std::string dir;
    std::string ca;                            // the test CA's certificate (what clients trust)
    std::string server, server_key;            // CN=localhost, DNS:localhost, IP:127.0.0.1
    std::string expired, expired_key;          // the same names, valid in January 2020 only
    std::string wrong_host, wrong_host_key;    // DNS:wrong.example only
    std::string self_signed, self_signed_key;  // localhost/127.0.0.1, signed by itself
    std::string client, client_key;            // CN=aio-test-client, for mutual TLS
};

/// The program at `path` exists and is executable.
bool have_program(const char* path);

/// The certificates, made once per process (about 0.3 s) with /usr/bin/openssl; nullptr when
/// that command is missing or failed. Call it outside aio::run (it blocks).
const test_certificates* certificates();

/// A child process with its standard output on a pipe (standard error to a file). Killed and
/// waited for when destroyed, on failure too.
class peer_process {
public:
    /// Starts argv[0] (an absolute path) with the arguments. Blocks briefly (fork/exec): call
    /// it outside a task or accept that. Throws std::runtime_error when it cannot start.
    explicit peer_process(std::vector<std::string> argv);
    peer_process(const peer_process&) = delete;
    peer_process& operator=(const peer_process&) = delete;
    ~peer_process();

    /// In a task: reads standard output on the default executor until a line holds
    /// `marker` (returned without the newline); "" after 5 s or at EOF.
    std::string wait_for_line(const std::string& marker);
    /// What it wrote on standard error so far.
    [[nodiscard]] std::string err() const;

private:
    std::string err_file_;
    int pid_ = -1;
    int out_ = -1;
};

/// The port at the end of "ACCEPT 127.0.0.1:41235" (s_server) or of a bare number; 0 if none.
unsigned short port_in(const std::string& line);

}  // namespace aio::test
