// Jobs: background work with a bound on concurrency, an exception handler for failures
// nobody waits for, and a graceful close (aiojobs.Scheduler). See docs/reference/jobs.md.
//
//     aio::jobs::with_scheduler({.limit = 10}, [&](aio::jobs::scheduler& jobs) {
//         for (auto& order : orders) {
//             jobs.spawn([&order] { process(order); }, "order " + order.id);
//         }
//     });  // waits for the jobs (up to wait_timeout), then closes the scheduler
#pragma once

#include <aio/detail/callable.hpp>
#include <aio/detail/intrusive_list.hpp>
#include <aio/errors.hpp>
#include <aio/instrument.hpp>
#include <aio/loop.hpp>
#include <aio/task.hpp>
#include <aio/timeout.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <source_location>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio::jobs {

class scheduler;
class job_ref;

namespace detail {

/// The shared state of one job: its function until it starts, then its task. Reference
/// counted; held by the scheduler while the job is live, by every job handle, and by the
/// job's task until it is done.
class job_state {
public:
    job_state(std::string name, std::source_location where) noexcept
        : name_(std::move(name))
        , where_(where) {}
    job_state(const job_state&) = delete;
    job_state& operator=(const job_state&) = delete;
    virtual ~job_state() = default;

    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) {
            delete this;
        }
    }

    /// Creates the job's task from its function. Called once, by the scheduler.
    virtual void start() = 0;
    /// The failure of a done task that was not cancelled, marking it retrieved.
    virtual std::exception_ptr take_exception() = 0;

    // Called by the scheduler (scheduler.cpp).
    void started(task_ref t);
    void on_done() noexcept;
    void close(duration timeout);
    void wait_started();
    [[nodiscard]] bool active() const noexcept { return !closed_ && task_; }
    [[nodiscard]] bool pending() const noexcept { return !closed_ && !task_; }

    std::string name_;
    std::source_location where_;
    task_ref task_;               // empty while pending
    scheduler* sched_ = nullptr;  // null once the job is done or the scheduler is gone
    job_state* prev_ = nullptr;   // in the scheduler's list of live jobs
    job_state* next_ = nullptr;
    aio::detail::wait_list start_waiters_{"aio::jobs::job"};  // wait() on a pending job
    bool closed_ = false;
    bool explicit_ = false;  // somebody waits on or closes it: failures go to them
    bool in_pending_ = false;
    bool straggler_ = false;     // outlived the scheduler's close(); in its stragglers_
    bool done_handled_ = false;  // on_done() ran (or the job ended without a task)

private:
    std::uint32_t refs_ = 0;
};

template <class T>
class typed_job_state : public job_state {
public:
    using job_state::job_state;
    std::exception_ptr take_exception() override { return typed_.exception(); }
    task<T> typed_;
};

/// A job that will call `fn(args...)`: the function and its arguments are kept (decayed, as
/// create_task keeps them) until the job starts, then moved into its task.
template <class T, class Fn, class... Args>
class job_impl final : public typed_job_state<T> {
public:
    template <class F, class... A>
    job_impl(std::string name, std::source_location where, F&& fn, A&&... args)
        : typed_job_state<T>(std::move(name), where)
        , body_(std::in_place, std::forward<F>(fn), std::forward<A>(args)...) {}
    void start() override {
        task_options opts{.name = this->name_, .stack_size = 0, .where = this->where_};
        this->typed_ = std::apply(
            [&](Fn& fn, Args&... args) {
                return aio::create_task(std::move(opts), std::move(fn), std::move(args)...);
            },
            *body_);
        body_.reset();
        this->typed_.detach();  // the scheduler tracks it; nobody has to await it
        this->started(this->typed_);
    }

private:
    std::optional<std::tuple<Fn, Args...>> body_;
};

