// Every signal handler of aio but the stack-overflow one (overflow.cpp), and the one path by
// which a signal reaches a loop.
//
//   a signal arrives (any thread)           the loop thread
//   ------------------------------          ------------------------------------------
//   on_signal(sig)                          run_once() phase 2: drain_threadsafe()
//     lock the process list (spin)            take_signals(): pending.exchange(0)
//     for each loop that wants sig:             SIGINT + Ctrl-C mode: cancel main
//       pending |= bit                          otherwise: schedule the loop's handler
//       wake flag = true                          as a callback
//       raw write(2) to its eventfd
//     unlock
//
// The handler only touches atomics and makes one system call per loop, issued directly
// (raw_syscall.hpp): no C library call debug mode could interpose, no allocation, no lazy
// static. The process list is a singly linked list of loop_signals under a spin lock. The
// threads that change it (loops starting to handle a signal, stopping, closing) block every
// signal while they hold the lock, so a handler can never spin on a lock its own thread holds;
// and a loop leaves the list before it closes its eventfd and frees its state, so a signal
// that arrives on another thread during the teardown finds either the whole loop or nothing
// (libuv's lock-and-block approach in src/unix/signal.c).
//
// Stack sampling for debug mode (sample_thread) uses SIGURG sent with sigqueue(2) to one
// thread; the request names a static slot and its generation, so an answer that comes after
// the sampler gave up is recognized and dropped.
#include "signals.hpp"

#include "loop_core.hpp"
#include "raw_syscall.hpp"

#include <aio/detail/thread_sample.hpp>
#include <aio/errors.hpp>
#include <aio/signals.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include <execinfo.h>
#include <pthread.h>
#include <unistd.h>

