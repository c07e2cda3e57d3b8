// Jobs for web handlers (aiojobs.aiohttp): a scheduler that lives as long as the
// application, background work spawned from handlers, and atomic handlers that a client
// disconnect or a handler cancellation cannot interrupt. See docs/reference/jobs-http.md.
//
//     aio::jobs::http::setup(app);
//     app.add_post("/orders", aio::jobs::http::atomic([](aio::http::request& req) {
//         db.insert_order(req.text());   // runs to the end even if the client goes away
//         return aio::http::response::text("ok");
//     }));
#pragma once

#include <aio/http/server.hpp>
#include <aio/jobs/scheduler.hpp>

#include <memory>
#include <source_location>
#include <string>
#include <utility>

namespace aio::jobs::http {

/// Gives `app` a job scheduler with `options`: created when the app starts (on_startup),
/// closed with wait_and_close() when it is cleaned up (on_cleanup), after its handlers have
/// finished. Call it once, before serving. Throws usage_error when called twice on one app.
void setup(aio::http::application& app, scheduler_options options = {});

/// The scheduler setup() gave the application. Throws usage_error saying that
/// jobs::http::setup(app) was not called (or that the app is not started yet).
[[nodiscard]] scheduler& get_scheduler(aio::http::application& app);
/// The scheduler of the application serving `req`. Throws as above.
[[nodiscard]] scheduler& get_scheduler(const aio::http::request& req);

/// Spawns `fn` on the application's scheduler (aiojobs.aiohttp.spawn): it outlives the
/// handler, counts against the scheduler's limit, and its failure goes to the scheduler's
/// exception handler. Suspends only when the scheduler's pending queue is full. Throws as
/// get_scheduler() and scheduler::spawn().
template <class Fn>
auto spawn(const aio::http::request& req, Fn&& fn, std::string name = {},
           std::source_location where = std::source_location::current()) {
    return get_scheduler(req).spawn(std::forward<Fn>(fn), std::move(name), where);
}

/// Runs `fn` shielded from the handler's cancellation and tracked by the scheduler, so the
/// application's cleanup still closes it (aiojobs.aiohttp.shield). Suspends until `fn`
/// returns; returns its result. Cancellation point for the caller (the work goes on).
template <class Fn>
auto shield(const aio::http::request& req, Fn&& fn,
            std::source_location where = std::source_location::current()) {
    return get_scheduler(req).shield(std::forward<Fn>(fn), where);
}

/// Wraps a handler so it runs as a job of the application's scheduler (aiojobs'
/// @atomic): the connection's task only waits for it, so a client disconnect (with
/// handler_cancellation on) or a cancelled connection task does not interrupt the work.
/// The job gets its own copy of the request handle. The handler's exceptions reach the
/// waiting connection task as usual (an http_error still becomes its status).
[[nodiscard]] aio::http::handler atomic(aio::http::handler h, std::string name = {});

}  // namespace aio::jobs::http
