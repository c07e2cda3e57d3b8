#include <aio/debug/config.hpp>

#include <catch2/catch.hpp>

#include <string>

#include <unistd.h>

using namespace std::chrono_literals;
using aio::debug::parse_config;

TEST_CASE("ASYNC_DEBUG unset, empty or 0 leaves debug mode off", "[debug][config]") {
    CHECK_FALSE(parse_config("").settings.enabled);
    CHECK_FALSE(parse_config("0").settings.enabled);
    CHECK(parse_config("0").error.empty());
}

TEST_CASE("ASYNC_DEBUG=1 turns every detector on with asyncio's thresholds", "[debug][config]") {
    auto r = parse_config("1");
    REQUIRE(r.error.empty());
    CHECK(r.settings.enabled);
    CHECK(r.settings.slow == 100ms);
    CHECK(r.settings.stall == 100ms);
    for (const auto& id : aio::debug::detector_ids()) {
        CHECK(r.settings.wants(id));
    }
}

TEST_CASE("options are a comma list", "[debug][config]") {
    auto r = parse_config("slow=50ms,stall=1.5s,report=out-%p.json,strict,color=never,stacks=5");
    REQUIRE(r.error.empty());
    CHECK(r.settings.slow == 50ms);
    CHECK(r.settings.stall == 1500ms);
    CHECK(r.settings.strict);
    CHECK(r.settings.color == aio::debug::color_mode::never);
    CHECK(r.settings.stack_depth == 5);
    CHECK(r.settings.report_path.find("%p") == std::string::npos);
    CHECK(r.settings.report_path.rfind("out-", 0) == 0);
    CHECK(parse_config("slow=200us").settings.slow == 200us);
}

TEST_CASE("only and skip select detectors", "[debug][config]") {
    auto r = parse_config("only=stall+never-awaited");
    REQUIRE(r.error.empty());
    CHECK(r.settings.wants("stall"));
    CHECK(r.settings.wants("never-awaited"));
    CHECK_FALSE(r.settings.wants("slow-callback"));
    auto s = parse_config("1,skip=slow-callback");
    CHECK_FALSE(s.settings.wants("slow-callback"));
    CHECK(s.settings.wants("stall"));
}

TEST_CASE("a bad value names the key, the value and what is accepted, and turns debug off",
          "[debug][config]") {
    auto r = parse_config("slow=fast");
    CHECK_FALSE(r.settings.enabled);
    CHECK_THAT(r.error,
               Catch::Contains("'slow'") && Catch::Contains("'fast'") && Catch::Contains("50ms"));
    CHECK_THAT(parse_config("1,quiet").error, Catch::Contains("unknown option 'quiet'") &&
                                                  Catch::Contains("accepted") &&
                                                  Catch::Contains("verbose"));
    CHECK_THAT(parse_config("only=stal").error, Catch::Contains("unknown detector 'stal'"));
    CHECK_THAT(parse_config("color=blue").error, Catch::Contains("auto, always or never"));
    CHECK_THAT(parse_config("stacks=0").error, Catch::Contains("1 to 64"));
    CHECK_THAT(parse_config("report=").error, Catch::Contains("needs a path"));
    CHECK_FALSE(parse_config("slow=10").settings.enabled);  // a unit is required
}

TEST_CASE("trace, trace_size and html take a path or a size and say what is accepted",
          "[debug][config][trace]") {
    auto r = parse_config("trace=t-%p.json,html=r.html,trace_size=16M");
    REQUIRE(r.error.empty());
    CHECK(r.settings.trace_path == "t-" + std::to_string(::getpid()) + ".json");
    CHECK(r.settings.html_path == "r.html");
    CHECK(r.settings.trace_size == std::size_t{16} << 20);
    CHECK(parse_config("trace_size=65536").settings.trace_size == 65536);
    CHECK(parse_config("trace_size=2G").settings.trace_size == std::size_t{2} << 30);
    CHECK(parse_config("1").settings.trace_size == std::size_t{4} << 20);
    CHECK(parse_config("1").settings.trace_path.empty());
    CHECK_THAT(parse_config("trace=").error, Catch::Contains("'trace' needs a path"));
    CHECK_THAT(parse_config("html").error, Catch::Contains("'html' needs a path"));
    for (const char* bad : {"trace_size=1K", "trace_size=5G", "trace_size=lots", "trace_size=4MB",
                            "trace_size=", "trace_size=-1M"}) {
        auto b = parse_config(bad);
        CHECK_FALSE(b.settings.enabled);
        CHECK_THAT(b.error, Catch::Contains("'trace_size'") && Catch::Contains("64K to 4G"));
    }
}

TEST_CASE("verbose asks for the full form of each finding on stderr", "[debug][config]") {
    CHECK_FALSE(parse_config("1").settings.verbose);
    CHECK(parse_config("verbose").settings.verbose);
    CHECK(parse_config("verbose").settings.enabled);
    CHECK(parse_config("1,verbose=1").settings.verbose);
    CHECK_FALSE(parse_config("verbose,verbose=0").settings.verbose);
    auto bad = parse_config("verbose=yes");
    CHECK_FALSE(bad.settings.enabled);
    CHECK_THAT(bad.error, Catch::Contains("bad value 'yes' for 'verbose'"));
}
