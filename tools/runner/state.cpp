// The workspace: the participant's copies of broken.cpp and .lessons-state.toml, which keeps
// which lessons pass, how many hint levels were shown and the current lesson.
#include "runner.hpp"

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
                progress p;
                p.done = (*t)["done"].value_or(false);
                p.hints = static_cast<int>((*t)["hints"].value_or(0));
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

void workspace::reset(const manifest& m, const lesson& l) {
    create_root();
    fs::path copy = copy_of(l);
    if (fs::exists(copy)) {
        fs::copy_file(copy, fs::path(copy.string() + ".orig"),
                      fs::copy_options::overwrite_existing);
    }
    fs::copy_file(m.dir(l) / "broken.cpp", copy, fs::copy_options::overwrite_existing);
    progress_.erase(l.name);
}

bool workspace::done(const std::string& name) const {
    auto it = progress_.find(name);
    return it != progress_.end() && it->second.done;
}

void workspace::set_done(const std::string& name, bool done) {
    progress_[name].done = done;
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
        ls.insert(name, toml::table{{"done", p.done}, {"hints", p.hints}});
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
