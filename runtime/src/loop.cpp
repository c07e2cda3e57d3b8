// The event loop. See loop_core.hpp for the map and docs/design.md for the phases.
#include "inspect.hpp"
#include "loop_core.hpp"

#include <aio/errors.hpp>
#include <aio/executor.hpp>
#include <aio/instrument.hpp>
#include <aio/task.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <system_error>

#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace aio::detail {

// Initial-exec TLS: every yield point reads it, and the general-dynamic model that -fPIC
// implies would make each read a call to __tls_get_addr.
__attribute__((tls_model("initial-exec"))) thread_local loop_core* tls_loop = nullptr;

namespace {

timer_handle::node* node_of(timer_node* tn) noexcept {
    return static_cast<timer_handle::node*>(tn->owner);
}

void fire_callback_node(timer_node* tn) noexcept {
    timer_handle::node* n = node_of(tn);
    n->loop->run_callback(n);
}

void on_wake(io_watcher* w, std::uint32_t) noexcept {
    std::uint64_t value = 0;
    [[maybe_unused]] auto n = ::read(w->fd, &value, sizeof value);
}

std::string describe_thread(const char* name, long tid) {
    std::string s = "thread";
    if (name[0] != '\0') {
        s += " '" + std::string(name) + "'";
    }
    return s + " (tid " + std::to_string(tid) + ")";
}

std::string calling_thread() {
    char name[16] = {};
    ::pthread_getname_np(::pthread_self(), name, sizeof name);
    return describe_thread(name, static_cast<long>(::syscall(SYS_gettid)));
}

bool on_main_thread() noexcept {
    return static_cast<pid_t>(::syscall(SYS_gettid)) == ::getpid();
}

void default_exception_handler(loop&, const exception_context& ctx) {
    std::string text = "aio: " + ctx.message;
    if (ctx.describe_task) {
        text += "\n  in " + ctx.describe_task();
    }
    if (ctx.exception) {
        text += "\n  exception: " + describe_exception(ctx.exception);
    }
    text += "\n";
    std::fputs(text.c_str(), stderr);
}

}  // namespace

void set_current_loop(loop_core* l) noexcept {
    tls_loop = l;
}

namespace {

// Every loop alive in the process, so that an aio call from a thread that runs none can be
// told apart from a program that runs none: with one loop running elsewhere it is that loop's
// wrong-thread error. Changed only when a loop is built or destroyed.
std::mutex running_loops_mutex;
std::vector<loop_core*> running_loops;

[[noreturn]] void throw_no_loop(const char* what) {
    throw usage_error(std::string(what) + ": no running event loop on " + calling_thread() +
                      "; call it from code started by aio::run(main), or, from another "
                      "thread, hand the work to a loop with loop.call_soon_threadsafe(fn)");
}

}  // namespace

std::string foreign_call(const char* what) {
    // Held while the loop's instruments report: the loop cannot be destroyed meanwhile.
    std::lock_guard<std::mutex> lock(running_loops_mutex);
    if (running_loops.size() == 1) {
        return running_loops.front()->report_wrong_thread(what, false);
    }
    return std::string();
}

void no_loop_on_this_thread(const char* what) {
    std::string message = foreign_call(what);
    if (!message.empty()) {
        throw usage_error(message);
    }
    throw_no_loop(what);
}

thread_local int tls_internal_blocking = 0;

internal_blocking::internal_blocking() noexcept {
    ++tls_internal_blocking;
    if (tls_loop != nullptr && tls_loop->probe_ != nullptr && tls_internal_blocking == 1) {
        flag_ = &tls_loop->probe_->aio_blocking;
        flag_->store(true, std::memory_order_release);
    }
}

internal_blocking::~internal_blocking() {
    if (flag_ != nullptr) {
        flag_->store(false, std::memory_order_release);
    }
    --tls_internal_blocking;
}

loop_core& require_loop(const char* what) {
    loop_core* l = tls_loop;
    if (AIO_UNLIKELY(l == nullptr)) {
        no_loop_on_this_thread(what);
    }
    return *l;
}

