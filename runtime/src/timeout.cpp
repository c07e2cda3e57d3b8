// Timeouts, as asyncio.Timeout (3.11+):
//   enter    remember the task and its cancelling() count, arm a timer;
//   expire   the timer cancels the task (state: expiring);
//   exit     if expiring, uncancel(); if the function ended with cancelled_error and the
//            count is back to (or below) the count at entry, the cancellation was ours:
//            raise timeout_error instead. Otherwise it belongs to an outer scope or to an
//            explicit cancel(), and passes through.
#include "loop_core.hpp"

#include <aio/timeout.hpp>

#include <new>

namespace aio::detail {

time_point deadline_after(duration d) {
    if (d == no_timeout) {
        return no_deadline;
    }
    loop_core& l = require_loop("aio::timeout()");
    time_point now = l.now();
    if (d > no_deadline - now) {
        return no_deadline;
    }
    return now + d;
}

struct timeout_timer {
    static void fire(timer_node* n) noexcept { static_cast<timeout_scope*>(n->owner)->fire(); }
};

/// For the inspector: a timer node with this action belongs to a timeout_scope.
std::int64_t inspect_timeout_fire() noexcept {
    return static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(&timeout_timer::fire));
}

}  // namespace aio::detail

namespace aio {

namespace {
detail::timer_node& node(unsigned char* storage) {
    return *std::launder(reinterpret_cast<detail::timer_node*>(storage));
}
}  // namespace

static_assert(sizeof(detail::timer_node) <= 48);

timeout_scope::timeout_scope(time_point when)
    : task_(&detail::require_task("aio::timeout()"))
    , when_(when)
    , entered_(task_->loop_->now())
    , cancelling_at_entry_(task_->cancel_requests_) {
    auto* n = new (timer_) detail::timer_node();
    n->fire = &detail::timeout_timer::fire;
    n->owner = this;
    arm();
}

timeout_scope::~timeout_scope() {
    disarm();
    node(timer_).~timer_node();
}

void timeout_scope::arm() {
    if (when_ == no_deadline) {
        return;
    }
    detail::timer_node& n = node(timer_);
    n.deadline = when_;
    task_->loop_->add_timer(n);
}

void timeout_scope::disarm() noexcept {
    detail::timer_node& n = node(timer_);
    if (n.queued()) {
        task_->loop_->remove_timer(n);
    }
}

void timeout_scope::reschedule(time_point when) {
    if (state_ != state::active) {
        throw invalid_state_error("timeout_scope::reschedule: the timeout has already expired or "
                                  "its scope has exited");
    }
    disarm();
    when_ = when;
    arm();
}

void timeout_scope::fire() noexcept {
    if (state_ != state::active) {
        return;
    }
    state_ = state::expiring;
    detail::cancel(*task_, "timeout");
}

bool timeout_scope::exit(bool cancelled_exit) noexcept {
    disarm();
    if (state_ == state::expiring) {
        state_ = state::expired;
        std::uint32_t left = task_ref(task_).uncancel();
        return cancelled_exit && left <= cancelling_at_entry_;
    }
    if (state_ == state::active) {
        state_ = state::exited_clean;
    }
    return false;
}

void timeout_scope::throw_timeout() const {
    throw timeout_error("timed out after " + format_duration(when_ - entered_));
}

}  // namespace aio
