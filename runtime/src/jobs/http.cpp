// Jobs for web handlers: the application's scheduler and atomic handlers (aiojobs.aiohttp).
#include <aio/jobs/http.hpp>

#include <memory>

namespace aio::jobs::http {

namespace {

// The scheduler lives in the application's storage from on_startup to on_cleanup. The
// holder is shared so the hooks and the storage agree on one scheduler.
struct holder {
    scheduler_options options;
    std::unique_ptr<scheduler> sched;
};

const aio::http::app_key<std::shared_ptr<holder>>& key() {
    static const aio::http::app_key<std::shared_ptr<holder>> k{"aio.jobs.http.scheduler"};
    return k;
}

}  // namespace

void setup(aio::http::application& app, scheduler_options options) {
    if (app.contains(key())) {
        throw usage_error("jobs::http::setup: called twice on this application; one scheduler "
                          "serves the whole app");
    }
    auto h = std::make_shared<holder>();
    h->options = std::move(options);
    if (h->options.name.empty() || h->options.name == scheduler_options{}.name) {
        h->options.name = "http jobs";
    }
    app.set(key(), h);
    app.on_startup.emplace_back([h](aio::http::application&) {
        if (!h->sched || h->sched->closed()) {
            h->sched = std::make_unique<scheduler>(h->options);
        }
    });
    // After the handlers: the application's cleanup runs once every handler has finished,
    // so the jobs they spawned get their full wait_timeout.
    app.on_cleanup.emplace_back([h](aio::http::application&) {
        if (h->sched) {
            h->sched->wait_and_close();
        }
    });
}

scheduler& get_scheduler(aio::http::application& app) {
    if (!app.contains(key())) {
        throw usage_error("jobs::http::get_scheduler: the application has no job scheduler; "
                          "call aio::jobs::http::setup(app) before serving it");
    }
    holder& h = *app.get(key());
    if (!h.sched) {
        throw usage_error("jobs::http::get_scheduler: the application has not started yet "
                          "(its scheduler is created by the on_startup hook setup() added)");
    }
    return *h.sched;
}

scheduler& get_scheduler(const aio::http::request& req) {
    return get_scheduler(req.app());
}

aio::http::handler atomic(aio::http::handler h, std::string name) {
    if (!h) {
        throw value_error("jobs::http::atomic: empty handler");
    }
    return [h = std::move(h), name = std::move(name)](aio::http::request& req) {
        scheduler& s = get_scheduler(req);
        aio::http::request copy = req;  // the job keeps the request alive on its own
        auto j = s.spawn([h, copy]() mutable { return h(copy); },
                         name.empty() ? req.method() + " " + req.path() : name);
        return j.wait();
    };
}

}  // namespace aio::jobs::http
