// The room's progress. A participant's runner knows its own workspace; the facilitator wants
// the room: who is on which lesson, for how long, after how many runs. So each runner, when
// AIO_LESSONS_REPORT names a collector, POSTs its whole progress after every run (a snapshot,
// so a lost report is made good by the next one), and the collector (`progress --serve`,
// run by the facilitator on the room's network) keeps the last snapshot per participant and
// shows them as a page. Both ends are aio: the client_session and the application of
// <aio/http/...>, each in a short aio::run of its own.
//
//   runner --POST /report (progress_json)--> collector --GET /--> facilitator's browser
//                                                      --GET /progress.json--> scripts
#include "progress.hpp"

#include <aio/http/client.hpp>
#include <aio/http/server.hpp>
#include <aio/run.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

namespace lessons {

using namespace std::chrono_literals;

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string participant_name() {
    if (const char* n = std::getenv("AIO_LESSONS_NAME"); n != nullptr && *n != '\0') {
        return n;
    }
    const char* user = std::getenv("USER");
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) {
        host[0] = '\0';
    }
    return std::string(user != nullptr && *user != '\0' ? user : "someone") + "@" +
           (host[0] != '\0' ? host : "localhost");
}

namespace {

// Seconds spent on a lesson: from its first run to its pass, or to now while it is not passed.
std::int64_t seconds_spent(const lesson_progress& p, std::int64_t now) {
    if (p.first_run == 0) {
        return 0;
    }
    return std::max<std::int64_t>(0, (p.passed_at != 0 ? p.passed_at : now) - p.first_run);
}

std::string minutes(std::int64_t seconds) {
    return std::to_string((seconds + 30) / 60) + " min";
}

}  // namespace

nlohmann::json progress_json(const manifest& m, const workspace& ws) {
    std::int64_t now = unix_now();
    nlohmann::json lessons = nlohmann::json::array();
    int done = 0;
    for (const auto& l : m.lessons) {
        lesson_progress p = ws.progress_of(l.name);
        done += p.done ? 1 : 0;
        lessons.push_back({{"name", l.name},
                           {"done", p.done},
                           {"attempts", p.attempts},
                           {"hints", p.hints},
                           {"seconds", seconds_spent(p, now)},
                           {"watched_seconds", p.watched},
                           {"first_run", p.first_run},
                           {"passed_at", p.passed_at}});
    }
    return {{"schema", "aio-lessons-progress"}, {"version", 1},
            {"name", participant_name()},       {"now", now},
            {"current", ws.current()},          {"done", done},
            {"total", m.lessons.size()},        {"lessons", lessons}};
}

void report_progress(const manifest& m, const workspace& ws) {
    const char* to = std::getenv("AIO_LESSONS_REPORT");
    if (to == nullptr || *to == '\0') {
        return;
    }
    // One warning per process, and a pause after a failure: a collector that is down or
    // unreachable must not cost every run of the room a connect timeout.
    static bool warned = false;
    static auto quiet_until = std::chrono::steady_clock::time_point{};
    if (std::chrono::steady_clock::now() < quiet_until) {
        return;
    }
    std::string url = to;
    while (!url.empty() && url.back() == '/') {
        url.pop_back();
    }
    url += "/report";
    std::string body = progress_json(m, ws).dump();
    std::string error;
    try {
        aio::run_options ro;
        ro.handle_signals = false;  // Ctrl-C stays the runner's
        ro.main_name = "progress report";
        aio::run(
            [&] {
                aio::http::client_session http(
                    {.timeouts = {.total = 2s, .connect = 1s, .read = 2s}, .name = "lessons"});
                try {
                    auto r =
                        http.post(url, body, {.headers = {{"Content-Type", "application/json"}}});
                    std::string answer = r.text();
                    if (r.status() != 200) {
                        error = "it answered " + std::to_string(r.status()) + ": " +
                                answer.substr(0, 200);
                    }
                } catch (const std::exception& e) {
                    error = e.what();
                }
                http.close();
            },
            std::move(ro));
    } catch (const std::exception& e) {
        error = e.what();
    }
    if (error.empty()) {
        return;
    }
    quiet_until = std::chrono::steady_clock::now() + 30s;
    if (!warned) {
        warned = true;
        std::fflush(stdout);
        std::fprintf(stderr,
                     "lessons: could not report progress to %s (%s); your runs are not "
                     "affected\n",
                     to, error.c_str());
    }
}

