// The inspection root (see inspect.hpp and docs/inspect.md): the loops of the process and the
// table of named layout facts that `aio ps` and the gdb extension read.
#include "inspect.hpp"

#include "loop_core.hpp"
#include "stack_pool.hpp"
#include "timer_queue.hpp"

#include <aio/jobs/scheduler.hpp>
#include <aio/lock.hpp>
#include <aio/task_group.hpp>
#include <aio/timeout.hpp>

#include <cstddef>
#include <mutex>

namespace aio::detail {

// Defined next to what they describe.
std::int64_t inspect_sleep_fire() noexcept;              // sleep.cpp
std::int64_t inspect_timeout_fire() noexcept;            // timeout.cpp
std::int64_t inspect_stream_peer_from_read() noexcept;   // net/stream.cpp
std::int64_t inspect_stream_peer_from_write() noexcept;  // net/stream.cpp

}  // namespace aio::detail

namespace aio::jobs::detail {
std::int64_t inspect_job_hook() noexcept;  // jobs/scheduler.cpp
}

// offsetof on classes that are not standard-layout (task_base has a vtable): GCC and Clang
// compute it as for any single-inheritance class, which is all a reader needs.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"

namespace aio::detail {

/// Friend of the classes whose private layout the table names.
struct inspect_layout {
    template <class F>
    static std::int64_t fn(F* f) noexcept {
        return static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(f));
    }

    static std::int64_t wait_list_waiting_head() noexcept {
        return static_cast<std::int64_t>(offsetof(wait_list, waiting_) +
                                         offsetof(wait_list::chain, head));
    }
    static std::int64_t wait_list_handed_head() noexcept {
        return static_cast<std::int64_t>(offsetof(wait_list, handed_) +
                                         offsetof(wait_list::chain, head));
    }
    static std::int64_t wait_list_what() noexcept {
        return static_cast<std::int64_t>(offsetof(wait_list, what_));
    }
    static std::int64_t lock_owner_from_waiters() noexcept {
        return static_cast<std::int64_t>(offsetof(aio::lock, owner_)) -
               static_cast<std::int64_t>(offsetof(aio::lock, waiters_));
    }
    static std::int64_t lock_waiters() noexcept {
        return static_cast<std::int64_t>(offsetof(aio::lock, waiters_));
    }
    static std::int64_t task_group_children() noexcept {
        return static_cast<std::int64_t>(offsetof(aio::task_group, children_));
    }
    static std::int64_t loop_timers() noexcept {
        return static_cast<std::int64_t>(offsetof(loop_core, timers_) +
                                         offsetof(timer_queue, heap_));
    }
    static std::int64_t timeout_task() noexcept {
        return static_cast<std::int64_t>(offsetof(aio::timeout_scope, task_));
    }
    static std::int64_t timeout_when() noexcept {
        return static_cast<std::int64_t>(offsetof(aio::timeout_scope, when_));
    }
    static std::int64_t scheduler_from_change_waiters() noexcept {
        return -static_cast<std::int64_t>(offsetof(aio::jobs::scheduler, change_waiters_));
    }
    static std::int64_t scheduler_name() noexcept {
        return static_cast<std::int64_t>(offsetof(aio::jobs::scheduler, opts_) +
                                         offsetof(aio::jobs::scheduler_options, name));
    }
};

}  // namespace aio::detail

