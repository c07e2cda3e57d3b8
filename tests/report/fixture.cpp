// Writes synthetic reports and traces for the report viewer's tests (tests/report/*.sh):
//   aio_report_fixture report PATH FINDINGS [--evil]   a report with that many findings
//   aio_report_fixture trace PATH EVENTS [--evil]      a trace with about that many events
// Deterministic (a fixed pseudo-random sequence). --evil names a task, a function and a
// source line `</script><img src=x onerror=alert(1)>` to check the page escapes them.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

namespace {

const char* const evil = "</script><img src=x onerror=alert(1)>";

struct detector {
    const char* id;
    const char* severity;
    bool duration;
    bool culprit;
};
const detector detectors[] = {
    {"never-awaited", "warning", false, false},
    {"exception-never-retrieved", "error", false, false},
    {"slow-callback", "warning", true, true},
    {"stall", "error", true, true},
    {"blocking-call", "error", true, true},
    {"cancel-swallowed", "error", false, true},
    {"pending-at-close", "warning", false, true},
    {"leaked-resource", "warning", false, false},
};

std::uint64_t rng_state = 0x2545f4914f6cdd1dULL;
std::uint64_t next(std::uint64_t bound) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state % bound;
}

nlohmann::json frame(const std::string& file, int line, const std::string& function,
                     const std::string& code) {
    return {{"address", "0x55d1c2a4" + std::to_string(1000 + line)},
            {"file", file},
            {"function", function},
            {"line", line},
            {"snippet",
             {{"first_line", line - 1}, {"lines", {"    // before", code, "    // after"}}}}};
}

int write_report(const char* path, long n, bool bad_names) {
    nlohmann::json findings = nlohmann::json::array();
    nlohmann::json counts = nlohmann::json::object();
    for (long i = 0; i < n; ++i) {
        const auto& d = detectors[static_cast<std::size_t>(i) % std::size(detectors)];
        int file_no = static_cast<int>(i / 7 % 40);
        std::string file = "/home/dev/shop/src/module" + std::to_string(file_no) + ".cpp";
        int line = 10 + static_cast<int>(i % 997);
        std::string fn = bad_names && i == 0 ? evil : "handler_" + std::to_string(i % 61) + "()";
        std::string code = bad_names && i == 0
                               ? std::string("    auto x = \"") + evil + "\";"
                               : "    aio::create_task(work, " + std::to_string(i) + ");";
        std::string task_name = bad_names && i == 0 ? evil : "worker-" + std::to_string(i % 50);
        long count = 1 + static_cast<long>(next(5));
        nlohmann::json f;
        f["id"] = d.id;
        f["severity"] = d.severity;
        f["title"] = "task '" + task_name + "' tripped " + d.id + " at " + file + ":" +
                     std::to_string(line) + " (" + fn + ")";
        f["message"] = "synthetic finding " + std::to_string(i);
        f["task"] = {{"id", 2 + i % 50}, {"name", task_name}};
        f["duration_ms"] = d.duration ? nlohmann::json(5.0 + static_cast<double>(next(3000)) / 10)
                                      : nlohmann::json(nullptr);
        f["at_ms"] = static_cast<double>(i) * 0.37;
        auto user = frame(file, line, fn, code);
        auto caller = frame("/home/dev/shop/src/main.cpp", 30 + static_cast<int>(i % 5),
                            "main::{lambda()#1}::operator()() const", "    serve(srv);");
        f["culprit"] = d.culprit ? nlohmann::json::array({user, caller}) : nlohmann::json::array();
        f["inside"] =
            d.culprit && std::strcmp(d.id, "blocking-call") == 0
                ? nlohmann::json::array(
                      {{{"address", "0x7f00"}, {"file", ""}, {"function", "__read"}, {"line", 0}}})
                : nlohmann::json::array();
        f["creation"] =
            d.culprit ? nlohmann::json::array({caller}) : nlohmann::json::array({user, caller});
        f["why"] = std::string("why ") + d.id + " hurts";
        f["fix"] = std::string("how to fix ") + d.id;
        f["lesson"] = "10-fire-and-forget";
        f["count"] = count;
        counts[d.id] = counts.value(d.id, 0L) + count;
        findings.push_back(std::move(f));
    }
    nlohmann::json r = {
        {"schema", "aio-debug-report"},
        {"version", 1},
        {"run",
         {{"program",
           bad_names ? std::string("/tmp/") + evil : std::string("/home/dev/shop/build/shop")},
          {"pid", 4242},
          {"started", "2026-12-03T12:00:00Z"},
          {"options", "1,report=r.json"},
          {"duration_ms", 5022.6},
          {"tasks_spawned", 214},
          {"peak_tasks_alive", 12},
          {"steps", 3071},
          {"longest_stall_ms", 150.3},
          {"ended", "closed"}}},
        {"counts", counts},
        {"findings", findings},
    };
    std::FILE* f = std::fopen(path, "wb");
    if (f == nullptr) {
        std::perror(path);
        return 1;
    }
    std::string text = r.dump(2) + "\n";
    std::fwrite(text.data(), 1, text.size(), f);
    return std::fclose(f) == 0 ? 0 : 1;
}