int cmd_progress(const manifest& m, const options& o, bool json) {
    workspace ws(o.workspace);
    nlohmann::json j = progress_json(m, ws);
    if (json) {
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::printf("progress of %s: %d of %zu done\n", j["name"].get<std::string>().c_str(),
                j["done"].get<int>(), m.lessons.size());
    std::printf("  %-30s %-7s %8s %5s %7s\n", "lesson", "", "attempts", "hints", "time");
    for (const auto& x : j["lessons"]) {
        if (x["attempts"].get<int>() == 0 && x["hints"].get<int>() == 0 && !x["done"].get<bool>()) {
            continue;
        }
        std::printf("  %-30s %-7s %8d %5d %7s\n", x["name"].get<std::string>().c_str(),
                    x["done"].get<bool>() ? "done" : "pending", x["attempts"].get<int>(),
                    x["hints"].get<int>(), minutes(x["seconds"].get<std::int64_t>()).c_str());
    }
    std::printf("(lessons never run are left out; --json for all of it)\n");
    return 0;
}

// ---------------------------------------------------------------------------------------
// The collector.

namespace {

constexpr std::size_t max_body = 64 * 1024;
constexpr std::size_t max_participants = 500;
constexpr std::size_t max_text = 100;  // names of participants and lessons
// A row is marked "stuck" from this many minutes or runs on the current lesson.
constexpr std::int64_t stuck_minutes = 10;
constexpr int stuck_attempts = 8;

struct lesson_row {
    std::string name;
    bool done = false;
    int attempts = 0;
    int hints = 0;
    std::int64_t seconds = 0;
    std::int64_t first_run = 0;
};

struct participant {
    std::string name;
    std::string current;
    std::string peer;
    int done = 0;
    int total = 0;
    std::vector<lesson_row> lessons;
    std::int64_t their_now = 0;  // the participant's clock at the report
    std::int64_t received = 0;   // ours
};

[[noreturn]] void bad(const std::string& why) {
    throw aio::http::http_error(400, "bad progress report: " + why + "\n");
}

std::string text_field(const nlohmann::json& j, const char* key, bool required) {
    if (!j.contains(key)) {
        if (required) {
            bad(std::string("'") + key + "' is missing");
        }
        return {};
    }
    if (!j.at(key).is_string()) {
        bad(std::string("'") + key + "' should be a string");
    }
    std::string s = j.at(key).get<std::string>();
    if (s.size() > max_text) {
        bad(std::string("'") + key + "' is longer than " + std::to_string(max_text) + " bytes");
    }
    return s;
}

std::int64_t int_field(const nlohmann::json& j, const char* key) {
    if (!j.contains(key)) {
        return 0;
    }
    const auto& v = j.at(key);
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 ||
        v.get<std::int64_t>() > (std::int64_t{1} << 40)) {
        bad(std::string("'") + key + "' should be a non-negative integer");
    }
    return v.get<std::int64_t>();
}

// Only what is checked is kept: the page and /progress.json are made from these fields, never
// from the participant's JSON as sent.
participant parse_report(const std::string& body) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(body);
    } catch (const nlohmann::json::exception& e) {
        bad(std::string("not JSON (") + e.what() + ")");
    }
    if (!j.is_object()) {
        bad("not a JSON object");
    }
    if (!j.contains("schema") || j.at("schema") != "aio-lessons-progress") {
        bad("'schema' should be \"aio-lessons-progress\" (what `tools/lessons progress --json` "
            "prints)");
    }
    participant p;
    p.name = text_field(j, "name", true);
    if (p.name.empty()) {
        bad("'name' is empty");
    }
    p.current = text_field(j, "current", false);
    p.their_now = int_field(j, "now");
    p.done = static_cast<int>(std::min<std::int64_t>(int_field(j, "done"), 1000));
    p.total = static_cast<int>(std::min<std::int64_t>(int_field(j, "total"), 1000));
    if (!j.contains("lessons") || !j.at("lessons").is_array()) {
        bad("'lessons' should be an array");
    }
    if (j.at("lessons").size() > 200) {
        bad("more than 200 lessons");
    }
    for (const auto& x : j.at("lessons")) {
        if (!x.is_object()) {
            bad("each of 'lessons' should be an object");
        }
        lesson_row r;
        r.name = text_field(x, "name", true);
        if (x.contains("done") && !x.at("done").is_boolean()) {
            bad("'done' should be true or false");
        }
        r.done = x.value("done", false);
        r.attempts = static_cast<int>(std::min<std::int64_t>(int_field(x, "attempts"), 1000000));
        r.hints = static_cast<int>(std::min<std::int64_t>(int_field(x, "hints"), 1000));
        r.seconds = int_field(x, "seconds");
        r.first_run = int_field(x, "first_run");
        p.lessons.push_back(std::move(r));
    }
    return p;
}

