// The only interface to Boost.Context: make a context on a stack, switch between contexts.
// fiber_context.cpp is the only file that includes <boost/context/...>.
//
// A switch also carries what must follow the fiber and not the thread:
//  - the C++ runtime's exception bookkeeping (__cxa_eh_globals: caught exceptions and the
//    uncaught count), so a task that suspends inside a catch block cannot tangle another
//    task's `throw;`;
//  - the AddressSanitizer fiber annotations, in sanitizer builds.
#pragma once

#include <aio/detail/task_base.hpp>

#include <cstddef>

namespace aio::detail {


/// What a context receives when switched to.
struct transfer {
    void* from_ctx;
    void* data;
};

using entry_fn = void (*)(transfer);

/// Prepares `slot` to start `entry` on the stack [bottom, bottom + size) at its first switch.
void make_context(context_slot& slot, void* bottom, std::size_t size, entry_fn entry) noexcept;

/// Saves the running context into `from` and runs `to`, passing `data`. Returns when some
/// context switches back to `from`; the returned transfer names the context that did.
/// The caller stores the returned from_ctx in that context's slot.
transfer switch_context(context_slot& from, context_slot& to, void* data) noexcept;

/// Leaves a finished fiber for good: like switch_context, but `from` is never resumed.
[[noreturn]] void exit_context(context_slot& from, context_slot& to, void* data) noexcept;

/// Called first thing in an entry function (and after every switch inside it is handled by
/// switch_context): completes the sanitizer switch and learns the bounds of the stack we
/// came from, stored into `came_from`.
void enter_context(context_slot& self, context_slot& came_from) noexcept;

}  // namespace aio::detail
