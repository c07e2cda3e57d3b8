// Reading and checking reports, grouping findings, and the text of `aio-report show` and
// `aio-report diff`. The trace reader is in trace.cpp, the HTML page in html.cpp.
#include "report_core.hpp"

#include "report_detail.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <tuple>

namespace aio::report {

bad_input::bad_input(std::string file, std::string problem)
    : std::runtime_error(file + ": " + problem)
    , file_(std::move(file))
    , problem_(std::move(problem)) {
}

namespace detail {

std::string read_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        throw bad_input(path, std::string("cannot open: ") + std::strerror(errno));
    }
    std::string text;
    char buf[1 << 16];
    for (;;) {
        std::size_t n = std::fread(buf, 1, sizeof buf, f);
        text.append(buf, n);
        if (n < sizeof buf) {
            break;
        }
    }
    // fopen succeeds on a directory; the read is what fails (EISDIR).
    bool failed = std::ferror(f) != 0;
    int err = errno;
    std::fclose(f);
    if (failed) {
        throw bad_input(path, std::string("cannot read: ") + std::strerror(err));
    }
    return text;
}

std::string parse_problem(const std::string& what, std::size_t byte, std::size_t size) {
    // nlohmann's text: "[json.exception.parse_error.101] parse error at line 3, column 1:
    // syntax error while parsing object - unexpected end of input; expected string literal".
    // Keep the middle part, which says what was found.
    std::string detail = what;
    if (auto dash = what.find(" - "); dash != std::string::npos) {
        detail = what.substr(dash + 3);
    } else if (auto colon = what.rfind(": "); colon != std::string::npos) {
        detail = what.substr(colon + 2);
    }
    if (auto semi = detail.find(';'); semi != std::string::npos) {
        detail.resize(semi);
    }
    byte = std::min(byte, size);
    if (size == 0) {
        return "truncated or not JSON: the file is empty";
    }
    return "truncated or not JSON: " + detail + " at byte " + std::to_string(byte);
}

const char* type_of(const nlohmann::json& j) {
    if (j.is_number_integer()) {
        return "an integer";
    }
    if (j.is_number()) {
        return "a number";
    }
    if (j.is_string()) {
        return "a string";
    }
    if (j.is_object()) {
        return "an object";
    }
    if (j.is_array()) {
        return "an array";
    }
    if (j.is_boolean()) {
        return "a boolean";
    }
    return "null";
}

std::string basename_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

user_line user_line_of(const nlohmann::json& finding) {
    for (const char* stack : {"culprit", "creation"}) {
        const auto it = finding.find(stack);
        if (it != finding.end() && it->is_array() && !it->empty()) {
            const auto& f = it->front();
            user_line u;
            u.file = f.value("file", "");
            u.line = f.value("line", std::int64_t{0});
            u.function = f.value("function", "");
            u.frame = &f;
            return u;
        }
    }
    return {};
}

int severity_rank(const std::string& severity) {
    if (severity == "error") {
        return 2;
    }
    if (severity == "warning") {
        return 1;
    }
    return 0;
}

std::string snippet_line(const nlohmann::json* frame) {
    if (frame == nullptr) {
        return {};
    }
    auto s = frame->find("snippet");
    if (s == frame->end() || !s->is_object()) {
        return {};
    }
    auto first = s->value("first_line", std::int64_t{0});
    auto line = frame->value("line", std::int64_t{0});
    auto lines = s->find("lines");
    if (lines == s->end() || !lines->is_array()) {
        return {};
    }
    auto i = line - first;
    if (i < 0 || i >= static_cast<std::int64_t>(lines->size()) || !(*lines)[i].is_string()) {
        return {};
    }
    return (*lines)[i].get<std::string>();
}

}  // namespace detail

using detail::type_of;

