#include "target.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include <cxxabi.h>
#include <dirent.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

namespace aio::inspect {

namespace {

std::string read_text_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
        s.pop_back();
    }
    return s;
}

std::vector<pid_t> list_threads(pid_t pid) {
    std::vector<pid_t> out;
    const std::string dir = "/proc/" + std::to_string(pid) + "/task";
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), &::closedir);
    if (!d) {
        return out;
    }
    while (dirent* e = ::readdir(d.get())) {
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9') {
            out.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
        }
    }
    return out;
}

std::string ptrace_scope() {
    std::string v = trim(read_text_file("/proc/sys/kernel/yama/ptrace_scope"));
    return v;
}

std::string permission_advice(pid_t pid) {
    std::string msg = "no permission to attach to process " + std::to_string(pid) +
                      " with ptrace. aio ps reads a process the way gdb and py-spy do: ";
    const std::string scope = ptrace_scope();
    if (!scope.empty() && scope != "0") {
        msg += "this system's Yama ptrace_scope is " + scope +
               " (/proc/sys/kernel/yama/ptrace_scope), which lets only a parent or root "
               "attach; run it as root (sudo aio ...), or allow it until the next reboot with "
               "`echo 0 | sudo tee /proc/sys/kernel/yama/ptrace_scope`";
    } else {
        msg += "run it as the process's user or as root; in a container, ptrace needs "
               "CAP_SYS_PTRACE (docker run --cap-add=SYS_PTRACE)";
    }
    return msg;
}

std::string demangle(const char* name) {
    if (name == nullptr) {
        return {};
    }
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                               &std::free);
    return status == 0 && out ? std::string(out.get()) : std::string(name);
}

std::string die_name(Dwarf_Die* die) {
    Dwarf_Attribute attr;
    for (int at : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name}) {
        if (dwarf_attr_integrate(die, at, &attr) != nullptr) {
            if (const char* s = dwarf_formstring(&attr)) {
                return demangle(s);
            }
        }
    }
    if (dwarf_attr_integrate(die, DW_AT_name, &attr) != nullptr) {
        if (const char* s = dwarf_formstring(&attr)) {
            return s;
        }
    }
    return {};
}

const Dwfl_Callbacks live_callbacks = {dwfl_linux_proc_find_elf, dwfl_standard_find_debuginfo,
                                       nullptr, nullptr};
const Dwfl_Callbacks core_callbacks = {dwfl_build_id_find_elf, dwfl_standard_find_debuginfo,
                                       nullptr, nullptr};

int frame_cb(Dwfl_Frame* state, void* arg);

struct unwind_state {
    std::vector<std::uint64_t> pcs;
    std::size_t max = 0;
    bool first_is_return_address = false;
};

int frame_cb(Dwfl_Frame* state, void* arg) {
    auto* u = static_cast<unwind_state*>(arg);
    Dwarf_Addr pc = 0;
    bool activation = false;
    if (!dwfl_frame_pc(state, &pc, &activation) || pc == 0) {
        return DWARF_CB_ABORT;
    }
    const bool first = u->pcs.empty();
    if (!activation || (first && u->first_is_return_address)) {
        pc -= 1;  // a return address: look up the call instruction
    }
    u->pcs.push_back(pc);
    return u->pcs.size() >= u->max ? DWARF_CB_ABORT : DWARF_CB_OK;
}

}  // namespace

// The fibers are the "threads" of dwfl_: one at a time, the one being unwound.
struct fiber_callbacks {
    static target* self(void* arg) { return static_cast<target*>(arg); }
    static pid_t next_thread(Dwfl*, void*, void**) { return 0; }
    static bool get_thread(Dwfl*, pid_t, void* arg, void** thread_arg) {
        *thread_arg = arg;
        return true;
    }
    static bool memory_read(Dwfl*, Dwarf_Addr addr, Dwarf_Word* result, void* arg) {
        return self(arg)->read(addr, result, sizeof *result);
    }
    static bool set_initial_registers(Dwfl_Thread* thread, void* arg);
    static const fiber_registers* pending;
};
const fiber_registers* fiber_callbacks::pending = nullptr;

