// The job scheduler (aiojobs.Scheduler). A job is a job_state: its function while pending,
// then its task. The scheduler keeps its live jobs in an intrusive list (each link holds a
// reference) and its pending ones, in spawn order, in a deque.
//
// A job's end is handled by job_state::on_done(), from its task's done hook: on the loop
// stack, the moment the task is done, before anyone waiting for it wakes. So a failure goes
// to the exception handler exactly when nobody waited for or closed the job before it
// failed, and when wait() or close() returns the scheduler's counts are up to date. (A done
// callback would cost three allocations and a loop iteration per job.) on_done() is
// idempotent; wait() and close() call it too, for jobs whose end they handle themselves.
#include "../loop_core.hpp"

#include <aio/jobs/scheduler.hpp>
#include <aio/timeout.hpp>

#include <algorithm>
#include <span>
#include <string>
#include <vector>

namespace aio::jobs {

using aio::detail::notify;
using aio::detail::park;
using aio::detail::require_task;
using aio::detail::waiter;
using aio::detail::waiter_guard;

namespace {

// Waiter status when the scheduler a spawn() waits on is destroyed under it.
constexpr int scheduler_gone = 2;

std::string where_text(const std::source_location& w) {
    if (w.line() == 0) {
        return "?";  // spawn(fn, args...) records no line; spawn(job_options, ...) does
    }
    std::string file = w.file_name();
    if (auto slash = file.rfind('/'); slash != std::string::npos) {
        file.erase(0, slash + 1);
    }
    return file + ":" + std::to_string(w.line());
}

std::string describe(const detail::job_state& s) {
    std::string state = s.closed_ ? "closed" : (s.task_ ? "active" : "pending");
    std::string name = s.task_ ? s.task_.name() : (s.name_.empty() ? "job" : s.name_);
    return "job '" + name + "' (" + state + ", spawned at " + where_text(s.where_) + ")";
}

void report_to_loop(exception_context ctx) noexcept {
    aio::detail::loop_core* l = aio::detail::current_loop();
    if (l == nullptr) {
        return;  // no loop left to tell: the process is past aio::run
    }
    std::string who;
    try {
        if (ctx.job) {
            who = describe(*ctx.job.state());
        }
    } catch (...) {
    }
    l->report({std::move(ctx.message), ctx.exception, [who] { return who; }});
}

}  // namespace

// ---------------------------------------------------------------------------------------
// job_state

namespace detail {

namespace {
void job_done_hook(aio::detail::task_base*, void* arg) noexcept {
    auto* self = static_cast<job_state*>(arg);
    self->on_done();
    self->release();
}
}  // namespace

/// For the inspector: a task whose done hook is this one is a job (its argument the job).
std::int64_t inspect_job_hook() noexcept {
    return static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(&job_done_hook));
}

void job_state::started(task_ref t) {
    task_ = std::move(t);
    add_ref();  // the done hook's
    aio::detail::task_base* b = task_.base();
    b->done_hook_arg_ = this;
    b->done_hook_ = &job_done_hook;
    while (waiter* w = start_waiters_.pop_front()) {
        notify(*w);
    }
}

void job_state::on_done() noexcept {
    if (done_handled_) {
        return;
    }
    done_handled_ = true;
    job_ptr self(this);
    scheduler* s = std::exchange(sched_, nullptr);
    closed_ = true;
    if (s != nullptr) {
        s->job_done(*this);
    }
    if (task_.cancelled() || explicit_) {
        return;
    }
    std::exception_ptr e;
    try {
        e = take_exception();
    } catch (...) {
    }
    if (!e) {
        return;
    }
    exception_context ctx{"Job processing failed", job_ref(this), e};
    if (s != nullptr) {
        s->call_exception_handler(ctx);
    } else {
        report_to_loop(std::move(ctx));
    }
}

void job_state::wait_started() {
    if (task_ || closed_) {
        return;
    }
    aio::detail::task_base& me = require_task("aio::jobs::job::wait()");
    waiter w{&me};
    waiter_guard guard(start_waiters_, w);
    park(me, "aio::jobs::job::wait");
}

void job_state::close(duration timeout) {
    job_ptr self(this);
    scheduler* s = sched_;
    closed_ = true;
    if (!task_) {
        // Pending: it never runs (aiojobs starts and cancels it; there is nothing to start
        // here). Whoever waits for it to start learns it was closed.
        if (s != nullptr) {
            s->drop_pending(*this);
        }
        sched_ = nullptr;
        done_handled_ = true;
        while (waiter* w = start_waiters_.pop_front()) {
            notify(*w);
        }
        return;
    }
    task_.cancel("job closed");
    try {
        aio::timeout(timeout, [&] { task_.wait_done(); });
    } catch (const timeout_error&) {
        if (explicit_) {
            throw;
        }
        if (s != nullptr) {
            s->call_exception_handler(
                {"Job closing timed out", job_ref(this), std::current_exception()});
        }
        return;
    }
    on_done();
    if (explicit_ && !task_.cancelled()) {
        if (std::exception_ptr e = take_exception()) {
            std::rethrow_exception(e);
        }
    }
}

}  // namespace detail