const lesson_row* row_of(const participant& p, const std::string& lesson) {
    for (const auto& r : p.lessons) {
        if (r.name == lesson) {
            return &r;
        }
    }
    return nullptr;
}

// Seconds on the current lesson now: its time at the report, plus the time since (by our
// clock, so the laptops' clocks need not agree with ours).
std::int64_t seconds_on_current(const participant& p, std::int64_t now) {
    const lesson_row* r = row_of(p, p.current);
    if (r == nullptr || r->done || r->first_run == 0) {
        return 0;
    }
    return r->seconds + std::max<std::int64_t>(0, now - p.received);
}

bool finished(const participant& p) {
    return p.total > 0 && p.done >= p.total;
}

nlohmann::json room_json(const std::map<std::string, participant>& room, std::int64_t now) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [name, p] : room) {
        nlohmann::json lessons = nlohmann::json::array();
        for (const auto& r : p.lessons) {
            lessons.push_back({{"name", r.name},
                               {"done", r.done},
                               {"attempts", r.attempts},
                               {"hints", r.hints},
                               {"seconds", r.seconds}});
        }
        const lesson_row* cur = row_of(p, p.current);
        out.push_back({{"name", p.name},
                       {"from", p.peer},
                       {"done", p.done},
                       {"total", p.total},
                       {"current", p.current},
                       {"attempts_on_current", cur != nullptr ? cur->attempts : 0},
                       {"seconds_on_current", seconds_on_current(p, now)},
                       {"seconds_since_report", now - p.received},
                       {"lessons", lessons}});
    }
    return out;
}

