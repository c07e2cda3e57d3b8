// The lives of tasks: spawn, steps, parking and waking, cancellation, completion.
//
// A task is a fiber. The loop resumes it (run_step); it runs until it *parks* at a yield point
// (park / yield_now / join), or finishes. Every switch goes through the loop's own stack:
// task -> loop -> next task. That keeps one invariant simple: instruments, timers and
// finalization always run on the loop stack, never on a fiber stack.
//
// Cancellation follows asyncio 3.11+:
//   cancel()     counts a request (cancelling()), marks a cancelled_error as owed, and wakes
//                the task if it is parked at a cancellable yield point;
//   the task     raises the owed cancelled_error at its current or next yield point;
//   uncancel()   withdraws a request; at zero, a cancellation not yet delivered is dropped.
// A cancellation that arrives before the parked task resumes wins, as in asyncio, even over a
// notification that came first: the yield point raises cancelled_error. Two rules keep that
// from losing anything a primitive hands over:
//   1. cancel() takes the task's waiters out of their wait lists at once, so no hand-off
//      (a lock, a permit, a queue item, a notification) can reach a task that is leaving;
//   2. a waiter that was handed something just before its cancellation arrived gives it back
//      (to the next waiter, or to the primitive) before cancelled_error leaves the primitive.
#include "loop_core.hpp"

#include <aio/errors.hpp>
#include <aio/instrument.hpp>
#include <aio/task.hpp>

#include <atomic>
#include <cstdio>

