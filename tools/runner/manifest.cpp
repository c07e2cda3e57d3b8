// lessons/lessons.toml -> lesson records, and lesson names: exact, by number, by slug, by
// prefix, and the closest match for a name that is none of these.
#include "runner.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

namespace lessons {

namespace {

std::string where(const toml::node& n) {
    const auto& src = n.source();
    return "line " + std::to_string(src.begin.line);
}

std::vector<std::string> string_list(const toml::table& t, const char* key, const fs::path& file,
                                     const std::string& lesson) {
    std::vector<std::string> out;
    const toml::node* n = t.get(key);
    if (n == nullptr) {
        return out;
    }
    const toml::array* a = n->as_array();
    if (a == nullptr) {
        throw user_error(file.string() + ": " + where(*n) + ": lesson '" + lesson + "': '" + key +
                         "' must be an array of strings, e.g. " + key + " = [\"...\"]");
    }
    for (const auto& e : *a) {
        auto s = e.value<std::string>();
        if (!s) {
            throw user_error(file.string() + ": " + where(e) + ": lesson '" + lesson + "': '" +
                             key + "' must hold strings only");
        }
        out.push_back(*s);
    }
    return out;
}

expectation read_expectation(const toml::table& lt, const char* key, const char* ids_key,
                             const fs::path& file, const std::string& lesson) {
    expectation e;
    const toml::node* n = lt.get(key);
    if (n == nullptr) {
        return e;
    }
    const toml::table* t = n->as_table();
    if (t == nullptr) {
        throw user_error(file.string() + ": " + where(*n) + ": lesson '" + lesson + "': '" + key +
                         "' must be a table ([lesson." + key + "])");
    }
    for (const auto& [k, v] : *t) {
        if (k != ids_key && k != "output" && k != "forbidden_output" && k != "hangs") {
            throw user_error(file.string() + ": " + where(v) + ": lesson '" + lesson +
                             "': unknown key '" + std::string(k.str()) + "' in [lesson." + key +
                             "]; accepted: " + ids_key + ", output, forbidden_output, hangs");
        }
    }
    e.findings = string_list(*t, ids_key, file, lesson);
    e.output = string_list(*t, "output", file, lesson);
    e.forbidden_output = string_list(*t, "forbidden_output", file, lesson);
    if (const toml::node* h = t->get("hangs"); h != nullptr) {
        auto b = h->value<bool>();
        if (!b) {
            throw user_error(file.string() + ": " + where(*h) + ": lesson '" + lesson +
                             "': 'hangs' must be true or false");
        }
        e.hangs = *b;
    }
    return e;
}

}  // namespace

manifest manifest::load(const fs::path& source_dir) {
    manifest m;
    m.source_dir = source_dir;
    fs::path file = source_dir / "lessons" / "lessons.toml";
    toml::table doc;
    try {
        doc = toml::parse_file(file.string());
    } catch (const toml::parse_error& e) {
        std::ostringstream msg;
        msg << file.string() << ": line " << e.source().begin.line << ": " << e.description();
        throw user_error(msg.str());
    }
    const toml::array* arr = doc["lesson"].as_array();
    if (arr == nullptr) {
        throw user_error(file.string() + ": no [[lesson]] entries");
    }
    static const std::vector<std::string> known = {"name",   "title", "hints", "time_limit",
                                                   "broken", "fixed", "asan",  "asan_note"};
    for (const auto& node : *arr) {
        const toml::table* t = node.as_table();
        if (t == nullptr) {
            throw user_error(file.string() + ": " + where(node) + ": [[lesson]] must be a table");
        }
        lesson l;
        auto name = (*t)["name"].value<std::string>();
        if (!name || name->size() < 4 || !std::isdigit(static_cast<unsigned char>((*name)[0])) ||
            !std::isdigit(static_cast<unsigned char>((*name)[1])) || (*name)[2] != '-') {
            throw user_error(file.string() + ": " + where(node) +
                             ": a lesson needs name = \"NN-slug\" (its folder under lessons/)");
        }
        l.name = *name;
        for (const auto& [k, v] : *t) {
            if (std::find(known.begin(), known.end(), std::string(k.str())) == known.end()) {
                throw user_error(file.string() + ": " + where(v) + ": lesson '" + l.name +
                                 "': unknown key '" + std::string(k.str()) +
                                 "'; accepted: name, title, hints, time_limit, broken, fixed, "
                                 "asan, asan_note");
            }
        }
        l.title = (*t)["title"].value_or<std::string>("");
        if (l.title.empty()) {
            throw user_error(file.string() + ": " + where(node) + ": lesson '" + l.name +
                             "' needs a title");
        }
        l.hints = string_list(*t, "hints", file, l.name);
        if (l.hints.empty()) {
            throw user_error(file.string() + ": " + where(node) + ": lesson '" + l.name +
                             "' needs hints = [\"question\", ...] (two or three levels)");
        }
        double limit = (*t)["time_limit"].value_or(10.0);
        if (limit <= 0 || limit > 600) {
            throw user_error(file.string() + ": lesson '" + l.name +
                             "': time_limit must be a number of seconds from 0 to 600");
        }
        l.time_limit = std::chrono::milliseconds(static_cast<long>(limit * 1000));
        l.broken = read_expectation(*t, "broken", "findings", file, l.name);
        l.fixed = read_expectation(*t, "fixed", "forbidden", file, l.name);
        l.asan = (*t)["asan"].value_or(true);
        l.asan_note = (*t)["asan_note"].value_or<std::string>("");
        if (!fs::exists(source_dir / "lessons" / l.name / "broken.cpp")) {
            throw user_error(file.string() + ": lesson '" + l.name + "': lessons/" + l.name +
                             "/broken.cpp does not exist");
        }
        m.lessons.push_back(std::move(l));
    }
    return m;
}

std::vector<variant> variants_of(const manifest& m, const lesson& l) {
    std::vector<variant> out;
    fs::path dir = m.source_dir / "tests" / "lessons" / l.name;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        return out;
    }
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        std::string stem = e.path().stem().string();
        bool right = stem.rfind("right-", 0) == 0;
        if (e.path().extension() != ".cpp" || (!right && stem.rfind("wrong-", 0) != 0)) {
            continue;
        }
        variant v{stem, right, e.path(), ""};
        // The leading comment: which fix or which mistake this is.
        std::ifstream in(e.path());
        for (std::string line; std::getline(in, line) && line.rfind("//", 0) == 0;) {
            std::size_t at = line.find_first_not_of("/ ");
            if (at != std::string::npos) {
                v.why += (v.why.empty() ? "" : " ") + line.substr(at);
            }
        }
        out.push_back(std::move(v));
    }
    std::sort(out.begin(), out.end(),
              [](const variant& a, const variant& b) { return a.stem < b.stem; });
    return out;
}

