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

/// Where a resolved frame's code comes from.
enum class frame_origin {
    user,     ///< the program's own code: the frames a finding names
    aio,      ///< aio's headers and sources (wherever installed), aio::, Boost.Context
    library,  ///< the C and C++ libraries: system headers, glibc, libstdc++, the vDSO
};

/// Classifies `f` by what it is: its file against aio's own files (matched by their path
/// relative to the project or to an include directory, so any install location works), its
/// function's namespace, and the object its address lies in. Never throws.
frame_origin origin_of(const frame& f);

/// Resolves raw addresses to frames and keeps at most `depth` user frames: aio's and the
/// libraries' frames are dropped. When `inside` is given, it receives the library frames
/// (at most 4, innermost first) that the first user frame was calling into when the stack was
/// captured, e.g. pthread_mutex_lock under std::mutex::lock. Call on the loop's own stack or a
/// normal thread (libdw needs room). Never throws.
std::vector<frame> symbolize(const raw_stack& stack, std::size_t depth,
                             std::vector<frame>* inside = nullptr);

/// Loads the symbolizer's view of the program (libdw reading debug info can take a few
/// hundred milliseconds), so the first report is quick. Any thread; idempotent.
void warm_up_symbolizer() noexcept;

/// "file:line (function)" of the first frame, or "an unknown place".
std::string where(const std::vector<frame>& frames);

/// The working directory as a prefix for `relative_paths` ("/home/dev/shop/", with the final
/// slash), or "" when it is unknown or is `/` (every path would be under it). Never throws.
std::string working_directory_prefix();

/// `text` with every absolute path that starts with `prefix` (from working_directory_prefix)
/// made relative to it, for the terminal: "/home/dev/shop/src/a.cpp:3" becomes
/// "src/a.cpp:3". A path counts only where it starts a word (at the start of `text` or after a
/// character that cannot be part of a path, such as a space or `(`), so a longer path that
/// merely contains `prefix` is left alone. `prefix` "" leaves `text` as it is.
std::string relative_paths(std::string text, const std::string& prefix);

}  // namespace aio::debug
