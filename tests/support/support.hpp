// Test fixtures. run_test runs a body as the main task of a fresh loop (virtual time by
// default) and checks, when the body returns and before the loop's close sequence cancels
// anything, that the body left nothing behind: no task still pending, no resource open, no
// timer pending, no file descriptor it opened (libuv's MAKE_VALGRIND_HAPPY).
#pragma once

#include <aio/aio.hpp>

#include <functional>
#include <set>
#include <string>
#include <vector>

namespace aio::test {

struct test_options {
    bool virtual_time = true;
    /// The body leaves tasks for the close sequence to cancel on purpose (tests of that
    /// sequence): skip the leak checks.
    bool leaves_tasks = false;
    /// Loops run on other threads at the same time (their fds are in the same table): skip
    /// the fd check.
    bool check_fds = true;
};

/// Runs `body` under aio::run; checks that no task, resource, timer or fd outlived it.
void run_test(const std::function<void()>& body, test_options options = {});

/// An instrument that records events as strings ("spawned main", "step main", ...).
class recorder : public aio::instrument {
public:
    std::vector<std::string> events;
    void task_spawned(const task_ref& t) noexcept override;
    void before_task_step(const task_ref& t) noexcept override;
    void after_task_step(const task_ref& t) noexcept override;
    void task_done(const task_ref& t) noexcept override;
    void task_handle_dropped(const task_ref& t) noexcept override;
    void task_exception_unretrieved(const task_ref& t) noexcept override;
    void cancel_requested(const task_ref& t, std::string_view message) noexcept override;
    void before_io_wait(duration timeout) noexcept override;
    void after_io_wait() noexcept override;
    void loop_closing(loop& l) noexcept override;
    void resource_opened(const resource_info& r) noexcept override;
    void resource_closed(const resource_info& r) noexcept override;
    bool has(const std::string& e) const;
    std::size_t count(const std::string& e) const;
};

/// What was open before a test body ran (for leftovers()).
struct leak_baseline {
    std::set<int> fds;
    std::size_t resources = 0;
};
/// Loop thread, inside a task: the fds (sockets, pipes, eventfds...) and resources open now.
leak_baseline take_baseline();
/// Loop thread, inside a task: what was left behind since `before`: other tasks still
/// pending, resources still open, timers pending, fds still open ("" when nothing).
std::string leftovers(const leak_baseline& before, bool check_fds = true);

/// Elapsed loop time since the test's loop started.
duration since_start();

}  // namespace aio::test
