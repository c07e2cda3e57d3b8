#include "debug_run.hpp"

#include <aio/aio.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <unistd.h>

namespace aio::test {

std::size_t debug_result::count(const std::string& id) const {
    if (report.empty()) {
        return 0;
    }
    auto j = nlohmann::json::parse(report);
    std::size_t n = 0;
    for (const auto& f : j["findings"]) {
        if (f["id"] == id) {
            n += f["count"].get<std::size_t>();
        }
    }
    return n;
}

debug_result debug_run(const std::function<void()>& body, const std::string& options) {
    char report_path[] = "/tmp/aio-test-report-XXXXXX";
    int rfd = ::mkstemp(report_path);
    ::close(rfd);
    char err_path[] = "/tmp/aio-test-stderr-XXXXXX";
    int efd = ::mkstemp(err_path);
    std::fflush(stderr);
    int saved = ::dup(STDERR_FILENO);
    ::dup2(efd, STDERR_FILENO);
    ::close(efd);
    aio::run_options o;
    o.handle_signals = false;
    o.debug = options == "0" ? options : options + ",color=never,report=" + report_path;
    try {
        aio::run([&] { body(); }, o);
    } catch (...) {
        std::fflush(stderr);
        ::dup2(saved, STDERR_FILENO);
        ::close(saved);
        throw;
    }
    std::fflush(stderr);
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    debug_result r;
    std::ifstream e(err_path);
    std::stringstream es;
    es << e.rdbuf();
    r.err = es.str();
    std::ifstream rep(report_path);
    std::stringstream rs;
    rs << rep.rdbuf();
    r.report = rs.str();
    ::unlink(err_path);
    ::unlink(report_path);
    if (!r.report.empty()) {
        const auto j = nlohmann::json::parse(r.report);  // named: the loop must not outlive it
        for (const auto& f : j["findings"]) {
            r.ids.push_back(f["id"].get<std::string>());
        }
    }
    return r;
}

}  // namespace aio::test
