#!/usr/bin/env bash
# Tests of tools/lessons, the workshop's entry script, each in a stand-in repository so that
# the real build tree is never touched. test_lessons_script.sh CASE:
#   builds                  it says "building the runner and the lessons" only when something
#                           is out of date (a small CMake project with the same preset and
#                           targets, built by Ninja in a moment)
#   doctor-ready            `tools/lessons doctor` on this machine (set up by tools/setup):
#                           every check ok, status 0, and nothing configured or built
#   doctor-missing-package  a lesson package reported missing by dpkg-query: status 1, and
#                           the line that fixes it names the package and tools/setup --lessons
#   doctor-missing-tool     no cmake on the PATH: status 1, and the fix installs cmake
#   doctor-old-compiler     c++ is g++ 10: status 1, and the fix installs g++-12
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
case_name=${1:-builds}
tmp=$(mktemp -d /tmp/aio-lessons-script.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "FAIL (tools/lessons $case_name): $*" >&2
    exit 1
}

# doctor [PATH]: runs `tools/lessons doctor` in a stand-in with the real scripts and presets
# but no CMakeLists.txt (so that any attempt to configure or build would fail); sets $out,
# $err and $status.
doctor() {
    mkdir -p "$tmp/repo/tools"
    cp "$src/tools/lessons" "$src/tools/lessons-doctor" "$src/tools/setup" "$tmp/repo/tools/"
    cp "$src/CMakePresets.json" "$tmp/repo/"
    out=$(cd "$tmp" && env -u CXX PATH="${1:-$PATH}" "$tmp/repo/tools/lessons" doctor 2>"$tmp/err")
    status=$?
    err=$(cat "$tmp/err")
    [ ! -e "$tmp/repo/build" ] || fail "doctor configured or built something: $(ls "$tmp/repo/build")"
}
# expect_problem WHAT FIX...: the doctor failed on WHAT, and its fix line has every FIX.
expect_problem() {
    local what=$1 line fix want
    shift
    [ "$status" -eq 1 ] || fail "status $status, not 1: $out $err"
    line=$(grep -A1 "^FAIL  $what " <<<"$out") || fail "no FAIL line for $what: $out"
    fix=$(sed -n 2p <<<"$line")
    [[ $fix == *"fix: "* ]] || fail "no fix line after the $what problem: $out"
    for want in "$@"; do
        [[ $fix == *"$want"* ]] || fail "the fix for $what does not say '$want': $fix"
    done
    [[ $err == *"problem"* ]] || fail "no summary of the problems on stderr: $err"
}
# fake NAME < SCRIPT: a command in $tmp/fake, put before the real ones on the PATH.
fake() {
    mkdir -p "$tmp/fake"
    cat >"$tmp/fake/$1"
    chmod +x "$tmp/fake/$1"
}

case $case_name in
doctor-ready)
    doctor
    [ "$status" -eq 0 ] || fail "status $status on a machine set up by tools/setup: $out $err"
    for what in system packages compiler cmake ninja kernel disk; do
        grep -q "^ok    $what " <<<"$out" || fail "no ok line for $what: $out"
    done
    if grep -q '^FAIL' <<<"$out"; then
        fail "a FAIL line with status 0: $out"
    fi
    echo "ok (tools/lessons doctor: ready)"
    exit 0
    ;;
doctor-missing-package)
    real=$(command -v dpkg-query) || fail "no dpkg-query on this machine"
    # Says libdw-dev is not installed; asks the real one about the rest.
    {
        echo '#!/bin/sh'
        echo 'for a; do last=$a; done'
        echo '[ "$last" = libdw-dev ] && exit 1'
        echo "exec $real \"\$@\""
    } | fake dpkg-query
    doctor "$tmp/fake:$PATH"
    expect_problem packages "tools/setup --lessons" "libdw-dev"
    grep -q "^FAIL  packages .*libdw-dev" <<<"$out" || fail "the problem does not name libdw-dev: $out"
    echo "ok (tools/lessons doctor: a missing package)"
    exit 0
    ;;
doctor-missing-tool)
    # Every command of the PATH but cmake (ln refuses a name already linked: the first
    # directory of the PATH wins, as it does for the shell).
    mkdir -p "$tmp/bin"
    IFS=: read -ra dirs <<<"$PATH"
    for d in "${dirs[@]}"; do
        ln -s "$d"/* "$tmp/bin/" 2>/dev/null
    done
    rm -f "$tmp/bin/cmake"
    doctor "$tmp/bin"
    expect_problem cmake "apt-get install cmake"
    echo "ok (tools/lessons doctor: a missing tool)"
    exit 0
    ;;
doctor-old-compiler)
    {
        echo '#!/bin/sh'
        echo 'case "$1" in'
        echo '--version) echo "c++ (Debian 10.2.1-6) 10.2.1 20210110" ;;'
        echo '-dumpfullversion | -dumpversion) echo 10.2.1 ;;'
        echo '*) exit 1 ;;'
        echo 'esac'
    } | fake c++
    doctor "$tmp/fake:$PATH"
    expect_problem compiler "apt-get install g++-12" "CXX=g++-12"
    grep -q "^FAIL  compiler .*10.2.1" <<<"$out" || fail "the problem does not name the version: $out"
    echo "ok (tools/lessons doctor: an old compiler)"
    exit 0
    ;;
builds) ;;
*) fail "unknown case (builds, doctor-ready, doctor-missing-package, doctor-missing-tool, doctor-old-compiler)" ;;
esac

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
    { "name": "lessons", "generator": "Ninja", "binaryDir": "${sourceDir}/build/${presetName}" }
  ],
  "buildPresets": [ { "name": "lessons", "configurePreset": "lessons" } ]
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
add_custom_target(aio-report)
add_custom_target(aio_inspect)
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
grep -q "lesson 2" "$tmp/build/lessons/lessons.out" || fail "the new lesson was not built"
run quiet "after that build"
echo "ok (tools/lessons)"
