// The HTTP server's runner: app_runner (start, the graceful shutdown of cleanup()), and
// run_app with its SIGTERM through the runtime's signal handling.
#include "../net/net.hpp"
#include "../signals.hpp"
#include "server_state.hpp"

#include <aio/run.hpp>
#include <aio/signals.hpp>
#include <aio/timeout.hpp>

#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <system_error>

namespace aio::http {

namespace detail {

void report_error(const char* what, const std::string& who) noexcept {
    try {
        aio::get_running_loop().call_exception_handler(
            {what, std::current_exception(), [who] { return who; }});
    } catch (...) {
    }
}

// ---------------------------------------------------------------------------------------
// Runner

void runner_state::run_hooks(std::vector<app_hook>& hooks, const char* which) noexcept {
    for (auto& h : hooks) {
        try {
            h(*app);
        } catch (const cancelled_error&) {
            return;
        } catch (...) {
            report_error(which, "application hook");
        }
    }
}

void runner_state::start(const std::function<aio::server(aio::connection_handler)>& listen) {
    if (started) {
        throw usage_error("http::app_runner::start: already started; one runner serves one "
                          "address (make another runner for another)");
    }
    started = true;
    struct unstart {
        runner_state& r;
        bool armed = true;
        ~unstart() {
            if (armed) {  // a failed start leaves the runner startable again
                r.started = false;
                r.app->frozen_ = false;
            }
        }
    } undo{*this};
    app->chain_ = nullptr;
    app->frozen_ = true;
    handler chain = [r = app->router_.get()](request& req) { return r->handle(req, *req.d_); };
    for (auto it = app->middlewares_.rbegin(); it != app->middlewares_.rend(); ++it) {
        chain = [m = *it, next = std::move(chain)](request& req) { return m(req, next); };
    }
    app->chain_ = std::move(chain);
    for (auto& h : app->on_startup) {
        h(*app);  // a failing startup hook fails start(): nothing is served
    }
    std::weak_ptr<runner_state> weak = weak_from_this();
    auto self = shared_from_this();
    srv = listen([self](aio::stream& st) {
        auto c = std::make_shared<connection>(self, st);
        c->task = aio::current_task();
        self->conns.push_front(c.get());
        c->pos = self->conns.begin();
        struct untrack {
            connection& c;
            ~untrack() {
                c.closed = true;
                c.rs->conns.erase(c.pos);
                c.current.reset();
            }
        } guard{*c};
        try {
            c->serve();
        } catch (const std::system_error&) {
            // The client went away (reset, broken pipe): nothing to report.
            st.abort();
        } catch (const timeout_error&) {
            st.abort();  // a client too slow to read its response
        }
    });
    undo.armed = false;
}

void runner_state::cleanup() {
    if (cleaned_up) {
        cleanup_done.wait();
        return;
    }
    cleaned_up = true;
    shutting_down = true;
    struct done_t {
        runner_state& r;
        ~done_t() { r.cleanup_done.set(); }
    } done{*this};
    if (srv) {
        srv.close();
        for (connection* c : conns) {
            // No request in progress, or only part of a head (a client trickling bytes):
            // nothing to finish, so nothing to wait for.
            if (c->waiting_idle || c->reading_head) {
                aio::detail::stream_access::close_soon(c->s);
            }
        }
    }
    run_hooks(app->on_shutdown, "Error in an on_shutdown hook");
    if (srv) {
        bool finished = false;
        try {
            aio::timeout(opts.shutdown_timeout, [&] { srv.wait_closed(); });
            finished = true;
        } catch (const timeout_error&) {
        }
        if (!finished) {
            for (connection* c : conns) {
                if (c->task && !c->task.done()) {
                    if (c->at == connection::phase::handling) {
                        ++cancelled;
                    }
                    c->task.cancel("the server is shutting down (shutdown_timeout passed)");
                }
            }
            // A handler that swallows its cancellation must not hold the shutdown forever:
            // one more shutdown_timeout, then its connection is aborted and cleanup goes on.
            bool ended = false;
            try {
                aio::timeout(opts.shutdown_timeout, [&] { srv.wait_closed(); });
                ended = true;
            } catch (const timeout_error&) {
            }
            if (!ended) {
                std::size_t left = conns.size();
                srv.abort_clients();
                try {
                    throw std::runtime_error(
                        std::to_string(left) + " connection task(s) still running " +
                        format_duration(opts.shutdown_timeout) +
                        " after they were cancelled (a handler swallowed its cancellation?); "
                        "their connections were aborted and the shutdown goes on without them");
                } catch (...) {
                    report_error("HTTP shutdown: handlers ignored their cancellation",
                                 "server '" + name + "'");
                }
            }
        }
        srv = aio::server();
    }
    run_hooks(app->on_cleanup, "Error in an on_cleanup hook");
}

}  // namespace detail

// ---------------------------------------------------------------------------------------
// app_runner

namespace {
void check_serve_options(const serve_options& o) {
    auto neg = [](duration d) { return d < duration::zero(); };
    const char* bad = nullptr;
    if (neg(o.keepalive_timeout)) {
        bad = "keepalive_timeout is negative";
    } else if (neg(o.header_timeout)) {
        bad = "header_timeout is negative";
    } else if (neg(o.shutdown_timeout)) {
        bad = "shutdown_timeout is negative";
    } else if (o.max_field_size == 0 || o.max_head_size == 0) {
        bad = "max_field_size and max_head_size must be above 0";
    }
    if (bad != nullptr) {
        throw value_error(std::string("http::serve_options: ") + bad);
    }
    aio::detail::check_stream_options(o.server.connection, "http::serve_options::server");
}
}  // namespace

app_runner::app_runner(application& app, serve_options options) {
    check_serve_options(options);
    s_ = std::make_shared<detail::runner_state>(app, std::move(options));
}
app_runner::app_runner(app_runner&&) noexcept = default;
app_runner& app_runner::operator=(app_runner&& o) noexcept {
    if (this != &o) {
        if (s_) {
            s_->srv = aio::server();
        }
        s_ = std::move(o.s_);
    }
    return *this;
}
app_runner::~app_runner() {
    if (s_) {
        // Breaks the cycle server -> handler -> runner state; a server still open is
        // aborted (and reported by debug mode).
        s_->srv = aio::server();
    }
}

void app_runner::start(std::string_view host, std::uint16_t port) {
    if (!s_) {
        throw usage_error("http::app_runner::start: moved-from runner");
    }
    aio::server_options so = s_->opts.server;
    if (s_->opts.ssl) {
        so.ssl = s_->opts.ssl;
    }
    if (so.name.empty()) {
        so.name = (so.ssl ? "https " : "http ") + aio::detail::host_port(host, port);
    }
    s_->name = so.name;
    s_->start(
        [&](aio::connection_handler h) { return aio::start_server(std::move(h), host, port, so); });
}

void app_runner::start_unix(std::string_view path) {
    if (!s_) {
        throw usage_error("http::app_runner::start_unix: moved-from runner");
    }
    aio::server_options so = s_->opts.server;
    if (s_->opts.ssl) {
        so.ssl = s_->opts.ssl;
    }
    if (so.name.empty()) {
        so.name = "http unix:" + std::string(path);
    }
    s_->name = so.name;
    s_->start(
        [&](aio::connection_handler h) { return aio::start_unix_server(std::move(h), path, so); });
}

void app_runner::cleanup() {
    if (!s_ || !s_->started) {
        return;
    }
    // Not a cancellation point: the shutdown runs in its own task, and a cancelled caller
    // still waits for it to finish before the cancellation goes on.
    auto state = s_;
    auto t =
        aio::create_task(aio::task_options{.name = "http cleanup"}, [state] { state->cleanup(); });
    bool cancelled = false;
    std::optional<cancelled_error> reason;
    for (;;) {
        try {
            t.get();
            break;
        } catch (const cancelled_error& e) {
            if (t.done()) {
                throw;
            }
            cancelled = true;
            reason = e;
        }
    }
    if (cancelled) {
        throw *reason;
    }
}

std::uint16_t app_runner::port() const {
    if (!s_ || !s_->srv) {
        throw usage_error("http::app_runner::port: not started (or cleaned up)");
    }
    return s_->srv.port();
}

std::vector<std::string> app_runner::addresses() const {
    if (!s_ || !s_->srv) {
        return {};
    }
    return s_->srv.sockets();
}

std::size_t app_runner::connection_count() const noexcept {
    return s_ ? s_->conns.size() : 0;
}
std::size_t app_runner::handlers_running() const noexcept {
    return s_ ? s_->handlers : 0;
}
std::uint64_t app_runner::requests_handled() const noexcept {
    return s_ ? s_->handled : 0;
}
std::uint64_t app_runner::handlers_cancelled() const noexcept {
    return s_ ? s_->cancelled : 0;
}
std::uint64_t app_runner::client_disconnects() const noexcept {
    return s_ ? s_->disconnects : 0;
}

// ---------------------------------------------------------------------------------------
// run_app

namespace {

// SIGTERM while run_app serves: a graceful shutdown, through the loop's signal handling
// (signals.cpp). A SIGTERM handler the application installed on this loop before (its own
// stats, say) still runs first, and is put back when run_app returns; one the application
// installs while run_app serves is kept. SIGTERM is left alone when the process has a
// disposition of its own for it (one not set by aio).
class sigterm_watch {
public:
    explicit sigterm_watch(aio::event& stop) {
        aio::detail::loop_core& l = aio::detail::net_loop("http::run_app");
        if (l.signals_ && l.signals_->handlers[SIGTERM - 1]) {
            previous_ = l.signals_->handlers[SIGTERM - 1];
        } else if (!aio::detail::aio_handles(SIGTERM)) {
            struct sigaction current {};
            ::sigaction(SIGTERM, nullptr, &current);
            if (current.sa_handler != SIG_DFL) {
                return;
            }
        }
        // A call already scheduled may run after run_app has returned: it finds the anchor
        // empty instead of a destroyed event.
        aio::add_signal_handler(SIGTERM, [theirs = previous_, anchor = anchor_] {
            if (theirs) {
                (*theirs)();
            }
            if (*anchor != nullptr) {
                (*anchor)->set();
            }
        });
        ours_ = l.signals_->handlers[SIGTERM - 1];
        loop_ = &l;
        *anchor_ = &stop;
    }
    ~sigterm_watch() {
        *anchor_ = nullptr;
        if (loop_ == nullptr || !loop_->signals_ ||
            loop_->signals_->handlers[SIGTERM - 1] != ours_) {
            return;  // not installed, or the application replaced it meanwhile: keep theirs
        }
        if (previous_) {
            loop_->signals_->handlers[SIGTERM - 1] = previous_;  // the very same handler object
            return;
        }
        try {
            aio::remove_signal_handler(SIGTERM);
        } catch (...) {
        }
    }
    sigterm_watch(const sigterm_watch&) = delete;
    sigterm_watch& operator=(const sigterm_watch&) = delete;

private:
    std::shared_ptr<aio::event*> anchor_ = std::make_shared<aio::event*>(nullptr);
    std::shared_ptr<std::function<void()>> previous_;
    std::shared_ptr<std::function<void()>> ours_;
    aio::detail::loop_core* loop_ = nullptr;
};

void serve_until_stopped(application& app, std::string_view host, std::uint16_t port,
                         const serve_options& options) {
    app_runner runner(app, options);
    runner.start(host, port);
    if (options.print_banner) {
        for (const auto& a : runner.addresses()) {
            std::printf("======== Running on %s://%s ========\n",
                        options.ssl || options.server.ssl ? "https" : "http", a.c_str());
        }
        std::printf("(Press CTRL+C to quit)\n");
        std::fflush(stdout);
    }
    aio::event stop;
    sigterm_watch term(stop);
    try {
        stop.wait();
    } catch (const cancelled_error&) {
        // Ctrl-C (the loop cancels the main task) or a cancelled caller: shut down
        // gracefully, then let the cancellation go on.
        runner.cleanup();
        throw;
    }
    runner.cleanup();
}

}  // namespace

void run_app(application& app, std::string_view host, std::uint16_t port, serve_options options) {
    bool in_loop = true;
    try {
        (void)aio::get_running_loop();
    } catch (const usage_error&) {
        in_loop = false;
    }
    if (in_loop) {
        serve_until_stopped(app, host, port, options);
        return;
    }
    std::string h(host);
    try {
        aio::run([&] { serve_until_stopped(app, h, port, options); });
    } catch (const interrupted_error&) {
        // Ctrl-C: the graceful shutdown has run; returning is what aiohttp's run_app does.
    }
}

}  // namespace aio::http
