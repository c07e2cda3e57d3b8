// A doubly linked intrusive list of waiters. Waiter nodes live on the waiting fiber's stack,
// so waiting never allocates; a node unlinks itself when its wait ends, however it ends.
//
// A list has two chains. *Waiting*: the tasks still waiting, in arrival order; hand-offs take
// the front. *Handed*: waiters a waker has popped (and handed something to) whose task has not
// run yet. A handed waiter stays known to the list until its task resumes and its guard
// removes it, so that
//  - a primitive can tell that somebody is about to take what was handed (semaphore FIFO);
//  - a primitive destroyed meanwhile can tell every waiter, waiting or handed, that it is gone
//    (~wait_list), so that nobody touches it afterwards.
#pragma once

#include <cstddef>

namespace aio::detail {

class task_base;
class wait_list;
struct inspect_layout;  // runtime/src/inspect.cpp: reads the layout for aio ps

/// One task waiting for one thing. `status` is 0 while waiting; the waker sets it (> 0) and
/// wakes the task. A task may wait on several sources at once with one waiter per source.
struct waiter {
    /// The status of a waiter whose list was destroyed while it waited (see `gone`).
    static constexpr int abandoned = 1 << 30;

    task_base* task = nullptr;
    waiter* prev = nullptr;
    waiter* next = nullptr;
    wait_list* list = nullptr;    // the list it is linked into (either chain), or nullptr
    waiter* task_next = nullptr;  // the task's other guarded waiters (task_base::waits_)
    void* data = nullptr;         // what the waker hands over, when the primitive needs it
    // Set when the list was destroyed while this waiter was in it: the name of the primitive
    // (for the error the waiting task raises). The waiting task must not touch it any more.
    const char* gone = nullptr;
    int status = 0;
    bool handed = false;  // in the handed chain: popped by a waker, its task not resumed yet
};

class wait_list;
/// Wakes every waiter of a list that is being destroyed: each gets `gone` set (and, when still
/// waiting, status waiter::abandoned) and is unlinked. Defined in runtime/src/task.cpp.
void abandon_waiters(wait_list& list) noexcept;

/// FIFO list of waiters; not owning.
class wait_list {
public:
    /// `what` names the object the list belongs to ("aio::lock"), for the error its waiters
    /// raise if it is destroyed under them. It must be a string literal.
    explicit wait_list(const char* what = "an aio object") noexcept
        : what_(what) {}
    wait_list(const wait_list&) = delete;
    wait_list& operator=(const wait_list&) = delete;
    ~wait_list() {
        if (waiting_.head != nullptr || handed_.head != nullptr) {
            abandon_waiters(*this);
        }
    }

    /// No task is waiting (handed waiters do not count).
    [[nodiscard]] bool empty() const noexcept { return waiting_.head == nullptr; }
    /// No task is waiting and none was handed something it has not taken yet.
    [[nodiscard]] bool idle() const noexcept {
        return waiting_.head == nullptr && handed_.head == nullptr;
    }
    /// Tasks waiting.
    [[nodiscard]] std::size_t size() const noexcept { return waiting_.size; }
    /// The first task waiting, or nullptr.
    [[nodiscard]] waiter* front() const noexcept { return waiting_.head; }
    [[nodiscard]] const char* what() const noexcept { return what_; }

    void push_back(waiter& w) noexcept {
        waiting_.push_back(w);
        w.list = this;
        w.handed = false;
    }

    /// Unlinks `w` from whichever chain it is in; a no-op if it is not in this list.
    void remove(waiter& w) noexcept {
        if (w.list != this) {
            return;
        }
        (w.handed ? handed_ : waiting_).remove(w);
        w.list = nullptr;
        w.handed = false;
    }

    /// Takes the first waiting task out of the waiting chain, into the handed chain (where it
    /// stays until its task resumes), and returns it; nullptr if nobody waits.
    waiter* pop_front() noexcept {
        waiter* w = waiting_.head;
        if (w != nullptr) {
            waiting_.remove(*w);
            handed_.push_back(*w);
            w->handed = true;
        }
        return w;
    }

    /// For abandon_waiters(): the first waiter of either chain, or nullptr.
    [[nodiscard]] waiter* any() const noexcept {
        return waiting_.head != nullptr ? waiting_.head : handed_.head;
    }

private:
    friend struct inspect_layout;
    struct chain {
        waiter* head = nullptr;
        waiter* tail = nullptr;
        std::size_t size = 0;
        void push_back(waiter& w) noexcept {
            w.prev = tail;
            w.next = nullptr;
            if (tail != nullptr) {
                tail->next = &w;
            } else {
                head = &w;
            }
            tail = &w;
            ++size;
        }
        void remove(waiter& w) noexcept {
            if (w.prev != nullptr) {
                w.prev->next = w.next;
            } else {
                head = w.next;
            }
            if (w.next != nullptr) {
                w.next->prev = w.prev;
            } else {
                tail = w.prev;
            }
            w.prev = w.next = nullptr;
            --size;
        }
    };

    chain waiting_;
    chain handed_;
    const char* what_;
};

}  // namespace aio::detail
