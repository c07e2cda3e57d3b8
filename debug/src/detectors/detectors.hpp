// The detectors: one file each, called by the session on the runtime's events.
#pragma once

#include "../session.hpp"

namespace aio::debug::detectors {

/// A finding about task `t`: the fields every task detector fills the same way.
inline raw_finding task_finding(session& s, const task_ref& t, const char* id,
                                const char* severity) {
    raw_finding r;
    r.f.id = id;
    r.f.severity = severity;
    r.f.task_id = t.id();
    r.f.task_name = t.name();
    r.creation = s.creation_of(t);
    r.creation_site = t.raw_creation_site().caller;
    return r;
}

void never_awaited(session& s, const task_ref& t);              // task_handle_dropped
void exception_never_retrieved(session& s, const task_ref& t);  // task_exception_unretrieved
void slow_callback(session& s, const task_ref& t, duration step,
                   raw_stack sampled);                 // after_task_step
void cancel_swallowed(session& s, const task_ref& t);  // task_done
void pending_at_close(session& s, loop& l);            // shutdown_started
void leaked_resource(session& s, loop& l);             // loop_closing
// resource_abandoned: an owner destroyed with its resource open (leaked-job for a job scheduler)
void abandoned_resource(session& s, const resource_info& r, std::string_view what,
                        const std::string& held);
void wrong_thread(session& s, const char* call);       // wrong_thread (foreign thread)
void insecure_tls(session& s, std::string_view peer);  // insecure_connection
void stack_high_water(session& s, const task_ref& t);  // task_done
void stall(session& s, const task_ref& t, duration step, raw_stack culprit,
           long syscall);  // after_task_step
// blocking-call from the watchdog: a step slept in a system call no wrapper counted
void kernel_block(session& s, stall_watchdog::kernel_block b);  // after_task_step

}  // namespace aio::debug::detectors

namespace aio::debug {
/// blocking-call: the session of this thread's loop (nullptr: interposed calls pass through).
void set_blocking_call_session(session* s) noexcept;
/// True when an interposed call on this thread may count (cheap; before any fstat).
bool tls_session_active() noexcept;

}  // namespace aio::debug
