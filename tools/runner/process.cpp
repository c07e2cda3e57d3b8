// Building lessons (cmake --build on the runner's own build tree) and running one lesson
// program with a time limit, its output captured (and echoed live when asked).
#include "paths.hpp"
#include "runner.hpp"

#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

extern char** environ;

namespace lessons {

namespace {

// The process group of the lesson running now, so that Ctrl-C in the runner ends it too
// (it runs in its own group so that the time limit can kill it and its children at once).
std::atomic<pid_t> running_group{0};

void on_interrupt(int sig) {
    pid_t g = running_group.load();
    if (g > 0) {
        ::kill(-g, SIGKILL);
    }
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

bool executable(const fs::path& p) {
    return ::access(p.c_str(), X_OK) == 0;
}

// Runs argv with stdout+stderr merged into one string. Returns the exit status (-1 if it
// could not start).
int capture(const std::vector<std::string>& argv, std::string& output) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return -1;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        ::dup2(fds[1], 1);
        ::dup2(fds[1], 2);
        std::vector<char*> args;
        for (const auto& a : argv) {
            args.push_back(const_cast<char*>(a.c_str()));
        }
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
        ::_exit(127);
    }
    ::close(fds[1]);
    std::array<char, 4096> buf{};
    ssize_t n;
    while ((n = ::read(fds[0], buf.data(), buf.size())) > 0 || (n < 0 && errno == EINTR)) {
        if (n > 0) {
            output.append(buf.data(), static_cast<std::size_t>(n));
        }
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// How long `aio pstree` may take on a hung program before the runner gives up on it.
constexpr std::chrono::seconds inspect_bound{5};

// Runs `aio pstree PID` on the hung program `pid` (still running) with stdout and stderr
// merged, for at most inspect_bound. Fills res.tasks with what it printed, or res.tasks_error
// with one line saying why there is nothing to show.
void inspect_hung(pid_t pid, run_result& res) {
    fs::path tool = inspect_tool();
    if (!executable(tool)) {
        res.tasks_error =
            "the aio tool is not built (" + tool.string() + "), so its tasks cannot be shown";
        return;
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        res.tasks_error = std::string("aio pstree could not start: pipe: ") + std::strerror(errno);
        return;
    }
    std::string prog = tool.string();
    std::string target = std::to_string(pid);
    pid_t child = ::fork();
    if (child < 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        res.tasks_error = std::string("aio pstree could not start: fork: ") + std::strerror(errno);
        return;
    }
    if (child == 0) {
        ::dup2(fds[1], 1);
        ::dup2(fds[1], 2);
        char pstree[] = "pstree";
        char* argv[] = {prog.data(), pstree, target.data(), nullptr};
        ::execv(argv[0], argv);
        std::fprintf(stderr, "cannot run %s: %s\n", argv[0], std::strerror(errno));
        ::_exit(127);
    }
    ::close(fds[1]);
    auto deadline = std::chrono::steady_clock::now() + inspect_bound;
    std::string out;
    bool too_slow = false;
    std::array<char, 4096> buf{};
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) {
            too_slow = true;
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(left));
        if (n < 0 && errno != EINTR) {
            break;
        }
        if (n <= 0) {
            continue;
        }
        ssize_t got = ::read(fds[0], buf.data(), buf.size());
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            break;
        }
        out.append(buf.data(), static_cast<std::size_t>(got));
    }
    ::close(fds[0]);
    if (too_slow) {
        // A tracer that dies detaches from its tracee; the program is killed next anyway.
        ::kill(child, SIGKILL);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (too_slow) {
        res.tasks_error = "aio pstree gave up: it took longer than " +
                          std::to_string(inspect_bound.count()) + " s";
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        // Its first line says why (no permission, not an aio program, version mismatch...).
        std::string first = out.substr(0, out.find('\n'));
        res.tasks_error = "aio pstree failed (" +
                          (WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                                             : "signal " + std::to_string(WTERMSIG(status))) +
                          (first.empty() ? ")" : "): " + first);
    } else if (out.empty()) {
        res.tasks_error = "aio pstree printed nothing";
    } else {
        res.tasks = std::move(out);
    }
}

}  // namespace