/// True when `spawn(fn, rest...)` is the original form spawn(fn, name[, where]): fn takes no
/// arguments, cannot be called with `rest`, and `rest` is a name (and a source_location).
template <class Fn, class... Rest>
inline constexpr bool is_spawn_name_call = sizeof...(Rest) == 0 && std::is_invocable_v<Fn>;
template <class Fn, class Name>
inline constexpr bool is_spawn_name_call<Fn, Name> =
    std::is_invocable_v<Fn>&& std::is_convertible_v<Name, std::string> &&
    !std::is_invocable_v<Fn, std::decay_t<Name>>;
template <class Fn, class Name, class Where>
inline constexpr bool is_spawn_name_call<Fn, Name, Where> =
    std::is_invocable_v<Fn>&& std::is_convertible_v<Name, std::string>&&
        std::is_same_v<std::remove_cvref_t<Where>, std::source_location> &&
    !std::is_invocable_v<Fn, std::decay_t<Name>, std::decay_t<Where>>;

/// spawn(fn, x) where fn can be called both with and without x, and x could be a name.
template <class Fn, class... Rest>
inline constexpr bool is_ambiguous_spawn_call = false;
template <class Fn, class Arg>
inline constexpr bool is_ambiguous_spawn_call<Fn, Arg> = std::is_invocable_v<Fn>&&
    std::is_convertible_v<Arg, std::string>&& std::is_invocable_v<Fn, std::decay_t<Arg>>;

/// An owning pointer to a job_state.
class job_ptr {
public:
    job_ptr() noexcept = default;
    explicit job_ptr(job_state* s) noexcept
        : s_(s) {
        if (s_ != nullptr) {
            s_->add_ref();
        }
    }
    job_ptr(const job_ptr& o) noexcept
        : job_ptr(o.s_) {}
    job_ptr(job_ptr&& o) noexcept
        : s_(std::exchange(o.s_, nullptr)) {}
    job_ptr& operator=(job_ptr o) noexcept {
        std::swap(s_, o.s_);
        return *this;
    }
    ~job_ptr() {
        if (s_ != nullptr) {
            s_->release();
        }
    }
    [[nodiscard]] job_state* get() const noexcept { return s_; }
    job_state* operator->() const noexcept { return s_; }
    job_state& operator*() const noexcept { return *s_; }
    friend bool operator==(const job_ptr& a, const job_ptr& b) noexcept { return a.s_ == b.s_; }
    explicit operator bool() const noexcept { return s_ != nullptr; }

private:
    job_state* s_ = nullptr;
};

/// aio::jobs::close(jobs[, timeout]); `timeout` null: each job's scheduler's close_timeout.
void close_jobs(std::span<const job_ref> jobs, const duration* timeout);

}  // namespace detail

/// An untyped handle of a job (aiojobs.Job without its result). Cheap to copy; an empty
/// job_ref refers to nothing.
class job_ref {
public:
    job_ref() noexcept = default;
    explicit job_ref(detail::job_state* s) noexcept
        : s_(s) {}

    /// The job's name: the one given to spawn, or its task's "task-<id>" once it started.
    [[nodiscard]] std::string name() const;
    /// Renames the job (and its task, if it started).
    void set_name(std::string name) const;
    /// True while the job's task runs (started, not done, not closed).
    [[nodiscard]] bool active() const noexcept;
    /// True while the job waits in the scheduler's pending queue for a free slot.
    [[nodiscard]] bool pending() const noexcept;
    /// True once the job is done, failed, or was closed. A closed job never runs again.
    [[nodiscard]] bool closed() const noexcept;
    /// Where spawn was called.
    [[nodiscard]] std::source_location where() const noexcept;
    /// The job's task once it started (empty while pending).
    [[nodiscard]] task_ref task() const noexcept;

    /// Closes the job (aiojobs Job.close): a pending job is dropped without running; an
    /// active one is cancelled and awaited for up to `timeout` (the scheduler's close_timeout
    /// when not given). Returns at once for a closed job. Yield point and cancellation point
    /// while it waits; cancelling the caller does not stop the job's cancellation. Throws
    /// timeout_error if the job does not finish within `timeout`, or the job's own exception
    /// if it failed with something other than cancelled_error while closing.
    void close() const;
    void close(duration timeout) const;