// ---------------------------------------------------------------------------------------

loop_core::loop_core(const run_options& options)
    : options_(options)
    , virtual_time_(options.virtual_time)
    , thread_(std::this_thread::get_id())
    , tid_(static_cast<long>(::syscall(SYS_gettid))) {
    ::pthread_getname_np(::pthread_self(), thread_name_, sizeof thread_name_);
    start_ = clock::now();
    virtual_now_ = start_;
    batch_time_ = coarse_now_ns();
    default_stack_size_ = options.stack_size != 0 ? options.stack_size : default_stack_size();
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
        throw std::system_error(errno, std::generic_category(), "aio: eventfd");
    }
    wake_watcher_.fd = wake_fd_;
    wake_watcher_.events = 0x001;  // EPOLLIN
    wake_watcher_.on_ready = &on_wake;
    poller_.add(wake_watcher_);
    resources_->loop = this;
    for (instrument* i : options.instruments) {
        add_instrument(i);
    }
    std::lock_guard<std::mutex> lock(running_loops_mutex);
    running_loops.push_back(this);
    inspect_link(this);
}

loop_core::~loop_core() {
    {
        std::lock_guard<std::mutex> lock(running_loops_mutex);
        running_loops.erase(std::find(running_loops.begin(), running_loops.end(), this));
        inspect_unlink(this);
    }
    // Task objects that outlive the loop (their handles are still held) forget it; report the
    // failures nobody retrieved now, since nobody can any more through this loop.
    std::vector<task_ptr> left;
    for (task_base* t = all_head_; t != nullptr; t = t->all_next_) {
        left.emplace_back(t);
    }
    for (auto& t : left) {
        if (t->outcome_ == task_outcome::exception && !t->exception_retrieved_) {
            t->exception_retrieved_ = true;
            report_unretrieved(t.get());
        }
        if (!t->done()) {
            // Only when run() is unwinding from an error (a deadlock under virtual time, an
            // internal error): the fiber is abandoned where it is suspended, and the loop's
            // reference dropped. Objects on its stack are not destroyed.
            if (t->stack_ != nullptr) {
                destroy_context(t->slot_);
                stacks_.release(t->stack_);
                t->stack_ = nullptr;
            }
            t->state_ = task_state::done;
            t->outcome_ = task_outcome::cancelled;
            t->release();
        }
        t->all_prev_ = t->all_next_ = nullptr;
        t->loop_ = nullptr;
    }
    all_head_ = nullptr;
    left.clear();
    // Callbacks still queued are dropped.
    for (ready_node* n = ready_head_; n != nullptr;) {
        ready_node* next = n->next_ready;
        if (!n->is_task) {
            auto* cb = static_cast<timer_handle::node*>(n);
            cb->queued = false;
            release_node(cb);
        }
        n = next;
    }
    while (timer_node* tn = timers_.pop()) {
        // Sleeping tasks' nodes live on their (abandoned) stacks; callbacks' nodes are ours.
        if (tn->fire == &fire_callback_node) {
            timer_handle::node* n = node_of(tn);
            n->queued = false;
            release_node(n);
        }
    }
    {
        std::lock_guard<std::mutex> lock(resources_->mutex);
        resources_->loop = nullptr;
    }
    detach_signals(*this);  // before the eventfd a signal handler writes to is closed
    poller_.remove(wake_watcher_);
    ::close(wake_fd_);
}

void loop_core::add_instrument(instrument* i) {
    if (i == nullptr ||
        std::find(instruments_.begin(), instruments_.end(), i) != instruments_.end()) {
        return;
    }
    instruments_.push_back(i);
    instrumented_ = true;
    update_step_watch();
}

void loop_core::remove_instrument(instrument* i) noexcept {
    instruments_.erase(std::remove(instruments_.begin(), instruments_.end(), i),
                       instruments_.end());
    instrumented_ = !instruments_.empty();
    update_step_watch();
}

