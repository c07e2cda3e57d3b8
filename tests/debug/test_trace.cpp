// trace=PATH: the loop's timeline as Chrome trace-event JSON, checked against the format's
// rules (what ui.perfetto.dev and chrome://tracing need) and for what it must show.
#include "debug_run.hpp"
#include "trace.hpp"

#include <aio/aio.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <unistd.h>

using namespace std::chrono_literals;
using aio::test::debug_run;
using nlohmann::json;

namespace {

void busy(std::chrono::milliseconds d) {
    auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
    }
}

struct traced {
    aio::test::debug_result run;
    json trace;
    bool written = false;
};

// Runs `body` with `options` plus trace=<a temporary file>, and reads the trace back.
traced trace_run(const std::function<void()>& body, const std::string& options = "1") {
    char path[] = "/tmp/aio-test-trace-XXXXXX";
    int fd = ::mkstemp(path);
    ::close(fd);
    ::unlink(path);
    traced t;
    t.run = debug_run(body, options + ",trace=" + path);
    std::ifstream in(path);
    if (in) {
        std::stringstream text;
        text << in.rdbuf();
        t.trace = json::parse(text.str());
        t.written = true;
    }
    ::unlink(path);
    return t;
}

// The trace-event format's rules, as a list of what is wrong (empty: valid): every event has
// ph, pid, tid (and ts but for metadata); complete events have dur >= 0; on each track,
// complete events start in order and nest or follow each other; flows pair up; every track
// that holds events is named.
std::vector<std::string> format_problems(const json& trace) {
    std::vector<std::string> problems;
    if (!trace.is_object() || !trace.contains("traceEvents") || !trace["traceEvents"].is_array()) {
        return {"no traceEvents array"};
    }
    std::map<long long, std::vector<std::pair<double, double>>> slices;  // tid -> [start, end)
    std::set<long long> named;
    std::set<long long> used;
    std::map<long long, int> flows;  // id -> starts - finishes
    for (const json& e : trace["traceEvents"]) {
        if (!e.contains("ph") || !e.contains("pid") || !e.contains("tid")) {
            problems.push_back("event without ph/pid/tid: " + e.dump());
            continue;
        }
        const std::string ph = e["ph"];
        const long long tid = e["tid"];
        if (ph == "M") {
            if (e["name"] == "thread_name") {
                named.insert(tid);
            }
            continue;
        }
        used.insert(tid);
        if (!e.contains("ts") || !e["ts"].is_number() || e["ts"].get<double>() < 0) {
            problems.push_back("bad ts: " + e.dump());
            continue;
        }
        const double ts = e["ts"];
        if (ph == "X") {
            if (!e.contains("dur") || e["dur"].get<double>() < 0) {
                problems.push_back("X without dur >= 0: " + e.dump());
                continue;
            }
            slices[tid].emplace_back(ts, ts + e["dur"].get<double>());
        } else if (ph == "s") {
            ++flows[e["id"].get<long long>()];
        } else if (ph == "f") {
            --flows[e["id"].get<long long>()];
        } else if (ph != "i") {
            problems.push_back("unexpected phase " + ph);
        }
    }
    for (auto& [tid, list] : slices) {
        std::vector<double> open_ends;  // the enclosing slices' ends
        double last_start = -1;
        for (auto [start, end] : list) {
            if (start < last_start) {
                problems.push_back("track " + std::to_string(tid) + ": slices out of order at " +
                                   std::to_string(start));
            }
            last_start = start;
            // (the text has 3 decimals: a sum of two such numbers can be off in the last bit)
            while (!open_ends.empty() && open_ends.back() <= start + 0.0005) {
                open_ends.pop_back();
            }
            if (!open_ends.empty() && end > open_ends.back() + 0.001) {
                problems.push_back("track " + std::to_string(tid) + ": slice at " +
                                   std::to_string(start) + " overlaps the one it starts in");
            }
            open_ends.push_back(end);
        }
    }
    for (auto [id, balance] : flows) {
        if (balance != 0) {
            problems.push_back("flow " + std::to_string(id) + " does not pair up");
        }
    }
    for (long long tid : used) {
        if (named.count(tid) == 0) {
            problems.push_back("track " + std::to_string(tid) + " has no thread_name");
        }
    }
    return problems;
}

// The events of `cat` (any phase but metadata).
std::vector<json> of_cat(const json& trace, const std::string& cat) {
    std::vector<json> out;
    for (const json& e : trace["traceEvents"]) {
        if (e.value("cat", "") == cat) {
            out.push_back(e);
        }
    }
    return out;
}

