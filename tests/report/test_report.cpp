// The report viewer's library (tools/report/report_core.hpp): reading and checking reports and
// traces, grouping, `show`, `diff` and the HTML page. The command itself is tested by cli.sh,
// the page in a browser by browser.sh.
#include "report_core.hpp"

#include <catch2/catch.hpp>

#include <string>

using nlohmann::json;
namespace rep = aio::report;

namespace {

json frame(const std::string& file, int line, const std::string& function,
           const std::string& address = "0x1000") {
    return {{"address", address},
            {"file", file},
            {"function", function},
            {"line", line},
            {"snippet",
             {{"first_line", line - 1},
              {"lines", {"// before", "the line " + std::to_string(line), "// after"}}}}};
}

// A finding at `file:line` (its creation stack, or its culprit stack when `culprit`).
json finding(const std::string& id, const std::string& severity, const std::string& file, int line,
             int count = 1, bool culprit = false, const std::string& address = "0x1000",
             const std::string& task_name = "worker") {
    json f = {{"id", id},
              {"severity", severity},
              {"title", "task '" + task_name + "' did " + id + " at " + file + ":" +
                            std::to_string(line) + " (fn)"},
              {"message", "details"},
              {"task", {{"id", 3}, {"name", task_name}}},
              {"duration_ms", nullptr},
              {"at_ms", 1.5},
              {"culprit", json::array()},
              {"inside", json::array()},
              {"creation", json::array()},
              {"why", "why"},
              {"fix", "fix it"},
              {"lesson", "10-fire-and-forget"},
              {"count", count}};
    f[culprit ? "culprit" : "creation"].push_back(frame(file, line, "fn", address));
    return f;
}

json report_of(json findings) {
    json counts = json::object();
    for (const auto& f : findings) {
        counts[f["id"].get<std::string>()] =
            counts.value(f["id"].get<std::string>(), 0) + f["count"].get<int>();
    }
    return {{"schema", "aio-debug-report"},
            {"version", 1},
            {"run",
             {{"program", "/bin/prog"},
              {"pid", 1},
              {"started", "2026-12-03T12:00:00Z"},
              {"options", "1"},
              {"duration_ms", 12.5},
              {"tasks_spawned", 3},
              {"peak_tasks_alive", 2},
              {"steps", 9},
              {"longest_stall_ms", 0.0},
              {"ended", "closed"}}},
            {"counts", counts},
            {"findings", findings}};
}

std::string problem_of(const std::string& text) {
    try {
        rep::parse_report(text, "r.json");
    } catch (const rep::bad_input& e) {
        CHECK(std::string(e.what()) == "r.json: " + e.problem());
        return e.problem();
    }
    return "accepted";
}

std::string trace_problem_of(const std::string& text) {
    try {
        rep::parse_trace(text, "t.json");
    } catch (const rep::bad_input& e) {
        return e.problem();
    }
    return "accepted";
}

const char* const small_trace = R"json({"traceEvents":[
 {"ph":"M","name":"thread_name","pid":7,"tid":70,"args":{"name":"aio loop"}},
 {"ph":"M","name":"thread_name","pid":7,"tid":1000000003,"args":{"name":"task 3 'confirm'"}},
 {"ph":"s","cat":"spawn","name":"spawn","id":3,"ts":5,"pid":7,"tid":70},
 {"ph":"X","cat":"wait","name":"io wait","ts":0,"dur":10,"pid":7,"tid":70,"args":{"timeout_ms":-1}},
 {"ph":"M","name":"thread_name","pid":7,"tid":999999999,"args":{"name":"stall"}},
 {"ph":"X","cat":"step","name":"confirm","ts":20,"dur":4.5,"pid":7,"tid":70,"args":{"task":3,"then":"done"}},
 {"ph":"X","cat":"step","name":"confirm","ts":12,"dur":2,"pid":7,"tid":70,"args":{"task":3,"x":[1,{"task":99}]},"sf":{"id":9}},
 {"ph":"X","cat":"run","name":"run","ts":12,"dur":2,"pid":7,"tid":1000000003},
 {"ph":"X","cat":"waiting","name":"sleep","ts":14,"dur":6,"pid":7,"tid":1000000003},
 {"ph":"X","cat":"run","name":"run","ts":20,"dur":4.5,"pid":7,"tid":1000000003},
 {"ph":"X","cat":"waiting","name":"queue.get","ts":24.5,"dur":100,"pid":7,"tid":1000000003},
 {"ph":"X","cat":"gc","name":"something new","ts":1,"dur":1,"pid":7,"tid":70},
 {"ph":"i","s":"t","cat":"finding","name":"[never-awaited] task 'confirm' was never awaited","ts":30,
  "pid":7,"tid":70,"args":{"id":"never-awaited","severity":"warning","where":"a.cpp:4 (f)"}},
 {"ph":"X","cat":"finding","name":"[stall] loop blocked","ts":20,"dur":4.5,"pid":7,"tid":999999999,
  "args":{"id":"stall","severity":"error","where":"a.cpp:9 (g)"}}
],"displayTimeUnit":"ms","otherData":{"schema":"aio-trace","version":1,"program":"/bin/prog",
 "pid":7,"started":"2026-12-03T12:00:00Z","events":13,"dropped_events":2,"trace_size":4194304,"more":{"schema":"x","version":9}},
 "metadata":{"traceEvents":[{"ph":"X","cat":"step","ts":0,"dur":1e9,"tid":70}]}})json";

}  // namespace