namespace {

// One field of a checked object: present with the type `want` ("string", "integer",
// "number", "object", "array", "number or null").
void require(const nlohmann::json& obj, const char* key, const char* want, const std::string& at,
             const std::string& name, bool optional = false) {
    auto it = obj.find(key);
    std::string field = at.empty() ? std::string(key) : at + "." + key;
    if (it == obj.end()) {
        if (optional) {
            return;
        }
        throw bad_input(name, "missing field '" + field + "'");
    }
    std::string_view w = want;
    bool ok = (w == "string" && it->is_string()) || (w == "integer" && it->is_number_integer()) ||
              (w == "number" && it->is_number()) || (w == "object" && it->is_object()) ||
              (w == "array" && it->is_array()) ||
              (w == "number or null" && (it->is_number() || it->is_null()));
    if (!ok) {
        std::string article = (w == "integer" || w == "object" || w == "array") ? "an " : "a ";
        throw bad_input(name, "field '" + field + "' is " + type_of(*it) + ", expected " + article +
                                  want);
    }
}

void check_frames(const nlohmann::json& frames, const std::string& at, const std::string& name) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
        const auto& f = frames[i];
        std::string here = at + "[" + std::to_string(i) + "]";
        if (!f.is_object()) {
            throw bad_input(name, "field '" + here + "' is " + type_of(f) + ", expected an object");
        }
        require(f, "function", "string", here, name);
        require(f, "file", "string", here, name);
        require(f, "line", "integer", here, name);
        require(f, "address", "string", here, name, true);
        require(f, "snippet", "object", here, name, true);
        if (auto s = f.find("snippet"); s != f.end()) {
            require(*s, "first_line", "integer", here + ".snippet", name);
            require(*s, "lines", "array", here + ".snippet", name);
        }
    }
}

}  // namespace

void check_report(const nlohmann::json& report, const std::string& name) {
    if (!report.is_object()) {
        throw bad_input(name, std::string("not an aio debug report (the top level is ") +
                                  type_of(report) + ", expected an object)");
    }
    auto schema = report.find("schema");
    if (schema == report.end()) {
        throw bad_input(name, "not an aio debug report (no \"schema\" field)");
    }
    if (!schema->is_string() || *schema != "aio-debug-report") {
        throw bad_input(name, "not an aio debug report (schema is " + schema->dump() +
                                  ", expected \"aio-debug-report\")");
    }
    require(report, "version", "integer", "", name);
    auto version = report["version"].get<std::int64_t>();
    if (version > supported_version) {
        throw bad_input(name, "written by a newer aio: schema version " + std::to_string(version) +
                                  ", this aio-report reads version " +
                                  std::to_string(supported_version));
    }
    if (version < 1) {
        throw bad_input(name, "unknown schema version " + std::to_string(version));
    }
    require(report, "run", "object", "", name);
    const auto& run = report["run"];
    require(run, "program", "string", "run", name);
    require(run, "pid", "integer", "run", name);
    require(run, "started", "string", "run", name);
    require(run, "options", "string", "run", name);
    require(run, "duration_ms", "number", "run", name);
    require(run, "tasks_spawned", "integer", "run", name);
    require(run, "peak_tasks_alive", "integer", "run", name);
    require(run, "steps", "integer", "run", name);
    require(run, "ended", "string", "run", name, true);
    require(run, "longest_stall_ms", "number", "run", name, true);
    require(report, "counts", "object", "", name);
    for (const auto& [id, n] : report["counts"].items()) {
        if (!n.is_number_integer()) {
            throw bad_input(name,
                            "field 'counts." + id + "' is " + type_of(n) + ", expected an integer");
        }
    }
    require(report, "findings", "array", "", name);
    const auto& findings = report["findings"];
    for (std::size_t i = 0; i < findings.size(); ++i) {
        const auto& f = findings[i];
        std::string at = "findings[" + std::to_string(i) + "]";
        if (!f.is_object()) {
            throw bad_input(name, "field '" + at + "' is " + type_of(f) + ", expected an object");
        }
        for (const char* key : {"id", "severity", "title", "message", "why", "fix", "lesson"}) {
            require(f, key, "string", at, name);
        }
        require(f, "task", "object", at, name);
        require(f["task"], "id", "integer", at + ".task", name);
        require(f["task"], "name", "string", at + ".task", name);
        require(f, "duration_ms", "number or null", at, name);
        require(f, "at_ms", "number", at, name);
        require(f, "count", "integer", at, name);
        require(f, "culprit", "array", at, name);
        require(f, "creation", "array", at, name);
        require(f, "inside", "array", at, name, true);
        check_frames(f["culprit"], at + ".culprit", name);
        check_frames(f["creation"], at + ".creation", name);
        if (f.contains("inside")) {
            check_frames(f["inside"], at + ".inside", name);
        }
    }
}

