// Fiber stacks: allocation, guard pages or canaries, reuse.
//
// Stacks are carved out of slabs: one mmap reserves 64 stacks, handed out one by one as
// needed. Linux limits the number of memory mappings per process (vm.max_map_count, 65530 by
// default) and a guard page splits a mapping, costing two mappings per stack, so:
//
//   guarded slab  [ guard | stack ... | descriptor ][ guard | stack ... | descriptor ] ...
//                 while the process holds fewer than guarded_budget() guarded stacks. An
//                 overflow hits the guard page: SIGSEGV, caught on an alternate stack and
//                 reported with the task's name (overflow.cpp).
//   canary slab   [ guard | stack ... | descriptor, canary(next) ][ stack ... | descriptor, canary
//   ]
//                 past the budget: one guard page for the whole slab. Each stack's canary
//                 words sit just below its bottom, at the top of the region below (see
//                 fiber_stack::canary). They are checked at every switch back to the loop and
//                 in the SIGSEGV handler, so an overflow is still reported naming the task,
//                 though it may already have corrupted the neighbouring stack's top.
//
// Memory is reserved, not committed: a task costs the pages it touches (usually one). A
// released stack goes to a LIFO free list so the next task reuses warm pages; stacks are
// never unmapped one by one (munmap and first touches of fresh pages are what make spawning
// slow on a VM), only whole slabs when the pool is destroyed with its loop.
//
// A burst (5000 connections at once, each stack touched 20-30 KiB deep) would otherwise keep
// its peak resident for ever. Above a high-water mark of warm free stacks (kept_warm per size
// class), a released stack gives its pages back to the kernel (madvise MADV_DONTNEED, all but
// its top page, which holds its descriptor and its upper neighbour's canary) and goes to the
// cold end of the free list: warm stacks are reused first, cold ones cost their first
// touches again.
#pragma once

#include <aio/detail/config.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace aio::detail {

/// Lives at the top of its own stack mapping.
struct fiber_stack {
    char* bottom;      // lowest usable byte
    std::size_t size;  // usable bytes, from bottom up to this descriptor
    char* region;      // start of this stack's region in its slab
    fiber_stack* next_free;
    std::size_t class_size;  // the size class it was allocated for
    bool guarded;            // a guard page lies right below `bottom`
    bool cold;               // free, with its pages given back to the kernel

    // A canary stack's canary sits right below its bottom, in the last bytes of the region
    // below it: the top page of the neighbouring stack, which that stack touches anyway (its
    // descriptor lives there). So checking the canary costs no page of its own, which keeps
    // an idle task at one page of stack.
    static constexpr std::size_t canary_words = 4;
    static constexpr std::uint64_t canary_value = 0xA10CA1A2DEADF00DULL;
    [[nodiscard]] volatile std::uint64_t* canary() const noexcept {
        return reinterpret_cast<volatile std::uint64_t*>(bottom) - canary_words;
    }
    /// False if the stack overflowed into its canary. Guarded stacks have a guard page
    /// instead and always answer true.
    [[nodiscard]] bool canary_intact() const noexcept {
        if (guarded) {
            return true;
        }
        const volatile std::uint64_t* c = canary();
        bool ok = true;
        for (std::size_t i = 0; i < canary_words; ++i) {
            ok = ok && c[i] == canary_value;
        }
        return ok;
    }
    /// True if `addr` lies in this stack's guard page or just below its bottom.
    [[nodiscard]] bool in_guard(const void* addr) const noexcept;
};

class stack_pool {
public:
    stack_pool() = default;
    stack_pool(const stack_pool&) = delete;
    stack_pool& operator=(const stack_pool&) = delete;
    ~stack_pool();

    /// A stack of at least `size` usable bytes. Throws std::system_error (ENOMEM) when the
    /// address space or mapping budget is exhausted.
    fiber_stack* acquire(std::size_t size);
    /// Returns a stack for reuse.
    void release(fiber_stack* s) noexcept;

    /// Stacks currently handed out.
    [[nodiscard]] std::size_t in_use() const noexcept { return in_use_; }
    /// Free stacks whose pages are still resident, over every size class.
    [[nodiscard]] std::size_t warm_free() const noexcept;
    /// Free stacks kept resident per size class; past it a released stack's pages go back
    /// to the kernel.
    static constexpr std::size_t kept_warm = 256;

    static std::size_t page_size() noexcept;
    /// How many guarded stacks the whole process may hold at once.
    static std::size_t guarded_budget() noexcept;

private:
    struct slab {
        char* base;              // the first stack region
        std::size_t stack_size;  // bytes per stack region
        std::size_t used;        // regions handed out so far
        bool guarded;
        char* mapping;  // the whole mmap
        std::size_t mapping_size;
    };
    struct size_class {
        std::size_t size;
        fiber_stack* free = nullptr;       // warm stacks first (LIFO), then cold ones
        fiber_stack* free_tail = nullptr;  // the last (coldest) free stack
        std::size_t warm = 0;              // warm stacks at the head of `free`
        slab* current = nullptr;           // the slab new stacks are carved from
    };
    size_class& class_for(std::size_t size);
    slab* new_slab(std::size_t size);
    fiber_stack* carve(slab& s);

    std::vector<size_class> classes_;
    std::vector<slab*> slabs_;
    std::size_t in_use_ = 0;
    std::size_t guarded_held_ = 0;
};

}  // namespace aio::detail
