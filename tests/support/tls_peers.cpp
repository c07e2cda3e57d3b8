#include "tls_peers.hpp"

#include <aio/executor.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX gives no header

namespace aio::test {

namespace {

constexpr const char* openssl = "/usr/bin/openssl";

// The CA's configuration for `openssl ca`, the one command of OpenSSL 3.0 that sets
// arbitrary validity dates (the expired certificate); every leaf is signed with it.
const char* const ca_config = "[ca]\n"
                              "default_ca = test_ca\n"
                              "[test_ca]\n"
                              "database = index.txt\n"
                              "new_certs_dir = .\n"
                              "serial = serial\n"
                              "default_md = sha256\n"
                              "policy = any\n"
                              "copy_extensions = copy\n"
                              "unique_subject = no\n"
                              "[any]\n"
                              "commonName = supplied\n";

// Run by /bin/sh in the directory, after ca.cnf is written.
const char* const script = R"SH(set -e
: > index.txt
echo 01 > serial
key="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
openssl req -x509 $key -keyout ca.key -out ca.pem -subj /CN=aio-test-CA -days 3 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
leaf() {  # name subject san [ca options...]
    name=$1; subject=$2; san=$3; shift 3
    openssl req -new $key -keyout $name.key -out $name.csr -subj "$subject" \
        ${san:+-addext subjectAltName=$san}
    openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in $name.csr \
        -out $name.pem -notext "$@"
}
leaf server /CN=localhost DNS:localhost,IP:127.0.0.1 -days 2
leaf expired /CN=localhost DNS:localhost,IP:127.0.0.1 \
    -startdate 20200101000000Z -enddate 20200201000000Z
leaf wrong_host /CN=wrong.example DNS:wrong.example -days 2
leaf client /CN=aio-test-client "" -days 2
openssl req -x509 $key -keyout self_signed.key -out self_signed.pem -subj /CN=localhost \
    -days 2 -addext subjectAltName=DNS:localhost,IP:127.0.0.1
)SH";

struct made {
    test_certificates certs;
    bool ok = false;
    made() = default;
    made(made&& o) noexcept
        : certs(std::move(o.certs))
        , ok(o.ok) {
        o.certs.dir.clear();
    }
    made(const made&) = delete;
    made& operator=(const made&) = delete;
    made& operator=(made&&) = delete;
    ~made() {
        if (!certs.dir.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(certs.dir, ec);
        }
    }
};

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace

bool have_program(const char* path) {
    return ::access(path, X_OK) == 0;
}

const test_certificates* certificates() {
    static made m = [] {
        made r;
        if (!have_program(openssl)) {
            return r;
        }
        char tmpl[] = "/tmp/aio-tls-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) {
            return r;
        }
        r.certs.dir = tmpl;
        std::string d = r.certs.dir + "/";
        std::ofstream(d + "ca.cnf") << ca_config;
        std::ofstream(d + "make.sh") << script;
        std::string cmd = "cd " + r.certs.dir + " && PATH=/usr/bin:/bin /bin/sh make.sh >log 2>&1";
        if (std::system(cmd.c_str()) != 0) {  // NOLINT(cert-env33-c): a fixed command
            return r;
        }
        auto& c = r.certs;
        c.ca = d + "ca.pem";
        for (auto [pem, key, name] : {std::tuple{&c.server, &c.server_key, "server"},
                                      std::tuple{&c.expired, &c.expired_key, "expired"},
                                      std::tuple{&c.wrong_host, &c.wrong_host_key, "wrong_host"},
                                      std::tuple{&c.self_signed, &c.self_signed_key, "self_signed"},
                                      std::tuple{&c.client, &c.client_key, "client"}}) {
            *pem = d + name + ".pem";
            *key = d + name + ".key";
        }
        r.ok = true;
        return r;
    }();
    return m.ok ? &m.certs : nullptr;
}

peer_process::peer_process(std::vector<std::string> argv) {
    static std::atomic<int> n{0};
    err_file_ = "/tmp/aio-peer-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    std::vector<char*> args;
    for (auto& a : argv) {
        args.push_back(a.data());
    }
    args.push_back(nullptr);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe2 failed");
    }
    posix_spawn_file_actions_t fa;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    ::posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_file_.c_str(),
                                       O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
    ::posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    out_ = fds[0];
    if (rc != 0) {
        ::close(out_);
        out_ = -1;
        throw std::runtime_error("cannot start " + argv[0]);
    }
    pid_ = pid;
}

peer_process::~peer_process() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int st = 0;
        while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
        }
    }
    if (out_ >= 0) {
        ::close(out_);
    }
    ::unlink(err_file_.c_str());
}

std::string peer_process::wait_for_line(const std::string& marker) {
    int fd = out_;
    return aio::to_thread([fd, marker] {
        using namespace std::chrono;
        std::string line;
        auto deadline = steady_clock::now() + seconds(5);
        for (;;) {
            auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
            if (left <= 0) {
                return std::string();
            }
            pollfd p{fd, POLLIN, 0};
            int n = ::poll(&p, 1, static_cast<int>(left));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                return std::string();
            }
            char c = 0;
            if (::read(fd, &c, 1) <= 0) {
                return std::string();
            }
            if (c != '\n') {
                line += c;
                continue;
            }
            if (line.find(marker) != std::string::npos) {
                return line;
            }
            line.clear();
        }
    });
}

std::string peer_process::err() const {
    return slurp(err_file_);
}

unsigned short port_in(const std::string& line) {
    std::size_t at = line.find_last_of(": ");
    std::string digits = at == std::string::npos ? line : line.substr(at + 1);
    try {
        int p = std::stoi(digits);
        return (p > 0 && p < 65536) ? static_cast<unsigned short>(p) : 0;
    } catch (const std::exception&) {
        return 0;
    }
}

}  // namespace aio::test
