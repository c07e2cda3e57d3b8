// aio's gdb extension (tools/inspect/gdb/aio_gdb.py), embedded in every program linked with
// aio so that gdb loads it by itself: `aio tasks`, `aio tree`, `aio bt` (docs/inspect.md,
// section "gdb").
//
// gdb looks in each object file it loads for a section named .debug_gdb_scripts: a list of
// NUL-terminated entries, each starting with a byte for its kind. Kind 4 is an inlined Python
// script whose first line is the script's name (gdb loads a name once per program, so the
// copy in a program and the one in a shared library do not clash) and whose other lines are
// the script. The section is not loaded into memory when the program runs ("MS": mergeable
// strings of 1-byte characters, so identical entries are merged by the linker).
//
// gdb runs such a script only from a file inside its `auto-load safe-path`; the docs say what
// to type. `strip` and `strip --strip-debug` remove the section (it is named like debug
// information); `objcopy --only-keep-debug` keeps it in the separate debug file, from which gdb
// loads it too.

// The path of the script comes from runtime/CMakeLists.txt, which also rebuilds this file when
// the script changes.
#ifndef AIO_GDB_SCRIPT
#error "AIO_GDB_SCRIPT must name tools/inspect/gdb/aio_gdb.py (runtime/CMakeLists.txt)"
#endif

asm(".pushsection \".debug_gdb_scripts\", \"MS\", @progbits, 1\n"
    ".byte 4\n"
    ".ascii \"aio-gdb-extension\\n\"\n"
    ".incbin \"" AIO_GDB_SCRIPT "\"\n"
    ".byte 0\n"
    ".popsection\n");

extern "C" {
/// A symbol for the linker only: aio's targets link with --undefined=aio_gdb_autoload so that
/// this object, and with it the section above, is taken out of the static library into every
/// program, even though no code refers to it.
__attribute__((used)) extern const char aio_gdb_autoload = 0;
}
