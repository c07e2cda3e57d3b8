#include <aio/errors.hpp>

#include <cmath>
#include <cstdio>
#include <memory>
#include <typeinfo>

#include <cxxabi.h>

namespace aio {

namespace {

std::string demangle(const char* name) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                             std::free);
    return status == 0 && d ? std::string(d.get()) : std::string(name);
}

std::string group_message(const std::string& message, const std::vector<std::exception_ptr>& es) {
    std::string s = message + " (" + std::to_string(es.size()) + " sub-exception" +
                    (es.size() == 1 ? "" : "s") + ")";
    std::size_t i = 0;
    for (const auto& e : es) {
        s += "\n  [" + std::to_string(++i) + "] " + describe_exception(e);
    }
    return s;
}

}  // namespace

exception_group::exception_group(std::string message, std::vector<std::exception_ptr> exceptions)
    : exceptions_(std::move(exceptions))
    , what_(group_message(message, exceptions_)) {
}

std::string describe_exception(const std::exception_ptr& e) noexcept {
    if (!e) {
        return "no exception";
    }
    try {
        try {
            std::rethrow_exception(e);
        } catch (const cancelled_error& c) {
            std::string m = c.message();
            return m.empty() ? "aio::cancelled_error" : "aio::cancelled_error: " + m;
        } catch (const std::exception& x) {
            return demangle(typeid(x).name()) + ": " + x.what();
        } catch (...) {
            const std::type_info* ti = abi::__cxa_current_exception_type();
            return ti != nullptr ? demangle(ti->name()) + " (not a std::exception)"
                                 : std::string("unknown exception");
        }
    } catch (...) {
        return "unknown exception";
    }
}

std::string format_duration(std::chrono::nanoseconds d) noexcept {
    try {
        char buf[64];
        const char* sign = d.count() < 0 ? "-" : "";
        double a = std::fabs(static_cast<double>(d.count()));
        if (a < 1e3) {
            std::snprintf(buf, sizeof buf, "%s%.0f ns", sign, a);
        } else if (a >= 100e9) {
            std::snprintf(buf, sizeof buf, "%s%.0f s", sign, a / 1e9);
        } else {
            // Three significant digits, rounded before the unit is chosen: a timeout entered a
            // few nanoseconds after its deadline was computed waited 999.9999 ms, which reads
            // "1 s" (printing first would give "1e+03 ms").
            double step = std::pow(10.0, std::floor(std::log10(a)) - 2);
            double r = std::round(a / step) * step;
            double scale = r >= 1e9 ? 1e9 : r >= 1e6 ? 1e6 : 1e3;
            const char* unit = r >= 1e9 ? "s" : r >= 1e6 ? "ms" : "us";
            std::snprintf(buf, sizeof buf, "%s%.3g %s", sign, r / scale, unit);
        }
        return buf;
    } catch (...) {
        return "?";
    }
}

}  // namespace aio
