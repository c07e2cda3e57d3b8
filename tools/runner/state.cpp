// The workspace: the participant's copies of broken.cpp and .lessons-state.toml, which keeps
// the current lesson and, per lesson, whether it passes, the hint levels shown, the runs, when
// the first run was and when it passed, and the time spent watching it. A state file written
// before some of these keys existed reads them as 0.
#include "runner.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

namespace lessons {

namespace {
constexpr const char* state_file = ".lessons-state.toml";
}

workspace::workspace(fs::path root)
    : root_(std::move(root)) {
    fs::path file = root_ / state_file;
    if (!fs::exists(file)) {
        return;
    }
    toml::table doc;
    try {
        doc = toml::parse_file(file.string());
    } catch (const toml::parse_error& e) {
        std::ostringstream msg;
        msg << file.string() << ": line " << e.source().begin.line << ": " << e.description()
            << " (the runner's progress file; delete it to start over)";
        throw user_error(msg.str());
    }
    current_ = doc["current"].value_or<std::string>("");
    if (const toml::table* ls = doc["lessons"].as_table()) {
        for (const auto& [name, v] : *ls) {
            if (const toml::table* t = v.as_table()) {
                lesson_progress p;
                p.done = (*t)["done"].value_or(false);
                p.hints = static_cast<int>((*t)["hints"].value_or(0));
                p.attempts = static_cast<int>((*t)["attempts"].value_or(0));
                p.first_run = (*t)["first_run"].value_or(std::int64_t{0});
                p.passed_at = (*t)["passed_at"].value_or(std::int64_t{0});
                p.watched = (*t)["watched"].value_or(std::int64_t{0});
                progress_[std::string(name.str())] = p;
            }
        }
    }
}

void workspace::create_root() const {
    if (!fs::exists(root_)) {
        fs::create_directories(root_);
        // The workspace is the participant's, not the repository's.
        std::ofstream(root_ / ".gitignore") << "*\n";
    }
}

bool workspace::ensure_copy(const manifest& m, const lesson& l) {
    fs::path copy = copy_of(l);
    if (fs::exists(copy)) {
        return false;
    }
    create_root();
    fs::copy_file(m.dir(l) / "broken.cpp", copy);
    return true;
}

namespace {

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

fs::path workspace::reset(const manifest& m, const lesson& l) {
    create_root();
    fs::path copy = copy_of(l);
    fs::path broken = m.dir(l) / "broken.cpp";
    fs::path kept;
    if (fs::exists(copy) && read_all(copy) != read_all(broken)) {
        // Every reset keeps its own numbered backup, one above the highest there is: a second
        // reset must not replace the work the first one kept.
        fs::path dir = root_ / "backups";
        fs::create_directories(dir);
        std::string prefix = l.name + ".";
        long highest = 0;
        for (const auto& e : fs::directory_iterator(dir)) {
            std::string f = e.path().filename().string();
            if (f.size() > prefix.size() + 4 && f.rfind(prefix, 0) == 0 &&
                f.compare(f.size() - 4, 4, ".cpp") == 0) {
                std::string n = f.substr(prefix.size(), f.size() - prefix.size() - 4);
                if (n.find_first_not_of("0123456789") == std::string::npos && n.size() < 9) {
                    highest = std::max(highest, std::stol(n));
                }
            }
        }
        kept = dir / (prefix + std::to_string(highest + 1) + ".cpp");
        fs::copy_file(copy, kept);  // throws rather than overwrite
    }
    fs::copy_file(broken, copy, fs::copy_options::overwrite_existing);
    progress_.erase(l.name);
    return kept;
}

bool workspace::done(const std::string& name) const {
    auto it = progress_.find(name);
    return it != progress_.end() && it->second.done;
}

void workspace::set_done(const std::string& name, bool done) {
    lesson_progress& p = progress_[name];
    if (done && !p.done && p.passed_at == 0) {
        p.passed_at = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    }
    p.done = done;
}

lesson_progress workspace::progress_of(const std::string& name) const {
    auto it = progress_.find(name);
    return it == progress_.end() ? lesson_progress{} : it->second;
}

void workspace::record_run(const std::string& name, std::int64_t now) {
    lesson_progress& p = progress_[name];
    ++p.attempts;
    if (p.first_run == 0) {
        p.first_run = now;
    }
}

void workspace::add_watched(const std::string& name, std::int64_t seconds) {
    if (seconds > 0) {
        progress_[name].watched += seconds;
    }
}

int workspace::hints_shown(const std::string& name) const {
    auto it = progress_.find(name);
    return it == progress_.end() ? 0 : it->second.hints;
}

void workspace::set_hints_shown(const std::string& name, int n) {
    progress_[name].hints = n;
}

void workspace::save() const {
    create_root();
    toml::table ls;
    for (const auto& [name, p] : progress_) {
        ls.insert(name, toml::table{{"done", p.done},
                                    {"hints", p.hints},
                                    {"attempts", p.attempts},
                                    {"first_run", p.first_run},
                                    {"passed_at", p.passed_at},
                                    {"watched", p.watched}});
    }
    toml::table doc{{"current", current_}, {"lessons", ls}};
    fs::path file = root_ / state_file;
    fs::path tmp = root_ / (std::string(state_file) + ".tmp");
    {
        std::ofstream out(tmp);
        out << "# Progress of tools/lessons (delete this file to start over).\n" << doc << "\n";
        if (!out) {
            throw user_error("cannot write " + tmp.string());
        }
    }
    fs::rename(tmp, file);
}

}  // namespace lessons
