#!/usr/bin/env bash
# Debug mode names the user's line first in an app built against an installed package: installs
# aio from a build tree into a temporary prefix, moves the prefix elsewhere and reaches it
# through a symlink (a relocated, symlinked install), builds debug_lines/pitfalls.cpp against
# it with find_package(aio), runs it under ASYNC_DEBUG and checks every finding against the
# `// expect: <id>` marks in the source. Usage: debug_lines.sh BUILD_DIR
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
mv "$work/prefix" "$work/moved"
ln -s "$work/moved" "$work/link"
# Optimised with _FORTIFY_SOURCE (inlined aio code, glibc's checking wrappers), then unoptimised.
for config in RelWithDebInfo Debug; do
    cmake -S "$here/debug_lines" -B "$work/$config" -G Ninja -DCMAKE_BUILD_TYPE=$config \
        -DCMAKE_CXX_FLAGS="-D_FORTIFY_SOURCE=2" -DCMAKE_PREFIX_PATH="$work/link" >/dev/null
    cmake --build "$work/$config" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
    out="$build/debug_lines/$config"  # kept for reading after a failure
    mkdir -p "$out"
    ASYNC_DEBUG="report=$out/report.json,color=never" "$work/$config/pitfalls" \
        2>"$out/stderr" || true
    # Without debug mode the loop's own message names the user's line as well.
    "$work/$config/pitfalls" 2>"$out/plain.stderr" || true
    grep -A1 "^aio: Task exception was never retrieved" "$out/plain.stderr" |
        grep -q "created at .*/pitfalls.cpp:[0-9]*$" ||
        { echo "without debug mode: no user line in" >&2; cat "$out/plain.stderr" >&2; exit 1; }
    echo -n "$config: "
    python3 "$here/debug_lines/check.py" "$here/debug_lines/pitfalls.cpp" "$out/report.json" \
        "$out/stderr"
done