namespace {

using aio::detail::inspect_layout;
using aio::detail::loop_core;
using aio::detail::task_base;

#define AIO_OFF(type, member) static_cast<std::int64_t>(offsetof(type, member))

// Boost.Context's saved frame on x86-64 (jump_fcontext, System V): the context pointer points
// at mxcsr/x87 control words, then r12 r13 r14 r15 rbx rbp and the return address; the stack
// pointer of the suspended fiber is right above them.
// The names, values and meanings below are the reader's contract (docs/inspect.md).
const aio_inspect_field fields[] = {
    // loops
    {"loop.next", AIO_OFF(loop_core, inspect_next_)},
    {"loop.tid", AIO_OFF(loop_core, tid_)},                  // long
    {"loop.thread_name", AIO_OFF(loop_core, thread_name_)},  // char[16]
    {"loop.all_head", AIO_OFF(loop_core, all_head_)},
    {"loop.current", AIO_OFF(loop_core, current_)},  // the task on the CPU, or null
    {"loop.main", AIO_OFF(loop_core, main_)},
    {"loop.virtual_time", AIO_OFF(loop_core, virtual_time_)},  // bool
    {"loop.virtual_now", AIO_OFF(loop_core, virtual_now_)},    // i64 ns, steady clock
    {"loop.closing", AIO_OFF(loop_core, closing_)},            // bool
    {"loop.timers", inspect_layout::loop_timers()},            // timer_node* [begin, end): a vector
    // tasks
    {"task.all_next", AIO_OFF(task_base, all_next_)},
    {"task.loop", AIO_OFF(task_base, loop_)},
    {"task.id", AIO_OFF(task_base, id_)},      // u64
    {"task.name", AIO_OFF(task_base, name_)},  // std::string: char* data, u64 size; "" = task-<id>
    {"task.state", AIO_OFF(task_base, state_)},            // u8, see state.*
    {"task.outcome", AIO_OFF(task_base, outcome_)},        // u8, see outcome.*
    {"task.waiting_on", AIO_OFF(task_base, waiting_on_)},  // const char*, or null: see waits
    {"task.waiting_object",
     AIO_OFF(task_base, waiting_object_)},                     // task_group* for "aio::task_group"
    {"task.parked_at", AIO_OFF(task_base, parked_at_)},        // i64 ns, CLOCK_MONOTONIC (coarse)
    {"task.awaiting", AIO_OFF(task_base, awaiting_)},          // task_base* in get()
    {"task.waits", AIO_OFF(task_base, waits_)},                // waiter*, innermost first
    {"task.done_waiters", AIO_OFF(task_base, done_waiters_)},  // wait_list: who waits for it
    {"task.ctx", AIO_OFF(task_base, slot_) + AIO_OFF(aio::detail::context_slot, ctx)},
    {"task.stack", AIO_OFF(task_base, stack_)},  // fiber_stack*, null before start and once done
    {"task.stack_size", AIO_OFF(task_base, stack_size_)},
    {"task.site_file", AIO_OFF(task_base, site_) + AIO_OFF(aio::detail::creation_site, file)},
    {"task.site_function",
     AIO_OFF(task_base, site_) + AIO_OFF(aio::detail::creation_site, function)},
    {"task.site_line", AIO_OFF(task_base, site_) + AIO_OFF(aio::detail::creation_site, line)},
    {"task.site_caller", AIO_OFF(task_base, site_) + AIO_OFF(aio::detail::creation_site, caller)},
    {"task.observed", AIO_OFF(task_base, observed_)},  // bool: get/gather took it over
    {"task.detached", AIO_OFF(task_base, detached_)},  // bool
    {"task.cancel_requests", AIO_OFF(task_base, cancel_requests_)},  // u32: cancelling()
    {"task.exception", AIO_OFF(task_base, exception_)},  // std::exception_ptr: one pointer
    {"task.done_hook", AIO_OFF(task_base, done_hook_)},
    {"task.done_hook_arg", AIO_OFF(task_base, done_hook_arg_)},
    {"state.scheduled", static_cast<std::int64_t>(aio::detail::task_state::scheduled)},
    {"state.running", static_cast<std::int64_t>(aio::detail::task_state::running)},
    {"state.suspended", static_cast<std::int64_t>(aio::detail::task_state::suspended)},
    {"state.done", static_cast<std::int64_t>(aio::detail::task_state::done)},
    {"outcome.none", static_cast<std::int64_t>(aio::detail::task_outcome::none)},
    {"outcome.value", static_cast<std::int64_t>(aio::detail::task_outcome::value)},
    {"outcome.exception", static_cast<std::int64_t>(aio::detail::task_outcome::exception)},
    {"outcome.cancelled", static_cast<std::int64_t>(aio::detail::task_outcome::cancelled)},
    // fiber stacks
    {"stack.bottom", AIO_OFF(aio::detail::fiber_stack, bottom)},
    {"stack.size", AIO_OFF(aio::detail::fiber_stack, size)},
    // a suspended fiber's saved registers, from task.ctx (x86-64)
    {"fctx.r12", 0x08},
    {"fctx.r13", 0x10},
    {"fctx.r14", 0x18},
    {"fctx.r15", 0x20},
    {"fctx.rbx", 0x28},
    {"fctx.rbp", 0x30},
    {"fctx.rip", 0x38},
    {"fctx.rsp", 0x40},  // the value of rsp is ctx + this
    // waiters and wait lists
    {"waiter.task", AIO_OFF(aio::detail::waiter, task)},
    {"waiter.next", AIO_OFF(aio::detail::waiter, next)},
    {"waiter.list", AIO_OFF(aio::detail::waiter, list)},
    {"waiter.task_next", AIO_OFF(aio::detail::waiter, task_next)},
    {"wait_list.waiting_head", inspect_layout::wait_list_waiting_head()},
    {"wait_list.handed_head", inspect_layout::wait_list_handed_head()},
    {"wait_list.what", inspect_layout::wait_list_what()},  // const char*: "aio::lock", ...
    // what is behind a wait list, from the list's address
    {"lock.waiters", inspect_layout::lock_waiters()},  // the lock's wait_list, in the lock
    {"lock.owner_from_waiters",
     inspect_layout::lock_owner_from_waiters()},  // task_base* or the lock
    {"stream.peer_from_read_waiters", aio::detail::inspect_stream_peer_from_read()},
    {"stream.peer_from_write_waiters", aio::detail::inspect_stream_peer_from_write()},
    {"scheduler.from_change_waiters", inspect_layout::scheduler_from_change_waiters()},
    {"scheduler.name", inspect_layout::scheduler_name()},            // std::string
    {"task_group.children", inspect_layout::task_group_children()},  // task_base* [begin, end)
    // jobs: a task whose done_hook is job.hook is a job; done_hook_arg its job_state
    {"job.hook", aio::jobs::detail::inspect_job_hook()},
    {"job.name", AIO_OFF(aio::jobs::detail::job_state, name_)},        // std::string
    {"job.scheduler", AIO_OFF(aio::jobs::detail::job_state, sched_)},  // scheduler*
    // timers: the loop's heap of timer_node*; `fire` tells whose node it is
    {"timer.deadline", AIO_OFF(aio::detail::timer_node, deadline)},  // i64 ns, steady clock
    {"timer.fire", AIO_OFF(aio::detail::timer_node, fire)},
    {"timer.owner", AIO_OFF(aio::detail::timer_node, owner)},
    {"fire.sleep", aio::detail::inspect_sleep_fire()},  // owner: the sleeping task's waiter
    {"fire.deadline", inspect_layout::fn(&aio::detail::deadline_timer::fire)},  // owner: waiter
    {"fire.timeout", aio::detail::inspect_timeout_fire()},  // owner: a timeout_scope
    {"timeout.task", inspect_layout::timeout_task()},
    {"timeout.when", inspect_layout::timeout_when()},  // i64 ns, steady clock
};

#undef AIO_OFF

std::mutex inspect_mutex;

}  // namespace