nlohmann::json parse_report(std::string_view text, const std::string& name) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::parse_error& e) {
        throw bad_input(name, detail::parse_problem(e.what(), e.byte, text.size()));
    }
    check_report(j, name);
    return j;
}

nlohmann::json load_report(const std::string& path) {
    return parse_report(detail::read_file(path), path);
}

std::string short_title(const std::string& title) {
    for (const char* marker : {" (created at ", " at "}) {
        auto pos = title.rfind(marker);
        if (pos != std::string::npos && pos > 0) {
            // Only the place at the end: " at FILE:LINE (FUNCTION)" has a ':' after it.
            if (std::string_view(marker) == " at " && title.find(':', pos) == std::string::npos) {
                continue;
            }
            return title.substr(0, pos);
        }
    }
    if (auto pos = title.rfind(" (created at an unknown place)"); pos != std::string::npos) {
        return title.substr(0, pos);
    }
    return title;
}

std::string format_duration_ms(double ms) {
    char buf[64];
    const char* sign = ms < 0 ? "-" : "";
    double a = std::fabs(ms);
    if (a < 0.001) {
        std::snprintf(buf, sizeof buf, "%s%.0f ns", sign, a * 1e6);
    } else if (a >= 100e3) {
        std::snprintf(buf, sizeof buf, "%s%.0f s", sign, a / 1000);
    } else {
        // Three significant digits, rounded before the unit is chosen: 999.7 ms reads "1 s"
        // (printing first would give "1e+03 ms"), as aio::format_duration does.
        double step = std::pow(10.0, std::floor(std::log10(a)) - 2);
        double r = std::round(a / step) * step;
        double scale = r >= 1000 ? 1000 : r >= 1 ? 1 : 0.001;
        const char* unit = r >= 1000 ? "s" : r >= 1 ? "ms" : "us";
        std::snprintf(buf, sizeof buf, "%s%.3g %s", sign, r / scale, unit);
    }
    return buf;
}

namespace {

bool kept(const nlohmann::json& f, const finding_filter& filter) {
    if (!filter.ids.empty() &&
        std::find(filter.ids.begin(), filter.ids.end(), f.value("id", "")) == filter.ids.end()) {
        return false;
    }
    return !filter.errors_only || f.value("severity", "") == "error";
}

double duration_of(const nlohmann::json& f) {
    auto it = f.find("duration_ms");
    return it != f.end() && it->is_number() ? it->get<double>() : -1.0;
}

// Worst first: errors before warnings, then the larger count, then the longer duration;
// then a stable order by id and place so that equal groups always come out the same way.
template <typename T>
bool worse(const T& a, const T& b) {
    auto ra = detail::severity_rank(a.severity);
    auto rb = detail::severity_rank(b.severity);
    if (ra != rb) {
        return ra > rb;
    }
    if (a.count != b.count) {
        return a.count > b.count;
    }
    return std::tie(b.duration_ms, a.id, a.file, a.line, a.function) <
           std::tie(a.duration_ms, b.id, b.file, b.line, b.function);
}

}  // namespace

std::vector<finding_group> group_findings(const nlohmann::json& report,
                                          const finding_filter& filter) {
    std::vector<finding_group> groups;
    // (id, file, line, function or title when the file is unknown) -> index in groups
    std::map<std::tuple<std::string, std::string, std::int64_t, std::string>, std::size_t> index;
    const auto& findings = report.at("findings");
    for (std::size_t i = 0; i < findings.size(); ++i) {
        const auto& f = findings[i];
        if (!kept(f, filter)) {
            continue;
        }
        auto u = detail::user_line_of(f);
        std::string id = f.value("id", "");
        // Without a file the function tells places apart, and without a frame the title.
        std::string apart = u.frame == nullptr ? f.value("title", "")
                            : u.file.empty()   ? u.function
                                               : std::string();
        auto key = std::make_tuple(id, u.file, u.line, apart);
        auto [it, fresh] = index.try_emplace(key, groups.size());
        if (fresh) {
            finding_group g;
            g.id = id;
            g.severity = f.value("severity", "");
            g.file = u.file;
            g.line = u.line;
            g.function = u.function;
            groups.push_back(std::move(g));
        }
        auto& g = groups[it->second];
        g.count += f.value("count", std::int64_t{1});
        g.duration_ms = std::max(g.duration_ms, duration_of(f));
        g.findings.push_back(i);
    }
    std::stable_sort(groups.begin(), groups.end(),
                     [](const finding_group& a, const finding_group& b) { return worse(a, b); });
    return groups;
}