bool fiber_callbacks::set_initial_registers(Dwfl_Thread* thread, void*) {
    const fiber_registers& r = *pending;
    // DWARF register numbers, x86-64: rbx 3, rbp 6, rsp 7, r12..r15 12..15.
    const Dwarf_Word rbx = r.rbx;
    const Dwarf_Word bp_sp[2] = {r.rbp, r.rsp};
    const Dwarf_Word r12_15[4] = {r.r12, r.r13, r.r14, r.r15};
    if (!dwfl_thread_state_registers(thread, 3, 1, &rbx) ||
        !dwfl_thread_state_registers(thread, 6, 2, bp_sp) ||
        !dwfl_thread_state_registers(thread, 12, 4, r12_15)) {
        return false;
    }
    dwfl_thread_state_register_pc(thread, r.rip);
    return true;
}

namespace {
const Dwfl_Thread_Callbacks fiber_thread_callbacks = {&fiber_callbacks::next_thread,
                                                      &fiber_callbacks::get_thread,
                                                      &fiber_callbacks::memory_read,
                                                      &fiber_callbacks::set_initial_registers,
                                                      nullptr,
                                                      nullptr};
}  // namespace

std::unique_ptr<target> target::attach(pid_t pid) {
    const std::string proc = "/proc/" + std::to_string(pid);
    if (pid <= 0 || ::access(proc.c_str(), F_OK) != 0) {
        throw inspect_error("no process with id " + std::to_string(pid));
    }
    std::unique_ptr<target> owned(new target());
    target& t = *owned;
    t.pid_ = pid;
    t.name_ = trim(read_text_file(proc + "/comm"));
    const std::string status = read_text_file(proc + "/status");
    if (auto at = status.find("TracerPid:"); at != std::string::npos) {
        const long tracer = std::atol(status.c_str() + at + 10);
        if (tracer != 0) {
            throw inspect_error("process " + std::to_string(pid) + " (" + t.name_ +
                                ") is already traced by process " + std::to_string(tracer) +
                                " (a debugger?); detach it first, or use the debugger's own "
                                "`aio tasks` (docs/inspect.md)");
        }
    }
    // Another user's process (without root): its memory map is as closed as ptrace is.
    if (::access((proc + "/maps").c_str(), R_OK) != 0 ||
        ::access((proc + "/mem").c_str(), R_OK) != 0) {
        throw inspect_error(permission_advice(pid));
    }
    // Its readable mappings, for prefetch_around().
    {
        std::istringstream maps(read_text_file(proc + "/maps"));
        std::string line;
        while (std::getline(maps, line)) {
            unsigned long long lo = 0, hi = 0;
            char perms[8] = {};
            if (std::sscanf(line.c_str(), "%llx-%llx %7s", &lo, &hi, perms) == 3 &&
                perms[0] == 'r') {
                t.mappings_.emplace_back(lo, hi);
            }
        }
    }
    // The modules first, while the program still runs: the pause is only the reading.
    // process_vm_readv needs the same permission ptrace had; /proc/PID/mem is the fallback.
    t.mem_fd_ = ::open((proc + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
    t.dwfl_ = dwfl_begin(&live_callbacks);
    if (t.dwfl_ == nullptr || dwfl_linux_proc_report(t.dwfl_, pid) != 0 ||
        dwfl_report_end(t.dwfl_, nullptr, nullptr) != 0) {
        throw inspect_error("cannot read the modules of process " + std::to_string(pid) + ": " +
                            dwfl_errmsg(-1));
    }
    t.report_modules();
    // Stop every thread; threads started meanwhile are caught by listing again.
    std::set<pid_t> done;
    for (int round = 0; round < 100; ++round) {
        bool fresh = false;
        for (pid_t tid : list_threads(pid)) {
            if (done.count(tid) != 0) {
                continue;
            }
            fresh = true;
            done.insert(tid);
            if (::ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) != 0) {
                const int err = errno;
                if (err == ESRCH) {
                    continue;  // the thread ended meanwhile
                }
                if (err == EPERM) {
                    throw inspect_error(permission_advice(pid));
                }
                throw inspect_error("ptrace(PTRACE_SEIZE, " + std::to_string(tid) +
                                    "): " + std::strerror(err));
            }
            if (t.stopped_.empty()) {
                t.stopped_at_ = std::chrono::steady_clock::now();
            }
            t.stopped_.push_back(tid);
            if (::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) == 0) {
                int st = 0;
                (void)::waitpid(tid, &st, __WALL);
            }
        }
        if (!fresh) {
            break;
        }
    }
    if (t.stopped_.empty()) {
        throw inspect_error("process " + std::to_string(pid) + " has no thread left to read");
    }
    return owned;
}