// ---------------------------------------------------------------------------------------
// job_ref

void job_ref::require() const {
    if (!s_) {
        throw invalid_state_error("this aio::jobs::job handle is empty (default-constructed or "
                                  "moved from); assign it the result of scheduler::spawn first");
    }
}

std::string job_ref::name() const {
    require();
    if (s_->task_) {
        return s_->task_.name();
    }
    return s_->name_;
}

void job_ref::set_name(std::string name) const {
    require();
    if (s_->task_) {
        s_->task_.set_name(name);
    }
    s_->name_ = std::move(name);
}

bool job_ref::active() const noexcept {
    return s_ && s_->active();
}

bool job_ref::pending() const noexcept {
    return s_ && s_->pending();
}

bool job_ref::closed() const noexcept {
    return s_ && s_->closed_;
}

std::source_location job_ref::where() const noexcept {
    return s_ ? s_->where_ : std::source_location{};
}

task_ref job_ref::task() const noexcept {
    return s_ ? s_->task_ : task_ref{};
}

void job_ref::close() const {
    require();
    if (s_->closed_) {
        return;
    }
    duration timeout =
        s_->sched_ != nullptr ? s_->sched_->close_timeout() : scheduler_options{}.close_timeout;
    close(timeout);
}

void job_ref::close(duration timeout) const {
    require();
    if (s_->closed_) {
        return;
    }
    s_->explicit_ = true;
    s_->close(timeout);
}

void job_ref::wait_for_end(duration timeout) const {
    detail::job_state& s = *s_;
    if (s.closed_) {
        if (!s.task_) {
            throw cancelled_error("job '" + s.name_ + "' was closed before it started");
        }
        if (!s.task_.done()) {  // a close that timed out left it running
            aio::timeout(timeout, [&] { s.task_.wait_done(); });
        }
        s.on_done();
        return;
    }
    s.explicit_ = true;
    scheduler* sched = s.sched_;
    try {
        aio::timeout(timeout, [&] {
            s.wait_started();
            if (s.task_) {
                s.task_.wait_done();
            }
        });
    } catch (const timeout_error&) {
        if (!s.closed_) {
            s.close(sched != nullptr ? sched->close_timeout() : scheduler_options{}.close_timeout);
        }
        throw;
    }
    if (!s.task_) {
        throw cancelled_error("job '" + s.name_ + "' was closed before it started");
    }
    s.on_done();
}

// ---------------------------------------------------------------------------------------
// close(jobs): job_ref::close for many jobs, overlapped