void loop_core::update_step_watch() noexcept {
    probed_ = nullptr;
    probe_ = nullptr;
    step_hooks_ = false;
    for (instrument* i : instruments_) {
        step_probe* p = i->probe();
        if (p != nullptr && probe_ == nullptr) {
            probed_ = i;
            probe_ = p;
            probe_generation_ = p->generation.load(std::memory_order_relaxed);
        } else {
            step_hooks_ = true;
        }
    }
}

void loop_core::probe_attention(task_base* t) noexcept {
    probed_->after_task_step(task_ref(t));
}

void loop_core::report(const exception_context& ctx) noexcept {
    try {
        if (exception_handler_) {
            exception_handler_(facade_, ctx);
        } else {
            default_exception_handler(facade_, ctx);
        }
    } catch (...) {
        std::string text =
            "aio: the exception handler failed: " + describe_exception(std::current_exception()) +
            "\n  while reporting: " + ctx.message + "\n";
        std::fputs(text.c_str(), stderr);
    }
}

// ---------------------------------------------------------------------------------------
// This function right here is our event loop: one iteration of it.

void loop_core::run_once() {
    ++stats_.iterations;
    const bool have_ready = ready_head_ != nullptr;
    const bool have_io = poller_.watched() > 1;  // more than the wake-up eventfd

    // Phase 1: poll for I/O. Block only when nothing is ready, and no longer than the next
    // timer. When work is ready and no fd is watched, the syscall is skipped altogether.
    int timeout_ms = 0;
    bool poll = have_io || ts_pending_.load(std::memory_order_relaxed);
    if (!have_ready) {
        poll = true;
        if (timer_node* next = timers_.top()) {
            if (virtual_time_ && !have_io && outstanding_jobs_ == 0 && !handles_signals()) {
                // Nothing can happen before the next timer: jump the clock to it.
                virtual_now_ = std::max(virtual_now_, next->deadline);
                timeout_ms = 0;
            } else {
                auto wait = next->deadline - now();
                auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
                timeout_ms = ms <= 0 ? 0 : static_cast<int>(std::min<long long>(ms, 1 << 30));
            }
        } else if (virtual_time_ && !have_io && outstanding_jobs_ == 0 && !handles_signals() &&
                   !ts_pending_.load(std::memory_order_relaxed)) {
            throw usage_error(
                "deadlock: every task is waiting and nothing can wake them (no timer, no I/O, no "
                "executor job); under virtual time this would hang forever");
        } else {
            timeout_ms = -1;
        }
    }
    if (poll) {
        if (AIO_UNLIKELY(instrumented_)) {
            duration d = timeout_ms < 0 ? duration(-1) : std::chrono::milliseconds(timeout_ms);
            each_instrument([&](instrument& i) { i.before_io_wait(d); });
        }
        if (virtual_time_ && timeout_ms != 0) {
            // Something outside the loop (an executor job, I/O) is outstanding: virtual time
            // runs at the speed of real time until it is done.
            auto before = clock::now();
            poller_.wait(timeout_ms);
            virtual_now_ += clock::now() - before;
        } else {
            poller_.wait(timeout_ms);
            if (timeout_ms != 0) {
                batch_time_ = coarse_now_ns();  // it blocked: time moved on
            }
        }
        if (AIO_UNLIKELY(instrumented_)) {
            each_instrument([](instrument& i) { i.after_io_wait(); });
        }
    }

    // Phase 2: callbacks from other threads, and Ctrl-C.
    if (ts_pending_.load(std::memory_order_acquire)) {
        drain_threadsafe();
    }

    // Phase 3: expired timers. They only make things ready (or run short callbacks).
    if (!timers_.empty()) {
        const time_point t_now = now();
        if (!virtual_time_) {
            batch_time_ = t_now.time_since_epoch().count();  // read anyway: free
        }
        const clock::time_point fire_start =
            AIO_UNLIKELY(instrumented_) ? clock::now() : clock::time_point{};
        std::size_t fired = 0;
        while (timer_node* top = timers_.top()) {
            if (top->deadline > t_now) {
                break;
            }
            timers_.pop();
            top->fire(top);
            ++fired;
        }
        if (AIO_UNLIKELY(instrumented_) && fired > 0) {
            each_instrument([&](instrument& i) { i.timers_fired(fired, fire_start); });
        }
    }

    // Phase 4: run what was ready at the start of this phase; what becomes ready meanwhile
    // waits for the next iteration, so I/O and timers are never starved.
    ready_node* batch = ready_head_;
    ready_head_ = ready_tail_ = nullptr;
    if (AIO_UNLIKELY((stats_.iterations & 63) == 0) && !virtual_time_) {
        batch_time_ = coarse_now_ns();  // a loop that never blocks and has no timer
    }
    while (batch != nullptr) {
        ready_node* next = batch->next_ready;
        if (batch->is_task) {
            run_step(static_cast<task_base*>(batch));
        } else {
            run_callback(static_cast<timer_handle::node*>(batch));
        }
        batch = next;
    }
}

