// The program being inspected: a live process (stopped with ptrace for as long as it is read)
// or a core file. Reads its memory, knows its modules (libdwfl) and unwinds stacks.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <sys/types.h>

namespace aio::inspect {

/// What the user asked for cannot be done; the message says why and what to do.
class inspect_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The callee-saved registers of a suspended fiber (x86-64), enough to unwind it.
struct fiber_registers {
    std::uint64_t rip = 0, rsp = 0, rbp = 0, rbx = 0, r12 = 0, r13 = 0, r14 = 0, r15 = 0;
};

/// One frame of a stack, symbolized; inlined calls are frames of their own.
struct frame {
    std::uint64_t pc = 0;  ///< the address looked up (a return address minus one)
    std::string function;  ///< demangled, or "" when unknown
    std::string file;      ///< source file, or "" without debug info
    int line = 0;
    std::string module;    ///< the executable or library
    bool inlined = false;  ///< an inlined call inside the next frame
};

class target {
public:
    /// Stops every thread of `pid` (ptrace) until the object is destroyed. Throws
    /// inspect_error: no such process, no permission (with the reason), already traced.
    static std::unique_ptr<target> attach(pid_t pid);
    /// Opens a core file written for `program`. Throws inspect_error.
    static std::unique_ptr<target> open_core(const std::string& program, const std::string& core);

    target(const target&) = delete;
    ~target();

    /// Reads `len` bytes at `addr`; false if any byte is unreadable. Served from the copies
    /// prefetch() made when they hold the range.
    bool read(std::uint64_t addr, void* buf, std::size_t len) const;
    /// Copies [addr, addr + len) of a live process in one read, so that later reads of it
    /// (after detach() too) see the stopped program: a task object, a fiber's stack. False
    /// if unreadable (nothing is copied then).
    bool prefetch(std::uint64_t addr, std::size_t len);
    /// prefetch() of [addr, addr + len) and of the memory around it, up to `window` bytes
    /// (aligned, within the same mapping): objects allocated one after another (tasks
    /// spawned in a burst) then cost one read for many. True once the range is copied.
    bool prefetch_around(std::uint64_t addr, std::size_t len, std::size_t window);
    /// prefetch() of many ranges, in batched reads (IOV_MAX ranges per system call).
    void prefetch(const std::vector<std::pair<std::uint64_t, std::size_t>>& ranges);
    /// Reads a NUL-terminated string of at most `max` bytes; "" when unreadable.
    [[nodiscard]] std::string read_cstring(std::uint64_t addr, std::size_t max = 4096) const;

    /// The address of the symbol or section named, in any module; nullopt if none has it.
    [[nodiscard]] std::optional<std::uint64_t> find_root() const;

    /// The code addresses of a suspended fiber's frames, innermost first (at most `max`);
    /// return addresses are given minus one (the call). Reads memory: before detach().
    std::vector<std::uint64_t> fiber_pcs(const fiber_registers& regs, std::size_t max = 128);
    /// The same for thread `tid` as it is now.
    std::vector<std::uint64_t> thread_pcs(pid_t tid, std::size_t max = 128);
    /// Symbolizes one code address into its frame and the calls inlined there (innermost
    /// first). Reads only the modules' files: also after detach().
    [[nodiscard]] std::vector<frame> symbolize(std::uint64_t pc) const;
    /// Symbolizes a whole stack.
    [[nodiscard]] std::vector<frame> symbolize(const std::vector<std::uint64_t>& pcs) const;

    [[nodiscard]] bool is_core() const noexcept { return core_fd_ >= 0; }
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    /// The program's name (comm) or the core's program path.
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    /// How long the threads were stopped by attach(), up to now (0 for a core).
    [[nodiscard]] std::chrono::microseconds paused() const noexcept;
    /// Resumes a live process now (the destructor does it otherwise). Idempotent.
    void detach() noexcept;

private:
    target() = default;
    void report_modules();
    bool read_core(std::uint64_t addr, void* buf, std::size_t len) const;
    bool read_module_file(std::uint64_t addr, void* buf, std::size_t len) const;
    std::vector<Dwarf_Die> code_scopes(Dwarf_Die* cu, Dwarf_Addr pc) const;

    pid_t pid_ = 0;
    std::string name_;
    std::vector<pid_t> stopped_;
    std::chrono::steady_clock::time_point stopped_at_{};
    std::chrono::steady_clock::time_point resumed_at_{};
    int mem_fd_ = -1;  // /proc/PID/mem, when process_vm_readv is not allowed
    int core_fd_ = -1;
    void* core_elf_ = nullptr;  // Elf*
    struct segment {
        std::uint64_t vaddr, filesz, offset;
    };
    std::vector<segment> core_segments_;
    Dwfl* dwfl_ = nullptr;         // modules; fibers are its "threads"
    Dwfl* thread_dwfl_ = nullptr;  // the real threads (made on first use)
    std::string core_program_;
    mutable std::map<Dwarf_Off, std::vector<Dwarf_Die>> code_index_;  // per CU: subprograms
    std::map<std::uint64_t, std::vector<char>> copies_;               // prefetch(): by start
    mutable std::map<std::uint64_t, std::string> strings_;            // read_cstring()
    mutable std::map<std::uint64_t, std::vector<frame>> symbols_;     // symbolize(pc)
    bool read_live(std::uint64_t addr, void* buf, std::size_t len) const;
    [[nodiscard]] bool copied(std::uint64_t addr, std::size_t len) const;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> mappings_;  // readable, [start, end)
    std::string read_cstring_uncached(std::uint64_t addr, std::size_t max) const;
    std::vector<frame> symbolize_uncached(std::uint64_t pc) const;

    friend struct fiber_callbacks;
};

}  // namespace aio::inspect