void detail::close_jobs(std::span<const job_ref> jobs, const duration* timeout) {
    for (const job_ref& j : jobs) {
        if (!j) {
            throw invalid_state_error(
                "aio::jobs::close(jobs): the list holds an empty job handle (default-constructed "
                "or moved from); nothing was closed");
        }
    }
    // Cancel every job first, then wait for them all: the waits overlap, so N stuck jobs cost
    // one timeout, not N. Each job gets its deadline from the moment it was cancelled.
    std::vector<detail::job_ptr> live;
    std::vector<time_point> deadlines;
    // Each job's scheduler, to hand it the failures the caller does not get. A weak reference:
    // a scheduler may be destroyed while we wait.
    std::vector<std::weak_ptr<scheduler*>> owners;
    for (const job_ref& j : jobs) {
        detail::job_state* s = j.state();
        if (s->closed_) {
            continue;  // done, closed before, or listed twice
        }
        s->explicit_ = true;
        const duration t = timeout != nullptr     ? *timeout
                           : s->sched_ != nullptr ? s->sched_->close_timeout()
                                                  : scheduler_options{}.close_timeout;
        if (!s->task_) {
            s->close(t);  // pending: dropped, never runs; does not suspend
            continue;
        }
        s->closed_ = true;
        s->task_.cancel("job closed");
        live.emplace_back(s);
        deadlines.push_back(aio::detail::deadline_after(t));
        owners.emplace_back(s->sched_ != nullptr ? s->sched_->anchor_
                                                 : std::shared_ptr<scheduler*>());
    }

    std::exception_ptr first;
    std::vector<std::string> late;
    std::size_t i = 0;
    try {
        for (; i < live.size(); ++i) {
            detail::job_state& s = *live[i];
            try {
                aio::timeout_at(deadlines[i], [&] { s.task_.wait_done(); });
            } catch (const timeout_error&) {
                late.push_back(s.task_.name());
                s.explicit_ = false;  // nobody will wait for it: a failure goes to the handler
                continue;
            }
            s.on_done();
            if (s.task_.cancelled()) {
                continue;
            }
            std::exception_ptr e = s.take_exception();
            if (!e) {
                continue;
            }
            if (!first) {
                first = e;
            } else {
                exception_context ctx{"Job processing failed", job_ref(&s), e};
                std::shared_ptr<scheduler*> owner = owners[i].lock();
                if (owner && *owner != nullptr) {
                    (*owner)->call_exception_handler(ctx);
                } else {
                    report_to_loop(std::move(ctx));
                }
            }
        }
    } catch (...) {
        // The caller was cancelled: the jobs not awaited yet end on their own; their failures
        // go to the exception handler, since nobody here will see them.
        for (; i < live.size(); ++i) {
            live[i]->explicit_ = false;
        }
        throw;
    }
    if (first) {
        std::rethrow_exception(first);
    }
    if (!late.empty()) {
        std::string names;
        for (const std::string& n : late) {
            names += (names.empty() ? "'" : ", '") + n + "'";
        }
        std::string after = timeout != nullptr ? format_duration(*timeout) : "close_timeout";
        throw timeout_error("aio::jobs::close(jobs): " + std::to_string(late.size()) + " of " +
                            std::to_string(live.size()) + " cancelled jobs still ran " + after +
                            " after their cancellation: " + names +
                            " (they go on unwinding; a job that catches cancelled_error must "
                            "finish its cleanup quickly and rethrow)");
    }
}

void close(std::span<const job_ref> jobs) {
    detail::close_jobs(jobs, nullptr);
}

void close(std::span<const job_ref> jobs, duration timeout) {
    if (timeout < duration::zero()) {
        throw value_error("aio::jobs::close(jobs, timeout): timeout must not be negative (use "
                          "aio::no_timeout to wait as long as it takes)");
    }
    detail::close_jobs(jobs, &timeout);
}

// ---------------------------------------------------------------------------------------
// scheduler

scheduler::scheduler(scheduler_options options)
    : opts_(std::move(options)) {
    (void)aio::detail::require_loop("aio::jobs::scheduler");
    if (opts_.close_timeout < duration::zero()) {
        throw value_error("aio::jobs::scheduler: close_timeout must not be negative (use "
                          "aio::no_timeout to wait as long as it takes)");
    }
    if (opts_.wait_timeout < duration::zero()) {
        throw value_error("aio::jobs::scheduler: wait_timeout must not be negative (use "
                          "aio::no_timeout to wait as long as it takes)");
    }
    anchor_ = std::make_shared<scheduler*>(this);
    registration_ = resource_registration(
        "job scheduler", opts_.name, [anchor = std::weak_ptr<scheduler*>(anchor_)]() {
            auto a = anchor.lock();
            return (a && *a != nullptr) ? (*a)->describe_jobs() : std::string{};
        });
}

scheduler::~scheduler() {
    if (!closed_) {
        std::string what = size_ == 0 ? std::string("destroyed without close() or wait_and_close()")
                                      : "destroyed without close() while it had " +
                                            std::to_string(active_count()) + " active and " +
                                            std::to_string(pending_.size()) + " pending jobs";
        registration_.abandon(what);
    }
    *anchor_ = nullptr;
    // Nothing may point here any more: spawners waiting for room, pending jobs, live jobs.
    while (waiter* w = room_waiters_.pop_front()) {
        notify(*w, scheduler_gone);
    }
    while (waiter* w = change_waiters_.pop_front()) {
        notify(*w, scheduler_gone);
    }
    pending_.clear();
    for (detail::job_state* s : stragglers_) {
        s->sched_ = nullptr;
        s->straggler_ = false;
        s->release();
    }
    stragglers_.clear();
    while (head_ != nullptr) {
        detail::job_ptr s(head_);
        unlink(*s);
        s->sched_ = nullptr;
        if (!s->closed_ && s->task_) {
            s->task_.cancel("its job scheduler was destroyed");
        } else if (!s->task_) {
            s->closed_ = true;
            s->done_handled_ = true;
            while (waiter* w = s->start_waiters_.pop_front()) {
                notify(*w);
            }
        }
    }
}