void loop_core::run_until_done(task_base* main) {
    while (!main->done()) {
        run_once();
    }
}

// The close sequence of aio::run, as asyncio.run: cancel what is left, let it unwind, report
// failures of the cancelled tasks, shut the default executor down.
void loop_core::shutdown() {
    closing_ = true;
    if (AIO_UNLIKELY(instrumented_)) {
        capture_suspension_points();
        each_instrument([&](instrument& i) { i.shutdown_started(facade_); });
    }
    std::vector<task_ref> left = aio::all_tasks();
    for (auto& t : left) {
        t.cancel();
    }
    for (;;) {
        bool all_done = std::all_of(left.begin(), left.end(), [](auto& t) { return t.done(); });
        if (all_done) {
            break;
        }
        run_once();
    }
    for (auto& t : left) {
        task_base* b = t.base();
        if (b->outcome_ == task_outcome::exception && !b->exception_retrieved_) {
            // Nobody can retrieve it any more: it is an unretrieved exception for debug mode,
            // reported to the handler here (as asyncio.run does) rather than at destruction.
            if (AIO_UNLIKELY(instrumented_)) {
                each_instrument([&](instrument& i) { i.task_exception_unretrieved(t); });
            }
            b->exception_retrieved_ = true;
            std::string who = describe_task(b);
            report({"unhandled exception during aio::run() shutdown", b->exception_,
                    [who] { return who; }});
        }
    }
    // Callbacks scheduled by the unwinding tasks still run.
    while (ready_head_ != nullptr) {
        run_once();
    }
    if (default_executor_) {
        default_executor_->shutdown_for(options_.executor_shutdown_timeout);
    }
    {
        std::lock_guard<std::mutex> lock(ts_mutex_);
        accepting_threadsafe_ = false;
    }
    drain_threadsafe();
    if (AIO_UNLIKELY(instrumented_)) {
        each_instrument([&](instrument& i) { i.loop_closing(facade_); });
    }
    if (default_executor_) {
        default_executor_.reset();
    }
}

// ---------------------------------------------------------------------------------------
// Callbacks

timer_handle loop_core::schedule_callback(std::function<void()> fn, const time_point* when) {
    auto* n = new timer_handle::node();
    n->is_task = false;
    n->fn = std::move(fn);
    n->loop = this;
    n->refs = 2;  // the handle returned, and the loop while queued
    n->queued = true;
    if (when == nullptr) {
        n->timer.deadline = now();
        schedule(n);
    } else {
        n->timer.deadline = *when;
        n->timer.fire = &fire_callback_node;
        n->timer.owner = n;
        timers_.push(n->timer);
    }
    return timer_handle(n);
}

void loop_core::run_callback(timer_handle::node* n) noexcept {
    n->queued = false;
    if (!n->cancelled) {
        try {
            n->fn();
        } catch (...) {
            report({"Exception in callback", std::current_exception(), {}});
        }
    }
    n->fn = nullptr;
    release_node(n);
}

void loop_core::release_node(timer_handle::node* n) noexcept {
    if (--n->refs == 0) {
        delete n;
    }
}