    friend bool operator==(const job_ref& a, const job_ref& b) noexcept { return a.s_ == b.s_; }
    [[nodiscard]] explicit operator bool() const noexcept { return static_cast<bool>(s_); }
    /// The state (for aio's own code).
    [[nodiscard]] detail::job_state* state() const noexcept { return s_.get(); }

protected:
    void require() const;
    void wait_for_end(duration timeout) const;
    detail::job_ptr s_;
};

/// Handle of a job that produces a T (aiojobs.Job). Copies share the job.
template <class T>
class job : public job_ref {
public:
    using value_type = T;
    job() noexcept = default;
    explicit job(detail::job_state* s) noexcept
        : job_ref(s) {}

    /// Waits for the job and returns its value or rethrows its exception (aiojobs
    /// Job.wait). Waits for a pending job to start first. Shielded: cancelling the caller
    /// leaves the job running. If `timeout` passes first, the job is closed (cancelled and
    /// awaited up to the scheduler's close_timeout) and timeout_error is thrown. Returns at
    /// once for a job that is already done; throws cancelled_error for a job that was
    /// closed. Yield point and cancellation point. The default is no timeout, as in aiojobs.
    T wait(duration timeout = no_timeout) const {
        require();
        wait_for_end(timeout);
        return static_cast<detail::typed_job_state<T>*>(s_.get())->typed_.result();
    }
};

/// What the scheduler's exception handler receives (aiojobs' context dict).
struct exception_context {
    /// "Job processing failed" or "Job closing timed out".
    std::string message;
    /// The job concerned.
    job_ref job;
    /// The job's exception, or timeout_error for a close that timed out.
    std::exception_ptr exception;
};

/// An exception handler: called on the loop with the scheduler and what happened. It must
/// not throw (an exception from it is reported to the loop's handler and dropped).
using exception_handler_fn = std::function<void(scheduler&, const exception_context&)>;

/// "No limit" for scheduler_options::limit and pending_limit.
inline constexpr std::size_t unlimited = 0;

/// Options of a scheduler; the defaults are aiojobs'.
struct scheduler_options {
    /// How many jobs run at once; more wait in the pending queue. `unlimited` (0): no limit.
    std::size_t limit = 100;
    /// How many jobs may wait for a slot; when full, spawn() suspends until there is room.
    /// `unlimited` (0): no limit.
    std::size_t pending_limit = 10000;
    /// How long close() waits for each cancelled job to finish.
    duration close_timeout = std::chrono::milliseconds(100);
    /// How long wait_and_close() (and with_scheduler) waits for the jobs before closing.
    duration wait_timeout = std::chrono::seconds(60);
    /// Called for failures nobody waits for and for closes that time out. Empty: the loop's
    /// exception handler (which prints them).
    exception_handler_fn exception_handler{};
    /// A name for messages and debug-mode reports.
    std::string name = "jobs";
};

/// Options of one job, for spawn(job_options, fn, args...). Build it at the call site
/// (`jobs.spawn({.name = "crawl"}, crawl, url)`) so that `where` records that line.
struct job_options {
    /// The job's name (and its task's); empty means the task's "task-<id>".
    std::string name;
    /// The calling line reported for the job; the default captures where these options were
    /// built.
    std::source_location where = std::source_location::current();
};

/// A job scheduler (aiojobs.Scheduler): spawns jobs up to a limit, queues the rest, sends
/// the failures nobody waits for to an exception handler, and closes gracefully. Not
/// movable. Use it on the loop thread that created it.
///
/// Destroying a scheduler that was not closed cancels its active jobs and drops its pending
/// ones without waiting (debug mode reports it as leaked-job): close it, or use
/// with_scheduler.
class scheduler {
public:
    /// Creates a scheduler on the running loop. Throws usage_error outside a loop and
    /// value_error for a negative timeout.
    explicit scheduler(scheduler_options options = {});
    ~scheduler();
    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;