// The track whose name is `name`, or (with `suffix`) ends with it: task ids are unique in the
// process, so a task's track is "task <id> 'name'" with an id that depends on the tests before.
long long track_named(const json& trace, const std::string& name, bool suffix = false) {
    for (const json& e : trace["traceEvents"]) {
        if (e["ph"] != "M" || e["name"] != "thread_name") {
            continue;
        }
        const std::string n = e["args"]["name"];
        if (n == name || (suffix && n.size() > name.size() &&
                          n.compare(n.size() - name.size(), name.size(), name) == 0)) {
            return e["tid"];
        }
    }
    return -1;
}

}  // namespace

TEST_CASE("trace: the file follows the trace-event format's rules", "[debug][trace]") {
    auto t = trace_run(
        [] {
            aio::event ready;
            aio::lock lock;
            aio::queue<int> q;
            auto worker = aio::create_task(aio::task_options{.name = "worker"}, [&] {
                ready.wait();
                auto g = lock.guard();
                (void)q.get();
                aio::sleep(2ms);
                return aio::to_thread([] { return 7; });
            });
            aio::sleep(1ms);
            {
                auto g = lock.guard();
                ready.set();
                aio::sleep(1ms);
            }
            q.put_nowait(1);
            busy(30ms);  // a stall and a slow step
            CHECK(worker.get() == 7);
        },
        "stall=10ms,slow=10ms");
    REQUIRE(t.written);
    const json& trace = t.trace;
    CHECK(format_problems(trace) == std::vector<std::string>{});
    CHECK(trace["otherData"]["schema"] == "aio-trace");
    CHECK(trace["otherData"]["version"] == 1);
    CHECK(trace["otherData"]["dropped_events"] == 0);
    CHECK(trace["otherData"]["pid"] == static_cast<long long>(::getpid()));
    CHECK(trace["displayTimeUnit"] == "ms");
}

TEST_CASE("trace: each step is a slice named after its task, and a task's track says what it "
          "waited on",
          "[debug][trace]") {
    auto t = trace_run([] {
        aio::event ready;
        aio::lock lock;
        aio::queue<int> q;
        auto worker = aio::create_task(aio::task_options{.name = "worker"}, [&] {
            ready.wait();
            { auto g = lock.guard(); }
            (void)q.get();
            aio::sleep(2ms);
            return aio::to_thread([] { return 7; });
        });
        aio::sleep(1ms);
        {
            auto g = lock.guard();
            ready.set();
            aio::sleep(1ms);
        }
        aio::sleep(1ms);  // the worker now waits in q.get()
        q.put_nowait(1);
        CHECK(worker.get() == 7);
    });
    REQUIRE(t.written);
    const json& trace = t.trace;
    const long long loop = trace["otherData"]["loop_thread"];
    CHECK(track_named(trace, "aio loop") == loop);
    std::set<std::string> step_names;
    for (const json& e : of_cat(trace, "step")) {
        CHECK(e["tid"] == loop);
        step_names.insert(e["name"]);
    }
    CHECK(step_names == std::set<std::string>{"main", "worker"});

    const long long worker_track = track_named(trace, " 'worker'", true);
    REQUIRE(worker_track > 0);
    std::vector<std::string> waits;
    int runs = 0;
    for (const json& e : trace["traceEvents"]) {
        if (e["tid"] == worker_track && e.value("cat", "") == "waiting") {
            waits.push_back(e["name"]);
        }
        runs += e["tid"] == worker_track && e.value("cat", "") == "run" ? 1 : 0;
    }
    // Created, then parked on the event, the lock, the queue, the sleep and the thread call.
    CHECK(waits == std::vector<std::string>{"scheduled", "aio::event", "aio::lock",
                                            "aio::queue::get", "aio::sleep", "aio::to_thread"});
    CHECK(runs == 6);
    // main waited for the worker in get().
    const long long main_track = track_named(trace, " 'main'", true);
    bool main_waited_for_worker = false;
    for (const json& e : trace["traceEvents"]) {
        main_waited_for_worker =
            main_waited_for_worker || (e["tid"] == main_track && e["name"] == "aio::task::get");
    }
    CHECK(main_waited_for_worker);
    // An arrow from main's step that created the worker to the worker's first step.
    auto starts = of_cat(trace, "spawn");
    bool arrow = false;
    for (const json& s : starts) {
        arrow = arrow || (s["ph"] == "f" && s["tid"] == worker_track);
    }
    CHECK(arrow);
}