// A loop that alternates I/O waits, timers and task steps; each step also shows as a run on
// its task's track, between two waits on that track; now and then a stall and findings.
int write_trace(const char* path, long n, bool bad_names) {
    std::FILE* f = std::fopen(path, "wb");
    if (f == nullptr) {
        std::perror(path);
        return 1;
    }
    const long pid = 4242;
    const long loop = 4242;
    const long base = 1000000000;
    const int tasks = 40;
    const char* waits[] = {"sleep", "event", "lock", "queue.get", "stream read"};
    std::fprintf(f, "{\"traceEvents\":[\n");
    std::fprintf(f,
                 "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%ld,\"tid\":%ld,"
                 "\"args\":{\"name\":\"aio loop\"}}",
                 pid, loop);
    std::fprintf(f,
                 ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%ld,\"tid\":%ld,"
                 "\"args\":{\"name\":\"executor thread\"}}",
                 pid, loop + 1);
    auto name_of = [&](int t) {
        return bad_names && t == 2 ? std::string(evil) : "worker-" + std::to_string(t);
    };
    for (int t = 1; t <= tasks; ++t) {
        std::string name = t == 1 ? "main" : name_of(t);
        // The evil name goes into the JSON as an escaped-free string: it has no quote.
        std::fprintf(f,
                     ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%ld,\"tid\":%ld,"
                     "\"args\":{\"name\":\"task %d '%s'\"}}",
                     pid, base + t, t, name.c_str());
        std::fprintf(f,
                     ",\n{\"ph\":\"s\",\"cat\":\"spawn\",\"name\":\"spawn\",\"id\":%d,\"ts\":%d.0,"
                     "\"pid\":%ld,\"tid\":%ld}",
                     t, t * 3, pid, loop);
    }
    double ts = 100;
    double last_end[tasks + 1] = {};
    long written = 2 + 2L * tasks;
    long round = 0;
    while (written < n) {
        double wait = 20 + static_cast<double>(next(400));
        std::fprintf(
            f,
            ",\n{\"ph\":\"X\",\"cat\":\"wait\",\"name\":\"io wait\",\"ts\":%.3f,\"dur\":%.3f,"
            "\"pid\":%ld,\"tid\":%ld,\"args\":{\"timeout_ms\":12}}",
            ts, wait, pid, loop);
        ts += wait;
        std::fprintf(
            f,
            ",\n{\"ph\":\"X\",\"cat\":\"timers\",\"name\":\"timers\",\"ts\":%.3f,\"dur\":1.5,"
            "\"pid\":%ld,\"tid\":%ld,\"args\":{\"fired\":1}}",
            ts, pid, loop);
        ts += 1.5;
        written += 2;
        int steps = 1 + static_cast<int>(next(4));
        for (int s = 0; s < steps && written < n; ++s) {
            int t = 1 + static_cast<int>(next(tasks));
            bool stall = ++round % 5000 == 0;
            double dur = stall ? 150000 : 3 + static_cast<double>(next(120));
            std::string name = t == 1 ? "main" : name_of(t);
            std::fprintf(
                f,
                ",\n{\"ph\":\"X\",\"cat\":\"step\",\"name\":\"%s\",\"ts\":%.3f,\"dur\":%.3f,"
                "\"pid\":%ld,\"tid\":%ld,\"args\":{\"task\":%d}}",
                name.c_str(), ts, dur, pid, loop, t);
            std::fprintf(f,
                         ",\n{\"ph\":\"X\",\"cat\":\"waiting\",\"name\":\"%s\",\"ts\":%.3f,"
                         "\"dur\":%.3f,\"pid\":%ld,\"tid\":%ld}",
                         waits[t % 5], last_end[t], ts - last_end[t], pid, base + t);
            std::fprintf(
                f,
                ",\n{\"ph\":\"X\",\"cat\":\"run\",\"name\":\"run\",\"ts\":%.3f,\"dur\":%.3f,"
                "\"pid\":%ld,\"tid\":%ld}",
                ts, dur, pid, base + t);
            written += 3;
            if (stall) {
                std::fprintf(
                    f,
                    ",\n{\"ph\":\"X\",\"cat\":\"finding\",\"name\":\"[stall] loop blocked "
                    "150 ms in task '%s'\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%ld,\"tid\":%ld,"
                    "\"args\":{\"id\":\"stall\",\"severity\":\"error\",\"where\":"
                    "\"/home/dev/shop/src/module3.cpp:24 (parse_price_list)\"}}",
                    name.c_str(), ts, dur, pid, loop);
                ++written;
            }
            if (round % 997 == 0) {
                std::fprintf(
                    f,
                    ",\n{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"finding\",\"name\":\"[never-awaited] "
                    "task '%s' was never awaited\",\"ts\":%.3f,\"pid\":%ld,\"tid\":%ld,"
                    "\"args\":{\"id\":\"never-awaited\",\"severity\":\"warning\",\"where\":"
                    "\"/home/dev/shop/src/module0.cpp:10 (handler_0())\"}}",
                    name.c_str(), ts + dur, pid, loop);
                ++written;
            }
            if (round % 211 == 0) {
                std::fprintf(
                    f,
                    ",\n{\"ph\":\"X\",\"cat\":\"executor\",\"name\":\"to_thread\",\"ts\":%.3f,"
                    "\"dur\":%.3f,\"pid\":%ld,\"tid\":%ld,\"args\":{\"task\":%d}}",
                    ts + dur, 800.0, pid, loop + 1, t);
                ++written;
            }
            ts += dur;
            last_end[t] = ts;
        }
    }
    std::fprintf(
        f,
        "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"schema\":\"aio-trace\",\"version\":1,"
        "\"program\":\"/home/dev/shop/build/shop\",\"pid\":%ld,\"started\":"
        "\"2026-12-03T12:00:00Z\",\"events\":%ld,\"dropped_events\":0,\"trace_size\":4194304}}\n",
        pid, written);
    return std::fclose(f) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s report|trace PATH COUNT [--evil]\n", argv[0]);
        return 2;
    }
    bool bad_names = argc > 4 && std::strcmp(argv[4], "--evil") == 0;
    long n = std::strtol(argv[3], nullptr, 10);
    if (std::strcmp(argv[1], "report") == 0) {
        return write_report(argv[2], n, bad_names);
    }
    if (std::strcmp(argv[1], "trace") == 0) {
        return write_trace(argv[2], n, bad_names);
    }
    std::fprintf(stderr, "%s: unknown kind '%s'\n", argv[0], argv[1]);
    return 2;
}
