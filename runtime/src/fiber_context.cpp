// The Boost.Context wrapper. See fiber_context.hpp.
//
// We use the fcontext primitives (make_fcontext / jump_fcontext) directly: they are the
// fastest switch Boost offers and leave stack ownership to us (stack_pool.cpp).
#include "fiber_context.hpp"

#include <aio/detail/config.hpp>

#include <boost/context/detail/fcontext.hpp>

#include <cxxabi.h>

namespace aio::detail {

namespace bctx = boost::context::detail;

// Initial-exec TLS: a plain load, no __tls_get_addr call, on the hottest path we have.
__attribute__((tls_model("initial-exec"))) thread_local eh_globals* tls_eh = nullptr;

eh_globals* load_eh_globals() noexcept {
    return tls_eh = reinterpret_cast<eh_globals*>(abi::__cxa_get_globals());
}

void make_raw_context(context_slot& slot, void* bottom, std::size_t size,
                      raw_entry_fn entry) noexcept {
    void* top = static_cast<char*>(bottom) + size;
    slot.ctx = bctx::make_fcontext(top, size, entry);
    slot.stack_bottom = bottom;
    slot.stack_size = size;
    slot.eh_caught = nullptr;
    slot.eh_uncaught = 0;
    slot.fake_stack = nullptr;
#if AIO_TSAN
    slot.tsan_fiber = __tsan_create_fiber(0);
#endif
}

static_assert(sizeof(transfer) == sizeof(bctx::transfer_t));

void exit_context(context_slot& from, context_slot& to, void* data) noexcept {
    swap_eh(from, to);
#if AIO_ASAN
    __sanitizer_start_switch_fiber(nullptr, to.stack_bottom, to.stack_size);
#endif
#if AIO_TSAN
    __tsan_switch_to_fiber(to.tsan_fiber, 0);
#endif
    bctx::jump_fcontext(to.ctx, data);
    __builtin_unreachable();
}

void destroy_context(context_slot& slot) noexcept {
#if AIO_TSAN
    if (slot.tsan_fiber != nullptr) {
        __tsan_destroy_fiber(slot.tsan_fiber);
        slot.tsan_fiber = nullptr;
    }
#else
    (void)slot;
#endif
}

void enter_context(context_slot& self, context_slot& came_from) noexcept {
    (void)self;
    (void)came_from;
#if AIO_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &came_from.stack_bottom, &came_from.stack_size);
#endif
}

}  // namespace aio::detail