std::unique_ptr<target> target::open_core(const std::string& program, const std::string& core) {
    std::unique_ptr<target> owned(new target());
    target& t = *owned;
    t.name_ = program;
    t.core_program_ = program;
    if (::access(program.c_str(), R_OK) != 0) {
        throw inspect_error("cannot read the program '" + program + "': " + std::strerror(errno));
    }
    t.core_fd_ = ::open(core.c_str(), O_RDONLY | O_CLOEXEC);
    if (t.core_fd_ < 0) {
        throw inspect_error("cannot open the core file '" + core + "': " + std::strerror(errno));
    }
    elf_version(EV_CURRENT);
    Elf* e = elf_begin(t.core_fd_, ELF_C_READ_MMAP, nullptr);
    GElf_Ehdr eh;
    if (e == nullptr || gelf_getehdr(e, &eh) == nullptr || eh.e_type != ET_CORE) {
        if (e != nullptr) {
            elf_end(e);
        }
        throw inspect_error("'" + core +
                            "' is not a core file (expected an ELF core, as gcore "
                            "or the kernel write)");
    }
    t.core_elf_ = e;
    std::size_t n = 0;
    elf_getphdrnum(e, &n);
    for (std::size_t i = 0; i < n; ++i) {
        GElf_Phdr ph;
        if (gelf_getphdr(e, static_cast<int>(i), &ph) != nullptr && ph.p_type == PT_LOAD &&
            ph.p_filesz > 0) {
            t.core_segments_.push_back({ph.p_vaddr, ph.p_filesz, ph.p_offset});
        }
    }
    t.dwfl_ = dwfl_begin(&core_callbacks);
    if (t.dwfl_ == nullptr || dwfl_core_file_report(t.dwfl_, e, program.c_str()) < 0 ||
        dwfl_report_end(t.dwfl_, nullptr, nullptr) != 0) {
        throw inspect_error("cannot read the modules of the core file '" + core +
                            "': " + dwfl_errmsg(-1));
    }
    t.pid_ = 1;
    t.report_modules();
    return owned;
}

void target::report_modules() {
    // Load each module's ELF and call frame information now (a live program still runs).
    dwfl_getmodules(
        dwfl_,
        [](Dwfl_Module* mod, void**, const char*, Dwarf_Addr, void*) -> int {
            Dwarf_Addr bias = 0;
            (void)dwfl_module_getelf(mod, &bias);
            (void)dwfl_module_eh_cfi(mod, &bias);
            (void)dwfl_module_dwarf_cfi(mod, &bias);
            return DWARF_CB_OK;
        },
        nullptr, 0);
    // The fibers' unwinder: dwfl_ gets our thread callbacks (one fiber at a time).
    if (!dwfl_attach_state(dwfl_, nullptr, pid_ > 0 ? pid_ : 1, &fiber_thread_callbacks, this)) {
        throw inspect_error(std::string("cannot set up the unwinder: ") + dwfl_errmsg(-1));
    }
}

target::~target() {
    detach();
    if (thread_dwfl_ != nullptr) {
        dwfl_end(thread_dwfl_);
    }
    if (dwfl_ != nullptr) {
        dwfl_end(dwfl_);
    }
    if (core_elf_ != nullptr) {
        elf_end(static_cast<Elf*>(core_elf_));
    }
    if (core_fd_ >= 0) {
        ::close(core_fd_);
    }
    if (mem_fd_ >= 0) {
        ::close(mem_fd_);
    }
}

void target::detach() noexcept {
    if (stopped_.empty()) {
        return;
    }
    if (thread_dwfl_ != nullptr) {
        dwfl_end(thread_dwfl_);  // it holds the threads too (assumed stopped)
        thread_dwfl_ = nullptr;
    }
    for (pid_t tid : stopped_) {
        (void)::ptrace(PTRACE_DETACH, tid, nullptr, nullptr);
    }
    stopped_.clear();
    resumed_at_ = std::chrono::steady_clock::now();
}