    /// Spawns `fn()` as a job named `name` (aiojobs Scheduler.spawn): it starts at once while
    /// active_count() < limit, otherwise it joins the pending queue; when that queue is full,
    /// spawn suspends until there is room (yield point and cancellation point then; a
    /// cancelled spawn drops the job and rethrows). Throws usage_error once the scheduler is
    /// closed. `where` records the calling line for reports.
    ///
    /// This form is chosen when fn takes no arguments and cannot be called with `name` (the
    /// other forms are below; docs/reference/jobs.md, "Which spawn").
    template <class Fn, class Name = std::string>
    requires detail::is_spawn_name_call<std::decay_t<Fn>, Name>
    auto spawn(Fn&& fn, Name&& name = {},
               std::source_location where = std::source_location::current())
        -> job<std::invoke_result_t<std::decay_t<Fn>>> {
        return spawn_job(std::string(std::forward<Name>(name)), where, std::forward<Fn>(fn));
    }

    /// Spawns a job that calls `fn(args...)`, like create_task(fn, args...): `fn` and `args`
    /// are copied or moved into the job (pass std::ref to share), and moved into its task
    /// when it starts. Same contract as spawn(fn, name). The job has no name (its task's
    /// "task-<id>") and records no calling line: use spawn(job_options, fn, args...) for
    /// those. A string argument of a fn that takes no arguments is the job's name (the form
    /// above); one that fn could take either way is ambiguous and rejected at compile time.
    template <class Fn, class... Args>
    requires(!std::same_as<std::remove_cvref_t<Fn>, job_options> &&
             !detail::is_spawn_name_call<std::decay_t<Fn>, Args...>) auto spawn(Fn&& fn,
                                                                                Args&&... args)
        -> job<aio::detail::invoke_result_or_void_t<std::decay_t<Fn>, std::decay_t<Args>...>> {
        if constexpr (detail::is_ambiguous_spawn_call<std::decay_t<Fn>, Args...>) {
            static_assert(aio::detail::dependent_false<Fn>,
                          "spawn(fn, x): fn can be called both with and without x, so x could "
                          "be the job's name or fn's argument; say which: "
                          "spawn({.name = x}, fn) or spawn({}, fn, x)");
            return {};
        } else if constexpr (!std::is_invocable_v<std::decay_t<Fn>, std::decay_t<Args>...>) {
            static_assert(aio::detail::dependent_false<Fn>,
                          "scheduler::spawn accepts spawn(fn), spawn(fn, \"name\") for a fn "
                          "that takes no arguments, spawn(fn, args...) to call fn(args...), and "
                          "spawn({.name = \"name\"}, fn, args...); fn cannot be called with "
                          "these arguments");
            return {};
        } else {
            return spawn_job(std::string{}, std::source_location{}, std::forward<Fn>(fn),
                             std::forward<Args>(args)...);
        }
    }

    /// Spawns a job that calls `fn(args...)`, named `options.name`, with `options.where`
    /// (the line that built the options) as its calling line for reports:
    /// `jobs.spawn({.name = "crawl " + url}, crawl, url)`. Same contract as spawn(fn, name).
    template <class Fn, class... Args>
    auto spawn(job_options options, Fn&& fn, Args&&... args)
        -> job<aio::detail::invoke_result_or_void_t<std::decay_t<Fn>, std::decay_t<Args>...>> {
        if constexpr (!std::is_invocable_v<std::decay_t<Fn>, std::decay_t<Args>...>) {
            static_assert(aio::detail::dependent_false<Fn>,
                          "scheduler::spawn(options, fn, args...): fn cannot be called with "
                          "these arguments (spawn({.name = \"name\"}, fn, args...) calls "
                          "fn(args...))");
            return {};
        } else {
            return spawn_job(std::move(options.name), options.where, std::forward<Fn>(fn),
                             std::forward<Args>(args)...);
        }
    }

