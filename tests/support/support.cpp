#include "support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace aio::test {

namespace {

// Resources still registered when the loop closes (after its close sequence).
class leak_check : public aio::instrument {
public:
    std::size_t resources_left = 0;
    void loop_closing(loop&) noexcept override { resources_left = aio::open_resources().size(); }
};

// The process's sockets, pipes and anonymous inodes (eventfd, epoll, timerfd): what the
// runtime opens. Regular files are left out: the symbolizer keeps the binary and its debug
// files open across tests on purpose (a cache).
std::set<int> open_fds() {
    std::set<int> fds;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
        std::error_code lec;
        const auto target = std::filesystem::read_symlink(e.path(), lec).string();
        if (!lec && target.rfind('/', 0) != 0) {
            fds.insert(std::stoi(e.path().filename().string()));
        }
    }
    return fds;
}

// Resources the body opened: the loop's own default executor (created on first use, shut
// down by the close sequence) does not count.
std::vector<std::string> user_resources() {
    std::vector<std::string> out;
    for (const auto& r : aio::open_resources()) {
        if (!(r.kind == "executor" && r.name == "default executor")) {
            out.push_back(r.kind + " '" + r.name + "'");
        }
    }
    return out;
}

std::string describe(const std::vector<task_ref>& tasks) {
    std::string s;
    for (const auto& t : tasks) {
        s += (s.empty() ? "" : ", ") + t.name();
        auto site = t.creation_site().to_string();
        if (site != "?") {
            s += " (created at " + site + ")";
        }
    }
    return s;
}

}  // namespace

leak_baseline take_baseline() {
    return {open_fds(), user_resources().size()};
}

std::string leftovers(const leak_baseline& before, bool check_fds) {
    std::string out;
    std::vector<task_ref> left;
    for (auto& t : aio::all_tasks()) {
        if (t != aio::current_task()) {
            left.push_back(t);
        }
    }
    if (!left.empty()) {
        out += "tasks still pending: " + describe(left) + "\n";
    }
    const auto resources = user_resources();
    if (resources.size() > before.resources) {
        out += "resources still open: " + std::to_string(resources.size() - before.resources) +
               " (" + resources.back() + ")\n";
    }
    if (auto timers = aio::get_running_loop().stats().timers_pending; timers != 0) {
        out += "timers still pending: " + std::to_string(timers) + "\n";
    }
    if (check_fds) {
        std::size_t leaked = 0;
        for (int fd : open_fds()) {
            leaked += before.fds.count(fd) == 0 ? 1 : 0;
        }
        if (leaked != 0) {
            out += "file descriptors still open: " + std::to_string(leaked) + "\n";
        }
    }
    return out;
}

void run_test(const std::function<void()>& body, test_options options) {
    leak_check check;
    run_options ro;
    ro.virtual_time = options.virtual_time;
    ro.handle_signals = false;
    ro.instruments.push_back(&check);
    aio::run(
        [&] {
            const leak_baseline before = take_baseline();
            body();
            if (!options.leaves_tasks) {
                // Checked here, before aio::run's close sequence cancels what is left (which
                // would make any leak look clean).
                CHECK(leftovers(before, options.check_fds) == "");
            }
        },
        ro);
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