std::chrono::microseconds target::paused() const noexcept {
    if (stopped_at_ == std::chrono::steady_clock::time_point{}) {
        return std::chrono::microseconds(0);
    }
    auto end = stopped_.empty() ? resumed_at_ : std::chrono::steady_clock::now();
    return std::chrono::duration_cast<std::chrono::microseconds>(end - stopped_at_);
}

bool target::copied(std::uint64_t addr, std::size_t len) const {
    auto it = copies_.upper_bound(addr);
    if (it == copies_.begin()) {
        return false;
    }
    --it;
    return addr >= it->first && addr + len <= it->first + it->second.size();
}

bool target::read(std::uint64_t addr, void* buf, std::size_t len) const {
    if (len == 0) {
        return true;
    }
    if (addr == 0) {
        return false;
    }
    if (!copies_.empty()) {
        auto it = copies_.upper_bound(addr);
        if (it != copies_.begin()) {
            --it;
            if (addr >= it->first && addr + len <= it->first + it->second.size()) {
                std::memcpy(buf, it->second.data() + (addr - it->first), len);
                return true;
            }
        }
    }
    if (is_core()) {
        return read_core(addr, buf, len) || read_module_file(addr, buf, len);
    }
    return read_live(addr, buf, len);
}

bool target::read_live(std::uint64_t addr, void* buf, std::size_t len) const {
    iovec local{buf, len};
    iovec remote{reinterpret_cast<void*>(addr), len};
    if (::process_vm_readv(pid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len)) {
        return true;
    }
    return mem_fd_ >= 0 &&
           ::pread(mem_fd_, buf, len, static_cast<off_t>(addr)) == static_cast<ssize_t>(len);
}

bool target::prefetch(std::uint64_t addr, std::size_t len) {
    if (is_core() || addr == 0 || len == 0) {
        return false;
    }
    std::vector<char> bytes(len);
    if (!read_live(addr, bytes.data(), len)) {
        return false;
    }
    copies_[addr] = std::move(bytes);
    return true;
}

bool target::prefetch_around(std::uint64_t addr, std::size_t len, std::size_t window) {
    if (is_core() || addr == 0) {
        return false;
    }
    if (copied(addr, len)) {
        return true;
    }
    for (const auto& [start, end] : mappings_) {
        if (addr < start || addr + len > end) {
            continue;
        }
        const std::uint64_t lo =
            std::max<std::uint64_t>(start, addr & ~(std::uint64_t{window} - 1));
        const std::uint64_t hi =
            std::min<std::uint64_t>(end, std::max<std::uint64_t>(lo + window, addr + len));
        if (prefetch(lo, static_cast<std::size_t>(hi - lo))) {
            return true;
        }
        break;
    }
    return prefetch(addr, len);
}

bool target::read_core(std::uint64_t addr, void* buf, std::size_t len) const {
    for (const segment& s : core_segments_) {
        if (addr >= s.vaddr && addr + len <= s.vaddr + s.filesz) {
            return ::pread(core_fd_, buf, len, static_cast<off_t>(s.offset + (addr - s.vaddr))) ==
                   static_cast<ssize_t>(len);
        }
    }
    return false;
}

// Read-only pages a core leaves out (code, constants: the strings aio points at) are read
// from the module's file.
bool target::read_module_file(std::uint64_t addr, void* buf, std::size_t len) const {
    Dwfl_Module* mod = dwfl_addrmodule(dwfl_, addr);
    if (mod == nullptr) {
        return false;
    }
    Dwarf_Addr bias = 0;
    Elf* e = dwfl_module_getelf(mod, &bias);
    if (e == nullptr) {
        return false;
    }
    std::size_t raw_size = 0;
    char* raw = elf_rawfile(e, &raw_size);
    std::size_t n = 0;
    elf_getphdrnum(e, &n);
    const std::uint64_t va = addr - bias;
    for (std::size_t i = 0; i < n; ++i) {
        GElf_Phdr ph;
        if (gelf_getphdr(e, static_cast<int>(i), &ph) == nullptr || ph.p_type != PT_LOAD) {
            continue;
        }
        if (va >= ph.p_vaddr && va + len <= ph.p_vaddr + ph.p_filesz) {
            const std::uint64_t off = ph.p_offset + (va - ph.p_vaddr);
            if (raw == nullptr || off + len > raw_size) {
                return false;
            }
            std::memcpy(buf, raw + off, len);
            return true;
        }
    }
    return false;
}

