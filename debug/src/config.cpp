#include <aio/debug/config.hpp>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <unistd.h>

namespace aio::debug {

const std::vector<std::string>& detector_ids() {
    static const std::vector<std::string> ids = {
        "blocking-call",
        "stall",
        "slow-callback",
        "never-awaited",
        "exception-never-retrieved",
        "pending-at-close",
        "leaked-resource",
        "leaked-job",
        "cancel-swallowed",
        "wrong-thread",
        "insecure-tls",
        "stack-high-water",
    };
    return ids;
}

bool config::wants(std::string_view id) const {
    if (!enabled) {
        return false;
    }
    if (!only.empty() && only.find(id) == only.end()) {
        return false;
    }
    return skip.find(id) == skip.end();
}

bool parse_duration(std::string_view text, duration& out) {
    std::size_t i = 0;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) != 0 || text[i] == '.')) {
        ++i;
    }
    if (i == 0) {
        return false;
    }
    std::string number(text.substr(0, i));
    char* end = nullptr;
    double v = std::strtod(number.c_str(), &end);
    if (end == nullptr || *end != '\0' || !std::isfinite(v) || v < 0) {
        return false;
    }
    std::string_view unit = text.substr(i);
    double ns = 0;
    if (unit == "us") {
        ns = v * 1e3;
    } else if (unit == "ms") {
        ns = v * 1e6;
    } else if (unit == "s") {
        ns = v * 1e9;
    } else {
        return false;
    }
    if (ns < 1 || ns > 1e15) {
        return false;
    }
    out = duration(static_cast<duration::rep>(ns));
    return true;
}

namespace {

std::string accepted_keys() {
    return "accepted: 1, 0, slow=<duration>, stall=<duration>, block=<duration>, report=<path>, "
           "trace=<path>, trace_size=<size>, html=<path>, strict, "
           "only=<ids>, skip=<ids>, color=auto|always|never, stacks=<1..64>, verbose";
}

bool parse_ids(std::string_view value, std::set<std::string, std::less<>>& out, std::string& bad) {
    const auto& known = detector_ids();
    std::size_t pos = 0;
    while (pos <= value.size()) {
        std::size_t plus = value.find('+', pos);
        std::string_view id =
            value.substr(pos, plus == std::string_view::npos ? value.npos : plus - pos);
        bool found = false;
        for (const auto& k : known) {
            found = found || k == id;
        }
        if (!found) {
            bad = std::string(id);
            return false;
        }
        out.emplace(id);
        if (plus == std::string_view::npos) {
            break;
        }
        pos = plus + 1;
    }
    return true;
}

// "4M", "512K", "1G", "100000": bytes, from 64 KiB to 4 GiB.
bool parse_size(std::string_view text, std::size_t& out) {
    std::size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0) {
        ++digits;
    }
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + digits, v);
    if (digits == 0 || ec != std::errc() || v > (std::uint64_t{1} << 33)) {
        return false;
    }
    std::string_view unit = text.substr(digits);
    std::uint64_t scale = unit.empty()                   ? 1
                          : unit == "K" || unit == "KiB" ? std::uint64_t{1} << 10
                          : unit == "M" || unit == "MiB" ? std::uint64_t{1} << 20
                          : unit == "G" || unit == "GiB" ? std::uint64_t{1} << 30
                                                         : 0;
    const std::uint64_t bytes = v * scale;
    if (scale == 0 || bytes < (std::uint64_t{64} << 10) || bytes > (std::uint64_t{4} << 30)) {
        return false;
    }
    out = static_cast<std::size_t>(bytes);
    return true;
}

std::string expand_pid(std::string path) {
    std::string pid = std::to_string(::getpid());
    for (std::size_t at = path.find("%p"); at != std::string::npos;
         at = path.find("%p", at + pid.size())) {
        path.replace(at, 2, pid);
    }
    return path;
}

}  // namespace

parse_result parse_config(std::string_view text) {
    parse_result r;
    if (text.empty() || text == "0") {
        return r;
    }
    config c;
    c.enabled = true;
    auto fail = [&](std::string message) {
        parse_result bad;
        bad.error =
            "aio debug: ASYNC_DEBUG=" + std::string(text) + ": " + message + "; debug mode is off";
        return bad;
    };
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t comma = text.find(',', pos);
        std::string_view item =
            text.substr(pos, comma == std::string_view::npos ? text.npos : comma - pos);
        pos = comma == std::string_view::npos ? text.size() + 1 : comma + 1;
        if (item.empty()) {
            continue;
        }
        std::size_t eq = item.find('=');
        std::string_view key = item.substr(0, eq);
        std::string_view value =
            eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
        const bool has_value = eq != std::string_view::npos;
        if (key == "1" && !has_value) {
            continue;
        }
        if (key == "strict" && !has_value) {
            c.strict = true;
        } else if (key == "slow" || key == "stall" || key == "block") {
            duration d{};
            if (!has_value || !parse_duration(value, d)) {
                return fail("bad value '" + std::string(value) + "' for '" + std::string(key) +
                            "': expected a duration such as 50ms, 1.5s or 200us");
            }
            (key == "slow" ? c.slow : key == "stall" ? c.stall : c.block) = d;
        } else if (key == "report") {
            if (!has_value || value.empty()) {
                return fail("'report' needs a path, e.g. report=aio-report-%p.json");
            }
            c.report_path = expand_pid(std::string(value));
        } else if (key == "trace" || key == "html") {
            if (!has_value || value.empty()) {
                return fail("'" + std::string(key) + "' needs a path, e.g. " + std::string(key) +
                            (key == "trace" ? "=aio-trace-%p.json" : "=aio-report-%p.html"));
            }
            (key == "trace" ? c.trace_path : c.html_path) = expand_pid(std::string(value));
        } else if (key == "trace_size") {
            if (!has_value || !parse_size(value, c.trace_size)) {
                return fail("bad value '" + std::string(value) +
                            "' for 'trace_size': expected a size from 64K to 4G, such as 512K, "
                            "16M or 1G (bytes without a suffix)");
            }
        } else if (key == "only" || key == "skip") {
            std::string bad;
            if (!has_value || !parse_ids(value, key == "only" ? c.only : c.skip, bad)) {
                std::string ids;
                for (const auto& k : detector_ids()) {
                    ids += (ids.empty() ? "" : ", ") + k;
                }
                return fail("unknown detector '" + bad + "' in '" + std::string(key) +
                            "'; detectors are: " + ids + " (join several with '+')");
            }
        } else if (key == "verbose") {
            if (has_value && value != "1" && value != "0") {
                return fail("bad value '" + std::string(value) +
                            "' for 'verbose': expected 1 or 0, or no value");
            }
            c.verbose = !has_value || value == "1";
        } else if (key == "color") {
            if (value == "auto") {
                c.color = color_mode::automatic;
            } else if (value == "always") {
                c.color = color_mode::always;
            } else if (value == "never") {
                c.color = color_mode::never;
            } else {
                return fail("bad value '" + std::string(value) +
                            "' for 'color': expected auto, always or never");
            }
        } else if (key == "stacks") {
            std::size_t depth = 0;
            auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), depth);
            if (!has_value || ec != std::errc() || p != value.data() + value.size() || depth < 1 ||
                depth > 64) {
                return fail("bad value '" + std::string(value) +
                            "' for 'stacks': expected a number from 1 to 64");
            }
            c.stack_depth = depth;
        } else {
            return fail("unknown option '" + std::string(item) + "'; " + accepted_keys());
        }
    }
    r.settings = std::move(c);
    return r;
}

}  // namespace aio::debug
