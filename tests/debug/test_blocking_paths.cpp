// blocking-call beyond sleep(): a task that blocks the loop for 5 ms through a mutex, a
// condition variable, a future, a join, socket, pipe and FIFO calls, a file lock, a command,
// glibc's fortified wrappers or a raw syscall is reported, naming the call; the same work on a
// thread (to_thread) is not, and neither is a read the page cache answers.
#include "blocking_paths.hpp"
#include "debug_run.hpp"

#include <aio/aio.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>
#include <semaphore.h>

using namespace std::chrono_literals;
using aio::test::debug_run;

namespace {

// The titles of the blocking-call findings of a run.
std::vector<std::string> blocking_titles(const aio::test::debug_result& r) {
    std::vector<std::string> out;
    if (r.report.empty()) {
        return out;
    }
    const auto j = nlohmann::json::parse(r.report);  // named: the loop must not outlive it
    for (const auto& f : j["findings"]) {
        if (f["id"] == "blocking-call") {
            out.push_back(f["title"].get<std::string>());
        }
    }
    return out;
}

}  // namespace

TEST_CASE("blocking-call: a 5 ms block through each path is reported, naming the call",
          "[debug][blocking-call]") {
    for (const auto& path : aio::test::blocking_paths()) {
        INFO(path.name);
        // The kernel check needs two looks of the watchdog inside the block, and on a loaded
        // machine a look can come a few ms late: 20 ms there (tools/bench measures 5 ms).
        auto r = debug_run([&] { path.block(path.kernel ? 20ms : 5ms); }, "only=blocking-call");
        const auto titles = blocking_titles(r);
        INFO(r.err);
        const std::string wanted = path.kernel
                                       ? "blocking system call " + path.call + " in task 'main'"
                                       : "blocking call " + path.call + "() in task 'main'";
        CHECK(std::count_if(titles.begin(), titles.end(), [&](const std::string& t) {
                  return t.find(wanted) != std::string::npos &&
                         t.find("blocking_paths.hpp") != std::string::npos;
              }) == 1);
        // One call, one finding: a call a wrapper counts is not reported again from the
        // kernel (pclose's popen is a call of its own).
        CHECK(std::count_if(titles.begin(), titles.end(), [](const std::string& t) {
                  return t.find("blocking system call") != std::string::npos;
              }) == (path.kernel ? 1 : 0));
    }
}

TEST_CASE("blocking-call stays silent when the same blocking work runs on a thread",
          "[debug][blocking-call]") {
    for (const auto& path : aio::test::blocking_paths()) {
        INFO(path.name);
        auto r = debug_run([&] { aio::to_thread([&] { path.block(5ms); }); }, "only=blocking-call");
        INFO(r.err);
        CHECK(r.count("blocking-call") == 0);
    }
}

TEST_CASE("blocking-call stays silent for a file read the page cache answers",
          "[debug][blocking-call]") {
    char path[] = "/tmp/aio-cached-XXXXXX";
    ::close(::mkstemp(path));
    {
        std::ofstream out(path);
        out << std::string(64 * 1024, 'x');
    }
    auto r = debug_run(
        [&] {
            int fd = ::open(path, O_RDONLY);
            char buf[4096];
            while (::read(fd, buf, sizeof buf) > 0) {
            }
            ::close(fd);
        },
        "only=blocking-call");
    ::unlink(path);
    CHECK(r.count("blocking-call") == 0);
}

TEST_CASE("blocking-call: block= sets the threshold of calls that block only sometimes",
          "[debug][blocking-call]") {
    timespec ts{0, 5'000'000};
    auto quiet = debug_run([&] { (void)::syscall(SYS_nanosleep, &ts, nullptr); },
                           "only=blocking-call,block=50ms");
    CHECK(quiet.count("blocking-call") == 0);
    auto loud = debug_run([&] { (void)::syscall(SYS_nanosleep, &ts, nullptr); },
                          "only=blocking-call,block=2ms");
    CHECK(loud.count("blocking-call") == 1);
}

TEST_CASE("blocking-call: a call a wrapper counts is one finding, not a second from the kernel",
          "[debug][blocking-call]") {
    auto r = debug_run([] { ::usleep(20'000); }, "only=blocking-call");
    INFO(r.err);
    CHECK(r.count("blocking-call") == 1);
    CHECK_THAT(r.err, !Catch::Contains("blocking system call"));
}
