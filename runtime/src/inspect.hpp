// The inspection root: what `aio ps`, `aio pstree`, `aio where` and the gdb extension read
// from a running program or a core file, without the program's help. See docs/inspect.md.
//
// A reader finds `aio_inspect_root` by its symbol or, in a stripped program, by its section
// `aio_inspect`, checks the magic and the version, reads the table of named fields once, then
// walks the loops (`loop.next`) and each loop's live tasks (`task.all_next`). Every layout
// fact a reader needs is a named entry of that table (an offset, an enum value, a function's
// address): readers look names up, so adding a field never breaks one. The version changes
// only when a name keeps its spelling but changes its meaning.
//
// The cost to the program is the bookkeeping it does anyway (every live task is already in
// its loop's list) plus, per loop, a link in this list when it starts and ends, and per park
// a copy of the loop's last reading of the clock (task.parked_at: "waiting for how long"; the
// loop reads the coarse clock after a poll that blocked and every 64th iteration).
#pragma once

#include <cstdint>
#include <ctime>

extern "C" {

/// One named fact of the layout: an offset in bytes, an enum value or an address.
struct aio_inspect_field {
    const char* name;
    std::int64_t value;
};

/// The root. Version 1.
struct aio_inspect_root_v1 {
    char magic[8];              ///< "aio-insp", not NUL-terminated
    std::uint32_t version;      ///< 1
    std::uint32_t field_count;  ///< entries in `fields`
    const aio_inspect_field* fields;
    void* volatile loops;  ///< the first running loop (a loop_core); `loop.next` links on
    volatile std::uint64_t generation;  ///< odd while a loop is being linked or unlinked
    volatile std::uint64_t loop_count;  ///< loops in the list
};

/// The program's root; one per process (also in programs that link aio twice: the linker
/// keeps one).
extern aio_inspect_root_v1 aio_inspect_root;
}

namespace aio::detail {

class loop_core;

/// Links a loop into the root's list (any thread; the list has its own lock).
void inspect_link(loop_core* l) noexcept;
/// Unlinks it. Must be called before the loop's memory is freed.
void inspect_unlink(loop_core* l) noexcept;

/// CLOCK_MONOTONIC_COARSE in nanoseconds: the vDSO's cheapest clock (a few ns, resolution a
/// scheduler tick), for task.parked_at (see loop_core::batch_time_).
inline std::int64_t coarse_now_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace aio::detail
