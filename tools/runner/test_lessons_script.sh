#!/usr/bin/env bash
# Test of tools/lessons, the workshop's entry script: it says "building the runner and the
# lessons" only when something is out of date. The script runs in a stand-in repository (a
# small CMake project with the same preset and targets, built by Ninja in a moment), so the
# real build tree is never touched.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/aio-lessons-script.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL (tools/lessons): $*" >&2; exit 1; }

mkdir -p "$tmp/tools" "$tmp/src"
cp "$src/tools/lessons" "$tmp/tools/lessons"
printf '#!/bin/sh\nexit 0\n' > "$tmp/tools/setup"  # the packages are not what is tested
chmod +x "$tmp/tools/setup"
printf '#!/bin/sh\necho "runner: $*"\n' > "$tmp/runner.sh"
chmod +x "$tmp/runner.sh"
echo "lesson 1" > "$tmp/src/lesson1.txt"
cat > "$tmp/CMakePresets.json" <<'EOF'
{
  "version": 6,
  "configurePresets": [
    { "name": "default", "generator": "Ninja", "binaryDir": "${sourceDir}/build/${presetName}" }
  ],
  "buildPresets": [ { "name": "default", "configurePreset": "default" } ]
}
EOF
# As in the real tree, a CONFIGURE_DEPENDS glob: Ninja re-checks it on every build.
cat > "$tmp/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.25)
project(stand_in NONE)
file(GLOB lesson_sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/*.txt)
set(runner ${CMAKE_BINARY_DIR}/tools/runner/lessons)
add_custom_command(OUTPUT ${runner} DEPENDS ${CMAKE_SOURCE_DIR}/runner.sh
                   COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_SOURCE_DIR}/runner.sh ${runner})
add_custom_target(aio_lessons_runner DEPENDS ${runner})
add_custom_command(OUTPUT lessons.out DEPENDS ${lesson_sources}
                   COMMAND ${CMAKE_COMMAND} -E cat ${lesson_sources} > lessons.out)
add_custom_target(lessons DEPENDS lessons.out)
EOF

# run WANT: runs `tools/lessons hint 01`; WANT is "builds" or "quiet".
run() {
    local out err
    out=$("$tmp/tools/lessons" hint 01 2>"$tmp/err") || fail "exited $?: $(cat "$tmp/err")"
    err=$(cat "$tmp/err")
    [ "$out" = "runner: hint 01" ] || fail "the runner did not run with the arguments: $out"
    if [ "$1" = builds ]; then
        [[ $err == *"building the runner and the lessons"* ]] || fail "$2: no 'building' line: $err"
    else
        [[ $err != *"building"* ]] || fail "$2: says it builds when nothing is out of date: $err"
    fi
}

run builds "first call"
run quiet "second call"
echo "lesson 1, edited" > "$tmp/src/lesson1.txt"
run builds "after a lesson changed"
run quiet "after that build"
echo "lesson 2" > "$tmp/src/lesson2.txt"  # a new file of the glob
run builds "after a lesson was added"
grep -q "lesson 2" "$tmp/build/default/lessons.out" || fail "the new lesson was not built"
run quiet "after that build"
echo "ok (tools/lessons)"