namespace aio::detail {

namespace {

constexpr std::uint64_t bit_of(int sig) noexcept {
    return std::uint64_t{1} << (sig - 1);
}

// ---------------------------------------------------------------------------------------
// The process-wide list of loops that handle signals.

struct process_signals {
    std::mutex change;              // serializes the threads that change dispositions or the list
    std::atomic<bool> spin{false};  // the list's lock, also taken by the signal handler
    loop_signals* head = nullptr;
    int users[max_signal + 1] = {};  // loops handling each signal
    struct sigaction previous[max_signal + 1] = {};
};

constinit process_signals table;

void lock_list() noexcept {
    while (table.spin.exchange(true, std::memory_order_acquire)) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
    }
}

void unlock_list() noexcept {
    table.spin.store(false, std::memory_order_release);
}

// Holds the list's lock with every signal blocked on this thread (see the top of the file).
class list_lock {
public:
    list_lock() noexcept {
        sigset_t all;
        sigfillset(&all);
        ::pthread_sigmask(SIG_BLOCK, &all, &saved_);
        lock_list();
    }
    ~list_lock() {
        unlock_list();
        ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
    }
    list_lock(const list_lock&) = delete;
    list_lock& operator=(const list_lock&) = delete;

private:
    sigset_t saved_;
};

void on_signal(int sig) noexcept {
    const int saved_errno = errno;
    bool escalate = false;
    const std::uint64_t bit = bit_of(sig);
    lock_list();
    for (loop_signals* s = table.head; s != nullptr; s = s->next) {
        if ((s->wanted.load(std::memory_order_relaxed) & bit) == 0) {
            continue;
        }
        if (sig == SIGINT && s->ctrl_c.load(std::memory_order_relaxed) &&
            s->sigint_hits.fetch_add(1, std::memory_order_relaxed) >= 1) {
            escalate = true;  // a second Ctrl-C: the program ends now
        }
        s->pending.fetch_or(bit, std::memory_order_release);
        s->wake_flag->store(true, std::memory_order_release);
        const std::uint64_t one = 1;
        (void)raw_write(s->wake_fd, &one, sizeof one);
    }
    unlock_list();
    if (escalate) {
        // End the way an unhandled SIGINT ends a program: default action, signal pending. It
        // is delivered as soon as this handler returns (SIGINT is blocked while it runs).
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        ::sigaction(SIGINT, &dfl, nullptr);
        ::raise(SIGINT);
    }
    errno = saved_errno;
}

void check_signal(int sig, const char* call) {
    const char* why = nullptr;
    if (sig < 1 || sig > max_signal) {
        throw value_error(std::string(call) + ": " + std::to_string(sig) +
                          " is not a signal number (accepted: 1 to " + std::to_string(max_signal) +
                          ", e.g. SIGINT, SIGTERM, SIGHUP, SIGUSR1)");
    }
    switch (sig) {
    case SIGKILL:
    case SIGSTOP:
        why = "cannot be caught";
        break;
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP:
    case SIGSYS:
        why = "is a fault of the thread that causes it and cannot wait for the loop";
        break;
    case SIGURG:
        why = "is reserved: aio's debug mode samples loop threads' stacks with it";
        break;
    default:
        return;
    }
    throw value_error(std::string(call) + ": signal " + std::to_string(sig) + " (" +
                      ::strsignal(sig) + ") " + why);
}

loop_signals& signals_of(loop_core& l) {
    if (!l.signals_) {
        l.signals_ = std::make_unique<loop_signals>();
        l.signals_->wake_fd = l.wake_fd_;
        l.signals_->wake_flag = &l.ts_pending_;
    }
    return *l.signals_;
}

// Starts delivering `sig` to loop `l` (installing aio's handler if no loop had it yet).
// Caller holds table.change.
void want(loop_signals& s, int sig) {
    const std::uint64_t bit = bit_of(sig);
    if ((s.wanted.load(std::memory_order_relaxed) & bit) != 0) {
        return;
    }
    if (table.users[sig] == 0) {
        struct sigaction sa {};
        sa.sa_handler = &on_signal;
        sigfillset(&sa.sa_mask);  // nothing interrupts the handler while it holds the lock
        sa.sa_flags = SA_RESTART;
        if (::sigaction(sig, &sa, &table.previous[sig]) != 0) {
            throw std::system_error(errno, std::generic_category(),
                                    "aio: sigaction(" + std::to_string(sig) + ")");
        }
    }
    ++table.users[sig];
    list_lock hold;
    s.wanted.fetch_or(bit, std::memory_order_relaxed);
    if (!s.listed) {
        s.next = table.head;
        table.head = &s;
        s.listed = true;
    }
}

// Stops delivering `sig` to the loop; the last loop restores the disposition found before.
// Caller holds table.change.
void unwant(loop_signals& s, int sig) noexcept {
    const std::uint64_t bit = bit_of(sig);
    if ((s.wanted.load(std::memory_order_relaxed) & bit) == 0) {
        return;
    }
    {
        list_lock hold;
        s.wanted.fetch_and(~bit, std::memory_order_relaxed);
    }
    if (--table.users[sig] == 0) {
        ::sigaction(sig, &table.previous[sig], nullptr);
    }
}

}  // namespace

void enable_ctrl_c(loop_core& l) {
    std::lock_guard<std::mutex> change(table.change);
    struct sigaction current {};
    ::sigaction(SIGINT, nullptr, &current);
    if (current.sa_handler != SIG_DFL || table.users[SIGINT] != 0) {
        return;  // the program handles SIGINT itself (or another loop does)
    }
    loop_signals& s = signals_of(l);
    s.ctrl_c_requested = true;
    s.sigint_hits.store(0);
    s.ctrl_c.store(true);
    want(s, SIGINT);
}

void take_signals(loop_core& l) noexcept {
    loop_signals* s = l.signals_.get();
    if (s == nullptr) {
        return;
    }
    std::uint64_t arrived = s->pending.exchange(0, std::memory_order_acquire);
    while (arrived != 0) {
        const int sig = __builtin_ctzll(arrived) + 1;
        arrived &= arrived - 1;
        if (sig == SIGINT && s->ctrl_c.load(std::memory_order_relaxed)) {
            if (!l.interrupted_) {
                l.interrupted_ = true;
                if (l.main_ != nullptr) {
                    detail::cancel(*l.main_, "interrupted by SIGINT (Ctrl-C)");
                }
            }
            continue;
        }
        if (auto fn = s->handlers[sig - 1]) {
            try {
                l.schedule_callback([fn] { (*fn)(); }, nullptr);
            } catch (...) {
                l.report({"Exception while scheduling the handler of signal " + std::to_string(sig),
                          std::current_exception(),
                          {}});
            }
        }
    }
}

