#include "stack_pool.hpp"

#if defined(AIO_SANITIZE_ADDRESS)
#include <sanitizer/asan_interface.h>
#endif

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <new>
#include <system_error>

#include <sys/mman.h>
#include <unistd.h>

namespace aio::detail {

namespace {

// Guarded stacks held in the whole process (every loop on every thread).
std::atomic<std::size_t> guarded_alive{0};

// Stacks per slab: one mapping reserves this many.
constexpr std::size_t slab_stacks = 64;

std::size_t round_up(std::size_t n, std::size_t to) noexcept {
    return (n + to - 1) / to * to;
}

}  // namespace

std::size_t stack_pool_guarded_budget() noexcept {
    return stack_pool::guarded_budget();
}

std::size_t stack_pool::page_size() noexcept {
    static const std::size_t p = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return p;
}

std::size_t stack_pool::guarded_budget() noexcept {
    static const std::size_t budget = [] {
        std::size_t max_maps = 65530;
        std::ifstream in("/proc/sys/vm/max_map_count");
        if (in) {
            in >> max_maps;
        }
        // Two mappings per guarded stack; leave half of the budget to the rest of the
        // program (libraries, malloc arenas, sockets' buffers...).
        std::size_t b = max_maps / 4;
        return b < slab_stacks ? slab_stacks : b;
    }();
    return budget;
}

bool fiber_stack::in_guard(const void* addr) const noexcept {
    auto a = reinterpret_cast<std::uintptr_t>(addr);
    auto hi = reinterpret_cast<std::uintptr_t>(bottom);
    // The guard page, or (canary stacks) the neighbour's top page the overflow ran into.
    return a < hi && a + stack_pool::page_size() >= hi;
}

stack_pool::size_class& stack_pool::class_for(std::size_t size) {
    for (auto& c : classes_) {
        if (c.size == size) {
            return c;
        }
    }
    classes_.push_back(size_class{size});
    return classes_.back();
}

fiber_stack* stack_pool::acquire(std::size_t size) {
    const std::size_t page = page_size();
    size = round_up(size < 4 * page ? 4 * page : size, page);
    size_class& c = class_for(size);
    fiber_stack* s = c.free;
    if (s != nullptr) {
        c.free = s->next_free;
        if (c.free == nullptr) {
            c.free_tail = nullptr;
        }
        if (!s->cold) {
            AIO_ASSERT(c.warm > 0);
            --c.warm;
        }
        s->cold = false;
    } else {
        if (c.current == nullptr || c.current->used == slab_stacks) {
            c.current = new_slab(size);
        }
        s = carve(*c.current);
    }
    s->next_free = nullptr;
    ++in_use_;
    return s;
}

namespace {
// Under AddressSanitizer a fiber's stack frames leave poisoned shadow behind when the fiber
// does not unwind through them (a loop abandoned with suspended tasks, e.g. after a deadlock
// error). Stack memory reused, or remapped at the same address later, must start clean or
// ASan reports (and trips over) frames that are not there.
void unpoison(void* p, std::size_t n) noexcept {
#if defined(AIO_SANITIZE_ADDRESS)
    __asan_unpoison_memory_region(p, n);
#else
    (void)p;
    (void)n;
#endif
}
}  // namespace

void stack_pool::release(fiber_stack* s) noexcept {
    unpoison(s->bottom, s->size);
    --in_use_;
    size_class& c = class_for(s->class_size);
    if (c.warm < kept_warm) {
        ++c.warm;
        s->next_free = c.free;
        c.free = s;
        if (c.free_tail == nullptr) {
            c.free_tail = s;
        }
        return;
    }
    // Past the high-water mark: every page but the top one (descriptor, the upper
    // neighbour's canary) goes back to the kernel, and the stack to the cold end.
    const std::size_t page = page_size();
    auto* top_page = reinterpret_cast<char*>(reinterpret_cast<std::uintptr_t>(s) & ~(page - 1));
    if (top_page > s->bottom) {
        (void)::madvise(s->bottom, static_cast<std::size_t>(top_page - s->bottom), MADV_DONTNEED);
    }
    s->cold = true;
    s->next_free = nullptr;
    if (c.free_tail != nullptr) {
        c.free_tail->next_free = s;
    } else {
        c.free = s;
    }
    c.free_tail = s;
}

std::size_t stack_pool::warm_free() const noexcept {
    std::size_t n = 0;
    for (const auto& c : classes_) {
        n += c.warm;
    }
    return n;
}

stack_pool::slab* stack_pool::new_slab(std::size_t size) {
    const std::size_t page = page_size();
    const bool guarded =
        guarded_alive.fetch_add(slab_stacks, std::memory_order_relaxed) + slab_stacks <=
        guarded_budget();
    if (!guarded) {
        guarded_alive.fetch_sub(slab_stacks, std::memory_order_relaxed);
    }
    // A guarded stack's region has one more page: its guard. A canary slab has one guard page
    // below its first stack.
    const std::size_t region = guarded ? size + page : size;
    const std::size_t total = region * slab_stacks + (guarded ? 0 : page);
    void* m = ::mmap(nullptr, total, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        if (guarded) {
            guarded_alive.fetch_sub(slab_stacks, std::memory_order_relaxed);
        }
        throw std::system_error(e, std::generic_category(),
                                "aio: cannot reserve " + std::to_string(total) +
                                    " bytes for fiber stacks");
    }
    char* base = static_cast<char*>(m);
    if (!guarded && ::mprotect(base, page, PROT_NONE) != 0) {
        int e = errno;
        ::munmap(m, total);
        throw std::system_error(e, std::generic_category(),
                                "aio: cannot protect a stack slab's guard page");
    }
    auto* sl = new slab{guarded ? base : base + page, region, 0, guarded, base, total};
    slabs_.push_back(sl);
    if (guarded) {
        guarded_held_ += slab_stacks;
    }
    return sl;
}

fiber_stack* stack_pool::carve(slab& sl) {
    const std::size_t page = page_size();
    const std::size_t index = sl.used;
    char* region = sl.base + index * sl.stack_size;
    if (sl.guarded && ::mprotect(region, page, PROT_NONE) != 0) {
        throw std::system_error(errno, std::generic_category(),
                                "aio: cannot protect a fiber stack's guard page (vm.max_map_count "
                                "reached?)");
    }
    ++sl.used;
    // Guarded: the stack starts right above its guard page. Canary: at the region's start,
    // with its canary in the last bytes of the region below (or, for the first stack of the
    // slab, the slab's guard page below it: no canary needed).
    char* bottom = sl.guarded ? region + page : region;
    // The descriptor sits below the top 64 bytes, which hold the next stack's canary.
    char* d = region + sl.stack_size - 128;
    auto* s = new (d) fiber_stack{};
    s->bottom = bottom;
    s->size = static_cast<std::size_t>(d - bottom);
    s->region = region;
    s->class_size = sl.guarded ? sl.stack_size - page : sl.stack_size;
    s->guarded = sl.guarded || index == 0;
    if (!s->guarded) {
        for (std::size_t i = 0; i < fiber_stack::canary_words; ++i) {
            s->canary()[i] = fiber_stack::canary_value;
        }
    }
    return s;
}

stack_pool::~stack_pool() {
    for (slab* sl : slabs_) {
        unpoison(sl->mapping, sl->mapping_size);
        ::munmap(sl->mapping, sl->mapping_size);
        delete sl;
    }
    guarded_alive.fetch_sub(guarded_held_, std::memory_order_relaxed);
}

}  // namespace aio::detail