    /// Runs `fn()` in a new task and waits for it, shielded like aio::shield (cancelling the
    /// caller leaves the task running), but tracked: wait_and_close() waits for it and
    /// close() cancels it. Yield point and cancellation point. Returns fn's value or rethrows
    /// its exception. Throws usage_error once the scheduler is closed.
    template <class Fn>
    requires std::is_invocable_v<std::decay_t<Fn>>
    auto shield(Fn&& fn, std::source_location where = std::source_location::current()) {
        check_open("shield()");
        auto t = aio::create_task(task_options{.name = opts_.name + " shield", .where = where},
                                  std::forward<Fn>(fn));
        track_shield(t);
        try {
            t.wait_done();
        } catch (...) {
            t.detach();  // runs on; tracked until done, its failure reaches the handler
            throw;
        }
        untrack_shield(t);
        return t.result();
    }

    /// Waits for every job, pending ones and ones spawned meanwhile included, and every
    /// shield, for up to `timeout` (wait_timeout when not given), then close() (aiojobs
    /// Scheduler.wait_and_close). Failures of jobs nobody waits for go to the exception
    /// handler, not to the caller. Yield point and cancellation point.
    void wait_and_close();
    void wait_and_close(duration timeout);

    /// Stops accepting jobs, drops the pending ones, cancels the active ones and the
    /// shields, and waits up to close_timeout for them; a job still running then is reported
    /// to the exception handler ("Job closing timed out") and left behind. Spawners waiting
    /// for room get usage_error. Idempotent. Yield point and cancellation point.
    void close();

    /// Calls the exception handler (or the loop's exception handler when there is none).
    /// Never throws.
    void call_exception_handler(const exception_context& ctx) noexcept;

    /// Jobs started and not yet done.
    [[nodiscard]] std::size_t active_count() const noexcept { return size_ - pending_.size(); }
    /// Jobs waiting for a slot.
    [[nodiscard]] std::size_t pending_count() const noexcept { return pending_.size(); }
    /// Live jobs, active and pending (aiojobs len(scheduler)).
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    /// True once close() started.
    [[nodiscard]] bool closed() const noexcept { return closed_; }
    /// True if `j` is a live job of this scheduler.
    [[nodiscard]] bool contains(const job_ref& j) const noexcept;
    /// The live jobs, oldest first (a snapshot: safe to close them while iterating).
    [[nodiscard]] std::vector<job_ref> jobs() const;
    /// Shields still running.
    [[nodiscard]] std::size_t shield_count() const noexcept { return shields_.size(); }

    [[nodiscard]] std::size_t limit() const noexcept { return opts_.limit; }
    [[nodiscard]] std::size_t pending_limit() const noexcept { return opts_.pending_limit; }
    [[nodiscard]] duration close_timeout() const noexcept { return opts_.close_timeout; }
    [[nodiscard]] duration wait_timeout() const noexcept { return opts_.wait_timeout; }
    [[nodiscard]] const exception_handler_fn& exception_handler() const noexcept {
        return opts_.exception_handler;
    }
    [[nodiscard]] const std::string& name() const noexcept { return opts_.name; }

private:
    template <class Fn, class... Args>
    auto spawn_job(std::string name, std::source_location where, Fn&& fn, Args&&... args) {
        using R = std::invoke_result_t<std::decay_t<Fn>, std::decay_t<Args>...>;
        check_open("spawn()");
        detail::job_ptr s(new detail::job_impl<R, std::decay_t<Fn>, std::decay_t<Args>...>(
            std::move(name), where, std::forward<Fn>(fn), std::forward<Args>(args)...));
        admit(s);
        return job<R>(s.get());
    }

    friend class detail::job_state;
    friend void detail::close_jobs(std::span<const job_ref> jobs, const duration* timeout);
    friend struct aio::detail::inspect_layout;  // aio pstree: the jobs wait_and_close waits for
    void check_open(const char* what) const;
    void admit(const detail::job_ptr& s);
    void start(detail::job_state& s);
    void link(detail::job_state& s) noexcept;
    void unlink(detail::job_state& s) noexcept;
    void job_done(detail::job_state& s) noexcept;
    void start_pending() noexcept;
    void drop_pending(detail::job_state& s) noexcept;
    void track_shield(const task_ref& t);
    void untrack_shield(const task_ref& t) noexcept;
    void wake_all(aio::detail::wait_list& list) noexcept;
    [[nodiscard]] std::string describe_jobs() const;

