// Raw keys for watch, and the terminal put back on every way out. The saved settings live in
// globals because the signal handlers need them: a handler may only call async-signal-safe
// functions, and tcsetattr, signal and raise are.
#include "terminal.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>

#include <poll.h>
#include <termios.h>
#include <unistd.h>

namespace lessons {

namespace {

termios saved{};                            // the terminal as we found it
termios raw_mode{};                         // what begin_keys sets
volatile std::sig_atomic_t raw_active = 0;  // raw mode is on now
constexpr int ending_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
struct sigaction previous[4]{};
struct sigaction previous_cont {};

void restore_and_die(int sig) {
    if (raw_active != 0) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        raw_active = 0;
    }
    // The signal's own default: the process ends as it would have without us, and the shell
    // sees which signal it was.
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

void reapply_raw(int) {
    if (raw_active != 0) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &raw_mode);
    }
}

}  // namespace

key_input::key_input()
    : tty_(::isatty(STDIN_FILENO) != 0) {
    if (!tty_ || ::tcgetattr(STDIN_FILENO, &saved) != 0) {
        tty_ = false;
        return;
    }
    raw_mode = saved;
    // No line buffering and no echo; ISIG stays, so Ctrl-C and Ctrl-Z keep their meaning,
    // and the output flags stay, so "\n" still starts a new line.
    raw_mode.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw_mode.c_cc[VMIN] = 0;
    raw_mode.c_cc[VTIME] = 0;
    struct sigaction sa {};
    sa.sa_handler = restore_and_die;
    sigemptyset(&sa.sa_mask);
    for (std::size_t i = 0; i < std::size(ending_signals); ++i) {
        ::sigaction(ending_signals[i], &sa, &previous[i]);
    }
    sa.sa_handler = reapply_raw;
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGCONT, &sa, &previous_cont);
}

key_input::~key_input() {
    end_keys();
    if (tty_) {
        for (std::size_t i = 0; i < std::size(ending_signals); ++i) {
            ::sigaction(ending_signals[i], &previous[i], nullptr);
        }
        ::sigaction(SIGCONT, &previous_cont, nullptr);
    }
}

void key_input::begin_keys() {
    // Not on a terminal, what is read stays: "n\nq\n" in one read is two keys.
    if (!tty_ || raw_) {
        return;
    }
    pending_.clear();
    raw_active = 1;
    // TCSAFLUSH: what was typed during the run (r, q pressed while it ran) is dropped rather
    // than acted on late.
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw_mode);
    raw_ = true;
}

void key_input::end_keys() {
    if (!tty_ || !raw_) {
        return;
    }
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    raw_active = 0;
    raw_ = false;
}

char key_input::wait_key(std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        while (!pending_.empty()) {
            char c = pending_.front();
            pending_.erase(0, 1);
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
                return c;
            }
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        until - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) {
            return '\0';
        }
        if (closed_) {
            ::usleep(static_cast<useconds_t>(left) * 1000);
            return '\0';
        }
        pollfd p{STDIN_FILENO, POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(left));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return '\0';
        }
        char buf[64];
        ssize_t got = ::read(STDIN_FILENO, buf, sizeof buf);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (got <= 0) {
            // The end of a pipe or file. (A terminal in raw mode with VMIN 0 also reads 0
            // when nothing is there; poll said something is, so 0 there is a hang-up too.)
            closed_ = true;
            continue;
        }
        pending_.append(buf, static_cast<std::size_t>(got));
    }
}

void clear_screen() {
    if (::isatty(STDOUT_FILENO) != 0) {
        std::fputs("\033[H\033[2J", stdout);
        std::fflush(stdout);
    }
}

}  // namespace lessons
