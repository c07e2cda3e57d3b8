// Fiber stacks: allocation, guard pages or canaries, reuse.
//
// Two kinds of stack, because Linux limits the number of memory mappings per process
// (vm.max_map_count, 65530 by default) and a guard page costs two mappings per stack:
//
//   guarded  [ guard page | stack ............ | descriptor ]   one mmap each
//            An overflow hits the guard page: SIGSEGV, caught on an alternate stack and
//            reported with the task's name (overflow.cpp).
//   canary   [ canary | stack ..... | descriptor ][ canary | stack ... ] ... one mmap per slab
//            Used once the guarded budget is spent (about 16k live stacks). The canary words
//            at the bottom are checked at every switch back to the loop and in the SIGSEGV
//            handler, so an overflow is reported naming the task, though it may already have
//            corrupted the neighbouring stack's top (documented in docs/design.md).
//
// Memory is reserved, not committed: a task costs the pages it touches (usually one).
// Released stacks go to a LIFO free list so the next task reuses warm pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace aio::detail {

/// Lives at the top of its own stack mapping.
struct fiber_stack {
    char* bottom;           // lowest usable byte (just above the guard page or canary)
    std::size_t size;       // usable bytes, from bottom up to this descriptor
    char* mapping;          // start of the mmap (guarded stacks) or nullptr (slab stacks)
    std::size_t mapping_size;
    fiber_stack* next_free;
    bool guarded;
    std::size_t class_size; // the size class it was allocated for

    static constexpr std::uint64_t canary_value = 0xA10CA1A2DEADF00DULL;
    static constexpr std::size_t canary_words = 4;
    [[nodiscard]] std::uint64_t* canary() const noexcept {
        return reinterpret_cast<std::uint64_t*>(bottom) - canary_words;
    }
    [[nodiscard]] bool canary_intact() const noexcept {
        const std::uint64_t* c = canary();
        for (std::size_t i = 0; i < canary_words; ++i) {
            if (c[i] != canary_value) {
                return false;
            }
        }
        return true;
    }
    /// True if `addr` lies in this stack's guard page or canary zone.
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

    static std::size_t page_size() noexcept;
    /// How many guarded stacks the whole process may hold at once.
    static std::size_t guarded_budget() noexcept;

private:
    struct size_class {
        std::size_t size;
        fiber_stack* free = nullptr;
        std::size_t free_count = 0;
    };
    size_class& class_for(std::size_t size);
    fiber_stack* map_guarded(std::size_t size);
    fiber_stack* map_from_slab(std::size_t size);
    void unmap(fiber_stack* s) noexcept;

    std::vector<size_class> classes_;
    std::vector<std::pair<char*, std::size_t>> slabs_;
    std::size_t in_use_ = 0;
};

}  // namespace aio::detail
