// A doubly linked intrusive list of waiters. Waiter nodes live on the waiting fiber's stack,
// so waiting never allocates; a node unlinks itself when its wait ends, however it ends.
#pragma once

#include <cstddef>

namespace aio::detail {

class task_base;

/// One task waiting for one thing. `status` is 0 while waiting; the waker sets it (> 0) and
/// wakes the task. A task may wait on several sources at once with one waiter per source.
struct waiter {
    task_base* task = nullptr;
    waiter* prev = nullptr;
    waiter* next = nullptr;
    int status = 0;
    void* data = nullptr;  // what the waker hands over, when the primitive needs it
    bool linked = false;
};

/// FIFO list of waiters; not owning.
class wait_list {
public:
    wait_list() = default;
    wait_list(const wait_list&) = delete;
    wait_list& operator=(const wait_list&) = delete;

    [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] waiter* front() const noexcept { return head_; }

    void push_back(waiter& w) noexcept {
        w.prev = tail_;
        w.next = nullptr;
        if (tail_ != nullptr) {
            tail_->next = &w;
        } else {
            head_ = &w;
        }
        tail_ = &w;
        w.linked = true;
        ++size_;
    }

    void remove(waiter& w) noexcept {
        if (!w.linked) {
            return;
        }
        if (w.prev != nullptr) {
            w.prev->next = w.next;
        } else {
            head_ = w.next;
        }
        if (w.next != nullptr) {
            w.next->prev = w.prev;
        } else {
            tail_ = w.prev;
        }
        w.prev = w.next = nullptr;
        w.linked = false;
        --size_;
    }

    waiter* pop_front() noexcept {
        waiter* w = head_;
        if (w != nullptr) {
            remove(*w);
        }
        return w;
    }

private:
    waiter* head_ = nullptr;
    waiter* tail_ = nullptr;
    std::size_t size_ = 0;
};

/// Unlinks a waiter from its list when the scope ends (normal return or unwinding).
class waiter_guard {
public:
    waiter_guard(wait_list& list, waiter& w) noexcept
        : list_(list)
        , w_(w) {
        list_.push_back(w_);
    }
    ~waiter_guard() { list_.remove(w_); }
    waiter_guard(const waiter_guard&) = delete;
    waiter_guard& operator=(const waiter_guard&) = delete;

private:
    wait_list& list_;
    waiter& w_;
};

}  // namespace aio::detail