fs::path variant_path(const lesson& l, const variant& v) {
    return build_dir() / "tests" / "lessons" / l.name / v.stem;
}

std::string variant_target(const lesson& l, const variant& v) {
    std::string stem = v.stem;
    std::replace(stem.begin(), stem.end(), '-', '_');
    return "lesson_" + l.number() + "_variant_" + stem;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
    // Rows i-2, i-1 and i of the table; two letters swapped are one edit, the usual typo.
    std::vector<std::size_t> before(b.size() + 1);
    std::vector<std::size_t> prev(b.size() + 1);
    std::vector<std::size_t> cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        prev[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                cur[j] = std::min(cur[j], before[j - 2] + 1);
            }
        }
        std::swap(before, prev);
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string manifest::numbers() const {
    // Runs of consecutive numbers as ranges: "01 to 23", "01 to 05, 07 and 09".
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < lessons.size();) {
        std::size_t j = i;
        while (j + 1 < lessons.size() &&
               std::stoi(lessons[j + 1].number()) == std::stoi(lessons[j].number()) + 1) {
            ++j;
        }
        parts.push_back(j == i ? lessons[i].number()
                               : lessons[i].number() + " to " + lessons[j].number());
        i = j + 1;
    }
    if (parts.empty()) {
        return "none";
    }
    std::string out = "numbered " + parts[0];
    for (std::size_t i = 1; i < parts.size(); ++i) {
        out += (i + 1 == parts.size() ? " and " : ", ") + parts[i];
    }
    return out;
}

const lesson& manifest::find(const std::string& name) const {
    if (name.empty()) {
        throw user_error("an empty lesson name; give one of the names `list` shows, e.g. " +
                         (lessons.empty() ? std::string("01") : lessons.front().name));
    }
    for (const auto& l : lessons) {
        if (l.name == name || l.slug() == name || l.number() == name ||
            (name.size() == 1 && l.number() == "0" + name)) {
            return l;
        }
    }
    // A number: an existing one ("007" is 07), or say which numbers there are. Never a
    // "did you mean" by spelling: 99 is not a typo of 06.
    if (name.find_first_not_of("0123456789") == std::string::npos) {
        if (name.size() <= 9) {
            for (const auto& l : lessons) {
                if (std::stoi(l.number()) == std::stoi(name)) {
                    return l;
                }
            }
        }
        throw user_error("unknown lesson '" + name + "': the lessons are " + numbers() + ". `" +
                         self_command() + " list` shows them");
    }
    const lesson* only = nullptr;
    int matches = 0;
    for (const auto& l : lessons) {
        if (l.name.rfind(name, 0) == 0 || l.slug().rfind(name, 0) == 0) {
            only = &l;
            ++matches;
        }
    }
    if (matches == 1) {
        return *only;
    }
    // Closest by edit distance to the folder name, the slug or the slug's start (a mistyped
    // prefix), suggested only when close for the name's length: one edit in three letters.
    const lesson* best = nullptr;
    std::size_t best_d = std::string::npos;
    for (const auto& l : lessons) {
        std::size_t d = std::min({edit_distance(name, l.name), edit_distance(name, l.slug()),
                                  edit_distance(name, l.slug().substr(0, name.size()))});
        if (d < best_d) {
            best_d = d;
            best = &l;
        }
    }
    std::string msg = "unknown lesson '" + name + "'";
    if (matches > 1) {
        msg += " (it starts more than one lesson name)";
    }
    if (best != nullptr && best_d <= name.size() / 3) {
        msg += "; did you mean '" + best->name + "'?";
    }
    msg += " `" + self_command() + " list` shows every lesson";
    throw user_error(msg);
}

}  // namespace lessons