void target::prefetch(const std::vector<std::pair<std::uint64_t, std::size_t>>& ranges) {
    if (is_core()) {
        return;
    }
    constexpr std::size_t batch = 1024;  // IOV_MAX on Linux
    std::vector<iovec> local, remote;
    std::vector<std::vector<char>> bufs;
    for (std::size_t start = 0; start < ranges.size(); start += batch) {
        const std::size_t end = std::min(ranges.size(), start + batch);
        local.clear();
        remote.clear();
        bufs.clear();
        std::size_t total = 0;
        for (std::size_t i = start; i < end; ++i) {
            bufs.emplace_back(ranges[i].second);
        }
        for (std::size_t i = start; i < end; ++i) {
            auto& b = bufs[i - start];
            local.push_back({b.data(), b.size()});
            remote.push_back({reinterpret_cast<void*>(ranges[i].first), ranges[i].second});
            total += ranges[i].second;
        }
        const ssize_t got =
            ::process_vm_readv(pid_, local.data(), local.size(), remote.data(), remote.size(), 0);
        // The read stops at the first range it cannot read: keep the complete ones, read the
        // others one by one.
        std::size_t done = got > 0 ? static_cast<std::size_t>(got) : 0;
        for (std::size_t i = start; i < end; ++i) {
            const std::size_t len = ranges[i].second;
            if (len == 0 || ranges[i].first == 0) {
                continue;
            }
            if (done >= len) {
                copies_[ranges[i].first] = std::move(bufs[i - start]);
                done -= len;
            } else {
                done = 0;
                (void)prefetch(ranges[i].first, len);
            }
        }
        (void)total;
    }
}

std::string target::read_cstring(std::uint64_t addr, std::size_t max) const {
    // The same literals (what a task waits on, its creation file) come back for every task.
    if (auto it = strings_.find(addr); it != strings_.end() && it->second.size() < max) {
        return it->second;
    }
    std::string out = read_cstring_uncached(addr, max);
    strings_[addr] = out;
    return out;
}

std::string target::read_cstring_uncached(std::uint64_t addr, std::size_t max) const {
    std::string out;
    char chunk[64];
    while (out.size() < max) {
        // Read byte by byte near a page end; chunks elsewhere.
        const std::size_t room = 4096 - (addr % 4096);
        const std::size_t n = std::min<std::size_t>({sizeof chunk, room, max - out.size()});
        if (!read(addr, chunk, n)) {
            return out;
        }
        for (std::size_t i = 0; i < n; ++i) {
            if (chunk[i] == '\0') {
                out.append(chunk, i);
                return out;
            }
        }
        out.append(chunk, n);
        addr += n;
    }
    return out;
}

std::optional<std::uint64_t> target::find_root() const {
    struct search {
        std::optional<std::uint64_t> found;
    } s;
    dwfl_getmodules(
        dwfl_,
        [](Dwfl_Module* mod, void**, const char*, Dwarf_Addr, void* arg) -> int {
            auto* s = static_cast<search*>(arg);
            Dwarf_Addr bias = 0;
            Elf* e = dwfl_module_getelf(mod, &bias);
            if (e == nullptr) {
                return DWARF_CB_OK;
            }
            // The section first: it survives strip.
            std::size_t shstrndx = 0;
            if (elf_getshdrstrndx(e, &shstrndx) == 0) {
                for (Elf_Scn* scn = elf_nextscn(e, nullptr); scn != nullptr;
                     scn = elf_nextscn(e, scn)) {
                    GElf_Shdr sh;
                    if (gelf_getshdr(scn, &sh) == nullptr) {
                        continue;
                    }
                    const char* name = elf_strptr(e, shstrndx, sh.sh_name);
                    if (name != nullptr && std::strcmp(name, "aio_inspect") == 0 &&
                        sh.sh_addr != 0) {
                        s->found = sh.sh_addr + bias;
                        return DWARF_CB_ABORT;
                    }
                }
            }
            const int n = dwfl_module_getsymtab(mod);
            for (int i = 1; i < n; ++i) {
                GElf_Sym sym;
                GElf_Addr value = 0;
                const char* name =
                    dwfl_module_getsym_info(mod, i, &sym, &value, nullptr, nullptr, nullptr);
                if (name != nullptr && std::strcmp(name, "aio_inspect_root") == 0) {
                    s->found = value;
                    return DWARF_CB_ABORT;
                }
            }
            return DWARF_CB_OK;
        },
        &s, 0);
    return s.found;
}

