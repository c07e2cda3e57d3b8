// retry(): the options check and the backoff arithmetic. The delay is computed in double
// seconds (backoff × multiplier^n overflows an integer duration after a few dozen attempts)
// and capped before it becomes a duration again.
#include <aio/retry.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

namespace aio {

bool retry_by_default(const std::exception& e) noexcept {
    return dynamic_cast<const std::logic_error*>(&e) == nullptr;
}

namespace detail {

namespace {

double default_random() {
    // One generator per thread (each loop has its own thread), seeded once.
    thread_local std::mt19937_64 gen{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
}

}  // namespace

void check_retry_options(const retry_options& o) {
    if (o.attempts < 1) {
        throw value_error("aio::retry: attempts must be at least 1 (the first call counts), got " +
                          std::to_string(o.attempts));
    }
    if (o.backoff < duration::zero()) {
        throw value_error("aio::retry: backoff must not be negative (0 retries at once)");
    }
    if (o.max_backoff < duration::zero()) {
        throw value_error("aio::retry: max_backoff must not be negative");
    }
    if (!(o.multiplier >= 1.0) || !std::isfinite(o.multiplier)) {
        throw value_error("aio::retry: multiplier must be a finite number >= 1 (1: a constant "
                          "backoff), got " +
                          std::to_string(o.multiplier));
    }
    if (o.max_elapsed < duration::zero()) {
        throw value_error("aio::retry: max_elapsed must not be negative (aio::no_timeout: no "
                          "limit)");
    }
}

duration retry_delay(const retry_options& o, int attempt) {
    using seconds_d = std::chrono::duration<double>;
    const double cap = seconds_d(o.max_backoff).count();
    double base = seconds_d(o.backoff).count() * std::pow(o.multiplier, attempt - 1);
    if (!(base <= cap)) {  // also catches inf
        base = cap;
    }
    double r = 0.0;
    if (o.jitter != jitter_mode::none) {
        r = o.random ? o.random() : default_random();
        if (!(r >= 0.0)) {  // a random source out of range is clamped, never trusted
            r = 0.0;
        } else if (r > 1.0) {
            r = 1.0;
        }
    }
    double d = base;
    switch (o.jitter) {
    case jitter_mode::none:
        break;
    case jitter_mode::full:
        d = base * r;
        break;
    case jitter_mode::equal:
        d = base / 2 + base / 2 * r;
        break;
    }
    return std::chrono::duration_cast<duration>(seconds_d(d));
}

}  // namespace detail

}  // namespace aio