TEST_CASE("diff lists new, fixed and unchanged findings", "[diff]") {
    auto before = report_of({finding("never-awaited", "warning", "/src/a.cpp", 10),
                             finding("stall", "error", "/src/b.cpp", 20, 1, true)});
    auto after = report_of({finding("never-awaited", "warning", "/src/a.cpp", 10, 3),
                            finding("blocking-call", "error", "/src/c.cpp", 30, 1, true)});
    auto d = rep::diff_reports(before, after);
    REQUIRE(d.added.size() == 1);
    CHECK(d.added[0].id == "blocking-call");
    CHECK(d.added[0].file == "c.cpp");
    CHECK(d.added[0].line == 30);
    REQUIRE(d.fixed.size() == 1);
    CHECK(d.fixed[0].id == "stall");
    REQUIRE(d.unchanged.size() == 1);
    CHECK(d.unchanged[0].count == 3);
    CHECK(d.unchanged[0].old_count == 1);
    auto text = rep::format_diff(d, false);
    CHECK(text.find("new: 1\n  + [blocking-call] c.cpp:30 (fn) 1x") != std::string::npos);
    CHECK(text.find("fixed: 1\n  - [stall] b.cpp:20 (fn)") != std::string::npos);
    CHECK(text.find("= [never-awaited] a.cpp:10 (fn) 3x (was 1x)") != std::string::npos);
    CHECK(text.find("1 new, 1 fixed, 1 unchanged\n") != std::string::npos);

    SECTION("a filter keeps only the ids and severities asked for") {
        rep::finding_filter errors;
        errors.errors_only = true;
        auto e = rep::diff_reports(before, after, errors);
        CHECK(e.added.size() == 1);
        CHECK(e.unchanged.empty());
        rep::finding_filter only;
        only.ids = {"never-awaited"};
        auto o = rep::diff_reports(before, after, only);
        CHECK(o.added.empty());
        CHECK(o.fixed.empty());
        CHECK(o.unchanged.size() == 1);
    }
}

TEST_CASE("diff keys findings by file name and line, not by address", "[diff]") {
    // The same finding from a build in another directory, with ASLR moving every address.
    auto before = report_of(
        {finding("never-awaited", "warning", "/home/a/src/a.cpp", 10, 1, false, "0x55d1c2a4b7e3")});
    auto after = report_of(
        {finding("never-awaited", "warning", "/home/b/src/a.cpp", 10, 1, false, "0x7f00deadbeef")});
    auto d = rep::diff_reports(before, after);
    CHECK(d.added.empty());
    CHECK(d.fixed.empty());
    CHECK(d.unchanged.size() == 1);

    SECTION("another line is another finding") {
        auto moved = report_of({finding("never-awaited", "warning", "/home/a/src/a.cpp", 11)});
        auto m = rep::diff_reports(before, moved);
        CHECK(m.added.size() == 1);
        CHECK(m.fixed.size() == 1);
    }
}