namespace {

bool has_code(Dwarf_Die* die) {
    return dwarf_hasattr(die, DW_AT_low_pc) != 0 || dwarf_hasattr(die, DW_AT_ranges) != 0;
}

// Every subprogram of a CU that has code, wherever its DIE is nested (a lambda's operator()
// may sit inside its closure type inside the enclosing function's DIE).
void collect_subprograms(Dwarf_Die* parent, std::vector<Dwarf_Die>& out, int depth) {
    Dwarf_Die child;
    if (depth > 64 || dwarf_child(parent, &child) != 0) {
        return;
    }
    do {
        const int tag = dwarf_tag(&child);
        if (tag == DW_TAG_subprogram && has_code(&child)) {
            out.push_back(child);
        }
        if (dwarf_haschildren(&child) != 0 && tag != DW_TAG_inlined_subroutine &&
            tag != DW_TAG_lexical_block && tag != DW_TAG_formal_parameter &&
            tag != DW_TAG_variable) {
            collect_subprograms(&child, out, depth + 1);
        }
    } while (dwarf_siblingof(&child, &child) == 0);
}

// Inside `scope`, the inlined calls containing pc, outermost first (through lexical blocks).
void descend_inlined(Dwarf_Die* scope, Dwarf_Addr pc, std::vector<Dwarf_Die>& chain, int depth) {
    Dwarf_Die child;
    if (depth > 128 || dwarf_child(scope, &child) != 0) {
        return;
    }
    do {
        const int tag = dwarf_tag(&child);
        if ((tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block) &&
            dwarf_haspc(&child, pc) == 1) {
            if (tag == DW_TAG_inlined_subroutine) {
                chain.push_back(child);
            }
            descend_inlined(&child, pc, chain, depth + 1);
            return;
        }
    } while (dwarf_siblingof(&child, &child) == 0);
}

}  // namespace

// The subprogram containing pc and the inlined calls inside it, innermost first.
std::vector<Dwarf_Die> target::code_scopes(Dwarf_Die* cu, Dwarf_Addr pc) const {
    const Dwarf_Off key = dwarf_dieoffset(cu);
    auto it = code_index_.find(key);
    if (it == code_index_.end()) {
        std::vector<Dwarf_Die> subs;
        collect_subprograms(cu, subs, 0);
        it = code_index_.emplace(key, std::move(subs)).first;
    }
    std::vector<Dwarf_Die> chain;
    for (Dwarf_Die sub : it->second) {
        if (dwarf_haspc(&sub, pc) == 1) {
            chain.push_back(sub);
            descend_inlined(&sub, pc, chain, 0);
            break;
        }
    }
    std::reverse(chain.begin(), chain.end());
    return chain;
}

std::vector<frame> target::symbolize(std::uint64_t pc) const {
    if (auto it = symbols_.find(pc); it != symbols_.end()) {
        return it->second;
    }
    std::vector<frame> out = symbolize_uncached(pc);
    symbols_[pc] = out;
    return out;
}

