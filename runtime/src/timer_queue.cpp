#include "timer_queue.hpp"

namespace aio::detail {

void timer_queue::push(timer_node& n) {
    n.seq = next_seq_++;
    heap_.push_back(&n);
    n.index = heap_.size() - 1;
    sift_up(n.index);
}

void timer_queue::remove(timer_node& n) noexcept {
    if (!n.queued()) {
        return;
    }
    std::size_t i = n.index;
    timer_node* last = heap_.back();
    heap_.pop_back();
    n.index = timer_node::npos;
    if (i == heap_.size()) {
        return;  // it was the last element
    }
    place(i, last);
    if (i > 0 && less(last, heap_[(i - 1) / 4])) {
        sift_up(i);
    } else {
        sift_down(i);
    }
}

timer_node* timer_queue::pop() noexcept {
    if (heap_.empty()) {
        return nullptr;
    }
    timer_node* n = heap_[0];
    remove(*n);
    return n;
}

void timer_queue::sift_up(std::size_t i) noexcept {
    timer_node* n = heap_[i];
    while (i > 0) {
        std::size_t parent = (i - 1) / 4;
        if (!less(n, heap_[parent])) {
            break;
        }
        place(i, heap_[parent]);
        i = parent;
    }
    place(i, n);
}

void timer_queue::sift_down(std::size_t i) noexcept {
    timer_node* n = heap_[i];
    const std::size_t size = heap_.size();
    for (;;) {
        std::size_t first = 4 * i + 1;
        if (first >= size) {
            break;
        }
        std::size_t best = first;
        std::size_t end = first + 4 < size ? first + 4 : size;
        for (std::size_t c = first + 1; c < end; ++c) {
            if (less(heap_[c], heap_[best])) {
                best = c;
            }
        }
        if (!less(heap_[best], n)) {
            break;
        }
        place(i, heap_[best]);
        i = best;
    }
    place(i, n);
}

}  // namespace aio::detail
