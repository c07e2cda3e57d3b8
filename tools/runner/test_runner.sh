#!/usr/bin/env bash
# Tests of the lesson runner's commands: test_runner.sh CASE RUNNER. Each case runs the runner
# in a fresh temporary workspace and fails (non-zero, with the reason) when the output or the
# workspace is not what the command promises.
set -uo pipefail
case_name=$1
runner=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
ws=$(mktemp -d /tmp/aio-lessons-test.XXXXXX)
trap 'rm -rf "$ws"' EXIT
export AIO_LESSONS_WORKSPACE=$ws

fail() { echo "FAIL ($case_name): $*" >&2; exit 1; }
# expect_in TEXT NEEDLE: TEXT must contain NEEDLE.
expect_in() { [[ "$1" == *"$2"* ]] || fail "expected '$2' in:"$'\n'"$1"; }

first=$(sed -n 's/^name = "\(.*\)"/\1/p' "$src/lessons/lessons.toml" | head -1)
total=$(grep -c '^\[\[lesson\]\]' "$src/lessons/lessons.toml")
[ -n "$first" ] || fail "no lesson in lessons.toml"

case $case_name in
list)
    out=$("$runner" list) || fail "list exited $?"
    expect_in "$out" "0 of $total done (0%)"
    expect_in "$out" "[>] $first"
    [ "$(grep -c '^  \[' <<<"$out")" -eq "$total" ] || fail "list shows a line per lesson"
    # Progress comes from the state file.
    printf 'current = ""\n[lessons."%s"]\ndone = true\nhints = 0\n' "$first" > "$ws/.lessons-state.toml"
    out=$("$runner" list) || fail "list exited $?"
    expect_in "$out" "1 of $total done"
    expect_in "$out" "[x] $first"
    ;;
hint-levels)
    n=$(awk -v want="$first" '$0 ~ /^name = / { cur = ($3 == "\"" want "\"") } cur && /^hints = \[/ { inh = 1 } inh && /^ *"/ { c++ } inh && /\]/ && c { print c; exit }' "$src/lessons/lessons.toml")
    [ "${n:-0}" -ge 2 ] || fail "lesson $first has ${n:-0} hint levels; lessons need 2 or 3"
    for i in $(seq 1 "$n"); do
        out=$("$runner" hint "$first") || fail "hint exited $?"
        expect_in "$out" "hint $i/$n for $first:"
    done
    out=$("$runner" hint "$first") || fail "hint exited $?"
    expect_in "$out" "that was the last hint"
    grep -q "hints = $n" "$ws/.lessons-state.toml" || fail "state file does not record $n hints"
    ;;
reset)
    out=$("$runner" reset "$first") || fail "reset exited $?"
    cmp -s "$ws/$first.cpp" "$src/lessons/$first/broken.cpp" || fail "reset did not copy broken.cpp"
    echo "// my edit" >> "$ws/$first.cpp"
    printf 'current = ""\n[lessons."%s"]\ndone = true\nhints = 2\n' "$first" > "$ws/.lessons-state.toml"
    out=$("$runner" reset "$first") || fail "reset exited $?"
    expect_in "$out" "your version is kept in "
    cmp -s "$ws/$first.cpp" "$src/lessons/$first/broken.cpp" || fail "reset did not restore broken.cpp"
    grep -q "my edit" "$ws/backups/$first.1.cpp" || fail "reset did not keep the old copy"
    out=$("$runner" list)
    expect_in "$out" "0 of $total done"
    ! grep -q 'hints = 2' "$ws/.lessons-state.toml" || fail "reset kept the hint level"
    ;;
reset-keeps-every-version)
    # Each reset keeps the work it replaces in a new file; none replaces an earlier one.
    "$runner" reset "$first" >/dev/null || fail "reset exited $?"
    out=$("$runner" reset "$first") || fail "reset exited $?"
    [[ $out != *"kept in"* ]] || fail "a copy equal to broken.cpp needs no backup:"$'\n'"$out"
    echo "// first try" >> "$ws/$first.cpp"
    out=$("$runner" reset "$first") || fail "reset exited $?"
    expect_in "$out" "your version is kept in $ws/backups/$first.1.cpp"
    echo "// second try" >> "$ws/$first.cpp"
    out=$("$runner" reset "$first") || fail "reset exited $?"
    expect_in "$out" "your version is kept in $ws/backups/$first.2.cpp"
    grep -q "first try" "$ws/backups/$first.1.cpp" || fail "the second reset lost the first one's backup"
    grep -q "second try" "$ws/backups/$first.2.cpp" || fail "the second reset did not keep the copy"
    cmp -s "$ws/$first.cpp" "$src/lessons/$first/broken.cpp" || fail "reset did not restore broken.cpp"
    ;;
