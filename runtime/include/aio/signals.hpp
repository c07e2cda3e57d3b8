// Unix signals handled on the loop (asyncio's loop.add_signal_handler). See
// docs/reference/signals.md.
#pragma once

#include <functional>

namespace aio {

/// Calls `fn` on the running loop each time signal `sig` arrives (asyncio's
/// loop.add_signal_handler). `fn` runs as a loop callback in a later loop iteration, never
/// inside the signal handler, so it may use any aio call that does not suspend (set an event,
/// cancel a task, put_nowait into a queue, create a task). Arrivals the loop has not handled
/// yet are merged into one call, as the kernel merges pending signals. An exception thrown by
/// `fn` goes to the loop's exception handler.
///
/// Replaces this loop's previous handler for `sig`. Loops on several threads may each have a
/// handler for the same signal: a signal sent to the process reaches every one of them. While
/// any loop has a handler for `sig`, aio owns its disposition; the disposition found before is
/// restored when the last handler is removed or its loop closes. A handler for SIGINT takes
/// the place of aio::run's own Ctrl-C handling on this loop until it is removed.
///
/// Does not suspend. Loop thread only. Throws value_error for a number that is not a signal,
/// for SIGKILL and SIGSTOP (they cannot be caught), for SIGSEGV, SIGBUS, SIGFPE, SIGILL,
/// SIGTRAP and SIGSYS (faults of the thread that causes them, which cannot wait for a loop),
/// and for SIGURG (reserved: debug mode samples loop threads' stacks with it); usage_error
/// outside a running loop.
void add_signal_handler(int sig, std::function<void()> fn);

/// Removes this loop's handler for `sig` (asyncio's loop.remove_signal_handler). Returns false
/// if the loop had none. Does not suspend. Loop thread only. Throws value_error as
/// add_signal_handler; usage_error outside a running loop.
bool remove_signal_handler(int sig);

}  // namespace aio