TEST_CASE("a report that is not JSON or was cut short names the byte where it stops", "[input]") {
    auto text = report_of({finding("stall", "error", "/a.cpp", 1)}).dump(2);
    CHECK(problem_of(text.substr(0, 100)) ==
          "truncated or not JSON: unexpected end of input at byte 100");
    CHECK(problem_of("hello").rfind("truncated or not JSON: ", 0) == 0);
    CHECK(problem_of("") == "truncated or not JSON: the file is empty");
}

TEST_CASE("a JSON file that is not a report is refused with what it is", "[input]") {
    CHECK(problem_of("[1, 2]") ==
          "not an aio debug report (the top level is an array, expected an object)");
    CHECK(problem_of(R"({"a": 1})") == "not an aio debug report (no \"schema\" field)");
    CHECK(problem_of(R"({"otherData": {}, "schema": "aio-trace"})") ==
          "not an aio debug report (schema is \"aio-trace\", expected \"aio-debug-report\")");
}

TEST_CASE("a report from a newer aio is refused with both versions named", "[input]") {
    auto r = report_of(json::array());
    r["version"] = 2;
    CHECK(problem_of(r.dump()) ==
          "written by a newer aio: schema version 2, this aio-report reads version 1");
}

TEST_CASE("a report missing a required field names the field", "[input]") {
    auto r =
        report_of({finding("stall", "error", "/a.cpp", 1), finding("stall", "error", "/a.cpp", 2)});
    SECTION("a finding's field") {
        r["findings"][1].erase("severity");
        CHECK(problem_of(r.dump()) == "missing field 'findings[1].severity'");
    }
    SECTION("a run field of the wrong type") {
        r["run"]["duration_ms"] = "long";
        CHECK(problem_of(r.dump()) == "field 'run.duration_ms' is a string, expected a number");
    }
    SECTION("a frame's line") {
        r["findings"][0]["creation"][0].erase("line");
        CHECK(problem_of(r.dump()) == "missing field 'findings[0].creation[0].line'");
    }
    SECTION("fields added to version 1 later and unknown fields are optional") {
        r["run"].erase("ended");
        r["run"].erase("longest_stall_ms");
        r["findings"][0].erase("inside");
        r["findings"][0]["new_field"] = {1, 2};
        r["counts"]["future-detector"] = 0;
        CHECK(problem_of(r.dump()) == "accepted");
    }
}

TEST_CASE("a file that is not a trace is refused as a trace", "[input][trace]") {
    CHECK(trace_problem_of(report_of(json::array()).dump()) ==
          "not an aio trace (no \"traceEvents\" array)");
    CHECK(trace_problem_of(R"({"traceEvents": []})") ==
          "not an aio trace (no \"otherData.schema\" field)");
    CHECK(trace_problem_of(R"({"traceEvents": [], "otherData": {"schema": "x"}})") ==
          "not an aio trace (otherData.schema is \"x\", expected \"aio-trace\")");
    CHECK(trace_problem_of(R"([{"ph": "X"}])") ==
          "not an aio trace (the top level is not an object)");
    CHECK(trace_problem_of(
              R"({"traceEvents": [], "otherData": {"schema": "aio-trace", "version": 3}})") ==
          "written by a newer aio: trace version 3, this aio-report reads version 1");
    std::string cut(small_trace);
    cut.resize(cut.find("},") + 2);  // after the first event
    CHECK(trace_problem_of(cut) ==
          "truncated or not JSON: unexpected end of input at byte " + std::to_string(cut.size()));
}

