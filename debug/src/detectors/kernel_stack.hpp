// The stack of a thread blocked in the kernel, taken without interrupting it (stall.cpp).
#pragma once

#include "../stacks.hpp"

#include <cstdint>
#include <string>

#include <sys/types.h>

namespace aio::debug {

/// What a thread blocked in a system call was doing, as seen from another thread.
struct kernel_sample {
    long syscall = -1;  ///< the system call's number (-1: blocked in the kernel, not in one)
    raw_stack stack;    ///< its program counter, then the return addresses found on its stack
};

/// If thread `tid` of this process is blocked in the kernel right now, fills `out` without a
/// signal and returns true: its stack pointer and program counter come from
/// /proc/self/task/<tid>/syscall, and its stack (this process's own memory) is scanned from
/// the stack pointer up for return addresses: words that point into executable code just
/// after a call instruction. Returns false when the thread runs user code (or the file cannot
/// be read, or the thread left the kernel while its stack was read): sample it with a signal
/// instead. Any thread but `tid`; never throws.
bool sample_blocked_thread(pid_t tid, kernel_sample& out) noexcept;

/// Where thread `tid` of this process is, as /proc/self/task/<tid>/syscall says.
struct kernel_position {
    long syscall = -2;  ///< the system call it sleeps in; -1 off the CPU but in none; -2 running
    std::uintptr_t sp = 0;
    std::uintptr_t pc = 0;
};

/// Reads it. A thread that is on a CPU, in user code or in the kernel, reads as running (-2);
/// so does one whose file cannot be read. Any thread; never throws.
kernel_position kernel_position_of(pid_t tid) noexcept;

/// "futex", "read", "nanosleep", ... for x86-64 system call numbers; "syscall <n>" otherwise.
std::string syscall_name(long number);

}  // namespace aio::debug
