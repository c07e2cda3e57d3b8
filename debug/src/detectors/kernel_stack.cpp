// Taking the stack of a thread blocked in the kernel without a signal.
//
// A signal would interrupt the system call: nanosleep, ppoll, a raw syscall(SYS_nanosleep)
// and others return EINTR (or early) whatever SA_RESTART says, so a debugging tool that
// signals a blocked thread changes what the program does. A thread blocked in the kernel
// is not running, though: /proc/self/task/<tid>/syscall gives its user stack pointer and
// program counter, and its stack is memory of this very process. The frames are found by
// scanning that memory for return addresses (as crash reporters do when they have no unwind
// information): a word that points into an executable mapping just after a call instruction.
// Only the first user frame matters for the report, and it is the nearest such word above
// the library's own small frames.
#include "kernel_stack.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

namespace aio::debug {

namespace {

struct blocked_state {
    long syscall = -1;
    std::uintptr_t sp = 0;
    std::uintptr_t pc = 0;
};

// "running", or "<nr> <6 args> <sp> <pc>", or "-1 <sp> <pc>" (in the kernel, not in a call).
bool read_blocked_state(pid_t tid, blocked_state& out) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/task/%d/syscall", static_cast<int>(tid));
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line) || line.rfind("running", 0) == 0) {
        return false;
    }
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string x; words >> x;) {
        w.push_back(x);
    }
    if (w.size() != 9 && w.size() != 3) {
        return false;
    }
    try {
        out.syscall = std::stol(w[0]);
        out.sp = static_cast<std::uintptr_t>(std::stoull(w[w.size() - 2], nullptr, 16));
        out.pc = static_cast<std::uintptr_t>(std::stoull(w[w.size() - 1], nullptr, 16));
    } catch (...) {
        return false;
    }
    return out.sp != 0 && out.pc != 0;
}

using range = std::pair<std::uintptr_t, std::uintptr_t>;

// The executable mappings of the process, sorted.
std::vector<range> executable_ranges() {
    std::vector<range> out;
    std::ifstream maps("/proc/self/maps");
    for (std::string line; std::getline(maps, line);) {
        unsigned long lo = 0;
        unsigned long hi = 0;
        char perms[5] = {};
        if (std::sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms) == 3 && perms[0] == 'r' &&
            perms[2] == 'x') {
            out.emplace_back(lo, hi);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

const range* find_range(const std::vector<range>& ranges, std::uintptr_t a) {
    auto it = std::upper_bound(ranges.begin(), ranges.end(), range{a, UINTPTR_MAX});
    if (it == ranges.begin()) {
        return nullptr;
    }
    --it;
    return a >= it->first && a < it->second ? &*it : nullptr;
}

// Length of an x86-64 `call r/m64` (FF /2) from its ModRM byte (and SIB byte when present).
std::size_t indirect_call_length(std::uint8_t modrm, std::uint8_t sib) {
    const unsigned mod = modrm >> 6;
    const unsigned rm = modrm & 7;
    std::size_t n = 2;
    if (mod != 3 && rm == 4) {
        ++n;  // SIB
    }
    if (mod == 0) {
        if (rm == 5 || (rm == 4 && (sib & 7) == 5)) {
            n += 4;
        }
    } else if (mod == 1) {
        n += 1;
    } else if (mod == 2) {
        n += 4;
    }
    return n;
}

// Whether the bytes just before `a` (inside executable range `r`) are a call instruction.
bool follows_call(std::uintptr_t a, const range& r) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(a);
    const std::size_t room = a - r.first;
    if (room >= 5 && p[-5] == 0xE8) {
        return true;  // call rel32
    }
    for (std::size_t len = 2; len <= 7 && len <= room; ++len) {
        const std::uint8_t* s = p - len;
        if (s[0] != 0xFF || ((s[1] >> 3) & 7) != 2) {
            continue;
        }
        const std::uint8_t sib = len >= 3 ? s[2] : 0;
        if (indirect_call_length(s[1], sib) == len) {
            return true;
        }
    }
    return false;
}

// Copies up to `bytes` of this process's memory from `from`, stopping at the first page that
// cannot be read (a fiber stack's guard page, the end of a thread's stack).
std::size_t read_own_memory(std::uintptr_t from, std::uint8_t* to, std::size_t bytes) {
    constexpr std::size_t page = 4096;
    std::size_t done = 0;
    while (done < bytes) {
        const std::uintptr_t at = from + done;
        const std::size_t chunk = std::min(bytes - done, page - at % page);
        iovec local{to + done, chunk};
        iovec remote{reinterpret_cast<void*>(at), chunk};
        const ssize_t n = ::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0);
        if (n <= 0) {
            break;
        }
        done += static_cast<std::size_t>(n);
        if (static_cast<std::size_t>(n) < chunk) {
            break;
        }
    }
    return done;
}

}  // namespace

