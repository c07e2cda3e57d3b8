// The resource registry. Registrations hold the loop's shared anchor, so a resource that
// outlives its loop (closed after aio::run returned) is harmless.
#include "loop_core.hpp"

#include <aio/errors.hpp>
#include <aio/instrument.hpp>

namespace aio {

resource_registration::resource_registration(std::string kind, std::string name) {
    open(std::move(kind), std::move(name), {},
         __builtin_extract_return_addr(__builtin_return_address(0)));
}

resource_registration::resource_registration(std::string kind, std::string name,
                                             std::function<std::string()> describe) {
    open(std::move(kind), std::move(name), std::move(describe),
         __builtin_extract_return_addr(__builtin_return_address(0)));
}

void resource_registration::open(std::string kind, std::string name,
                                 std::function<std::string()> describe, void* caller) {
    detail::loop_core* l = detail::current_loop();
    if (l == nullptr) {
        return;
    }
    resource_info info;
    info.kind = std::move(kind);
    info.name = std::move(name);
    info.describe = std::move(describe);
    info.site.caller = caller;
    {
        std::lock_guard<std::mutex> lock(l->resources_->mutex);
        info.id = l->resources_->next_id++;
        l->resources_->open.emplace(info.id, info);
    }
    id_ = info.id;
    loop_ = l;
    anchor_ = l->resources_;
    if (l->instrumented()) {
        l->each_instrument([&](instrument& i) { i.resource_opened(info); });
    }
}

resource_registration::resource_registration(resource_registration&& o) noexcept
    : loop_(o.loop_)
    , id_(o.id_)
    , anchor_(std::move(o.anchor_)) {
    o.id_ = 0;
    o.loop_ = nullptr;
}

resource_registration& resource_registration::operator=(resource_registration&& o) noexcept {
    if (this != &o) {
        close();
        loop_ = o.loop_;
        id_ = o.id_;
        anchor_ = std::move(o.anchor_);
        o.id_ = 0;
        o.loop_ = nullptr;
    }
    return *this;
}

resource_registration::~resource_registration() {
    close();
}

void resource_registration::close() noexcept {
    if (id_ == 0 || !anchor_) {
        return;
    }
    resource_info info;
    detail::loop_core* l = nullptr;
    {
        std::lock_guard<std::mutex> lock(anchor_->mutex);
        auto it = anchor_->open.find(id_);
        if (it != anchor_->open.end()) {
            info = std::move(it->second);
            anchor_->open.erase(it);
        }
        l = anchor_->loop;
    }
    id_ = 0;
    anchor_.reset();
    // Instruments hear about it only on the loop's own thread (executor shutdown may run on
    // another thread).
    if (l != nullptr && l == detail::current_loop() && l->instrumented()) {
        l->each_instrument([&](instrument& i) { i.resource_closed(info); });
    }
}

void resource_registration::abandon(std::string_view what) noexcept {
    if (id_ == 0 || !anchor_) {
        return;
    }
    detail::loop_core* l = nullptr;
    resource_info info;
    {
        std::lock_guard<std::mutex> lock(anchor_->mutex);
        auto it = anchor_->open.find(id_);
        if (it != anchor_->open.end()) {
            info = it->second;
        }
        l = anchor_->loop;
    }
    if (l != nullptr && l == detail::current_loop() && l->instrumented()) {
        l->each_instrument([&](instrument& i) { i.resource_abandoned(info, what); });
    }
    close();
}

bool request_suspension_capture(const task_ref& t) noexcept {
    return t && detail::request_capture(*t.base());
}

std::vector<resource_info> open_resources() {
    detail::loop_core& l = detail::require_loop("aio::open_resources()");
    std::vector<resource_info> out;
    std::lock_guard<std::mutex> lock(l.resources_->mutex);
    for (auto& [id, info] : l.resources_->open) {
        out.push_back(info);
    }
    return out;
}

}  // namespace aio
