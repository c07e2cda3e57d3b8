// What the fuzz harnesses of tests/fuzz share: how an input goes on the wire, how a finding
// ends the run, and the AIO_FUZZ_SHOW switch.
#pragma once

#include <aio/sleep.hpp>
#include <aio/stream.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace aio::fuzz {

/// Reports a finding on stderr and aborts: libFuzzer keeps the input as crash-<sha1>, and
/// the replay of the corpus (replay_main.cpp) fails.
[[noreturn]] inline void finding(const char* harness, const std::string& what) {
    std::fprintf(stderr, "%s: %s\n", harness, what.c_str());
    std::fflush(stderr);
    std::abort();
}

/// AIO_FUZZ_SHOW=1 in the environment: the harness prints what each input did.
inline bool show() {
    static const bool on = std::getenv("AIO_FUZZ_SHOW") != nullptr;
    return on;
}

/// Writes `input` on `s` as the peer sends it. An input of even length goes in one write;
/// one of odd length line by line (each write ends after a '\n'; the 64th takes the rest),
/// with a yield to the loop after each, so that the other side reads and parses it over
/// many reads. The bytes are the same either way: only where the reads split them changes,
/// and the fuzzer reaches both ways by changing the length. Throws what stream::write
/// throws.
inline void write_input(aio::stream& s, std::string_view input) {
    if (input.size() % 2 == 0) {
        s.write(input);
        return;
    }
    for (int piece = 1; !input.empty(); ++piece) {
        std::size_t eol = piece < 64 ? input.find('\n') : std::string_view::npos;
        std::size_t n = eol == std::string_view::npos ? input.size() : eol + 1;
        s.write(input.substr(0, n));
        input.remove_prefix(n);
        aio::sleep(std::chrono::seconds(0));
    }
}

}  // namespace aio::fuzz
