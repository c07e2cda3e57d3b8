// html=PATH: the HTML report written at loop close, with the timeline the session recorded.
#include "debug_run.hpp"

#include <aio/aio.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <unistd.h>

using namespace std::chrono_literals;
using aio::test::debug_run;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string temp_path(const char* stem) {
    std::string path = std::string("/tmp/") + stem + "-XXXXXX";
    int fd = ::mkstemp(path.data());
    ::close(fd);
    ::unlink(path.c_str());
    return path;
}

}  // namespace

TEST_CASE("html= writes one self-contained page with the findings and the timeline",
          "[debug][html]") {
    const std::string path = temp_path("aio-test-html");
    auto r = debug_run(
        [] {
            {
                auto dropped = aio::create_task(aio::task_options{.name = "lost"}, [] {});
            }
            aio::sleep(1ms);
        },
        "html=" + path);
    const std::string page = read_file(path);
    ::unlink(path.c_str());
    REQUIRE_FALSE(page.empty());
    CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK_THAT(page, Catch::Contains("never-awaited"));
    CHECK_THAT(page, Catch::Contains("test_html.cpp"));
    // The timeline's data went in (the page's data block): the trace, the task under its name.
    const std::string open = "id=\"aio-data\">";
    const auto at = page.find(open);
    REQUIRE(at != std::string::npos);
    const auto end = page.find("</script>", at);
    const auto data = nlohmann::json::parse(page.substr(at + open.size(), end - at - open.size()));
    REQUIRE(data.contains("trace"));
    REQUIRE(data["trace"].is_object());
    CHECK(data["trace"]["events"].get<long>() > 0);
    bool track = false;
    for (const auto& t : data["trace"]["tracks"]) {
        track = track || t["name"].get<std::string>().find("'lost'") != std::string::npos;
    }
    CHECK(track);
    // Nothing is fetched from the network.
    CHECK_THAT(page, !Catch::Contains("src=\"http") && !Catch::Contains("href=\"http"));
    // The summary's last line names the page.
    CHECK_THAT(r.err, Catch::Contains("each finding in full") && Catch::Contains(path));
}

TEST_CASE("html= to a place that cannot be written says so and the program goes on",
          "[debug][html]") {
    bool ran = false;
    auto r = debug_run(
        [&] {
            aio::sleep(1ms);
            ran = true;
        },
        "html=/nonexistent-dir/r.html");
    CHECK(ran);
    CHECK_THAT(r.err, Catch::Contains("cannot write the HTML report to /nonexistent-dir/r.html"));
}
