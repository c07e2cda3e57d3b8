// Test fixtures. run_test runs a body as the main task of a fresh loop (virtual time by
// default) and checks afterwards that nothing leaked: no task left, no resource open.
#pragma once

#include <aio/aio.hpp>

#include <functional>
#include <string>
#include <vector>

namespace aio::test {

struct test_options {
    bool virtual_time = true;
};

/// Runs `body` under aio::run and checks that no task and no resource outlived it.
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

/// Elapsed loop time since the test's loop started.
duration since_start();

}  // namespace aio::test
