#!/usr/bin/env bash
# Installs aio from a build tree into a temporary prefix, checks that bin/aio-report runs,
# builds the application in this folder against it with find_package(aio), and runs it.
# Usage: check.sh BUILD_DIR
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
# The report viewer comes with it.
"$work/prefix/bin/aio-report" --help >/dev/null || { echo "bin/aio-report is missing or fails" >&2; exit 1; }
cmake -S "$here" -B "$work/app" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/app" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
out=$("$work/app/app")
[ "$out" = "42" ] || { echo "expected 42, got '$out'" >&2; exit 1; }
echo "find_package(aio) consumer built and ran: $out"
