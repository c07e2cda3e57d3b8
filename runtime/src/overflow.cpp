// Stack-overflow reporting. A guarded stack that overflows faults on its guard page; the
// SIGSEGV handler, running on an alternate signal stack (the fiber's own stack is exhausted),
// recognizes the running task's guard page and names the task before aborting. Canary stacks
// are checked at every switch (task.cpp) and here too. Everything in the handler is
// async-signal-safe: a raw write(2) (never the C library's, which debug mode interposes) and
// abort().
#include "loop_core.hpp"
#include "raw_syscall.hpp"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <unistd.h>

namespace aio::detail {

namespace {

void put(const char* s) noexcept {
    std::size_t n = std::strlen(s);
    while (n > 0) {
        long w = raw_write(STDERR_FILENO, s, n);
        if (w <= 0) {
            return;
        }
        s += w;
        n -= static_cast<std::size_t>(w);
    }
}

void put_number(std::uint64_t v) noexcept {
    char buf[24];
    char* p = buf + sizeof buf;
    *--p = '\0';
    do {
        *--p = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(p);
}

void put_hex(std::uintptr_t v) noexcept {
    char buf[24];
    char* p = buf + sizeof buf;
    *--p = '\0';
    do {
        *--p = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v != 0);
    put("0x");
    put(p);
}

#if !defined(AIO_SANITIZE_ADDRESS)  // ASan owns SIGSEGV in sanitizer builds

struct sigaction previous_segv {};
struct sigaction previous_bus {};
constexpr std::size_t alt_stack_size = 64 * 1024;

void on_fault(int sig, siginfo_t* info, void* uctx) noexcept {
    loop_core* l = current_loop();
    task_base* t = l != nullptr ? l->current_ : nullptr;
    if (t != nullptr && t->stack_ != nullptr) {
        if (t->stack_->in_guard(info->si_addr)) {
            report_stack_overflow(*t, "it ran into the guard page below its stack");
        }
        if (!t->stack_->canary_intact()) {
            report_stack_overflow(*t, "its stack canary was overwritten");
        }
    }
    // Not a fiber stack overflow: hand the signal to whoever had it before us.
    const struct sigaction& prev = sig == SIGSEGV ? previous_segv : previous_bus;
    if ((prev.sa_flags & SA_SIGINFO) != 0 && prev.sa_sigaction != nullptr) {
        prev.sa_sigaction(sig, info, uctx);
        return;
    }
    if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN && prev.sa_handler != nullptr) {
        prev.sa_handler(sig);
        return;
    }
    // Default action: restore it and return; the faulting instruction runs again and the
    // kernel ends the process the usual way (core dump included).
    ::signal(sig, SIG_DFL);
}

void install_alt_stack() noexcept {
    thread_local bool done = false;
    if (done) {
        return;
    }
    done = true;
    stack_t current{};
    if (::sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_DISABLE) == 0) {
        return;  // the thread already has one
    }
    // Intentionally never freed: the thread may take a signal on it until it exits.
    void* mem = std::malloc(alt_stack_size);
    if (mem == nullptr) {
        return;
    }
    stack_t ss{};
    ss.ss_sp = mem;
    ss.ss_size = alt_stack_size;
    ::sigaltstack(&ss, nullptr);
}

#endif

}  // namespace

void install_overflow_handler() noexcept {
#if defined(AIO_SANITIZE_ADDRESS)
    // AddressSanitizer owns SIGSEGV in sanitizer builds and reports overflows itself.
    return;
#else
    install_alt_stack();
    static std::mutex mutex;
    std::lock_guard<std::mutex> lock(mutex);
    struct sigaction current {};
    ::sigaction(SIGSEGV, nullptr, &current);
    if ((current.sa_flags & SA_SIGINFO) != 0 && current.sa_sigaction == &on_fault) {
        return;  // ours already (installed by an earlier loop)
    }
    struct sigaction sa {};
    sa.sa_sigaction = &on_fault;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    ::sigaction(SIGSEGV, &sa, &previous_segv);
    ::sigaction(SIGBUS, &sa, &previous_bus);
#endif
}

namespace {
std::atomic<crash_site_resolver> the_crash_site_resolver{nullptr};
}  // namespace

void set_crash_site_resolver(crash_site_resolver resolver) noexcept {
    the_crash_site_resolver.store(resolver);
}

void report_stack_overflow(const task_base& t, const char* how) noexcept {
    put("aio: stack overflow in task '");
    if (!t.name_.empty()) {
        put(t.name_.c_str());
    } else {
        put("task-");
        put_number(t.id_);
    }
    put("' (id ");
    put_number(t.id_);
    put("): ");
    put(how);
    put(".\n  Its stack is ");
    put_number(t.stack_size_ / 1024);
    put(" KiB.");
    const char* file = t.site_.file;
    std::uint32_t line = t.site_.line;
    if (file == nullptr && t.site_.caller != nullptr) {
        // Debug mode resolves sites on a thread of its own; one it has not got to yet is
        // resolved now. Not async-signal-safe, but the process is about to abort anyway and
        // the thread that faulted runs nothing else.
        if (crash_site_resolver resolve = the_crash_site_resolver.load()) {
            if (!resolve(t.site_.caller, &file, &line)) {
                file = nullptr;
            }
        }
    }
    if (file != nullptr) {
        put(" It was created at ");
        put(file);
        put(":");
        put_number(line);
        put(".");
    } else if (t.site_.caller != nullptr) {
        put(" It was created by the code at ");
        put_hex(reinterpret_cast<std::uintptr_t>(t.site_.caller));
        put(" (run with ASYNC_DEBUG=1 for file:line).");
    }
    put("\n  Fix: avoid deep recursion and large arrays on a task's stack, or give the task a "
        "bigger stack:\n  aio::create_task(aio::task_options{.stack_size = 1 << 20}, fn) or "
        "aio::run_options::stack_size.\n");
    std::abort();
}

}  // namespace aio::detail