void scheduler::check_open(const char* what) const {
    if (closed_) {
        throw usage_error(std::string("aio::jobs::scheduler::") + what + ": scheduler '" +
                          opts_.name +
                          "' is closed; spawn jobs before close() or "
                          "wait_and_close(), or make a new scheduler");
    }
}

void scheduler::admit(const detail::job_ptr& s) {
    for (;;) {
        if (opts_.limit == unlimited || active_count() < opts_.limit) {
            link(*s);
            start(*s);
            return;
        }
        if (opts_.pending_limit == unlimited || pending_.size() < opts_.pending_limit) {
            link(*s);
            s->in_pending_ = true;
            pending_.push_back(s.get());
            return;
        }
        // The pending queue is full: wait for room. A cancellation drops the job, which was
        // never linked and never ran.
        aio::detail::task_base& me = require_task("aio::jobs::scheduler::spawn()");
        waiter w{&me};
        {
            waiter_guard guard(room_waiters_, w);
            park(me, "aio::jobs::scheduler::spawn");
        }
        if (w.status == scheduler_gone) {
            throw usage_error("aio::jobs::scheduler::spawn(): the scheduler was destroyed while "
                              "spawn() waited for room in its pending queue");
        }
        if (closed_) {
            throw usage_error("aio::jobs::scheduler::spawn(): scheduler '" + opts_.name +
                              "' was closed while spawn() waited for room in its pending queue");
        }
    }
}

void scheduler::start(detail::job_state& s) {
    try {
        s.start();
    } catch (...) {
        // Could not even create the task (out of memory): the job is over.
        s.closed_ = true;
        s.done_handled_ = true;
        s.sched_ = nullptr;
        unlink(s);
        throw;
    }
}

void scheduler::link(detail::job_state& s) noexcept {
    s.add_ref();
    s.sched_ = this;
    s.prev_ = tail_;
    s.next_ = nullptr;
    if (tail_ != nullptr) {
        tail_->next_ = &s;
    } else {
        head_ = &s;
    }
    tail_ = &s;
    ++size_;
}

void scheduler::unlink(detail::job_state& s) noexcept {
    if (s.prev_ != nullptr) {
        s.prev_->next_ = s.next_;
    } else {
        head_ = s.next_;
    }
    if (s.next_ != nullptr) {
        s.next_->prev_ = s.prev_;
    } else {
        tail_ = s.prev_;
    }
    s.prev_ = s.next_ = nullptr;
    --size_;
    s.release();
}

void scheduler::job_done(detail::job_state& s) noexcept {
    if (s.straggler_) {
        // Outlived close(): no longer listed, only tracked so the destructor can let go.
        s.straggler_ = false;
        std::erase(stragglers_, &s);
        s.release();
        return;
    }
    unlink(s);
    start_pending();
    wake_all(change_waiters_);
}

void scheduler::start_pending() noexcept {
    bool popped = false;
    while (!pending_.empty() && !closed_ &&
           (opts_.limit == unlimited || active_count() < opts_.limit)) {
        detail::job_ptr s(pending_.front());
        pending_.pop_front();
        popped = true;
        s->in_pending_ = false;
        try {
            start(*s);
        } catch (...) {
            report_to_loop(
                {"Job could not be started", job_ref(s.get()), std::current_exception()});
        }
    }
    if (popped) {
        wake_all(room_waiters_);
    }
}

void scheduler::drop_pending(detail::job_state& s) noexcept {
    if (auto it = std::find(pending_.begin(), pending_.end(), &s); it != pending_.end()) {
        pending_.erase(it);
    }
    s.in_pending_ = false;
    unlink(s);
    wake_all(room_waiters_);
    wake_all(change_waiters_);
}

void scheduler::wake_all(aio::detail::wait_list& list) noexcept {
    while (waiter* w = list.pop_front()) {
        notify(*w);
    }
}

void scheduler::track_shield(const task_ref& t) {
    shields_.push_back(t);
    t.add_done_callback([anchor = anchor_](task_ref done) {
        if (scheduler* self = *anchor) {
            self->untrack_shield(done);
        }
    });
}

void scheduler::untrack_shield(const task_ref& t) noexcept {
    auto it = std::find(shields_.begin(), shields_.end(), t);
    if (it == shields_.end()) {
        return;
    }
    shields_.erase(it);
    wake_all(change_waiters_);
}

