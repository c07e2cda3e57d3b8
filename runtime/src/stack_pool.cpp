#include "stack_pool.hpp"

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

// Guarded stacks alive in the whole process (every loop on every thread).
std::atomic<std::size_t> guarded_alive{0};

// How many free stacks of one size class a pool keeps before unmapping guarded ones.
constexpr std::size_t max_free_guarded = 256;

// Stacks per canary slab: one mapping for this many stacks.
constexpr std::size_t slab_stacks = 64;

std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }

fiber_stack* place_descriptor(char* region_end, char* bottom) noexcept {
    // The descriptor sits in the topmost 64 bytes; the stack grows down from just below it.
    char* d = region_end - 64;
    auto* s = new (d) fiber_stack{};
    s->bottom = bottom;
    s->size = static_cast<std::size_t>(d - bottom);
    return s;
}

}  // namespace

std::size_t stack_pool_guarded_budget() noexcept { return stack_pool::guarded_budget(); }

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
        return b < 64 ? std::size_t{64} : b;
    }();
    return budget;
}

bool fiber_stack::in_guard(const void* addr) const noexcept {
    auto a = reinterpret_cast<std::uintptr_t>(addr);
    auto lo = reinterpret_cast<std::uintptr_t>(guarded ? mapping : reinterpret_cast<char*>(canary()));
    auto hi = reinterpret_cast<std::uintptr_t>(bottom);
    // Anything below the usable bottom and within a page of it counts as running off the end.
    if (guarded) {
        return a >= lo && a < hi;
    }
    return a + stack_pool::page_size() >= lo && a < hi;
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
        --c.free_count;
    } else if (guarded_alive.load(std::memory_order_relaxed) < guarded_budget()) {
        s = map_guarded(size);
    } else {
        s = map_from_slab(size);
    }
    s->next_free = nullptr;
    ++in_use_;
    return s;
}

void stack_pool::release(fiber_stack* s) noexcept {
    --in_use_;
    size_class& c = class_for(s->class_size);
    if (s->guarded && c.free_count >= max_free_guarded) {
        unmap(s);
        return;
    }
    // Canary stacks always go back to the free list: they live in slabs.
    s->next_free = c.free;
    c.free = s;
    ++c.free_count;
}

fiber_stack* stack_pool::map_guarded(std::size_t size) {
    const std::size_t page = page_size();
    const std::size_t total = size + page;  // guard page at the bottom
    void* m = ::mmap(nullptr, total, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) {
        throw std::system_error(errno, std::generic_category(),
                                "aio: cannot map a fiber stack of " + std::to_string(size) +
                                    " bytes");
    }
    char* base = static_cast<char*>(m);
    if (::mprotect(base, page, PROT_NONE) != 0) {
        int e = errno;
        ::munmap(m, total);
        throw std::system_error(e, std::generic_category(),
                                "aio: cannot protect a fiber stack's guard page");
    }
    // The canary words sit right above the guard page; the usable stack starts above them.
    char* bottom = base + page + fiber_stack::canary_words * sizeof(std::uint64_t);
    fiber_stack* s = place_descriptor(base + total, bottom);
    s->mapping = base;
    s->mapping_size = total;
    s->guarded = true;
    s->class_size = size;
    for (std::size_t i = 0; i < fiber_stack::canary_words; ++i) {
        s->canary()[i] = fiber_stack::canary_value;
    }
    guarded_alive.fetch_add(1, std::memory_order_relaxed);
    return s;
}

fiber_stack* stack_pool::map_from_slab(std::size_t size) {
    const std::size_t total = size * slab_stacks;
    void* m = ::mmap(nullptr, total, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) {
        throw std::system_error(errno, std::generic_category(),
                                "aio: cannot map a slab of fiber stacks (" +
                                    std::to_string(total) + " bytes)");
    }
    char* base = static_cast<char*>(m);
    slabs_.emplace_back(base, total);
    size_class& c = class_for(size);
    fiber_stack* first = nullptr;
    // Put all but the first on the free list, highest address first so that consecutive
    // spawns walk down the slab.
    for (std::size_t i = 0; i < slab_stacks; ++i) {
        char* region = base + i * size;
        char* bottom = region + fiber_stack::canary_words * sizeof(std::uint64_t);
        fiber_stack* s = place_descriptor(region + size, bottom);
        s->mapping = nullptr;
        s->mapping_size = 0;
        s->guarded = false;
        s->class_size = size;
        for (std::size_t w = 0; w < fiber_stack::canary_words; ++w) {
            s->canary()[w] = fiber_stack::canary_value;
        }
        if (i == 0) {
            first = s;
        } else {
            s->next_free = c.free;
            c.free = s;
            ++c.free_count;
        }
    }
    return first;
}

void stack_pool::unmap(fiber_stack* s) noexcept {
    ::munmap(s->mapping, s->mapping_size);
    guarded_alive.fetch_sub(1, std::memory_order_relaxed);
}

stack_pool::~stack_pool() {
    for (auto& c : classes_) {
        for (fiber_stack* s = c.free; s != nullptr;) {
            fiber_stack* next = s->next_free;
            if (s->guarded) {
                unmap(s);
            }
            s = next;
        }
    }
    for (auto& [base, size] : slabs_) {
        ::munmap(base, size);
    }
}

}  // namespace aio::detail