TEST_CASE("a trace is read into tracks, tasks and findings, ignoring unknown categories",
          "[trace]") {
    auto check = [](const rep::trace_model& t) {
        CHECK(t.program == "/bin/prog");
        CHECK(t.pid == 7);
        CHECK(t.events == 13);
        CHECK(t.dropped_events == 2);
        CHECK(t.end == Approx(124.5));
        REQUIRE(t.tracks.size() == 2);  // the stall detector's track holds no span
        CHECK(t.tracks[0].kind == rep::trace_track::loop);
        CHECK(t.tracks[0].name == "aio loop");
        REQUIRE(t.tracks[0].spans.size() == 3);   // the "gc" span is not one of them
        CHECK(t.tracks[0].spans[1].start == 12);  // sorted by start
        CHECK(t.tracks[1].kind == rep::trace_track::task);
        CHECK(t.tracks[1].task_id == 3);
        REQUIRE(t.tasks.size() == 1);
        const auto& task = t.tasks[0];
        CHECK(task.id == 3);
        CHECK(task.name == "confirm");
        CHECK(task.steps == 2);
        CHECK(task.busy == Approx(6.5));
        CHECK(task.first_seen == 5);  // its spawn
        CHECK(task.last_seen == Approx(124.5));
        CHECK(task.last_state == "done");  // its last step's "then"
        REQUIRE(t.findings.size() == 2);
        CHECK(t.findings[0].id == "stall");
        CHECK(t.findings[0].dur == Approx(4.5));
        CHECK(t.findings[1].dur == -1);
        CHECK(t.findings[1].where == "a.cpp:4 (f)");
    };
    SECTION("streamed from text") {
        check(rep::parse_trace(small_trace, "t.json"));
    }
    SECTION("from a JSON tree") {
        check(rep::trace_from_json(json::parse(small_trace), "t.json"));
    }
}

TEST_CASE("findings are grouped by detector and user line, worst first", "[show]") {
    auto r = report_of({
        finding("never-awaited", "warning", "/src/a.cpp", 10, 2),
        finding("never-awaited", "warning", "/src/a.cpp", 10, 5, false, "0x2000"),  // same line
        finding("never-awaited", "warning", "/src/a.cpp", 12, 9),
        finding("stall", "error", "/src/b.cpp", 20, 1, true),
        finding("blocking-call", "error", "/src/c.cpp", 30, 4, true),
    });
    r["findings"][3]["duration_ms"] = 150.0;
    auto g = rep::group_findings(r);
    REQUIRE(g.size() == 4);
    // errors first (more count first), then warnings by count
    CHECK(g[0].id == "blocking-call");
    CHECK(g[1].id == "stall");
    CHECK(g[1].duration_ms == 150.0);
    CHECK(g[2].line == 12);
    CHECK(g[2].count == 9);
    CHECK(g[3].line == 10);
    CHECK(g[3].count == 7);
    CHECK(g[3].findings == std::vector<std::size_t>{0, 1});

    auto text = rep::format_show(r, {}, false);
    CHECK(
        text.rfind("/bin/prog: 12.5 ms, 21 findings (never-awaited 16, blocking-call 4, stall 1), "
                   "peak 2 tasks alive\n",
                   0) == 0);
    auto blocking = text.find("[blocking-call] error: 4 findings at 1 place");
    auto stall = text.find("[stall] error: 1 finding at 1 place\n  1x 150 ms  /src/b.cpp:20 (fn): "
                           "task 'worker' did stall\n      20 | the line 20\n      fix: fix it\n");
    auto never = text.find("[never-awaited] warning: 16 findings at 2 places\n  9x  /src/a.cpp:12");
    CHECK(blocking != std::string::npos);
    CHECK(stall != std::string::npos);
    CHECK(never != std::string::npos);
    CHECK(blocking < stall);
    CHECK(stall < never);
    CHECK(text.find("\x1b[") == std::string::npos);
    CHECK(rep::format_show(r, {}, true).find("\x1b[1;31m[stall]\x1b[0m") != std::string::npos);

    SECTION("without a file, the function tells places apart") {
        auto r2 = report_of({finding("blocking-call", "error", "", 0, 1, true),
                             finding("blocking-call", "error", "", 0, 1, true)});
        r2["findings"][1]["culprit"][0]["function"] = "other";
        CHECK(rep::group_findings(r2).size() == 2);
    }

    SECTION("filters keep the ids and severities asked for") {
        rep::finding_filter errors;
        errors.errors_only = true;
        auto e = rep::format_show(r, errors, false);
        CHECK(e.find("[never-awaited]") == std::string::npos);
        CHECK(e.find("[stall]") != std::string::npos);
        rep::finding_filter only;
        only.ids = {"never-awaited", "nothing-like-this"};
        auto o = rep::format_show(r, only, false);
        CHECK(o.find("[never-awaited]") != std::string::npos);
        CHECK(o.find("[stall]") == std::string::npos);
        only.ids = {"nothing-like-this"};
        CHECK(rep::format_show(r, only, false).find("no findings match the filters\n") !=
              std::string::npos);
    }
}