TEST_CASE("trace: a to_thread call shows on its executor thread's track", "[debug][trace]") {
    auto t = trace_run([] { aio::to_thread([] { std::this_thread::sleep_for(5ms); }); });
    REQUIRE(t.written);
    auto calls = of_cat(t.trace, "executor");
    REQUIRE(calls.size() == 1);
    CHECK(calls[0]["name"] == "to_thread");
    CHECK(calls[0]["args"]["task_name"] == "main");
    CHECK(calls[0]["dur"].get<double>() >= 4000);  // microseconds
    CHECK(calls[0]["tid"] != t.trace["otherData"]["loop_thread"]);
    CHECK(track_named(t.trace, "executor thread") == calls[0]["tid"]);
}

TEST_CASE("trace: findings are instants on the loop track, a stall a slice of its length",
          "[debug][trace]") {
    auto t = trace_run(
        [] {
            aio::sleep(1ms);
            busy(40ms);
            {
                auto dropped = aio::create_task([] {});  // never awaited
            }
            aio::sleep(1ms);
        },
        // 4x the threshold: a watchdog starved of CPU on a loaded machine first sees the step
        // late and counts it from there (docs/debug-mode.md, How steps are timed); at 2x (20
        // ms) a CI run with builds beside it saw no stall.
        "stall=10ms,skip=slow-callback");
    REQUIRE(t.written);
    const json& trace = t.trace;
    const long long loop = trace["otherData"]["loop_thread"];
    std::map<std::string, json> instants;
    json stall_slice;
    for (const json& e : of_cat(trace, "finding")) {
        if (e["ph"] == "i") {
            CHECK(e["tid"] == loop);
            instants[e["args"]["id"]] = e;
        } else if (e["ph"] == "X") {
            stall_slice = e;
        }
    }
    REQUIRE(instants.count("stall") == 1);
    REQUIRE(instants.count("never-awaited") == 1);
    CHECK_THAT(instants["never-awaited"]["args"]["where"].get<std::string>(),
               Catch::Contains("test_trace.cpp:"));
    REQUIRE(stall_slice.is_object());
    CHECK(stall_slice["args"]["id"] == "stall");
    CHECK(stall_slice["dur"].get<double>() >= 38000);
    CHECK_THAT(stall_slice["name"].get<std::string>(), Catch::StartsWith("[stall] loop blocked"));
    CHECK(track_named(trace, "stall") == stall_slice["tid"]);
    // The stall's slice covers the step that stalled.
    bool covers = false;
    for (const json& e : of_cat(trace, "step")) {
        const double start = e["ts"];
        const double end = start + e["dur"].get<double>();
        const double s_start = stall_slice["ts"];
        const double s_end = s_start + stall_slice["dur"].get<double>();
        // exactly the step: same start and end, to the microsecond
        covers = covers || (end - start >= 38000 && std::abs(s_start - start) < 1 &&
                            std::abs(s_end - end) < 1);
    }
    CHECK(covers);
    CHECK(format_problems(trace) == std::vector<std::string>{});
}

TEST_CASE("trace: the ring keeps the newest events and says how many it dropped",
          "[debug][trace]") {
    auto t = trace_run(
        [] {
            for (int i = 0; i < 20000; ++i) {
                aio::sleep(0ms);
            }
            aio::create_task(aio::task_options{.name = "last"}, [] {}).get();
        },
        "trace_size=64K");
    REQUIRE(t.written);
    const json& other = t.trace["otherData"];
    const auto held =
        other["trace_size"].get<std::uint64_t>() / aio::debug::trace_recorder::event_size();
    CHECK(other["events"].get<std::uint64_t>() > 20000);
    CHECK(other["dropped_events"].get<std::uint64_t>() ==
          other["events"].get<std::uint64_t>() - held);
    // The newest events are kept: the last task's step is there.
    bool last_seen = false;
    for (const json& e : of_cat(t.trace, "step")) {
        last_seen = last_seen || e["name"] == "last";
    }
    CHECK(last_seen);
    CHECK(format_problems(t.trace) == std::vector<std::string>{});
}

TEST_CASE("trace: a task's name is escaped, and bytes that are not UTF-8 replaced",
          "[debug][trace]") {
    auto t = trace_run([] {
        aio::create_task(aio::task_options{.name = "quote\" back\\ \x01 \xff"}, [] {}).get();
    });
    REQUIRE(t.written);  // it parsed: the name was escaped and the bad byte replaced
    bool found = false;
    for (const json& e : of_cat(t.trace, "step")) {
        found = found || e["name"] == "quote\" back\\ \x01 \xef\xbf\xbd";
    }
    CHECK(found);
}
