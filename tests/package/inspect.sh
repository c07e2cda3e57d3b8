#!/usr/bin/env bash
# aio ps / pstree / where and the gdb extension on an app built against an installed package:
# installs aio from a build tree into a temporary prefix, builds tests/inspect/parked.cpp
# against it with find_package(aio) (optimised, as an app ships), then runs the same checks as
# the in-tree tests with the installed <prefix>/bin/aio and with gdb auto-loading the extension
# from the app. The user's lines must come first, not the installed headers'.
# Usage: inspect.sh BUILD_DIR
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
inspect=$(cd "$here/../inspect" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -x "$work/prefix/bin/aio" || { echo "the package installs no bin/aio" >&2; exit 1; }
test -f "$work/prefix/share/aio/gdb/aio_gdb.py" ||
    { echo "the package installs no gdb extension" >&2; exit 1; }
cmake -S "$here/inspect_app" -B "$work/app" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPARKED_SOURCE="$inspect/parked.cpp" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/app" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
echo -n "aio ps, pstree, where: "
python3 "$inspect/test_ps.py" live "$work/prefix/bin/aio" "$work/app/parked" "$inspect/parked.cpp"
echo -n "gdb: "
python3 "$inspect/test_gdb.py" live "$work/app/parked" "$inspect/parked.cpp" | tail -1