bool aio_handles(int sig) noexcept {
    std::lock_guard<std::mutex> change(table.change);
    return sig >= 1 && sig <= max_signal && table.users[sig] > 0;
}

void detach_signals(loop_core& l) noexcept {
    loop_signals* s = l.signals_.get();
    if (s == nullptr) {
        return;
    }
    std::lock_guard<std::mutex> change(table.change);
    for (int sig = 1; sig <= max_signal; ++sig) {
        unwant(*s, sig);
    }
    if (s->listed) {
        list_lock hold;
        for (loop_signals** p = &table.head; *p != nullptr; p = &(*p)->next) {
            if (*p == s) {
                *p = s->next;
                break;
            }
        }
        s->listed = false;
    }
}

// ---------------------------------------------------------------------------------------
// Stack samples for debug mode's stall detector.

namespace {

// A request slot: `word` holds the generation (high 32 bits) and the state (low 8 bits).
enum : std::uint64_t { slot_free = 0, slot_armed = 1, slot_taken = 2, slot_done = 3 };
struct sample_slot {
    std::atomic<std::uint64_t> word{0};
    thread_sample data;
};
constexpr int sample_slots = 16;
constinit sample_slot slots[sample_slots];

constexpr std::uint64_t make_word(std::uint64_t generation, std::uint64_t state) noexcept {
    return (generation << 32) | state;
}

// Writes "task-<id>" without the C library.
void default_name(char* out, std::size_t size, std::uint64_t id) noexcept {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + id % 10);
        id /= 10;
    } while (id != 0 && n < 24);
    const char prefix[] = "task-";
    std::size_t i = 0;
    for (char c : prefix) {
        if (c != '\0' && i + 1 < size) {
            out[i++] = c;
        }
    }
    while (n > 0 && i + 1 < size) {
        out[i++] = digits[--n];
    }
    out[i] = '\0';
}

void on_sample(int, siginfo_t* info, void*) noexcept {
    if (info == nullptr || info->si_code != SI_QUEUE || info->si_pid != ::getpid()) {
        return;  // not ours (e.g. out-of-band data on a socket)
    }
    const int saved_errno = errno;
    const auto v = reinterpret_cast<std::uintptr_t>(info->si_value.sival_ptr);
    const std::size_t index = v & 0xff;
    const std::uint64_t generation = v >> 8;
    if (index < sample_slots) {
        sample_slot& slot = slots[index];
        std::uint64_t expected = make_word(generation, slot_armed);
        if (slot.word.compare_exchange_strong(expected, make_word(generation, slot_taken),
                                              std::memory_order_acquire)) {
            thread_sample& d = slot.data;
            d.frame_count = ::backtrace(d.frames, thread_sample::max_frames);
            d.task_id = 0;
            d.task_name[0] = '\0';
            if (task_base* t = current_task_or_null()) {
                d.task_id = t->id_;
                if (!t->name_.empty()) {
                    std::size_t len = std::min(t->name_.size(), sizeof d.task_name - 1);
                    std::memcpy(d.task_name, t->name_.data(), len);
                    d.task_name[len] = '\0';
                } else {
                    default_name(d.task_name, sizeof d.task_name, t->id_);
                }
            }
            slot.word.store(make_word(generation, slot_done), std::memory_order_release);
        }
    }
    errno = saved_errno;
}

