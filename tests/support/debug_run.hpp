// Runs a body under aio::run with debug mode on (run_options::debug), capturing stderr and
// the JSON report, for the detector tests.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace aio::test {

struct debug_result {
    std::string err;     ///< everything written to stderr during the run
    std::string report;  ///< the JSON report text ("" when none was written)
    /// Ids of the findings in the report, one per merged finding.
    std::vector<std::string> ids;
    /// How many findings of `id` (counting merged repeats).
    [[nodiscard]] std::size_t count(const std::string& id) const;
};

/// Runs `body` with ASYNC_DEBUG-style `options` ("1", "slow=10ms", ...) plus a report file.
debug_result debug_run(const std::function<void()>& body, const std::string& options = "1");

}  // namespace aio::test