std::string escape_html(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string room_page(const manifest& m, const std::map<std::string, participant>& room,
                      std::int64_t now) {
    // Most stuck first: those not finished, by minutes on their lesson.
    std::vector<const participant*> order;
    for (const auto& [name, p] : room) {
        order.push_back(&p);
    }
    std::stable_sort(order.begin(), order.end(), [&](const participant* a, const participant* b) {
        if (finished(*a) != finished(*b)) {
            return !finished(*a);
        }
        return seconds_on_current(*a, now) > seconds_on_current(*b, now);
    });
    std::ostringstream h;
    h << "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
         "<meta http-equiv=\"refresh\" content=\"5\"><title>aio lessons: the room</title>\n"
         "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:2px 6px;text-align:center}"
         "td.n{text-align:left}.d{background:#9d9}.c{background:#fd6}.t{background:#eee}"
         "tr.stuck td.n{background:#f99}small{color:#666}</style></head><body>\n"
         "<h1>aio lessons: the room</h1>\n<p>"
      << room.size() << " participant(s). Most stuck first; red: " << stuck_minutes << " min or "
      << stuck_attempts
      << " runs on one lesson. Cells: <span class=\"d\">done</span> "
         "<span class=\"c\">current</span> <span class=\"t\">tried</span>; the number is runs. "
         "Reloads every 5 s; <a href=\"/progress.json\">/progress.json</a>.</p>\n"
         "<table><tr><th>participant</th><th>done</th><th>current lesson</th><th>runs on it"
         "</th><th>min on it</th><th>hints</th><th>last report</th>";
    for (const auto& l : m.lessons) {
        h << "<th title=\"" << escape_html(l.name) << "\">" << escape_html(l.number()) << "</th>";
    }
    h << "</tr>\n";
    for (const participant* p : order) {
        const lesson_row* cur = row_of(*p, p->current);
        std::int64_t on = seconds_on_current(*p, now);
        bool stuck = !finished(*p) && cur != nullptr && !cur->done &&
                     (on >= stuck_minutes * 60 || cur->attempts >= stuck_attempts);
        h << "<tr" << (stuck ? " class=\"stuck\"" : "") << "><td class=\"n\">"
          << escape_html(p->name) << " <small>" << escape_html(p->peer) << "</small></td><td>"
          << p->done << "/" << p->total << "</td><td class=\"n\">"
          << (finished(*p) ? "all done" : escape_html(p->current)) << "</td><td>"
          << (cur != nullptr ? cur->attempts : 0) << "</td><td>" << (on + 30) / 60 << "</td><td>"
          << (cur != nullptr ? cur->hints : 0) << "</td><td>" << now - p->received << " s ago</td>";
        for (const auto& l : m.lessons) {
            const lesson_row* r = row_of(*p, l.name);
            const char* cls = r == nullptr           ? ""
                              : r->done              ? "d"
                              : l.name == p->current ? "c"
                              : r->attempts > 0      ? "t"
                                                     : "";
            h << "<td class=\"" << cls << "\">";
            if (r != nullptr && r->attempts > 0) {
                h << r->attempts;
            }
            h << "</td>";
        }
        h << "</tr>\n";
    }
    h << "</table>\n</body></html>\n";
    return h.str();
}

// The addresses participants can reach this machine at (what to put in AIO_LESSONS_REPORT).
std::vector<std::string> local_addresses() {
    std::vector<std::string> out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) {
        return out;
    }
    for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
        if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) {
            continue;
        }
        char buf[INET_ADDRSTRLEN] = {};
        auto* in = reinterpret_cast<sockaddr_in*>(a->ifa_addr);
        if (::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf) != nullptr &&
            std::string(buf).rfind("127.", 0) != 0) {
            out.emplace_back(buf);
        }
    }
    ::freeifaddrs(list);
    return out;
}

}  // namespace

int cmd_progress_serve(const manifest& m, const std::string& host, int port) {
    if (port < 0 || port > 65535) {
        throw user_error("progress --serve: --port " + std::to_string(port) +
                         " is not a port (0 to 65535; 0 picks a free one)");
    }
    std::map<std::string, participant> room;  // by name; only the loop thread touches it
    aio::http::application app;
    app.add_post("/report", [&](aio::http::request& req) {
        participant p = parse_report(req.text());
        if (!room.contains(p.name) && room.size() >= max_participants) {
            throw aio::http::http_error(400, "the collector is full: it keeps at most " +
                                                 std::to_string(max_participants) +
                                                 " participants\n");
        }
        p.peer = req.peer().substr(0, req.peer().rfind(':'));
        p.received = unix_now();
        room[p.name] = std::move(p);
        return aio::http::response::text("ok\n");
    });
    app.add_get("/progress.json", [&](aio::http::request&) {
        return aio::http::response::json(room_json(room, unix_now()).dump(2) + "\n");
    });
    app.add_get("/", [&](aio::http::request&) {
        return aio::http::response(200, room_page(m, room, unix_now()), "text/html; charset=utf-8");
    });
    aio::http::serve_options so;
    so.client_max_size = max_body;
    so.shutdown_timeout = 2s;
    std::string shown = host.empty() ? "0.0.0.0" : host;
    std::printf("aio lessons: collecting the room's progress. Participants run\n"
                "  AIO_LESSONS_REPORT=http://ADDRESS:PORT %s watch\n",
                self_command().c_str());
    if (shown == "0.0.0.0") {
        auto addrs = local_addresses();
        if (!addrs.empty()) {
            std::string list;
            for (const auto& a : addrs) {
                list += (list.empty() ? "" : ", ") + a;
            }
            std::printf("with ADDRESS one of this machine's: %s\n", list.c_str());
        }
    }
    std::printf("and PORT the one below; open http://ADDRESS:PORT/ for the room's page.\n");
    std::fflush(stdout);
    aio::http::run_app(app, shown, static_cast<std::uint16_t>(port), so);
    return 0;
}

}  // namespace lessons
