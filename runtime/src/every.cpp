// every(): the grid arithmetic. The schedule is start + k × interval, computed from k each
// time (never by adding intervals to the last wake-up), so no rounding or lateness piles up.
#include <aio/every.hpp>
#include <aio/task.hpp>

#include <string>

namespace aio::detail {

std::uint64_t next_tick_number(time_point start, duration interval, std::uint64_t last,
                               time_point now) noexcept {
    // The first tick at or after `now`: ceil((now - start) / interval). A run that ended
    // exactly on a tick starts that tick at once; one that ended between ticks skips the
    // ticks it overran. Always after `last`: a run that took no loop time waits one interval.
    std::uint64_t due = last + 1;
    if (now > start) {
        const duration elapsed = now - start;
        auto k = static_cast<std::uint64_t>(elapsed / interval);
        if (elapsed % interval != duration::zero()) {
            ++k;
        }
        if (k > due) {
            due = k;
        }
    }
    return due;
}

time_point every_start(duration interval) {
    if (interval <= duration::zero()) {
        throw value_error("aio::every(interval, fn): the interval must be positive, got " +
                          format_duration(interval));
    }
    if (!current_task()) {
        throw usage_error("aio::every() must be called from inside a task: it runs in the "
                          "calling task (wrap it in aio::create_task to run it in the "
                          "background)");
    }
    return get_running_loop().time();
}

}  // namespace aio::detail
