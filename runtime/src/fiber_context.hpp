// The only interface to Boost.Context: make a context on a stack, switch between contexts.
// This header and fiber_context.cpp are the only files that include <boost/context/...>.
// The switch is inline because it is the hottest path of the runtime: every call level
// around a stack switch costs a mispredicted return on the way back.
//
// A switch also carries what must follow the fiber and not the thread:
//  - the C++ runtime's exception bookkeeping (__cxa_eh_globals: caught exceptions and the
//    uncaught count), so a task that suspends inside a catch block cannot tangle another
//    task's `throw;`;
//  - the AddressSanitizer and ThreadSanitizer fiber annotations, in sanitizer builds (so that
//    TSan sees a switch as the synchronization it is, and keeps one shadow stack per fiber).
#pragma once

#include <aio/detail/config.hpp>
#include <aio/detail/task_base.hpp>

#include <boost/context/detail/fcontext.hpp>

#include <cstddef>

#if defined(AIO_SANITIZE_ADDRESS)
#define AIO_ASAN 1
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(AIO_SANITIZE_THREAD)
#define AIO_TSAN 1
#include <sanitizer/tsan_interface.h>
#endif

namespace aio::detail {

/// What a context receives when switched to.
struct transfer {
    void* from_ctx;
    void* data;
};

using entry_fn = void (*)(transfer);

/// Boost.Context's view of an entry function.
using raw_entry_fn = void (*)(boost::context::detail::transfer_t);

/// Prepares `slot` to start `entry` on the stack [bottom, bottom + size) at its first switch.
void make_raw_context(context_slot& slot, void* bottom, std::size_t size,
                      raw_entry_fn entry) noexcept;

/// Boost.Context calls a function taking its own transfer_t: one trampoline per entry
/// function, so no mutable state is shared between the threads that make contexts.
template <entry_fn Entry>
void trampoline(boost::context::detail::transfer_t t) {
    Entry(transfer{t.fctx, t.data});
}

/// Prepares `slot` to start `Entry` on the stack [bottom, bottom + size) at its first switch.
template <entry_fn Entry>
void make_context(context_slot& slot, void* bottom, std::size_t size) noexcept {
    make_raw_context(slot, bottom, size, &trampoline<Entry>);
}

// libsupc++'s per-thread exception globals (unwind-cxx.h). Only these two fields exist on
// the platforms we build for; we swap them on every switch.
struct eh_globals {
    void* caught;
    unsigned int uncaught;
};

/// Cache of this thread's exception globals, in initial-exec TLS (a plain load).
extern __attribute__((tls_model("initial-exec"))) thread_local eh_globals* tls_eh;
eh_globals* load_eh_globals() noexcept;

inline eh_globals* thread_eh_globals() noexcept {
    eh_globals* g = tls_eh;
    return AIO_LIKELY(g != nullptr) ? g : load_eh_globals();
}

inline void swap_eh(context_slot& from, context_slot& to) noexcept {
    eh_globals* g = thread_eh_globals();
    from.eh_caught = g->caught;
    from.eh_uncaught = g->uncaught;
    g->caught = to.eh_caught;
    g->uncaught = to.eh_uncaught;
}

/// Saves the running context into `from` and runs `to`, passing `data`. Returns when some
/// context switches back to `from`; the returned transfer names the context that did.
/// The caller stores the returned from_ctx in that context's slot.
AIO_ALWAYS_INLINE transfer switch_context(context_slot& from, context_slot& to,
                                          void* data) noexcept {
    swap_eh(from, to);
#if AIO_ASAN
    __sanitizer_start_switch_fiber(&from.fake_stack, to.stack_bottom, to.stack_size);
#endif
#if AIO_TSAN
    if (from.tsan_fiber == nullptr) {
        from.tsan_fiber = __tsan_get_current_fiber();  // the loop's own stack: the thread's
    }
    __tsan_switch_to_fiber(to.tsan_fiber, 0);
#endif
    boost::context::detail::transfer_t t = boost::context::detail::jump_fcontext(to.ctx, data);
#if AIO_ASAN
    __sanitizer_finish_switch_fiber(from.fake_stack, nullptr, nullptr);
#endif
    return transfer{t.fctx, t.data};
}

/// Leaves a finished fiber for good: like switch_context, but `from` is never resumed.
[[noreturn]] void exit_context(context_slot& from, context_slot& to, void* data) noexcept;

/// Releases what a context made by make_context holds besides its stack (TSan's fiber).
/// Called on another context once `slot`'s fiber has exited.
void destroy_context(context_slot& slot) noexcept;

/// Called first thing in an entry function: completes the sanitizer switch and learns the
/// bounds of the stack we came from, stored into `came_from`.
void enter_context(context_slot& self, context_slot& came_from) noexcept;

}  // namespace aio::detail
