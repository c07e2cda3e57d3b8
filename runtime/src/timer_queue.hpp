// The loop's timers: a 4-ary min-heap of intrusive nodes ordered by (deadline, sequence).
// Nodes live in their owners (a sleeping task's stack frame, a timer_handle, a timeout
// scope); each node knows its heap index, so removing a cancelled timer is O(log n) and
// needs no tombstones.
#pragma once

#include <aio/loop.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace aio::detail {

struct inspect_layout;

struct timer_node {
    time_point deadline{};
    std::uint64_t seq = 0;
    std::size_t index = npos;  // position in the heap, npos when not queued
    void (*fire)(timer_node*) noexcept = nullptr;
    void* owner = nullptr;  // what `fire` acts on

    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    [[nodiscard]] bool queued() const noexcept { return index != npos; }
};

class timer_queue {
public:
    /// Queues `n` (which must not be queued).
    void push(timer_node& n);
    /// Dequeues `n` if it is queued.
    void remove(timer_node& n) noexcept;
    [[nodiscard]] bool empty() const noexcept { return heap_.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return heap_.size(); }
    [[nodiscard]] timer_node* top() const noexcept { return heap_.empty() ? nullptr : heap_[0]; }
    timer_node* pop() noexcept;

private:
    friend struct inspect_layout;  // aio ps: the deadlines tasks wait for
    static bool less(const timer_node* a, const timer_node* b) noexcept {
        return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
    }
    void sift_up(std::size_t i) noexcept;
    void sift_down(std::size_t i) noexcept;
    void place(std::size_t i, timer_node* n) noexcept {
        heap_[i] = n;
        n->index = i;
    }

    std::vector<timer_node*> heap_;
    std::uint64_t next_seq_ = 0;
};

}  // namespace aio::detail