kernel_position kernel_position_of(pid_t tid) noexcept {
    kernel_position out;
    try {
        blocked_state st;
        if (read_blocked_state(tid, st)) {
            out.syscall = st.syscall;
            out.sp = st.sp;
            out.pc = st.pc;
        }
    } catch (...) {
    }
    return out;
}

bool sample_blocked_thread(pid_t tid, kernel_sample& out) noexcept {
    try {
        blocked_state before;
        if (!read_blocked_state(tid, before)) {
            return false;
        }
        const std::vector<range> ranges = executable_ranges();
        constexpr std::size_t scan_bytes = 64 * 1024;
        std::vector<std::uint8_t> stack(scan_bytes);
        const std::size_t got =
            read_own_memory(before.sp & ~std::uintptr_t{7}, stack.data(), stack.size());
        raw_stack frames;
        frames.push_back(reinterpret_cast<void*>(before.pc));
        for (std::size_t off = 0; off + 8 <= got && frames.size() < 64; off += 8) {
            std::uintptr_t word = 0;
            std::memcpy(&word, stack.data() + off, sizeof word);
            const range* r = find_range(ranges, word);
            if (r != nullptr && follows_call(word, *r) &&
                reinterpret_cast<std::uintptr_t>(frames.back()) != word) {
                frames.push_back(reinterpret_cast<void*>(word));
            }
        }
        // Still the same call at the same place: the stack did not change under us.
        blocked_state after;
        if (!read_blocked_state(tid, after) || after.sp != before.sp || after.pc != before.pc) {
            return false;
        }
        out.syscall = before.syscall;
        out.stack = std::move(frames);
        return true;
    } catch (...) {
        return false;
    }
}

std::string syscall_name(long number) {
    switch (number) {
#define AIO_SYSCALL_NAME(n)                                                                        \
    case SYS_##n:                                                                                  \
        return #n;
        AIO_SYSCALL_NAME(read)
        AIO_SYSCALL_NAME(write)
        AIO_SYSCALL_NAME(readv)
        AIO_SYSCALL_NAME(writev)
        AIO_SYSCALL_NAME(pread64)
        AIO_SYSCALL_NAME(pwrite64)
        AIO_SYSCALL_NAME(openat)
        AIO_SYSCALL_NAME(close)
        AIO_SYSCALL_NAME(fsync)
        AIO_SYSCALL_NAME(fdatasync)
        AIO_SYSCALL_NAME(flock)
        AIO_SYSCALL_NAME(fcntl)
        AIO_SYSCALL_NAME(futex)
        AIO_SYSCALL_NAME(nanosleep)
        AIO_SYSCALL_NAME(clock_nanosleep)
        AIO_SYSCALL_NAME(poll)
        AIO_SYSCALL_NAME(ppoll)
        AIO_SYSCALL_NAME(select)
        AIO_SYSCALL_NAME(pselect6)
        AIO_SYSCALL_NAME(epoll_wait)
        AIO_SYSCALL_NAME(epoll_pwait)
        AIO_SYSCALL_NAME(connect)
        AIO_SYSCALL_NAME(accept)
        AIO_SYSCALL_NAME(accept4)
        AIO_SYSCALL_NAME(recvfrom)
        AIO_SYSCALL_NAME(sendto)
        AIO_SYSCALL_NAME(recvmsg)
        AIO_SYSCALL_NAME(sendmsg)
        AIO_SYSCALL_NAME(wait4)
        AIO_SYSCALL_NAME(waitid)
        AIO_SYSCALL_NAME(pause)
        AIO_SYSCALL_NAME(rt_sigtimedwait)
        AIO_SYSCALL_NAME(rt_sigsuspend)
        AIO_SYSCALL_NAME(msgrcv)
        AIO_SYSCALL_NAME(semop)
        AIO_SYSCALL_NAME(io_getevents)
        AIO_SYSCALL_NAME(io_uring_enter)
#undef AIO_SYSCALL_NAME
    default:
        return "syscall " + std::to_string(number);
    }
}

}  // namespace aio::debug