    scheduler_options opts_;
    detail::job_state* head_ = nullptr;  // live jobs, oldest first (each holds a reference)
    detail::job_state* tail_ = nullptr;
    std::size_t size_ = 0;
    std::deque<detail::job_state*> pending_;  // FIFO; closed entries are skipped
    std::vector<task_ref> shields_;
    std::vector<detail::job_state*> stragglers_;  // jobs still running after close() (one ref each)
    aio::detail::wait_list room_waiters_{
        "aio::jobs::scheduler"};  // spawn() waiting for room in the pending queue
    aio::detail::wait_list change_waiters_{
        "aio::jobs::scheduler"};  // wait_and_close() waiting for jobs to end
    bool closed_ = false;
    std::shared_ptr<scheduler*> anchor_;  // nulled by the destructor; held by callbacks
    resource_registration registration_;
};

/// "<scheduler 'jobs' jobs=3 active=2 pending=1>", "<scheduler 'jobs' closed jobs=0>".
[[nodiscard]] std::string to_string(const scheduler& s);
/// "<job 'name' active>", "<job 'name' pending>", "<job 'name' closed>".
[[nodiscard]] std::string to_string(const job_ref& j);

/// Closes several jobs together: what job_ref::close does to one, done to all at once, so
/// closing N jobs costs one timeout, not N. Pending jobs are dropped without running; every
/// active job is cancelled first, then all are awaited together, each up to `timeout` after
/// the cancellation (without `timeout`: its scheduler's close_timeout). Closed jobs and
/// repeated entries are skipped. The jobs may belong to different schedulers. Yield point and
/// cancellation point while it waits; cancelling the caller does not stop the jobs'
/// cancellation. Throws invalid_state_error for an empty handle (before closing anything);
/// timeout_error, once all were awaited, if some job was still running at its deadline (the
/// message names them; they go on unwinding, as with job_ref::close); otherwise the exception
/// of the first job, in the given order, that failed with something other than
/// cancelled_error while closing; the failures of the others go to their scheduler's
/// exception handler.
void close(std::span<const job_ref> jobs);
void close(std::span<const job_ref> jobs, duration timeout);
/// close() for a vector of typed job handles.
template <class T>
void close(const std::vector<job<T>>& jobs) {
    std::vector<job_ref> refs(jobs.begin(), jobs.end());
    close(std::span<const job_ref>(refs));
}
template <class T>
void close(const std::vector<job<T>>& jobs, duration timeout) {
    std::vector<job_ref> refs(jobs.begin(), jobs.end());
    close(std::span<const job_ref>(refs), timeout);
}
/// close() for a braced list: `aio::jobs::close({a, b, c})`.
inline void close(std::initializer_list<job_ref> jobs) {
    close(std::span<const job_ref>(jobs.begin(), jobs.size()));
}
inline void close(std::initializer_list<job_ref> jobs, duration timeout) {
    close(std::span<const job_ref>(jobs.begin(), jobs.size()), timeout);
}

/// Runs `body(scheduler&)` with a new scheduler and closes it at the end, the way `async
/// with aiojobs.Scheduler()` does: when the body returns, wait_and_close() (up to
/// wait_timeout); when it throws (or is cancelled), close() at once and the exception goes
/// on. Returns what the body returns. Yield point and cancellation point.
template <class Body>
requires std::is_invocable_v<Body, scheduler&>
auto with_scheduler(scheduler_options options, Body&& body) {
    scheduler s(std::move(options));
    using R = std::invoke_result_t<Body, scheduler&>;
    try {
        if constexpr (std::is_void_v<R>) {
            std::forward<Body>(body)(s);
            s.wait_and_close();
        } else {
            R r = std::forward<Body>(body)(s);
            s.wait_and_close();
            return r;
        }
    } catch (...) {
        s.close();
        throw;
    }
}

/// with_scheduler with the default options.
template <class Body>
requires std::is_invocable_v<Body, scheduler&>
auto with_scheduler(Body&& body) {
    return with_scheduler(scheduler_options{}, std::forward<Body>(body));
}

}  // namespace aio::jobs
