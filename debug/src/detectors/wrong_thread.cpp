// wrong-thread: a loop call (event::set, lock::release, queue::put, loop::call_soon, cancel...)
// made from a thread that does not run the loop. The loop is single-threaded: such a call
// races with it and corrupts its queues. The runtime checks the calling thread at these calls
// (always, debug mode or not); the call throws usage_error, and in debug mode this reports it
// with the calling thread's stack. This runs on the foreign thread.
#include "detectors.hpp"

namespace aio::debug::detectors {

void wrong_thread(session& s, const char* call) {
    raw_finding r;
    r.f.id = "wrong-thread";
    r.f.severity = "error";
    r.f.message = std::string(call) + " was called from another thread; it threw usage_error";
    r.title = std::string(call) + " called from a thread that does not run the loop";
    r.culprit = capture_stack();
    r.f.why = "the loop and everything on it (tasks, events, queues, locks) belong to one thread; "
              "a call from another thread races with the loop and corrupts its state";
    r.f.fix = "hand the work to the loop with get_running_loop().call_soon_threadsafe(fn) (capture "
              "the loop reference on the loop thread), or return the result from aio::to_thread";
    r.f.lesson = "22-wrong-thread";
    s.report_from_any_thread(std::move(r));
}

}  // namespace aio::debug::detectors
