// leaked-resource: an object registered with the runtime's resource registry (an executor;
// streams, servers, sessions and job schedulers as they arrive) still open at loop close.
#include "detectors.hpp"

namespace aio::debug::detectors {

void leaked_resource(session& s, loop&) {
    for (const resource_info& info : aio::open_resources()) {
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

}  // namespace aio::debug::detectors
