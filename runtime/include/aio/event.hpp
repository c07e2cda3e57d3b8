// event: a flag tasks can wait for (asyncio.Event). See docs/reference/event.md.
#pragma once

#include <aio/detail/intrusive_list.hpp>

namespace aio {

/// A flag, initially false. Loop thread only.
class event {
public:
    event() = default;
    event(const event&) = delete;
    event& operator=(const event&) = delete;

    /// Sets the flag and wakes every waiting task. Does not suspend. Throws usage_error when
    /// called from a thread that does not run the waiters' loop (hand it over with
    /// loop.call_soon_threadsafe).
    void set();
    /// Resets the flag. Does not suspend.
    void clear() noexcept { flag_ = false; }
    [[nodiscard]] bool is_set() const noexcept { return flag_; }
    /// Returns at once if the flag is set; otherwise suspends until set() is called.
    /// Yield point and cancellation point (when it suspends). Throws usage_error outside a task.
    void wait();

private:
    bool flag_ = false;
    detail::wait_list waiters_{"aio::event"};
};

}  // namespace aio
