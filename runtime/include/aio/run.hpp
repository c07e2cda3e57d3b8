// aio::run: the entry point (asyncio.run). See docs/reference/run.md.
#pragma once

#include <aio/errors.hpp>
#include <aio/loop.hpp>
#include <aio/task.hpp>

#include <type_traits>
#include <utility>

namespace aio {

/// Runs `main()` as the first task of a new event loop on this thread and returns its value
/// or rethrows its exception (asyncio.run). When `main` is done, tasks still pending are
/// cancelled and awaited, their unretrieved failures are reported, the default executor is
/// shut down and the loop is closed.
///
/// Ctrl-C (SIGINT) cancels the main task; once it has unwound, run() throws
/// interrupted_error. A second Ctrl-C ends the program at once.
/// Throws usage_error if a loop is already running on this thread.
template <class Fn>
AIO_ALWAYS_INLINE auto run(Fn&& main, run_options options = {})
    -> std::invoke_result_t<std::decay_t<Fn>> {
    using R = std::invoke_result_t<std::decay_t<Fn>>;
    std::string name = options.main_name;
    detail::runner r(std::move(options));
    detail::task_base* t = detail::make_task(std::forward<Fn>(main));
    task<R> handle(t);
    t->name_ = std::move(name);
    r.run_main(t);
    if (r.interrupted() && handle.cancelled()) {
        t->observed_ = true;
        throw interrupted_error("aio::run: interrupted by SIGINT (Ctrl-C); the main task was "
                                "cancelled and has unwound");
    }
    return handle.result();
}

}  // namespace aio