TEST_CASE("short titles drop the place the viewers show apart", "[show]") {
    CHECK(rep::short_title("loop blocked 150 ms in task 'main' at /a/b.cpp:24 (f)") ==
          "loop blocked 150 ms in task 'main'");
    CHECK(rep::short_title("task 'x' was never awaited (created at /a.cpp:3 (g))") ==
          "task 'x' was never awaited");
    CHECK(rep::short_title("task 'x' was never awaited (created at an unknown place)") ==
          "task 'x' was never awaited");
    CHECK(rep::short_title("nothing at all") == "nothing at all");
    CHECK(rep::format_duration_ms(212.4) == "212 ms");
    CHECK(rep::format_duration_ms(1500) == "1.5 s");
    CHECK(rep::format_duration_ms(0.25) == "250 us");
    CHECK(rep::format_duration_ms(999.7) == "1 s");  // not "1e+03 ms"
    CHECK(rep::format_duration_ms(0.9996) == "1 ms");
    CHECK(rep::format_duration_ms(3600e3) == "3600 s");
}

TEST_CASE("the HTML page escapes names, messages and source lines from the report and trace",
          "[html]") {
    const std::string evil = "</script><img src=x onerror=alert(1)>";
    auto r =
        report_of({finding("stall", "error", "/src/" + evil + ".cpp", 20, 1, true, "0x1", evil)});
    r["run"]["program"] = "/bin/" + evil;
    r["findings"][0]["message"] = evil + " & more";
    r["findings"][0]["culprit"][0]["snippet"]["lines"][1] = evil;
    auto trace = json::parse(small_trace);
    trace["traceEvents"][1]["args"]["name"] = "task 3 '" + evil + "'";
    trace["traceEvents"][5]["name"] = evil;
    auto page = rep::render_html(r, &trace);
    // The template's three scripts close where they should; nothing from the data adds markup.
    std::size_t closes = 0;
    for (auto p = page.find("</script"); p != std::string::npos; p = page.find("</script", p + 1)) {
        ++closes;
    }
    CHECK(closes == 3);
    CHECK(page.find("<img") == std::string::npos);
    CHECK(page.find("\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)\\u003e") !=
          std::string::npos);
    CHECK(page.find("<title>aio report: script&gt;&lt;img src=x onerror=alert(1)&gt;</title>") !=
          std::string::npos);
}

TEST_CASE("the HTML page fetches nothing: no link, no source, no URL", "[html]") {
    auto r = report_of({finding("stall", "error", "/src/a.cpp", 20, 1, true)});
    auto page = rep::render_html(r, nullptr);
    CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(page.find("default-src 'none'") != std::string::npos);
    for (const char* needle : {"<link", " src=", "http:", "https:", "@import", "url(", "{{AIO_"}) {
        INFO(needle);
        CHECK(page.find(needle) == std::string::npos);
    }
    CHECK(page.find("\"trace\":null") != std::string::npos);
    SECTION("a trace as JSON and as a model give the same page") {
        auto j = json::parse(small_trace);
        CHECK(rep::render_html(r, &j) ==
              rep::render_html(r, rep::parse_trace(small_trace, "t.json")));
    }
}