namespace {

struct painter {
    bool on;
    [[nodiscard]] std::string paint(const char* code, const std::string& s) const {
        return on ? std::string("\x1b[") + code + "m" + s + "\x1b[0m" : s;
    }
    [[nodiscard]] std::string bold(const std::string& s) const { return paint("1", s); }
    [[nodiscard]] std::string dim(const std::string& s) const { return paint("2", s); }
    [[nodiscard]] std::string severity(const std::string& sev, const std::string& s) const {
        return paint(sev == "error" ? "1;31" : sev == "warning" ? "1;33" : "1", s);
    }
};

std::string trim_left(const std::string& s) {
    auto p = s.find_first_not_of(" \t");
    return p == std::string::npos ? std::string() : s.substr(p);
}

std::string place(const std::string& file, std::int64_t line) {
    if (file.empty()) {
        return "(unknown place)";
    }
    return line > 0 ? file + ":" + std::to_string(line) : file;
}

std::string plural(std::int64_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

std::string format_show(const nlohmann::json& report, const finding_filter& filter, bool color) {
    painter p{color};
    const auto& run = report.at("run");
    std::string out;

    // The header: what ran, how long, what was found.
    std::int64_t total = 0;
    std::vector<std::pair<std::string, std::int64_t>> counts;
    for (const auto& [id, n] : report.at("counts").items()) {
        counts.emplace_back(id, n.get<std::int64_t>());
        total += n.get<std::int64_t>();
    }
    std::stable_sort(counts.begin(), counts.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    out += p.bold(run.value("program", "?")) + ": " +
           format_duration_ms(run.value("duration_ms", 0.0)) + ", " + plural(total, "finding");
    if (!counts.empty()) {
        out += " (";
        for (std::size_t i = 0; i < counts.size(); ++i) {
            out += (i == 0 ? "" : ", ") + counts[i].first + " " + std::to_string(counts[i].second);
        }
        out += ")";
    }
    if (double stall = run.value("longest_stall_ms", 0.0); stall > 0) {
        out += ", longest stall " + format_duration_ms(stall);
    }
    out +=
        ", peak " + std::to_string(run.value("peak_tasks_alive", std::int64_t{0})) + " tasks alive";
    if (run.value("ended", "closed") != "closed") {
        out += ", ended by " + run.value("ended", "?");
    }
    out += "\n";

    auto groups = group_findings(report, filter);
    if (groups.empty()) {
        out += total == 0 ? "no findings\n" : "no findings match the filters\n";
        return out;
    }
    // Sections per detector id, in the order of each id's worst group.
    std::vector<std::string> ids;
    for (const auto& g : groups) {
        if (std::find(ids.begin(), ids.end(), g.id) == ids.end()) {
            ids.push_back(g.id);
        }
    }
    const auto& findings = report.at("findings");
    for (const auto& id : ids) {
        std::int64_t n = 0;
        std::size_t lines = 0;
        std::string severity;
        for (const auto& g : groups) {
            if (g.id == id) {
                n += g.count;
                ++lines;
                severity = g.severity;
            }
        }
        out += "\n" + p.severity(severity, "[" + id + "]") + " " + severity + ": " +
               plural(n, "finding") + " at " + plural(static_cast<std::int64_t>(lines), "place") +
               "\n";
        std::string last_fix;
        for (const auto& g : groups) {
            if (g.id != id) {
                continue;
            }
            const auto& first = findings[g.findings.front()];
            std::string line = "  " + p.bold(std::to_string(g.count) + "x");
            if (g.duration_ms >= 0) {
                line += " " + format_duration_ms(g.duration_ms);
            }
            line += "  " + place(g.file, g.line);
            if (!g.function.empty()) {
                line += " " + p.dim("(" + g.function + ")");
            }
            line += ": " + short_title(first.value("title", ""));
            out += line + "\n";
            auto u = detail::user_line_of(first);
            if (auto src = detail::snippet_line(u.frame); !src.empty()) {
                out +=
                    "      " + p.dim(std::to_string(g.line) + " |") + " " + trim_left(src) + "\n";
            }
            // The fix is the detector's advice: print it again only when it changes.
            std::string fix = first.value("fix", "");
            if (!fix.empty() && fix != last_fix) {
                out += "      " + p.dim("fix:") + " " + fix + "\n";
                last_fix = fix;
            }
        }
    }
    return out;
}

namespace {

using diff_key = std::tuple<std::string, std::string, std::int64_t, std::string>;

std::map<diff_key, diff_entry> diff_entries(const nlohmann::json& report,
                                            const finding_filter& filter) {
    std::map<diff_key, diff_entry> out;
    for (const auto& f : report.at("findings")) {
        if (!kept(f, filter)) {
            continue;
        }
        auto u = detail::user_line_of(f);
        std::string file = detail::basename_of(u.file);
        std::string id = f.value("id", "");
        // No place at all: the title is the only thing that tells such findings apart.
        std::string function = u.frame == nullptr ? short_title(f.value("title", "")) : u.function;
        diff_key key{id, file, u.line, function};
        auto [it, fresh] = out.try_emplace(key);
        auto& e = it->second;
        if (fresh) {
            e.id = id;
            e.severity = f.value("severity", "");
            e.file = file;
            e.line = u.line;
            e.function = u.function;
            e.title = short_title(f.value("title", ""));
        }
        e.count += f.value("count", std::int64_t{1});
    }
    return out;
}

void sort_worst_first(std::vector<diff_entry>& v) {
    struct ranked {
        const diff_entry* e;
        std::string severity;
        std::int64_t count;
        double duration_ms = 0;
        std::string id, file;
        std::int64_t line;
        std::string function;
    };
    std::vector<ranked> r;
    for (const auto& e : v) {
        r.push_back({&e, e.severity, e.count, 0, e.id, e.file, e.line, e.function});
    }
    std::stable_sort(r.begin(), r.end(),
                     [](const ranked& a, const ranked& b) { return worse(a, b); });
    std::vector<diff_entry> sorted;
    sorted.reserve(v.size());
    for (const auto& x : r) {
        sorted.push_back(*x.e);
    }
    v = std::move(sorted);
}

}  // namespace

diff_result diff_reports(const nlohmann::json& old_report, const nlohmann::json& new_report,
                         const finding_filter& filter) {
    auto before = diff_entries(old_report, filter);
    auto after = diff_entries(new_report, filter);
    diff_result d;
    for (auto& [key, e] : after) {
        if (auto it = before.find(key); it != before.end()) {
            e.old_count = it->second.count;
            d.unchanged.push_back(e);
        } else {
            d.added.push_back(e);
        }
    }
    for (auto& [key, e] : before) {
        if (after.find(key) == after.end()) {
            d.fixed.push_back(e);
        }
    }
    sort_worst_first(d.added);
    sort_worst_first(d.fixed);
    sort_worst_first(d.unchanged);
    return d;
}

std::string format_diff(const diff_result& diff, bool color) {
    painter p{color};
    std::string out;
    auto list = [&](const char* label, const char* mark, const char* mark_color,
                    const std::vector<diff_entry>& v, bool counts_both) {
        out += p.bold(std::string(label) + ": " + std::to_string(v.size())) + "\n";
        for (const auto& e : v) {
            std::string line = "  " + p.paint(mark_color, mark) + " " +
                               p.severity(e.severity, "[" + e.id + "]") + " " +
                               place(e.file, e.line);
            if (!e.function.empty()) {
                line += " " + p.dim("(" + e.function + ")");
            }
            line += " " + std::to_string(e.count) + "x";
            if (counts_both && e.old_count != e.count) {
                line += " (was " + std::to_string(e.old_count) + "x)";
            }
            line += ": " + e.title;
            out += line + "\n";
        }
    };
    list("new", "+", "1;31", diff.added, false);
    list("fixed", "-", "1;32", diff.fixed, false);
    list("unchanged", "=", "2", diff.unchanged, true);
    out += std::to_string(diff.added.size()) + " new, " + std::to_string(diff.fixed.size()) +
           " fixed, " + std::to_string(diff.unchanged.size()) + " unchanged\n";
    return out;
}

}  // namespace aio::report