std::string self_command() {
    const char* via = std::getenv("AIO_LESSONS_COMMAND");
    return via != nullptr && *via != '\0' ? via : "tools/lessons";
}

fs::path build_dir() {
    const char* dir = std::getenv("AIO_LESSONS_BUILD_DIR");
    return dir != nullptr && *dir != '\0' ? dir : paths::binary_dir;
}

std::chrono::milliseconds time_limit_of(const lesson& l) {
    const char* env = std::getenv("AIO_LESSONS_TIME_LIMIT");
    if (env != nullptr && *env != '\0') {
        char* end = nullptr;
        double seconds = std::strtod(env, &end);
        if (end != env && *end == '\0' && seconds > 0) {
            return std::chrono::milliseconds(static_cast<long>(seconds * 1000));
        }
    }
    return l.time_limit;
}

fs::path inspect_tool() {
    return build_dir() / "tools" / "inspect" / "aio";
}

fs::path program_path(const lesson& l, const std::string& kind) {
    return build_dir() / "lessons" / l.name / kind;
}

std::string target_name(const lesson& l, const std::string& kind) {
    return "lesson_" + l.number() + "_" + kind;
}

void point_workspace_stub(const lesson& l, const fs::path& copy) {
    fs::path stub = build_dir() / "lessons" / l.name / "workspace.cpp";
    std::string want = "#include \"" + fs::absolute(copy).lexically_normal().string() + "\"\n";
    std::string have;
    if (std::ifstream in(stub); in) {
        std::ostringstream s;
        s << in.rdbuf();
        have = s.str();
    }
    if (have != want) {
        fs::create_directories(stub.parent_path());
        std::ofstream(stub) << want;
    }
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

namespace {
fs::path built_copy_of(const lesson& l) {
    return build_dir() / "lessons" / l.name / "workspace.built.cpp";
}
}  // namespace

bool workspace_program_stale(const lesson& l, const fs::path& copy) {
    fs::path built = built_copy_of(l);
    if (!fs::exists(built) || read_file(built) == read_file(copy)) {
        return false;
    }
    std::error_code ec;
    fs::last_write_time(build_dir() / "lessons" / l.name / "workspace.cpp",
                        fs::file_time_type::clock::now(), ec);
    return true;
}

void remember_workspace_build(const lesson& l, const std::string& content) {
    fs::path built = built_copy_of(l);
    fs::create_directories(built.parent_path());
    std::ofstream(built, std::ios::binary | std::ios::trunc) << content;
}

std::string build_targets(const std::vector<std::string>& targets) {
    if (!executable(paths::cxx)) {
        throw user_error(std::string("no C++ compiler: this build was configured with ") +
                         paths::cxx +
                         ", which is missing or not executable. Install one (tools/setup "
                         "installs build-essential), then run " +
                         self_command() + " again");
    }
    if (!executable(paths::cmake)) {
        throw user_error(std::string("CMake is missing: ") + paths::cmake +
                         " (tools/setup installs it)");
    }
    fs::path dir = build_dir();
    if (!fs::exists(dir / "build.ninja") && !fs::exists(dir / "Makefile")) {
        throw user_error(
            "the build tree " + dir.string() +
            " is not configured; run tools/lessons (it configures and builds the lessons)");
    }
    std::vector<std::string> argv = {paths::cmake, "--build", dir.string(), "--target"};
    argv.insert(argv.end(), targets.begin(), targets.end());
    std::string output;
    int status = capture(argv, output);
    if (status != 0) {
        throw user_error("the build failed (" +
                         (status < 0 ? std::string("cmake could not start")
                                     : "status " + std::to_string(status)) +
                         "); the compiler said:\n" + output);
    }
    if (output.find("warning:") == std::string::npos) {
        return {};
    }
    // The compiler's words only: Ninja's progress lines ("[1/2] Building CXX object ...") take
    // room on the participant's screen and say nothing about the code.
    std::istringstream in(output);
    std::string warnings;
    for (std::string line; std::getline(in, line);) {
        std::size_t slash = line.find('/');
        std::size_t close = line.find("] ");
        bool progress = line.size() > 1 && line[0] == '[' && slash != std::string::npos &&
                        close != std::string::npos && slash < close &&
                        line.find_first_not_of("0123456789", 1) == slash &&
                        line.find_first_not_of("0123456789", slash + 1) == close;
        if (!progress) {
            warnings += line + "\n";
        }
    }
    return warnings;
}

run_result run_program(const run_request& r) {
    run_result res;
    if (!executable(r.program)) {
        res.error = r.program.string() + " does not exist or is not executable (not built?)";
        return res;
    }
    int out_pipe[2];
    int err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
        res.error = std::string("pipe: ") + std::strerror(errno);
        return res;
    }
    // The child's environment: ours, with ASYNC_DEBUG replaced or removed.
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::strncmp(*e, "ASYNC_DEBUG=", 12) != 0) {
            env.emplace_back(*e);
        }
    }
    if (r.debug) {
        env.push_back("ASYNC_DEBUG=" + *r.debug);
    }
    std::vector<char*> envp;
    for (auto& e : env) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);
    std::string prog = r.program.string();

    auto start = std::chrono::steady_clock::now();
    pid_t pid = ::fork();
    if (pid < 0) {
        res.error = std::string("fork: ") + std::strerror(errno);
        return res;
    }
    if (pid == 0) {
        ::setpgid(0, 0);
#if defined(__linux__)
        // Where Yama's ptrace_scope is 1, only an ancestor may attach to a process, and the aio
        // tool that inspects a hung lesson is the runner's child, not the lesson's ancestor:
        // let the runner and its descendants trace this program. Without Yama this fails
        // (EINVAL) and nothing needs it.
        ::prctl(PR_SET_PTRACER, static_cast<unsigned long>(::getppid()), 0, 0, 0);
#endif
        ::dup2(out_pipe[1], 1);
        ::dup2(err_pipe[1], 2);
        char* argv[] = {prog.data(), nullptr};
        ::execve(argv[0], argv, envp.data());
        std::fprintf(stderr, "cannot run %s: %s\n", argv[0], std::strerror(errno));
        ::_exit(127);
    }
    ::setpgid(pid, pid);  // also here, so the group exists before we may kill it
    running_group = pid;
    auto old_int = std::signal(SIGINT, on_interrupt);
    auto old_term = std::signal(SIGTERM, on_interrupt);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    res.started = true;

    auto deadline = start + r.time_limit;
    std::optional<std::chrono::steady_clock::time_point> hung_after;
    std::array<pollfd, 2> fds{pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    std::array<char, 8192> buf{};
    while (open_fds > 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) {
            res.timed_out = true;
            hung_after = std::chrono::steady_clock::now();
            if (r.inspect_hang) {
                inspect_hung(pid, res);
            }
            ::kill(-pid, SIGKILL);
            break;
        }
        int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long>(left, 200)));
        if (n < 0 && errno != EINTR) {
            break;
        }
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
                continue;
            }
            ssize_t got = ::read(fds[i].fd, buf.data(), buf.size());
            if (got <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
                continue;
            }
            std::string_view chunk(buf.data(), static_cast<std::size_t>(got));
            (i == 0 ? res.out : res.err).append(chunk);
            if (r.live) {
                std::FILE* to = i == 0 ? stdout : stderr;
                std::fwrite(chunk.data(), 1, chunk.size(), to);
                std::fflush(to);
            }
        }
    }
    // The program closed its output (or was killed): wait for it, still within the limit.
    int status = 0;
    for (;;) {
        pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline && !res.timed_out) {
            res.timed_out = true;  // it closed its output, but it is still running
            hung_after = std::chrono::steady_clock::now();
            if (r.inspect_hang) {
                inspect_hung(pid, res);
            }
            ::kill(-pid, SIGKILL);
        }
        ::usleep(5000);
    }
    // Children it left behind (a forked child, say) go with the group.
    ::kill(-pid, SIGKILL);
    for (auto& f : fds) {
        if (f.fd >= 0) {
            ::close(f.fd);
        }
    }
    running_group = 0;
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
    res.seconds =
        std::chrono::duration<double>(hung_after.value_or(std::chrono::steady_clock::now()) - start)
            .count();
    if (WIFEXITED(status)) {
        res.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        res.signal = WTERMSIG(status);
    }
    return res;
}

}  // namespace lessons