void loop_core::post_threadsafe(std::function<void()> fn) {
    {
        std::lock_guard<std::mutex> lock(ts_mutex_);
        if (!accepting_threadsafe_) {
            throw usage_error("call_soon_threadsafe: the loop is closed");
        }
        ts_queue_.push_back(std::move(fn));
    }
    if (!ts_pending_.exchange(true, std::memory_order_acq_rel)) {
        std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
    }
}

void loop_core::drain_threadsafe() noexcept {
    ts_pending_.store(false, std::memory_order_release);
    take_signals(*this);
    std::vector<std::function<void()>> batch;
    {
        std::lock_guard<std::mutex> lock(ts_mutex_);
        batch.swap(ts_queue_);
    }
    for (auto& fn : batch) {
        try {
            fn();
        } catch (...) {
            report({"Exception in a call_soon_threadsafe callback", std::current_exception(), {}});
        }
    }
}

}  // namespace aio::detail

// ---------------------------------------------------------------------------------------
// Public facade

namespace aio {

std::size_t default_stack_size() noexcept {
#if defined(AIO_SANITIZE_ADDRESS) || defined(AIO_SANITIZE_THREAD)
    return 512 * 1024;
#else
    return 128 * 1024;
#endif
}

time_point loop::time() const noexcept {
    return core_->now();
}

timer_handle loop::call_soon(std::function<void()> fn) {
    core_->check_thread("loop::call_soon");
    return core_->schedule_callback(std::move(fn), nullptr);
}

timer_handle loop::call_later(duration delay, std::function<void()> fn) {
    core_->check_thread("loop::call_later");
    time_point now = core_->now();
    time_point when = delay > time_point::max() - now ? time_point::max() : now + delay;
    return core_->schedule_callback(std::move(fn), &when);
}

timer_handle loop::call_at(time_point when, std::function<void()> fn) {
    core_->check_thread("loop::call_at");
    return core_->schedule_callback(std::move(fn), &when);
}

void loop::call_soon_threadsafe(std::function<void()> fn) {
    core_->post_threadsafe(std::move(fn));
}

void loop::set_exception_handler(exception_handler handler) {
    core_->check_thread("loop::set_exception_handler");
    core_->exception_handler_ = std::move(handler);
}

void loop::call_exception_handler(const exception_context& ctx) noexcept {
    core_->report(ctx);
}

void loop::add_instrument(instrument* i) {
    core_->check_thread("loop::add_instrument");
    core_->add_instrument(i);
}

void loop::remove_instrument(instrument* i) noexcept {
    core_->remove_instrument(i);
}

bool loop::is_loop_thread() const noexcept {
    return std::this_thread::get_id() == core_->thread_;
}

loop::statistics loop::stats() const noexcept {
    statistics s = core_->stats_;
    s.timers_pending = core_->timers_.size();
    return s;
}

time_point loop::start_time() const noexcept {
    return core_->start_;
}

loop& get_running_loop() {
    // Asking is not a wrong-thread call: code may ask to find out whether it runs on a loop.
    detail::loop_core* l = detail::tls_loop;
    if (l == nullptr) {
        detail::throw_no_loop("aio::get_running_loop()");
    }
    return l->facade_;
}

// timer_handle ----------------------------------------------------------------------------

timer_handle::timer_handle(node* n) noexcept
    : n_(n) {
}
timer_handle::timer_handle(const timer_handle& o) noexcept
    : n_(o.n_) {
    if (n_ != nullptr) {
        ++n_->refs;
    }
}
timer_handle::timer_handle(timer_handle&& o) noexcept
    : n_(o.n_) {
    o.n_ = nullptr;
}
timer_handle& timer_handle::operator=(timer_handle o) noexcept {
    std::swap(n_, o.n_);
    return *this;
}
timer_handle::~timer_handle() {
    if (n_ != nullptr && --n_->refs == 0) {
        delete n_;
    }
}

void timer_handle::cancel() {
    if (n_ == nullptr || n_->cancelled) {
        return;
    }
    if (n_->queued) {
        n_->loop->check_thread("aio::timer_handle::cancel");
    }
    n_->cancelled = true;
    if (n_->queued && n_->timer.queued()) {
        // Leave the ready queue alone (the node is skipped when reached), but take a timer out
        // of the heap now so a cancelled call_later does not keep the loop's clock busy.
        n_->loop->remove_timer(n_->timer);
        n_->queued = false;
        n_->fn = nullptr;
        n_->loop->release_node(n_);
    }
}

bool timer_handle::cancelled() const noexcept {
    return n_ != nullptr && n_->cancelled;
}

time_point timer_handle::when() const noexcept {
    return n_ != nullptr ? n_->timer.deadline : time_point{};
}

// runner ----------------------------------------------------------------------------------

namespace detail {

namespace {
std::atomic<debug_factory> the_debug_factory{nullptr};
}  // namespace

void set_debug_factory(debug_factory factory) noexcept {
    the_debug_factory.store(factory);
}

std::string loop_core::report_wrong_thread(const char* call, bool object) noexcept {
    // The instruments are read from a foreign thread: they only change on the loop thread
    // before user code can start threads, and are not removed while the loop runs.
    for (instrument* i : instruments_) {
        i->wrong_thread(call);
    }
    try {
        const loop_core* here = tls_loop;
        return std::string(call) + " was called from " + calling_thread() +
               (here != nullptr ? ", which runs another event loop,"
                                : (object ? "" : ", which runs no event loop,")) +
               (object ? " but the object belongs to the event loop of "
                       : " while the only event loop runs on ") +
               describe_thread(thread_name_, tid_) +
               "; every aio call but call_soon_threadsafe must be made on the loop's own "
               "thread: hand the work to that loop with loop.call_soon_threadsafe(fn)";
    } catch (...) {
        return std::string();
    }
}

void loop_core::wrong_thread(const char* call) {
    std::string message = report_wrong_thread(call, true);
    throw usage_error(message.empty() ? std::string(call) + " was called from a thread that "
                                                            "does not run its event loop"
                                      : message);
}

void check_thread(const task_base* t, const char* call) {
    if (t != nullptr && t->loop_ != nullptr) {
        t->loop_->check_thread(call);
    }
}

void enable_stack_watermarks(loop& l) noexcept {
    l.core().watermarks_ = true;
}

runner::runner(run_options options) {
    if (current_loop() != nullptr) {
        throw usage_error("aio::run() cannot be called from a running event loop; inside a task, "
                          "use aio::create_task(fn) and get() instead");
    }
    core_ = new loop_core(options);
    set_current_loop(core_);
    install_overflow_handler();
    if (debug_factory make = the_debug_factory.load()) {
        try {
            if (std::unique_ptr<instrument> i = make(core_->facade_, options)) {
                core_->add_instrument(i.get());
                core_->owned_instruments_.push_back(std::move(i));
            }
        } catch (...) {
            std::string msg =
                "aio: debug mode could not start: " + describe_exception(std::current_exception()) +
                "\n";
            std::fputs(msg.c_str(), stderr);
        }
    }
    if (options.handle_signals && on_main_thread()) {
        try {
            enable_ctrl_c(*core_);
        } catch (...) {
            delete core_;
            set_current_loop(nullptr);
            throw;
        }
    }
}

runner::~runner() {
    set_current_loop(core_);
    delete core_;
    set_current_loop(nullptr);
}

void runner::run_main(task_base* main) {
    core_->main_ = main;
    core_->spawn(main, __builtin_extract_return_addr(__builtin_return_address(0)));
    core_->run_until_done(main);
    core_->shutdown();
}

bool runner::interrupted() const noexcept {
    return core_->interrupted_;
}

[[noreturn]] void assertion_failed(const char* expr, const char* file, int line) noexcept {
    std::fprintf(stderr, "aio: internal error: assertion '%s' failed at %s:%d\n", expr, file, line);
    std::abort();
}

}  // namespace detail

}  // namespace aio