void scheduler::wait_and_close() {
    wait_and_close(opts_.wait_timeout);
}

void scheduler::wait_and_close(duration timeout) {
    aio::detail::task_base& me = require_task("aio::jobs::scheduler::wait_and_close()");
    try {
        aio::timeout(timeout, [&] {
            while (size_ > 0 || !shields_.empty()) {
                waiter w{&me};
                waiter_guard guard(change_waiters_, w);
                park(me, "aio::jobs::scheduler::wait_and_close");
                if (w.status == scheduler_gone) {
                    throw usage_error("aio::jobs::scheduler was destroyed during wait_and_close()");
                }
            }
        });
    } catch (const timeout_error&) {
        // Time is up: close() cancels what is left.
    }
    close();
}

void scheduler::close() {
    if (closed_) {
        return;
    }
    closed_ = true;
    struct close_registration {
        resource_registration& r;
        ~close_registration() { r.close(); }
    } closing{registration_};

    wake_all(room_waiters_);  // blocked spawners learn the scheduler closed
    while (!pending_.empty()) {
        detail::job_ptr s(pending_.front());
        s->close(opts_.close_timeout);  // pending: drops it, does not suspend
    }

    // Cancel everything first, then wait for all of it under one deadline: the same as
    // closing each concurrently with close_timeout, as aiojobs does.
    std::vector<detail::job_ptr> live;
    for (detail::job_state* s = head_; s != nullptr; s = s->next_) {
        live.emplace_back(s);
    }
    for (auto& s : live) {
        s->closed_ = true;
        if (s->task_) {
            s->task_.cancel("job scheduler closed");
        }
    }
    std::vector<task_ref> shields = shields_;
    for (auto& t : shields) {
        t.cancel("job scheduler closed");
    }
    time_point deadline = aio::detail::deadline_after(opts_.close_timeout);
    for (auto& s : live) {
        try {
            aio::timeout_at(deadline, [&] { s->task_.wait_done(); });
        } catch (const timeout_error&) {
            if (!s->explicit_) {
                call_exception_handler(
                    {"Job closing timed out", job_ref(s.get()), std::current_exception()});
            }
            // Still running: no longer listed (as aiojobs), but tracked until it ends.
            s->straggler_ = true;
            s->add_ref();
            stragglers_.push_back(s.get());
            unlink(*s);
            continue;
        }
        s->on_done();
    }
    for (auto& t : shields) {
        try {
            aio::timeout_at(deadline, [&] { t.wait_done(); });
        } catch (const timeout_error&) {
            // Left running, as aiojobs does; a failure of it still reaches the loop's handler.
        }
    }
}

void scheduler::call_exception_handler(const exception_context& ctx) noexcept {
    if (!opts_.exception_handler) {
        report_to_loop(ctx);
        return;
    }
    try {
        opts_.exception_handler(*this, ctx);
    } catch (...) {
        report_to_loop({"Exception in a job scheduler's exception handler", ctx.job,
                        std::current_exception()});
    }
}

bool scheduler::contains(const job_ref& j) const noexcept {
    return j && j.state()->sched_ == this && !j.state()->closed_;
}

std::vector<job_ref> scheduler::jobs() const {
    std::vector<job_ref> out;
    out.reserve(size_);
    for (detail::job_state* s = head_; s != nullptr; s = s->next_) {
        out.emplace_back(s);
    }
    return out;
}

std::string scheduler::describe_jobs() const {
    std::string out;
    std::size_t n = 0;
    for (detail::job_state* s = head_; s != nullptr; s = s->next_) {
        if (n++ == 20) {
            out.append("\n  ... and ").append(std::to_string(size_ - 20)).append(" more");
            break;
        }
        if (!out.empty()) {
            out.push_back('\n');
        }
        out.append("  ").append(describe(*s));
    }
    return out;
}

std::string to_string(const scheduler& s) {
    std::string out = "<scheduler '" + s.name() + "' ";
    if (s.closed()) {
        out += "closed ";
    }
    out += "jobs=" + std::to_string(s.size()) + " active=" + std::to_string(s.active_count()) +
           " pending=" + std::to_string(s.pending_count()) + ">";
    return out;
}

std::string to_string(const job_ref& j) {
    if (!j) {
        return "<job empty>";
    }
    const char* state = j.closed() ? "closed" : (j.pending() ? "pending" : "active");
    return "<job '" + j.name() + "' " + state + ">";
}

}  // namespace aio::jobs
