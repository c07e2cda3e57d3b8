#include "support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

namespace aio::test {

namespace {

// Checks run on the loop thread just before it closes.
class leak_check : public aio::instrument {
public:
    std::size_t tasks_left = 0;
    std::size_t resources_left = 0;
    void loop_closing(loop&) noexcept override {
        tasks_left = aio::all_tasks().size();
        resources_left = aio::open_resources().size();
    }
};

}  // namespace

void run_test(const std::function<void()>& body, test_options options) {
    leak_check check;
    run_options ro;
    ro.virtual_time = options.virtual_time;
    ro.handle_signals = false;
    ro.instruments.push_back(&check);
    aio::run([&] { body(); }, ro);
    CHECK(check.tasks_left == 0);
    CHECK(check.resources_left == 0);
}

duration since_start() {
    auto& l = get_running_loop();
    return l.time() - l.start_time();
}

void recorder::task_spawned(const task_ref& t) noexcept {
    events.push_back("spawned " + t.name());
}
void recorder::before_task_step(const task_ref& t) noexcept {
    events.push_back("step " + t.name());
}
void recorder::after_task_step(const task_ref& t) noexcept {
    events.push_back("stepped " + t.name());
}
void recorder::task_done(const task_ref& t) noexcept {
    events.push_back("done " + t.name());
}
void recorder::task_handle_dropped(const task_ref& t) noexcept {
    events.push_back("dropped " + t.name());
}
void recorder::task_exception_unretrieved(const task_ref& t) noexcept {
    events.push_back("unretrieved " + t.name());
}
void recorder::cancel_requested(const task_ref& t, std::string_view message) noexcept {
    events.push_back("cancel " + t.name() + " " + std::string(message));
}
void recorder::before_io_wait(duration) noexcept {
    events.push_back("io wait");
}
void recorder::after_io_wait() noexcept {
    events.push_back("io done");
}
void recorder::loop_closing(loop&) noexcept {
    events.push_back("closing");
}
void recorder::resource_opened(const resource_info& r) noexcept {
    events.push_back("opened " + r.kind);
}
void recorder::resource_closed(const resource_info& r) noexcept {
    events.push_back("closed " + r.kind);
}
bool recorder::has(const std::string& e) const {
    return std::find(events.begin(), events.end(), e) != events.end();
}
std::size_t recorder::count(const std::string& e) const {
    return static_cast<std::size_t>(std::count(events.begin(), events.end(), e));
}

}  // namespace aio::test