watch-save-during-run)
    # A stand-in build tree whose workspace program saves the participant's copy while it
    # runs (as an editor would, mid-run) the first time: watch must run it again at once.
    fake=$ws/build
    mkdir -p "$fake/lessons/$first"
    printf '%s\n' '#!/bin/sh' \
        'n=$(( $(cat "$RUNS" 2>/dev/null || echo 0) + 1 ))' \
        'echo "$n" > "$RUNS"' \
        'if [ "$n" -eq 1 ]; then echo "// saved during the run" >> "$COPY"; fi' \
        'echo "run $n"' > "$fake/lessons/$first/workspace"
    chmod +x "$fake/lessons/$first/workspace"
    cp "$src/lessons/$first/broken.cpp" "$ws/$first.cpp"
    touch -d '2001-01-01' "$ws/$first.cpp"  # so that the save in the run changes its time
    RUNS=$ws/runs COPY=$ws/$first.cpp AIO_LESSONS_BUILD_DIR=$fake \
        "$runner" --no-build watch "$first" > "$ws/watch.out" 2>&1 &
    pid=$!
    for _ in $(seq 50); do
        [ "$(cat "$ws/runs" 2>/dev/null)" = 2 ] && break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    [ "$(cat "$ws/runs" 2>/dev/null)" = 2 ] ||
        fail "a save during the run was not run (runs: $(cat "$ws/runs" 2>/dev/null)); watch said:"$'\n'"$(cat "$ws/watch.out")"
    expect_in "$(cat "$ws/watch.out")" "was saved during the run: running it again"
    ;;
unknown-number)
    last=$(sed -n 's/^name = "\(.*\)"/\1/p' "$src/lessons/lessons.toml" | tail -1)
    err=$("$runner" hint 99 2>&1 >/dev/null); status=$?
    [ $status -eq 2 ] || fail "unknown number: exit status $status, expected 2"
    expect_in "$err" "unknown lesson '99': the lessons are numbered ${first:0:2}"
    expect_in "$err" "${last:0:2}"
    [[ $err != *"did you mean"* ]] || fail "99 is no typo of another number:"$'\n'"$err"
    # A name far from every lesson gets no guess either.
    err=$("$runner" hint qqqqqqqq 2>&1 >/dev/null)
    expect_in "$err" "unknown lesson 'qqqqqqqq'"
    [[ $err != *"did you mean"* ]] || fail "a far-off name got a guess:"$'\n'"$err"
    # Leading zeros still name a lesson.
    "$runner" hint "0${first:0:2}" >/dev/null || fail "'0${first:0:2}' does not name $first"
    ;;
unknown-name)
    slug=${first#??-}
    typo="${slug:0:1}${slug:2:1}${slug:1:1}${slug:3}"  # two letters swapped
    err=$("$runner" hint "$typo" 2>&1 >/dev/null); status=$?
    [ $status -eq 2 ] || fail "unknown name: exit status $status, expected 2"
    expect_in "$err" "unknown lesson '$typo'"
    expect_in "$err" "did you mean '$first'?"
    # Number, slug and full name all resolve.
    for n in "${first:0:2}" "$((10#${first:0:2}))" "$slug" "$first"; do
        "$runner" hint "$n" >/dev/null || fail "'$n' does not name $first"
    done
    ;;
solution-locked)
    err=$("$runner" solution "$first" 2>&1 >/dev/null); status=$?
    [ $status -eq 2 ] || fail "solution before passing: exit status $status, expected 2"
    expect_in "$err" "opens once your copy passes"
    printf 'current = ""\n[lessons."%s"]\ndone = true\nhints = 0\n' "$first" > "$ws/.lessons-state.toml"
    out=$("$runner" solution "$first") || fail "solution after passing exited $?"
    expect_in "$out" "$(sed -n 2p "$src/lessons/$first/fixed.cpp")"
    ;;
verify-json)
    out=$("$runner" --no-build verify "$first" --json) || fail "verify $first --json exited $?"
    printf '%s' "$out" > "$ws/verify.json"
    python3 - "$first" "$ws/verify.json" <<'PY' || fail "verify --json output: $out"
import json, sys
r = json.load(open(sys.argv[2]))
assert [x["program"] for x in r] == ["broken", "fixed"], r
assert all(x["lesson"] == sys.argv[1] and (x["ok"] or x["skipped"]) for x in r), r
PY
    ;;
no-command)
    out=$("$runner") || fail "no command exited $?"
    expect_in "$out" "Start here:"
    expect_in "$out" "0 of $total done"
    ;;
*)
    fail "unknown case"
    ;;
esac
echo "ok ($case_name)"