#pragma GCC diagnostic pop

extern "C" {
// In its own section so that a reader finds it in a stripped program (the section headers
// stay); `used` keeps it through --gc-sections.
__attribute__((used, section("aio_inspect"))) aio_inspect_root_v1 aio_inspect_root = {
    {'a', 'i', 'o', '-', 'i', 'n', 's', 'p'},
    1,
    static_cast<std::uint32_t>(sizeof fields / sizeof fields[0]),
    fields,
    nullptr,
    0,
    0,
};
}

namespace aio::detail {

void inspect_link(loop_core* l) noexcept {
    std::lock_guard<std::mutex> g(inspect_mutex);
    aio_inspect_root.generation = aio_inspect_root.generation + 1;
    l->inspect_next_ = static_cast<loop_core*>(aio_inspect_root.loops);
    aio_inspect_root.loops = l;
    aio_inspect_root.loop_count = aio_inspect_root.loop_count + 1;
    aio_inspect_root.generation = aio_inspect_root.generation + 1;
}

void inspect_unlink(loop_core* l) noexcept {
    std::lock_guard<std::mutex> g(inspect_mutex);
    aio_inspect_root.generation = aio_inspect_root.generation + 1;
    void* volatile* link = &aio_inspect_root.loops;
    while (*link != nullptr) {
        auto* cur = static_cast<loop_core*>(*link);
        if (cur == l) {
            *link = cur->inspect_next_;
            aio_inspect_root.loop_count = aio_inspect_root.loop_count - 1;
            break;
        }
        link = reinterpret_cast<void* volatile*>(&cur->inspect_next_);
    }
    l->inspect_next_ = nullptr;
    aio_inspect_root.generation = aio_inspect_root.generation + 1;
}

}  // namespace aio::detail