namespace aio::detail {

namespace {

std::atomic<std::uint64_t> next_task_id{1};

// The fiber's entry: runs the body, records the outcome, and leaves the fiber for good.
// Everything that can throw is inside the try; the entry itself must never throw.
void fiber_entry(transfer tr) noexcept {
    auto* t = static_cast<task_base*>(tr.data);
    loop_core* l = t->loop_;
    l->main_slot_.ctx = tr.from_ctx;
    enter_context(t->slot_, l->main_slot_);
    try {
        t->run_body();
        if (AIO_UNLIKELY(t->cancel_watch_)) {
            ran_on_after_cancel(*t);  // it returned after a delivered cancellation
        }
        if (t->must_cancel_) {
            // Cancelled right before it returned (asyncio marks such a task cancelled too).
            t->outcome_ = task_outcome::cancelled;
        } else {
            t->outcome_ = task_outcome::value;
        }
    } catch (const cancelled_error& e) {
        t->outcome_ = task_outcome::cancelled;
        t->cancel_message_ = e.message();
    } catch (...) {
        t->outcome_ = task_outcome::exception;
        t->exception_ = std::current_exception();
    }
    t->state_ = task_state::done;
    if (!t->stack_->canary_intact()) {
        l->stack_overflow(*t);
    }
    exit_context(t->slot_, l->main_slot_, t);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// The loop side.

void spawn(task_base* t) {
    loop_core& l = require_loop("aio::create_task()");
    l.spawn(t, __builtin_extract_return_addr(__builtin_return_address(0)));
}

void apply_options(task_base* t, task_options&& opts) noexcept {
    t->name_ = std::move(opts.name);
    t->stack_size_ = opts.stack_size;
    t->site_.file = opts.where.file_name();
    t->site_.line = opts.where.line();
    t->site_.function = opts.where.function_name();
}

void loop_core::spawn(task_base* t, void* caller) {
    t->loop_ = this;
    t->id_ = next_task_id.fetch_add(1, std::memory_order_relaxed);
    t->site_.caller = caller;
    if (t->stack_size_ == 0) {
        t->stack_size_ = default_stack_size_;
    }
    t->all_next_ = all_head_;
    if (all_head_ != nullptr) {
        all_head_->all_prev_ = t;
    }
    all_head_ = t;
    ++stats_.tasks_spawned;
    if (++stats_.tasks_alive > stats_.peak_tasks_alive) {
        stats_.peak_tasks_alive = stats_.tasks_alive;
    }
    t->add_ref();  // the loop's reference, dropped in finish()
    schedule_task(t);
    if (AIO_UNLIKELY(instrumented_)) {
        task_ref ref(t);
        each_instrument([&](instrument& i) { i.task_spawned(ref); });
    }
}

void loop_core::run_step_slow(task_base* t) noexcept {
    if (AIO_UNLIKELY(t->stack_ == nullptr)) {
        if (t->must_cancel_) {
            // Cancelled before it ever ran: it never runs its function and needs no stack.
            t->outcome_ = task_outcome::cancelled;
            t->state_ = task_state::done;
            finish(t);
            return;
        }
        try {
            t->stack_ = stacks_.acquire(t->stack_size_);
        } catch (...) {
            t->outcome_ = task_outcome::exception;
            t->exception_ = std::current_exception();
            t->state_ = task_state::done;
            finish(t);
            return;
        }
        make_context<&fiber_entry>(t->slot_, t->stack_->bottom, t->stack_->size);
        if (watermarks_) {
            *watermark_of(t->stack_) = watermark_value;
        }
    }
    current_ = t;
    t->state_ = task_state::running;
    ++stats_.steps;
    if (step_hooks_) {
        task_ref ref(t);
        each_instrument([&](instrument& i) {
            if (&i != probed_) {
                i.before_task_step(ref);
            }
        });
    }
    if (probe_ != nullptr) {
        probe_->task_id.store(t->id_, std::memory_order_relaxed);
        probe_->task_name.store(t->name_.empty() ? nullptr : t->name_.c_str(),
                                std::memory_order_relaxed);
        probe_->generation.store(++probe_generation_, std::memory_order_release);
    }
    transfer tr = switch_context(main_slot_, t->slot_, t);
    current_ = nullptr;
    if (probe_ != nullptr) {
        probe_->generation.store(++probe_generation_, std::memory_order_release);
        if (AIO_UNLIKELY(probe_->attention.load(std::memory_order_acquire))) {
            probed_->after_task_step(task_ref(t));
        }
    }
    if (step_hooks_) {
        task_ref ref(t);
        each_instrument([&](instrument& i) {
            if (&i != probed_) {
                i.after_task_step(ref);
            }
        });
    }
    if (t->state_ == task_state::done) {
        finish(t);
    } else {
        t->slot_.ctx = tr.from_ctx;
    }
}

void loop_core::finish(task_base* t) noexcept {
    if (t->stack_ != nullptr && watermarks_) {
        t->stack_deep_ = *watermark_of(t->stack_) != watermark_value;
    }
    if (t->stack_ != nullptr) {
        destroy_context(t->slot_);
        stacks_.release(t->stack_);
        t->stack_ = nullptr;
    }
    --stats_.tasks_alive;
    if (AIO_UNLIKELY(instrumented_)) {
        task_ref ref(t);
        each_instrument([&](instrument& i) { i.task_done(ref); });
    }
    while (waiter* w = t->done_waiters_.pop_front()) {
        notify(*w);
    }
    if (t->done_hook_ != nullptr) {
        t->done_hook_(t, t->done_hook_arg_);  // before the waiters just queued resume
    }
    if (t->done_callbacks_) {
        auto callbacks = std::move(t->done_callbacks_);
        for (auto& cb : *callbacks) {
            try {
                schedule_callback([cb = std::move(cb), ref = task_ref(t)] { cb(ref); }, nullptr);
            } catch (...) {
                report(
                    {"Exception while scheduling a done callback", std::current_exception(), {}});
            }
        }
    }
    t->release();  // the loop's reference
}

void loop_core::stack_overflow(task_base& t) noexcept {
    report_stack_overflow(t, "its stack canary was overwritten");
}

void loop_core::on_handle_dropped(task_base* t) noexcept {
    if (AIO_UNLIKELY(instrumented_)) {
        task_ref ref(t);
        each_instrument([&](instrument& i) { i.task_handle_dropped(ref); });
    }
}

void loop_core::on_task_destroyed(task_base* t) noexcept {
    if (t->all_prev_ != nullptr) {
        t->all_prev_->all_next_ = t->all_next_;
    } else {
        all_head_ = t->all_next_;
    }
    if (t->all_next_ != nullptr) {
        t->all_next_->all_prev_ = t->all_prev_;
    }
    t->all_prev_ = t->all_next_ = nullptr;
}

// ---------------------------------------------------------------------------------------
// The task side: yield points.

task_base* current_task_or_null() noexcept {
    loop_core* l = tls_loop;
    return l != nullptr ? l->current_ : nullptr;
}

task_base& require_task(const char* what) {
    task_base* t = current_task_or_null();
    if (t == nullptr) {
        if (tls_loop == nullptr) {
            if (std::string message = foreign_call(what); !message.empty()) {
                throw usage_error(message);  // a loop runs on another thread: wrong thread
            }
        }
        throw usage_error(std::string(what) +
                          " can only be called from inside a task; start one with aio::run(main) "
                          "or aio::create_task(fn)");
    }
    return *t;
}

namespace {

// Debug mode's cancel-swallowed names where a cancellation was delivered and where the task
// went on after it; the runtime tells the instruments at both places, on the task's stack.
void tell_cancel_delivered(task_base& t) noexcept {
    if (AIO_UNLIKELY(t.loop_ != nullptr && t.loop_->instrumented())) {
        t.cancel_watch_ = true;
        task_ref ref(&t);
        t.loop_->each_instrument([&](instrument& i) { i.cancel_delivered(ref); });
    }
}

}  // namespace

void ran_on_after_cancel(task_base& t) noexcept {
    t.cancel_watch_ = false;
    if (t.cancel_requests_ > 0 && t.loop_ != nullptr) {
        task_ref ref(&t);
        t.loop_->each_instrument([&](instrument& i) { i.ran_on_after_cancel(ref); });
    }
}

void deliver_cancel(task_base& t) {
    t.must_cancel_ = false;
    ++t.cancels_delivered_;
    tell_cancel_delivered(t);
    throw cancelled_error(t.cancel_message_);
}

void raise_abandoned(task_base& t, const waiter& w) {
    if (t.must_cancel_) {
        deliver_cancel(t);
    }
    throw usage_error(std::string(w.gone) + " was destroyed while task '" + task_ref(&t).name() +
                      "' waited on it; keep it alive until no task waits on it (declare it "
                      "before the tasks that use it, or wait for them before it goes)");
}

void abandon_waiters(wait_list& list) noexcept {
    while (waiter* w = list.any()) {
        const bool was_waiting = !w->handed;
        list.remove(*w);
        w->gone = list.what();
        if (was_waiting) {
            notify(*w, waiter::abandoned);
        }
    }
}

void checkpoint(task_base& t) {
    if (AIO_UNLIKELY(t.cancel_watch_)) {
        ran_on_after_cancel(t);  // the first yield point after a delivered cancellation
    }
    if (AIO_UNLIKELY(t.must_cancel_)) {
        deliver_cancel(t);
    }
}

namespace {

// The loop resumed a parked task only to learn where it waits: report, and park again unless
// something real happened meanwhile (a notification, or a cancellation of a cancellable park).
void serve_captures(task_base& t) noexcept {
    while (AIO_UNLIKELY(t.capture_)) {
        t.capture_ = false;
        t.loop_->report_suspension(t);
        if (t.notified_ || (t.cancellable_park_ && t.must_cancel_)) {
            return;
        }
        t.state_ = task_state::suspended;
        t.loop_->switch_to_loop(t);
    }
}

}  // namespace

bool park_or_cancelled(task_base& t, const char* what) noexcept {
    if (t.must_cancel_) {
        return false;
    }
    t.waiting_on_ = what;
    t.parked_at_ = t.loop_->batch_time_;
    t.notified_ = false;
    t.cancellable_park_ = true;
    t.state_ = task_state::suspended;
    t.loop_->switch_to_loop(t);
    serve_captures(t);
    t.cancellable_park_ = false;
    // A cancellation owed now wins over a notification (see the top of this file). A park
    // neither notified nor cancelled was woken by a cancellation that uncancel() withdrew
    // before the task ran; it raises cancelled_error too, as asyncio's cancelled future does.
    return t.notified_ && !t.must_cancel_;
}

void park(task_base& t, const char* what) {
    if (!park_or_cancelled(t, what)) {
        deliver_cancel(t);
    }
}

void throw_cancelled(task_base& t, const std::string& message) {
    ++t.cancels_delivered_;
    tell_cancel_delivered(t);
    throw cancelled_error(message);
}

void park_uncancellable(task_base& t, const char* what) noexcept {
    t.waiting_on_ = what;
    t.parked_at_ = t.loop_->batch_time_;
    t.notified_ = false;
    t.cancellable_park_ = false;
    t.state_ = task_state::suspended;
    t.loop_->switch_to_loop(t);
    serve_captures(t);
}

void loop_core::report_suspension(task_base& t) noexcept {
    if (instrumented_) {
        task_ref ref(&t);
        each_instrument([&](instrument& i) { i.task_suspended_at(ref); });
    }
}

bool request_capture(task_base& t) noexcept {
    if (t.state_ != task_state::suspended || t.capture_) {
        return false;
    }
    t.capture_ = true;
    t.loop_->schedule_task(&t);
    return true;
}

void loop_core::capture_suspension_points() {
    bool any = false;
    for (task_base* t = all_head_; t != nullptr; t = t->all_next_) {
        if (t->state_ == task_state::suspended && t != current_) {
            t->capture_ = true;
            schedule_task(t);
            any = true;
        }
    }
    if (any) {
        run_once();
    }
}

void yield_now(task_base& t) {
    yield_inline(t);
}

void notify(waiter& w, int status) noexcept {
    w.status = status;
    task_base* t = w.task;
    if (!t->notified_) {
        t->notified_ = true;
        if (t->state_ == task_state::suspended) {
            t->loop_->schedule_task(t);
        }
    }
}

bool cancel(task_base& t, std::string_view message) noexcept {
    if (t.state_ == task_state::done) {
        return false;
    }
    loop_core* l = t.loop_;
    AIO_ASSERT(tls_loop == l);  // the public entry points check the thread first
    if (AIO_UNLIKELY(l->instrumented_)) {
        task_ref ref(&t);
        l->each_instrument([&](instrument& i) { i.cancel_requested(ref, message); });
    }
    ++t.cancel_requests_;
    if (t.awaiting_ != nullptr && t.state_ != task_state::running && t.cancellable_park_ &&
        !t.notified_ && !t.awaiting_->done()) {
        // Parked in get() on a task still running: the cancellation goes to that task now,
        // and this one keeps waiting for it to finish (asyncio: `_fut_waiter.cancel()`).
        return detail::cancel(*t.awaiting_, message);
    }
    t.must_cancel_ = true;
    try {
        t.cancel_message_ = message;
    } catch (...) {
        t.cancel_message_.clear();  // out of memory: cancel without the message
    }
    if (t.state_ != task_state::running && t.cancellable_park_) {
        // Rule 1: a task that is going to raise cancelled_error takes no hand-off. Its waiters
        // leave their lists now; what a waker already handed it, it gives back when it runs.
        for (waiter* w = t.waits_; w != nullptr; w = w->task_next) {
            if (w->list != nullptr && !w->handed) {
                w->list->remove(*w);
            }
        }
        if (t.state_ == task_state::suspended && !t.notified_) {
            l->schedule_task(&t);
        }
    }
    return true;
}

void task_base::join() {
    task_base& me = require_task("task::get()");
    check_thread(this, "aio::task::get");
    if (&me == this) {
        throw usage_error("task '" + task_ref(this).name() +
                          "' called get() on itself: a task cannot wait for its own end");
    }
    // Like `await task` in asyncio: cancelling the waiter is passed on to the awaited task
    // (by cancel() itself while the waiter is parked here, or below when the cancellation came
    // while it ran), and the waiter goes on waiting for it to finish. A cancellation that
    // arrives once the awaited task is done (nothing left to pass it to) is raised here.
    while (state_ != task_state::done) {
        if (me.must_cancel_) {
            me.must_cancel_ = false;
            detail::cancel(*this, me.cancel_message_);
        }
        waiter w{&me};
        waiter_guard guard(done_waiters_, w);
        me.awaiting_ = this;
        const bool notified = park_or_cancelled(me);
        me.awaiting_ = nullptr;
        if (!notified && state_ == task_state::done && me.must_cancel_) {
            deliver_cancel(me);
        }
    }
}

void task_base::require_done(const char* what) const {
    if (state_ != task_state::done) {
        throw invalid_state_error(std::string(what) + " called on task '" +
                                  task_ref(const_cast<task_base*>(this)).name() +
                                  "' before it is done; use get() to wait for it");
    }
}

void task_base::rethrow_failure() {
    if (outcome_ == task_outcome::cancelled) {
        throw cancelled_error(cancel_message_);
    }
    if (outcome_ == task_outcome::exception) {
        std::rethrow_exception(exception_);
    }
    throw internal_error("aio: rethrow_failure on a task that did not fail");
}

void task_base::drop_handle() noexcept {
    if (--handles_ == 0 && !observed_ && !detached_ && loop_ != nullptr) {
        loop_->on_handle_dropped(this);
    }
}

task_base::~task_base() = default;

void task_base::destroy() noexcept {
    if (loop_ != nullptr) {
        if (outcome_ == task_outcome::exception && !exception_retrieved_) {
            // Report while the object is whole. The count is raised so that the references
            // the report takes do not destroy it again; one kept beyond the report keeps the
            // task alive, and its last release comes back here with nothing left to report.
            exception_retrieved_ = true;
            refs_ = 1;
            loop_->report_unretrieved(this);
            if (--refs_ != 0) {
                return;
            }
        }
        loop_->on_task_destroyed(this);
    }
    delete this;
}

std::string describe_task(const task_base* t) {
    std::string name = t->name_.empty() ? "task-" + std::to_string(t->id_) : t->name_;
    std::string s = "task '" + name + "'";
    std::string site = resolve_site(t->site_).to_string();
    if (site != "?") {
        s += " created at " + site;
    }
    return s;
}

void loop_core::report_unretrieved(task_base* t) noexcept {
    if (AIO_UNLIKELY(instrumented_)) {
        task_ref ref(t);
        each_instrument([&](instrument& i) { i.task_exception_unretrieved(ref); });
    }
    std::string who;
    try {
        who = describe_task(t);
    } catch (...) {
    }
    report({"Task exception was never retrieved", t->exception_, [who] { return who; }});
}

}  // namespace aio::detail

// ---------------------------------------------------------------------------------------
// task_ref

namespace aio {

bool task_ref::cancel(std::string_view message) const {
    if (!t_ || t_->done()) {
        return false;
    }
    detail::check_thread(t_.get(), "aio::task::cancel");
    return detail::cancel(*t_, message);
}

std::uint32_t task_ref::cancelling() const noexcept {
    return t_ ? t_->cancel_requests_ : 0;
}

std::uint32_t task_ref::uncancel() const noexcept {
    if (!t_ || t_->cancel_requests_ == 0) {
        return 0;
    }
    if (--t_->cancel_requests_ == 0) {
        t_->must_cancel_ = false;
    }
    return t_->cancel_requests_;
}

bool task_ref::done() const noexcept {
    return t_ && t_->done();
}

const char* task_ref::waiting_on() const noexcept {
    if (!t_ || t_->state_ != detail::task_state::suspended) {
        return "";
    }
    if (t_->waiting_on_ != nullptr) {
        return t_->waiting_on_;
    }
    if (t_->awaiting_ != nullptr) {
        return "aio::task::get";
    }
    if (t_->waits_ != nullptr && t_->waits_->list != nullptr) {
        return t_->waits_->list->what();
    }
    return "a yield point";
}

bool task_ref::cancelled() const noexcept {
    return t_ && t_->outcome_ == detail::task_outcome::cancelled;
}

std::string task_ref::name() const {
    if (!t_) {
        return "<no task>";
    }
    if (!t_->name_.empty()) {
        return t_->name_;
    }
    return "task-" + std::to_string(t_->id_);
}

void task_ref::set_name(std::string name) const {
    if (t_) {
        t_->name_ = std::move(name);
    }
}

std::uint64_t task_ref::id() const noexcept {
    return t_ ? t_->id_ : 0;
}

const detail::creation_site& task_ref::raw_creation_site() const noexcept {
    static const detail::creation_site none{};
    return t_ ? t_->site_ : none;
}

std::size_t task_ref::stack_size() const noexcept {
    return t_ ? t_->stack_size_ : 0;
}

void task_ref::add_done_callback(std::function<void(task_ref)> fn) const {
    if (!t_) {
        throw invalid_state_error("add_done_callback on an empty task_ref");
    }
    detail::check_thread(t_.get(), "aio::task::add_done_callback");
    if (t_->done()) {
        detail::require_loop("task::add_done_callback()")
            .schedule_callback([fn = std::move(fn), ref = task_ref(*this)] { fn(ref); }, nullptr);
        return;
    }
    if (!t_->done_callbacks_) {
        t_->done_callbacks_ = std::make_unique<std::vector<std::function<void(task_ref)>>>();
    }
    t_->done_callbacks_->push_back(std::move(fn));
}

void task_ref::detach() const noexcept {
    if (t_) {
        t_->detached_ = true;
    }
}

void task_ref::wait_done() const {
    if (!t_) {
        throw invalid_state_error("wait_done on an empty task_ref");
    }
    detail::task_base& me = detail::require_task("task::wait_done()");
    detail::check_thread(t_.get(), "aio::task::wait_done");
    while (!t_->done()) {
        detail::waiter w{&me};
        detail::waiter_guard guard(t_->done_waiters_, w);
        detail::park(me, "aio::task::wait_done");
    }
}

source_site task_ref::creation_site() const {
    return t_ ? detail::resolve_site(t_->site_) : source_site{};
}

task_ref current_task() noexcept {
    return task_ref(detail::current_task_or_null());
}

std::vector<task_ref> all_tasks() {
    detail::loop_core& l = detail::require_loop("aio::all_tasks()");
    std::vector<task_ref> out;
    for (detail::task_base* t = l.all_head_; t != nullptr; t = t->all_next_) {
        if (!t->done()) {
            out.emplace_back(t);
        }
    }
    return out;
}

}  // namespace aio
