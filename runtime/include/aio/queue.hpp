// Queues between tasks: queue (FIFO), priority_queue, lifo_queue (asyncio.Queue,
// PriorityQueue, LifoQueue). See docs/reference/queue.md.
#pragma once

#include <aio/detail/intrusive_list.hpp>
#include <aio/detail/task_base.hpp>
#include <aio/errors.hpp>

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace aio {

/// get_nowait() on an empty queue (asyncio.QueueEmpty).
class queue_empty : public std::runtime_error {
public:
    queue_empty()
        : std::runtime_error("aio::queue is empty") {}
};

/// put_nowait() on a full queue (asyncio.QueueFull).
class queue_full : public std::runtime_error {
public:
    queue_full()
        : std::runtime_error("aio::queue is full") {}
};

/// put() or get() on a queue that was shut down (asyncio.QueueShutDown).
class queue_shut_down : public std::runtime_error {
public:
    queue_shut_down()
        : std::runtime_error("aio::queue was shut down") {}
};

namespace detail {

template <class T>
struct fifo_store {
    std::deque<T> items;
    void push(T v) { items.push_back(std::move(v)); }
    void push_oldest(T v) { items.push_front(std::move(v)); }
    T pop() {
        T v = std::move(items.front());
        items.pop_front();
        return v;
    }
    [[nodiscard]] std::size_t size() const noexcept { return items.size(); }
    void clear() { items.clear(); }
};

template <class T>
struct lifo_store {
    std::vector<T> items;
    void push(T v) { items.push_back(std::move(v)); }
    void push_oldest(T v) { items.insert(items.begin(), std::move(v)); }
    T pop() {
        T v = std::move(items.back());
        items.pop_back();
        return v;
    }
    [[nodiscard]] std::size_t size() const noexcept { return items.size(); }
    void clear() { items.clear(); }
};

template <class T, class Compare>
struct heap_store {
    std::vector<T> items;
    // std heap algorithms keep the largest on top; asyncio's PriorityQueue returns the
    // smallest, so the comparison is reversed.
    static bool later(const T& a, const T& b) { return Compare{}(b, a); }
    void push(T v) {
        items.push_back(std::move(v));
        std::push_heap(items.begin(), items.end(), &later);
    }
    void push_oldest(T v) { push(std::move(v)); }  // the order is the items' own
    T pop() {
        std::pop_heap(items.begin(), items.end(), &later);
        T v = std::move(items.back());
        items.pop_back();
        return v;
    }
    [[nodiscard]] std::size_t size() const noexcept { return items.size(); }
    void clear() { items.clear(); }
};

/// The queue logic shared by the three orders.
///
/// Getters: put() hands its item straight to the first waiting getter, so a woken getter
/// never finds its item gone and FIFO order among getters holds. A getter cancelled before it
/// resumes gives its item back (to the next getter, or to the front of the queue): an item is
/// never lost.
/// Putters: get() that makes room *reserves* the free slot for the first waiting putter, which
/// puts its own item when it resumes; a newcomer cannot take the slot meanwhile (full() counts
/// reserved slots). A putter cancelled before it resumes gives the slot to the next putter
/// and puts nothing, as in asyncio.
template <class T, class Store>
class basic_queue {
public:
    /// maxsize 0 means unbounded.
    explicit basic_queue(std::size_t maxsize = 0) noexcept
        : maxsize_(maxsize) {}
    basic_queue(const basic_queue&) = delete;
    basic_queue& operator=(const basic_queue&) = delete;

    /// Puts `item`, suspending while the queue is full. Yield point and cancellation point
    /// (when it suspends; a cancelled put leaves nothing in the queue). Throws
    /// queue_shut_down after shutdown(); usage_error if the queue is destroyed while waiting.
    void put(T item) {
        if (shut_down_) {
            throw queue_shut_down();
        }
        if (!full()) {
            put_nowait(std::move(item));
            return;
        }
        task_base& me = require_task("aio::queue::put()");
        check_list_thread(putters_, "aio::queue::put");
        waiter w{&me};
        bool notified = false;
        {
            waiter_guard guard(putters_, w);
            notified = park_or_cancelled(me, "aio::queue::put");
            if (AIO_UNLIKELY(w.gone != nullptr)) {
                raise_abandoned(me, w);
            }
        }
        if (!notified) {
            if (w.status == room_status) {
                --reserved_;  // a slot was reserved for us: the next putter gets it
                make_room();
            }
            deliver_cancel(me);
        }
        if (w.status == shutdown_status) {
            throw queue_shut_down();
        }
        // Notified: a getter reserved a slot for us.
        --reserved_;
        if (shut_down_) {
            throw queue_shut_down();  // shut down before we ran: as asyncio, nothing is put
        }
        deliver(std::move(item));
    }

    /// Puts `item` without suspending; throws queue_full or queue_shut_down.
    void put_nowait(T item) {
        if (shut_down_) {
            throw queue_shut_down();
        }
        if (full()) {
            throw queue_full();
        }
        check_list_thread(getters_, "aio::queue::put");
        deliver(std::move(item));
    }

    /// Removes and returns an item, suspending while the queue is empty. Yield point and
    /// cancellation point (when it suspends; a cancelled get takes nothing). Throws
    /// queue_shut_down once the queue is shut down and empty; usage_error if the queue is
    /// destroyed while waiting.
    T get() {
        if (store_.size() > 0) {
            return take();
        }
        if (shut_down_) {
            throw queue_shut_down();
        }
        task_base& me = require_task("aio::queue::get()");
        check_list_thread(getters_, "aio::queue::get");
        std::optional<T> slot;
        waiter w{&me};
        w.data = &slot;
        bool notified = false;
        {
            waiter_guard guard(getters_, w);
            notified = park_or_cancelled(me, "aio::queue::get");
            if (AIO_UNLIKELY(w.gone != nullptr)) {
                raise_abandoned(me, w);
            }
        }
        if (slot) {
            --in_flight_;  // taken now, or given back below
        }
        if (!notified) {
            if (slot) {
                give_back(std::move(*slot));  // handed just before the cancellation
            }
            deliver_cancel(me);
        }
        if (w.status == shutdown_status || !slot) {
            throw queue_shut_down();
        }
        T item = std::move(*slot);
        make_room();  // the item has left the queue: room for a waiting putter
        return item;
    }

    /// Removes and returns an item without suspending; throws queue_empty, or
    /// queue_shut_down when shut down and empty.
    T get_nowait() {
        if (store_.size() > 0) {
            return take();
        }
        if (shut_down_) {
            throw queue_shut_down();
        }
        throw queue_empty();
    }

    /// Marks one item taken with get() as processed (for join()). Throws value_error if called
    /// more times than items were put.
    void task_done() {
        check_list_thread(joiners_, "aio::queue::task_done");
        if (unfinished_ == 0) {
            throw value_error("aio::queue::task_done() called more times than there were items");
        }
        if (--unfinished_ == 0) {
            wake_joiners();
        }
    }

    /// Suspends until every item put has been marked with task_done(). Yield point and
    /// cancellation point (when it suspends).
    void join() {
        if (unfinished_ == 0) {
            return;
        }
        task_base& me = require_task("aio::queue::join()");
        check_list_thread(joiners_, "aio::queue::join");
        waiter w{&me};
        waiter_guard guard(joiners_, w);
        const bool notified = park_or_cancelled(me, "aio::queue::join");
        if (AIO_UNLIKELY(w.gone != nullptr)) {
            raise_abandoned(me, w);
        }
        if (!notified) {
            deliver_cancel(me);
        }
    }

    /// Shuts the queue down (Python 3.13): put() raises queue_shut_down from now on and
    /// blocked putters are woken with it; get() raises it once the queue is empty and blocked
    /// getters are woken with it. With `immediate`, the items left are dropped (and counted as
    /// done for join()) so get() raises at once.
    void shutdown(bool immediate = false) {
        check_list_thread(getters_, "aio::queue::shutdown");
        check_list_thread(putters_, "aio::queue::shutdown");
        shut_down_ = true;
        if (immediate) {
            immediate_ = true;
            std::size_t n = store_.size();
            store_.clear();
            drop_unfinished(n);
        }
        while (waiter* g = getters_.pop_front()) {
            notify(*g, shutdown_status);
        }
        while (waiter* p = putters_.pop_front()) {
            notify(*p, shutdown_status);
        }
    }

    [[nodiscard]] std::size_t qsize() const noexcept { return store_.size(); }
    [[nodiscard]] std::size_t maxsize() const noexcept { return maxsize_; }
    [[nodiscard]] bool empty() const noexcept { return store_.size() == 0; }
    /// True when put() would suspend: the items, plus the items handed to getters that have
    /// not run yet, plus the slots reserved for putters that were woken and have not run yet,
    /// fill maxsize. (As in asyncio, an item occupies room until its getter has taken it.)
    [[nodiscard]] bool full() const noexcept {
        return maxsize_ != 0 && store_.size() + in_flight_ + reserved_ >= maxsize_;
    }
    [[nodiscard]] bool is_shut_down() const noexcept { return shut_down_; }

private:
    static constexpr int room_status = 1;
    static constexpr int shutdown_status = 2;

    // An item enters the queue: straight to the first waiting getter, or into the store.
    void deliver(T item) {
        ++unfinished_;
        if (waiter* g = getters_.pop_front()) {
            static_cast<std::optional<T>*>(g->data)->emplace(std::move(item));
            ++in_flight_;
            notify(*g, 1);
            return;
        }
        store_.push(std::move(item));
    }

    // A getter cancelled after an item was handed to it returns the item, which was put before
    // anything now in the store: to the next getter, or in front of the others.
    void give_back(T item) {
        if (immediate_) {
            drop_unfinished(1);  // shutdown(immediate) dropped everything else too
            return;
        }
        if (waiter* g = getters_.pop_front()) {
            static_cast<std::optional<T>*>(g->data)->emplace(std::move(item));
            ++in_flight_;
            notify(*g, 1);
            return;
        }
        store_.push_oldest(std::move(item));  // it still had its room: maxsize holds
    }

    T take() {
        check_list_thread(putters_, "aio::queue::get");
        T v = store_.pop();
        make_room();
        return v;
    }

    // A slot is free: reserve it for the first waiting putter.
    void make_room() noexcept {
        if (!full()) {
            if (waiter* p = putters_.pop_front()) {
                ++reserved_;
                notify(*p, room_status);
            }
        }
    }

    void drop_unfinished(std::size_t n) noexcept {
        unfinished_ = n > unfinished_ ? 0 : unfinished_ - n;
        if (unfinished_ == 0) {
            wake_joiners();
        }
    }

    void wake_joiners() noexcept {
        while (waiter* j = joiners_.pop_front()) {
            notify(*j);
        }
    }

    Store store_;
    std::size_t maxsize_;
    std::size_t unfinished_ = 0;
    std::size_t reserved_ = 0;   // slots promised to woken putters that have not run yet
    std::size_t in_flight_ = 0;  // items handed to woken getters that have not run yet
    bool shut_down_ = false;
    bool immediate_ = false;
    wait_list getters_{"aio::queue"};
    wait_list putters_{"aio::queue"};
    wait_list joiners_{"aio::queue"};
};

}  // namespace detail

/// FIFO queue (asyncio.Queue). Loop thread only.
template <class T>
class queue : public detail::basic_queue<T, detail::fifo_store<T>> {
    using detail::basic_queue<T, detail::fifo_store<T>>::basic_queue;
};

/// Smallest item first, by `Compare` (asyncio.PriorityQueue). Loop thread only.
template <class T, class Compare = std::less<T>>
class priority_queue : public detail::basic_queue<T, detail::heap_store<T, Compare>> {
    using detail::basic_queue<T, detail::heap_store<T, Compare>>::basic_queue;
};

/// Last in, first out (asyncio.LifoQueue). Loop thread only.
template <class T>
class lifo_queue : public detail::basic_queue<T, detail::lifo_store<T>> {
    using detail::basic_queue<T, detail::lifo_store<T>>::basic_queue;
};

}  // namespace aio