std::vector<frame> target::symbolize_uncached(std::uint64_t pc) const {
    std::vector<frame> out;
    Dwfl_Module* mod = dwfl_addrmodule(dwfl_, pc);
    frame base;
    base.pc = pc;
    if (mod == nullptr) {
        out.push_back(base);
        return out;
    }
    const char* mainfile = nullptr;
    const char* modname =
        dwfl_module_info(mod, nullptr, nullptr, nullptr, nullptr, nullptr, &mainfile, nullptr);
    base.module = mainfile != nullptr ? mainfile : (modname != nullptr ? modname : "");
    const std::string symbol = demangle(dwfl_module_addrname(mod, pc));

    // The line table gives the innermost location; DWARF scopes give the inlined calls.
    std::string file;
    int line = 0;
    if (Dwfl_Line* l = dwfl_module_getsrc(mod, pc)) {
        int col = 0;
        if (const char* f = dwfl_lineinfo(l, nullptr, &line, &col, nullptr, nullptr)) {
            file = f;
        }
    }
    Dwarf_Addr bias = 0;
    Dwarf_Die* cu = dwfl_module_addrdie(mod, pc, &bias);
    std::vector<Dwarf_Die> chain =
        cu != nullptr ? code_scopes(cu, pc - bias) : std::vector<Dwarf_Die>{};
    Dwarf_Files* files = nullptr;
    std::size_t nfiles = 0;
    if (cu != nullptr) {
        (void)dwarf_getsrcfiles(cu, &files, &nfiles);
    }
    for (std::size_t i = 0; i < chain.size(); ++i) {
        Dwarf_Die* scope = &chain[i];
        const int tag = dwarf_tag(scope);
        if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) {
            continue;
        }
        frame f = base;
        f.file = file;
        f.line = line;
        if (tag == DW_TAG_subprogram) {
            f.function = !symbol.empty() ? symbol : die_name(scope);
            out.push_back(f);
            break;
        }
        f.function = die_name(scope);
        f.inlined = true;
        out.push_back(f);
        // The caller's location is where this call was inlined.
        Dwarf_Attribute attr;
        Dwarf_Word value = 0;
        if (dwarf_attr(scope, DW_AT_call_file, &attr) != nullptr &&
            dwarf_formudata(&attr, &value) == 0 && files != nullptr && value < nfiles) {
            const char* cf = dwarf_filesrc(files, value, nullptr, nullptr);
            file = cf != nullptr ? cf : "";
        }
        if (dwarf_attr(scope, DW_AT_call_line, &attr) != nullptr &&
            dwarf_formudata(&attr, &value) == 0) {
            line = static_cast<int>(value);
        }
    }
    if (out.empty()) {
        base.function = symbol;
        base.file = file;
        base.line = line;
        out.push_back(base);
    }
    return out;
}

std::vector<frame> target::symbolize(const std::vector<std::uint64_t>& pcs) const {
    std::vector<frame> out;
    for (std::uint64_t pc : pcs) {
        for (frame& f : symbolize(pc)) {
            out.push_back(std::move(f));
        }
    }
    return out;
}

std::vector<std::uint64_t> target::fiber_pcs(const fiber_registers& regs, std::size_t max) {
    unwind_state u;
    u.max = max;
    u.first_is_return_address = true;
    fiber_callbacks::pending = &regs;
    (void)dwfl_getthread_frames(dwfl_, pid_ > 0 ? pid_ : 1, &frame_cb, &u);
    fiber_callbacks::pending = nullptr;
    return u.pcs;
}

std::vector<std::uint64_t> target::thread_pcs(pid_t tid, std::size_t max) {
    if (thread_dwfl_ == nullptr) {
        thread_dwfl_ = dwfl_begin(is_core() ? &core_callbacks : &live_callbacks);
        if (thread_dwfl_ == nullptr) {
            return {};
        }
        if (is_core()) {
            dwfl_core_file_report(thread_dwfl_, static_cast<Elf*>(core_elf_),
                                  core_program_.c_str());
            dwfl_report_end(thread_dwfl_, nullptr, nullptr);
            dwfl_core_file_attach(thread_dwfl_, static_cast<Elf*>(core_elf_));
        } else {
            if (stopped_.empty()) {
                return {};  // detached: the thread runs on
            }
            dwfl_linux_proc_report(thread_dwfl_, pid_);
            dwfl_report_end(thread_dwfl_, nullptr, nullptr);
            dwfl_linux_proc_attach(thread_dwfl_, pid_, true);
        }
    }
    unwind_state u;
    u.max = max;
    (void)dwfl_getthread_frames(thread_dwfl_, tid, &frame_cb, &u);
    return u.pcs;
}

}  // namespace aio::inspect
