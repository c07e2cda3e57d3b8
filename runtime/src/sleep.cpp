#include "loop_core.hpp"

#include <aio/sleep.hpp>
#include <aio/timeout.hpp>

namespace aio {

namespace {

// The sleeping task's timer node and waiter both live in this frame, on its fiber stack.
struct sleeper {
    detail::timer_node timer;
    detail::waiter w;
};

void wake_sleeper(detail::timer_node* tn) noexcept {
    detail::notify(*static_cast<detail::waiter*>(tn->owner));
}

}  // namespace

namespace detail {
std::int64_t inspect_sleep_fire() noexcept {
    return static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(&wake_sleeper));
}
}  // namespace detail

void sleep_until(time_point when) {
    detail::task_base& me = detail::require_task("aio::sleep()");
    detail::loop_core& l = *me.loop_;
    if (when <= l.now()) {
        detail::yield_now(me);
        return;
    }
    detail::checkpoint(me);
    sleeper s;
    s.w.task = &me;
    s.timer.deadline = when;
    s.timer.fire = &wake_sleeper;
    s.timer.owner = &s.w;
    if (when != time_point::max()) {  // sleep(no_timeout): until cancelled
        l.add_timer(s.timer);
    }
    try {
        detail::park(me, "aio::sleep");
    } catch (...) {
        l.remove_timer(s.timer);
        throw;
    }
}

void sleep(duration d) {
    if (d <= duration::zero()) {
        yield();
        return;
    }
    detail::require_task("aio::sleep()");
    sleep_until(detail::deadline_after(d));
}

void yield() {
    detail::loop_core* l = detail::tls_loop;
    detail::task_base* t = l != nullptr ? l->current_ : nullptr;
    if (AIO_UNLIKELY(t == nullptr)) {
        t = &detail::require_task("aio::yield()");  // throws the usage error
    }
    detail::yield_inline(*t);
}

}  // namespace aio
