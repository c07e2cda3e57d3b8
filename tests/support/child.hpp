// Runs a function in a forked child process and collects how it ended and what it wrote on
// stderr: for death tests (stack overflow) and anything that must end the process.
#pragma once

#include <functional>
#include <string>

namespace aio::test {

struct child_result {
    bool exited = false;  ///< ended with exit(); then `code` is its status
    int code = 0;
    bool signaled = false;  ///< killed by a signal; then `signal` is its number
    int signal = 0;
    std::string err;  ///< everything it wrote on stderr
};

/// Forks, runs `fn` in the child (which then exits 0), waits for it. Never throws in the child.
child_result run_in_child(const std::function<void()>& fn);

}  // namespace aio::test