// SIGURG's handler is installed once, and only if the program has none of its own.
bool install_sampler() noexcept {
    static std::once_flag once;
    static bool usable = false;
    std::call_once(once, [] {
        struct sigaction current {};
        ::sigaction(SIGURG, nullptr, &current);
        if ((current.sa_flags & SA_SIGINFO) == 0 &&
            (current.sa_handler == SIG_DFL || current.sa_handler == SIG_IGN)) {
            // backtrace() loads the unwinder on its first call; do that here, not in the
            // handler.
            void* warm[2];
            (void)::backtrace(warm, 2);
            struct sigaction sa {};
            sa.sa_sigaction = &on_sample;
            sigemptyset(&sa.sa_mask);
            sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
            usable = ::sigaction(SIGURG, &sa, nullptr) == 0;
        }
    });
    return usable;
}

}  // namespace

bool sample_thread(pthread_t thread, thread_sample& out,
                   std::chrono::nanoseconds timeout) noexcept {
    if (!install_sampler()) {
        return false;
    }
    // Take a free slot and arm it with a new generation.
    int index = -1;
    std::uint64_t generation = 0;
    for (int i = 0; i < sample_slots && index < 0; ++i) {
        std::uint64_t w = slots[i].word.load(std::memory_order_relaxed);
        if ((w & 0xff) != slot_free) {
            continue;
        }
        const std::uint64_t next = ((w >> 32) + 1) & 0xffffff;
        if (slots[i].word.compare_exchange_strong(w, make_word(next, slot_armed),
                                                  std::memory_order_acq_rel)) {
            index = i;
            generation = next;
        }
    }
    if (index < 0) {
        return false;  // every slot busy: skip this sample
    }
    sample_slot& slot = slots[index];
    union sigval value {};
    value.sival_ptr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(generation << 8) |
                                              static_cast<std::uintptr_t>(index));
    if (::pthread_sigqueue(thread, SIGURG, value) != 0) {
        slot.word.store(make_word(generation, slot_free), std::memory_order_release);
        return false;
    }
    const auto give_up = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const std::uint64_t w = slot.word.load(std::memory_order_acquire);
        if ((w & 0xff) == slot_done) {
            out = slot.data;
            slot.word.store(make_word(generation, slot_free), std::memory_order_release);
            return true;
        }
        if (std::chrono::steady_clock::now() >= give_up) {
            std::uint64_t armed = make_word(generation, slot_armed);
            if (slot.word.compare_exchange_strong(armed, make_word(generation, slot_free),
                                                  std::memory_order_acq_rel)) {
                return false;  // a late answer finds the slot free and is dropped
            }
            // The handler is writing right now: wait for it (a few microseconds).
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

}  // namespace aio::detail

// ---------------------------------------------------------------------------------------
// Public API

namespace aio {

void add_signal_handler(int sig, std::function<void()> fn) {
    detail::check_signal(sig, "aio::add_signal_handler");
    detail::loop_core& l = detail::require_loop("aio::add_signal_handler()");
    if (!fn) {
        throw value_error("aio::add_signal_handler: the handler is empty");
    }
    auto shared = std::make_shared<std::function<void()>>(std::move(fn));
    std::lock_guard<std::mutex> change(detail::table.change);
    detail::loop_signals& s = detail::signals_of(l);
    detail::want(s, sig);  // first: it may throw (sigaction), then nothing is changed
    if (!s.handlers[sig - 1]) {
        ++s.handler_count;
    }
    s.handlers[sig - 1] = std::move(shared);
    if (sig == SIGINT) {
        s.ctrl_c.store(false);  // the program's handler replaces aio::run's Ctrl-C
    }
}

bool remove_signal_handler(int sig) {
    detail::check_signal(sig, "aio::remove_signal_handler");
    detail::loop_core& l = detail::require_loop("aio::remove_signal_handler()");
    detail::loop_signals* s = l.signals_.get();
    if (s == nullptr || !s->handlers[sig - 1]) {
        return false;
    }
    std::lock_guard<std::mutex> change(detail::table.change);
    s->handlers[sig - 1] = nullptr;
    --s->handler_count;
    if (sig == SIGINT && s->ctrl_c_requested) {
        s->sigint_hits.store(0);
        s->ctrl_c.store(true);  // back to aio::run's Ctrl-C handling
        return true;
    }
    detail::unwant(*s, sig);
    return true;
}

}  // namespace aio
