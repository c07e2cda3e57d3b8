// The Boost.Context wrapper. See fiber_context.hpp.
//
// We use the fcontext primitives (make_fcontext / jump_fcontext) directly: they are the
// fastest switch Boost offers and leave stack ownership to us (stack_pool.cpp).
#include "fiber_context.hpp"

#include <boost/context/detail/fcontext.hpp>

#include <cxxabi.h>

#if defined(__SANITIZE_ADDRESS__)
#define AIO_ASAN 1
#include <sanitizer/common_interface_defs.h>
#endif

namespace aio::detail {

namespace bctx = boost::context::detail;

namespace {

// libsupc++'s per-thread exception globals (unwind-cxx.h). Only these two fields exist on
// the platforms we build for; we swap them on every switch.
struct eh_globals {
    void* caught;
    unsigned int uncaught;
};

eh_globals* thread_eh_globals() noexcept {
    thread_local eh_globals* g = reinterpret_cast<eh_globals*>(abi::__cxa_get_globals());
    return g;
}

inline void swap_eh(context_slot& from, context_slot& to) noexcept {
    eh_globals* g = thread_eh_globals();
    from.eh_caught = g->caught;
    from.eh_uncaught = g->uncaught;
    g->caught = to.eh_caught;
    g->uncaught = to.eh_uncaught;
}

}  // namespace

namespace {

// Boost.Context calls a function taking its own transfer_t; the runtime has one entry point.
entry_fn registered_entry = nullptr;

void trampoline(bctx::transfer_t t) { registered_entry(transfer{t.fctx, t.data}); }

}  // namespace

void make_context(context_slot& slot, void* bottom, std::size_t size, entry_fn entry) noexcept {
    void* top = static_cast<char*>(bottom) + size;
    registered_entry = entry;
    slot.ctx = bctx::make_fcontext(top, size, &trampoline);
    slot.stack_bottom = bottom;
    slot.stack_size = size;
    slot.eh_caught = nullptr;
    slot.eh_uncaught = 0;
    slot.fake_stack = nullptr;
}

static_assert(sizeof(transfer) == sizeof(bctx::transfer_t));

transfer switch_context(context_slot& from, context_slot& to, void* data) noexcept {
    swap_eh(from, to);
#if AIO_ASAN
    __sanitizer_start_switch_fiber(&from.fake_stack, to.stack_bottom, to.stack_size);
#endif
    bctx::transfer_t t = bctx::jump_fcontext(to.ctx, data);
#if AIO_ASAN
    __sanitizer_finish_switch_fiber(from.fake_stack, nullptr, nullptr);
#endif
    return transfer{t.fctx, t.data};
}

void exit_context(context_slot& from, context_slot& to, void* data) noexcept {
    swap_eh(from, to);
#if AIO_ASAN
    __sanitizer_start_switch_fiber(nullptr, to.stack_bottom, to.stack_size);
#endif
    bctx::jump_fcontext(to.ctx, data);
    __builtin_unreachable();
}

void enter_context(context_slot& self, context_slot& came_from) noexcept {
    (void)self;
    (void)came_from;
#if AIO_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &came_from.stack_bottom, &came_from.stack_size);
#endif
}

}  // namespace aio::detail
