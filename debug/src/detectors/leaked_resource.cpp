// leaked-resource: an object registered with the runtime's resource registry (an executor,
// a stream, a server, ...) still open at loop close, or destroyed while still open.
// leaked-job: the same for a job scheduler (aio::jobs), with the jobs it still held: a
// scheduler never closed, or destroyed or left at loop close with active or pending jobs.
#include "detectors.hpp"

namespace aio::debug::detectors {

namespace {

constexpr const char* job_kind = "job scheduler";

raw_finding job_finding(session& s, const resource_info& info, const std::string& title,
                        const std::string& held) {
    raw_finding r;
    r.f.id = "leaked-job";
    r.f.severity = "warning";
    r.title = title;
    r.f.message = held.empty() ? "it held no jobs" : "jobs it held:\n" + held;
    if (const raw_stack* opened = s.resource_stack(info.id)) {
        r.creation_owned = *opened;  // the registration closes right after this report
    }
    r.creation_site = info.site.caller;
    r.f.why = "jobs left in a scheduler that is never closed are cancelled at an arbitrary "
              "point (or never run, if pending), and their failures may never be handled: "
              "work is lost without a trace";
    r.f.fix = "end the scheduler's life with wait_and_close() (or close()), or run the code in "
              "aio::jobs::with_scheduler, which does it for you";
    r.f.lesson = "11-jobs-scheduler";
    return r;
}

}  // namespace

void leaked_resource(session& s, loop&) {
    for (const resource_info& info : aio::open_resources()) {
        if (info.kind == job_kind) {
            if (!s.wants("leaked-job")) {
                continue;
            }
            std::string held = s.held_at_shutdown(info.id);
            std::string title = "job scheduler '" + info.name + "' never closed" +
                                (held.empty() ? "" : ", with jobs still live when the loop closed");
            s.report(job_finding(s, info, title, held));
            continue;
        }
        if (!s.wants("leaked-resource")) {
            continue;
        }
        raw_finding r;
        r.f.id = "leaked-resource";
        r.f.severity = "warning";
        r.f.message = info.kind + " '" + info.name + "' was opened and never closed";
        r.title = info.kind + " '" + info.name + "' still open when the loop closed";
        r.creation = s.resource_stack(info.id);
        r.creation_site = info.site.caller;
        r.f.why = "an unclosed resource holds threads, sockets or memory until the process ends, "
                  "and whatever it still had buffered may be lost";
        r.f.fix = "close it before the loop ends (shutdown() for an executor, close() for a "
                  "stream or server), ideally in the scope that opened it";
        r.f.lesson = "16-async-close";
        s.report(std::move(r));
    }
}

void abandoned_resource(session& s, const resource_info& info, std::string_view what,
                        const std::string& held) {
    if (info.kind == job_kind) {
        raw_finding r =
            job_finding(s, info, "job scheduler '" + info.name + "' " + std::string(what), held);
        r.culprit = capture_stack();  // where it was destroyed
        s.report(std::move(r));
        return;
    }
    raw_finding r;
    r.f.id = "leaked-resource";
    r.f.severity = "warning";
    r.title = info.kind + " '" + info.name + "' " + std::string(what);
    r.f.message = r.title;
    r.culprit = capture_stack();  // where it was destroyed
    if (const raw_stack* opened = s.resource_stack(info.id)) {
        r.creation_owned = *opened;
    }
    r.creation_site = info.site.caller;
    r.f.why = "an object destroyed while its resource is still open drops whatever the "
              "resource still had to do";
    r.f.fix = "close it before it goes out of scope";
    r.f.lesson = "16-async-close";
    s.report(std::move(r));
}

}  // namespace aio::debug::detectors
