// Stacks in debug mode: captured as raw return addresses (cheap, safe on a fiber stack),
// symbolized later on the loop's own stack with backward-cpp and libdw, with a cache.
// Frames of aio itself and of the standard library are collapsed so that the first frame
// shown is the user's.
#pragma once

#include <aio/debug/report.hpp>

#include <cstddef>
#include <memory>
#include <vector>

namespace aio::debug {

/// Raw return addresses, innermost first.
using raw_stack = std::vector<void*>;

/// Captures the calling thread's stack (at most `max` frames). Safe on a fiber stack.
raw_stack capture_stack(std::size_t max = 48);

/// Resolves raw addresses to frames, drops aio's and the standard library's frames before
/// the first user frame, and keeps at most `depth` frames. Call on the loop's own stack or a
/// normal thread (libdw needs room). Never throws.
std::vector<frame> symbolize(const raw_stack& stack, std::size_t depth);

/// Loads the symbolizer's view of the program (libdw reading debug info can take a few
/// hundred milliseconds), so the first report is quick. Any thread; idempotent.
void warm_up_symbolizer() noexcept;

/// "file:line (function)" of the first frame, or "an unknown place".
std::string where(const std::vector<frame>& frames);

}  // namespace aio::debug
