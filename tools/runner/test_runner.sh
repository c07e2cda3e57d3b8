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

# fake_lesson LESSON pass|fail: a stand-in workspace program of LESSON in the build tree
# $ws/build (AIO_LESSONS_BUILD_DIR) that passes (it writes an empty debug report where
# ASYNC_DEBUG says and prints the lines lessons.toml wants from a fix) or fails (prints a line
# and no report).
fake_lesson() {
    local dir=$ws/build/lessons/$1
    mkdir -p "$dir"
    if [ "$2" = pass ]; then
        python3 - "$src/lessons/lessons.toml" "$1" > "$dir/workspace" <<'PY' || fail "no fake for $1"
import sys, tomllib
lessons = tomllib.load(open(sys.argv[1], "rb"))["lesson"]
want = next(l for l in lessons if l["name"] == sys.argv[2])["fixed"].get("output", [])
print("#!/bin/sh")
print('r=${ASYNC_DEBUG#*report=}; r=${r%%,*}')
print("""printf '%s' '{"schema":"aio-debug-report","findings":[],"counts":{}}' > "$r" """)
for line in want:
    print("printf '%s\\n' '" + line.replace("'", "'\\''") + "'")
PY
    else
        printf '#!/bin/sh\necho "still broken"\n' > "$dir/workspace"
    fi
    chmod +x "$dir/workspace"
}
second=$(sed -n 's/^name = "\(.*\)"/\1/p' "$src/lessons/lessons.toml" | sed -n 2p)
drive() { python3 "$src/tools/runner/pty_drive.py" "$@"; }
# start_collector: `progress --serve` on a free port of 127.0.0.1; sets cpid and port.
start_collector() {
    "$runner" progress --serve --host 127.0.0.1 --port 0 > "$ws/collector.out" 2>&1 &
    cpid=$!
    trap 'kill "$cpid" 2>/dev/null; rm -rf "$ws"' EXIT
    for _ in $(seq 100); do
        port=$(sed -n 's|.*Running on http://127.0.0.1:\([0-9]*\).*|\1|p' "$ws/collector.out")
        [ -n "$port" ] && return
        sleep 0.1
    done
    fail "the collector did not start:"$'\n'"$(cat "$ws/collector.out")"
}

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
forbidden-output)
    # forbidden_output: a stand-in fixed program of the first lesson that prints every line the
    # fix must print, and also a verdict line the fix must not print, must fail verify; the
    # same program without that line must pass.
    eval "$(python3 - "$src/lessons/lessons.toml" "$first" <<'PY'
import shlex, sys, tomllib
l = next(x for x in tomllib.load(open(sys.argv[1], "rb"))["lesson"] if x["name"] == sys.argv[2])
f = l.get("fixed", {})
print("want=" + shlex.quote("\n".join(f.get("output", []))))
print("bad=" + shlex.quote((f.get("forbidden_output") or [""])[0]))
PY
)"
    [ -n "$bad" ] || fail "lesson $first has no forbidden_output to test"
    fake=$ws/build
    mkdir -p "$fake/lessons/$first"
    stand_in() {  # stand_in PROGRAM LINES...: prints the lines, writes an empty debug report
        printf '%s\n' '#!/bin/sh' \
            'report=$(printf "%s" "$ASYNC_DEBUG" | sed -n "s/.*report=\([^,]*\).*/\1/p")' \
            'printf "{\"schema\": \"aio-debug-report\", \"findings\": [], \"counts\": {}}" > "$report"' \
            'cat <<"EOF"' "${@:2}" 'EOF' > "$1"
        chmod +x "$1"
    }
    stand_in "$fake/lessons/$first/broken" "$(python3 -c 'import sys, tomllib; l = next(x for x in tomllib.load(open(sys.argv[1], "rb"))["lesson"] if x["name"] == sys.argv[2]); print("\n".join(l.get("broken", {}).get("output", [])))' "$src/lessons/lessons.toml" "$first")"
    stand_in "$fake/lessons/$first/fixed" "$want" "[ 0.50 s] $bad"
    out=$(AIO_LESSONS_BUILD_DIR=$fake "$runner" --no-build verify "$first"); status=$?
    [ $status -eq 1 ] || fail "a fix that prints '$bad' passed (status $status):"$'\n'"$out"
    expect_in "$out" "the output still says \"$bad\""
    # With lines missing too, the forbidden line (the scaffold's own verdict) comes first.
    stand_in "$fake/lessons/$first/fixed" "[ 0.50 s] $bad"
    out=$(AIO_LESSONS_BUILD_DIR=$fake "$runner" --no-build verify "$first")
    first_problem=$(grep -m1 '^       - ' <<<"$out")
    [[ $first_problem == *"the output still says"* ]] ||
        fail "the first problem is not the forbidden line:"$'\n'"$out"
    stand_in "$fake/lessons/$first/fixed" "$want"
    out=$(AIO_LESSONS_BUILD_DIR=$fake "$runner" --no-build verify "$first") ||
        fail "the same fix without '$bad' failed:"$'\n'"$out"
    ;;
variants-judged)
    # verify --variants with stand-in programs for the first lesson's variants: a wrong fix
    # that passes fails the check, a right fix that fails fails it, and the two as they should
    # be pass it.
    mapfile -t stems < <(ls "$src/tests/lessons/$first" 2>/dev/null | sed -n 's/^\(\(right\|wrong\)-.*\)\.cpp$/\1/p')
    [[ " ${stems[*]}" == *" right-"* && " ${stems[*]}" == *" wrong-"* ]] ||
        fail "tests/lessons/$first needs a right-* and a wrong-* variant; it has: ${stems[*]}"
    want=$(python3 -c 'import sys, tomllib; l = next(x for x in tomllib.load(open(sys.argv[1], "rb"))["lesson"] if x["name"] == sys.argv[2]); print("\n".join(l.get("fixed", {}).get("output", [])))' "$src/lessons/lessons.toml" "$first")
    fake=$ws/build
    mkdir -p "$fake/tests/lessons/$first"
    # stand_ins PASSING_PREFIX: variants whose name starts with it pass, the others exit 3.
    stand_ins() {
        for stem in "${stems[@]}"; do
            p=$fake/tests/lessons/$first/$stem
            if [[ $stem == "$1"* ]]; then
                printf '%s\n' '#!/bin/sh' \
                    'report=$(printf "%s" "$ASYNC_DEBUG" | sed -n "s/.*report=\([^,]*\).*/\1/p")' \
                    'printf "{\"schema\": \"aio-debug-report\", \"findings\": [], \"counts\": {}}" > "$report"' \
                    'cat <<"EOF"' "$want" 'EOF' > "$p"
            else
                printf '%s\n' '#!/bin/sh' 'exit 3' > "$p"
            fi
            chmod +x "$p"
        done
    }
    stand_ins "wrong-"
    out=$(AIO_LESSONS_BUILD_DIR=$fake "$runner" --no-build verify --variants "$first"); status=$?
    [ $status -eq 1 ] || fail "passing wrong fixes and failing right ones passed verify:"$'\n'"$out"
    expect_in "$out" "PASSED, but it is a wrong fix the lesson must reject"
    expect_in "$out" "exited with status 3 (expected 0)"
    stand_ins "right-"
    out=$(AIO_LESSONS_BUILD_DIR=$fake "$runner" --no-build verify --variants "$first") ||
        fail "right fixes passing and wrong ones failing did not pass verify:"$'\n'"$out"
    expect_in "$out" "rejected, as it must be: exited with status 3"
    expect_in "$out" "${#stems[@]} programs, 0 failed"
    ;;
watch-status-and-next)
    # On a terminal: a clear screen, the status after the run, no moving on by itself after
    # PASSED, and `n` moves to the next lesson.
    fake_lesson "$first" pass
    fake_lesson "$second" fail
    AIO_LESSONS_BUILD_DIR=$ws/build drive \
        'expect:\e[2J' "expect:== $first:" "expect:lesson    $first:" \
        'expect:status    PASSED (run 1' "expect:press n for the next lesson, $second" \
        'expect:progress  [' 'expect:1 of '"$total"' done' 'expect:keys      h hint' \
        raw "absent:1.5:== $second" send:n "expect:next: $second" "expect:== $second:" \
        'expect:status    not passing yet (run 1' 'expect:no debug report was written' \
        send:q 'expect:stopped watching' exit:0 \
        -- "$runner" --no-build watch "$first" > "$ws/drive.out" || fail "$(cat "$ws/drive.out")"
    grep -q '^status    PASSED' "$ws/drive.out" || fail "no status line"
    ;;
watch-hint-and-quit)
    # h shows the next hint level (and counts it), watch's messages name its keys rather than
    # commands, q quits, and the terminal is as it was: echo and line buffering back on, in
    # the shell that started watch.
    fake_lesson "$first" fail
    AIO_LESSONS_BUILD_DIR=$ws/build drive \
        'expect:stuck? press h for a hint' 'expect:status    not passing yet' \
        'expect:keys      h hint' raw \
        send:h "expect:hint 1/" 'expect:press h again for the next level' send:h "expect:hint 2/" send:x "expect:'x' is no key of watch" \
        send:q 'expect:stopped watching' 'expect:runner-exit=0' cooked \
        -- sh -c '"$0" --no-build watch "$1"; echo "runner-exit=$?"; sleep 5' "$runner" "$first" \
        > "$ws/drive.out" || fail "$(cat "$ws/drive.out")"
    grep -q 'hints = 2' "$ws/.lessons-state.toml" || fail "the hints shown in watch were not kept"
    ;;
watch-line-mode)
    # Not on a terminal: no escape codes; keys come as lines ("n" then Enter).
    fake_lesson "$first" pass
    fake_lesson "$second" fail
    { sleep 2; echo n; sleep 3; echo q; } |
        AIO_LESSONS_BUILD_DIR=$ws/build timeout 20 "$runner" --no-build watch "$first" > "$ws/watch.out" 2>&1
    status=$?
    out=$(cat "$ws/watch.out")
    [ $status -eq 0 ] || fail "watch exited $status:"$'\n'"$out"
    [[ $out != *$'\e'* ]] || fail "escape codes in a pipe:"$'\n'"$out"
    expect_in "$out" "press n for the next lesson, $second"
    expect_in "$out" "(a letter, then Enter)"
    expect_in "$out" "== $second:"
    expect_in "$out" "stopped watching; "
    ;;
progress-json)
    # Runs, hints and the pass are counted; an old state file (done and hints only) still reads.
    fake_lesson "$first" fail
    for _ in 1 2 3; do
        AIO_LESSONS_BUILD_DIR=$ws/build "$runner" --no-build run "$first" >/dev/null 2>&1
    done
    "$runner" hint "$first" >/dev/null || fail "hint exited $?"
    fake_lesson "$first" pass
    AIO_LESSONS_BUILD_DIR=$ws/build "$runner" --no-build run "$first" >/dev/null 2>&1 ||
        fail "the passing stand-in did not pass"
    AIO_LESSONS_NAME=ada "$runner" progress --json > "$ws/p.json" || fail "progress --json exited $?"
    python3 - "$first" "$ws/p.json" "$total" <<'PY' || fail "progress --json: $(cat "$ws/p.json")"
import json, sys
p = json.load(open(sys.argv[2]))
assert p["schema"] == "aio-lessons-progress" and p["name"] == "ada", p
assert p["done"] == 1 and p["total"] == int(sys.argv[3]) and p["current"] == sys.argv[1], p
l = next(x for x in p["lessons"] if x["name"] == sys.argv[1])
assert l["attempts"] == 4 and l["hints"] == 1 and l["done"], l
assert l["first_run"] > 0 and l["passed_at"] >= l["first_run"] and l["seconds"] >= 0, l
assert all(x["attempts"] == 0 for x in p["lessons"] if x["name"] != sys.argv[1]), p
PY
    printf 'current = ""\n[lessons."%s"]\ndone = true\nhints = 2\n' "$first" > "$ws/.lessons-state.toml"
    out=$("$runner" progress --json) || fail "progress --json on an old state file exited $?"
    expect_in "$out" '"attempts": 0'
    expect_in "$out" '"done": 1'
    ;;
collector-report)
    # A runner told where the collector is reports each run; the collector's JSON has it, and
    # its page shows a hostile name as text.
    start_collector
    fake_lesson "$first" fail
    name='<script>alert(1)</script>'
    for _ in 1 2; do
        AIO_LESSONS_NAME=$name AIO_LESSONS_REPORT=http://127.0.0.1:$port AIO_LESSONS_BUILD_DIR=$ws/build \
            "$runner" --no-build run "$first" > "$ws/run.out" 2>&1
    done
    [[ $(cat "$ws/run.out") != *"could not report"* ]] || fail "the report failed: $(cat "$ws/run.out")"
    python3 - "$port" "$first" "$name" <<'PY' || fail "the collector's answers (above)"
import json, sys, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
room = json.load(urllib.request.urlopen(base + "/progress.json", timeout=5))
assert len(room) == 1, room
p = room[0]
assert p["name"] == sys.argv[3] and p["current"] == sys.argv[2], p
assert p["attempts_on_current"] == 2 and p["done"] == 0, p
page = urllib.request.urlopen(base + "/", timeout=5).read().decode()
assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, page
assert "<script>" not in page, page
PY
    ;;
collector-rejects-bad-input)
    # Bad reports get a 400 that says what is wrong; a body over 64 KiB gets a 413.
    start_collector
    python3 - "$port" <<'PY' || fail "the collector's answers (above)"
import json, urllib.request, urllib.error, sys
url = "http://127.0.0.1:%s/report" % sys.argv[1]
def post(body):
    try:
        r = urllib.request.urlopen(urllib.request.Request(url, data=body.encode(), method="POST"), timeout=5)
        return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
good = {"schema": "aio-lessons-progress", "name": "x", "lessons": []}
for body, want in [("{not json", "not JSON"), ("[]", "not a JSON object"),
                   (json.dumps(dict(good, schema="other")), "'schema'"),
                   (json.dumps(dict(good, name=7)), "'name' should be a string"),
                   (json.dumps(dict(good, name="n" * 101)), "longer than 100"),
                   (json.dumps(dict(good, lessons=[{"name": "a", "attempts": -1}])), "'attempts'")]:
    status, text = post(body)
    assert status == 400 and want in text, (body, status, text)
status, text = post(json.dumps(dict(good, name="y" * 70000)))
assert status == 413, (status, text)
assert post(json.dumps(good))[0] == 200
PY
    ;;
report-collector-down)
    # A collector that is not there costs a run one warning line, not its result or its time.
    fake_lesson "$first" pass
    down=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    start=$(date +%s%N)
    AIO_LESSONS_REPORT=http://127.0.0.1:$down AIO_LESSONS_BUILD_DIR=$ws/build \
        "$runner" --no-build run "$first" > "$ws/run.out" 2> "$ws/run.err"
    status=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [ $status -eq 0 ] || fail "the run exited $status with the collector down:"$'\n'"$(cat "$ws/run.out" "$ws/run.err")"
    expect_in "$(cat "$ws/run.out")" "PASSED"
    [ "$(grep -c 'could not report progress' "$ws/run.err")" -eq 1 ] ||
        fail "expected one warning line:"$'\n'"$(cat "$ws/run.err")"
    [ "$ms" -lt 3000 ] || fail "the run took $ms ms with the collector down"
    ;;
stale-program-is-rebuilt)
    # A program built from other content than the copy holds now (a save made while the build
    # ran, so the copy's time is older than the program's; or a reset) is never run as the
    # copy: the runner rebuilds it, even under --no-build, and first makes the stub newer so
    # that Ninja, which judges by times, compiles it. The stand-in tree has no build.ninja, so
    # the attempted build fails with "not configured" instead of running the old program.
    export AIO_LESSONS_BUILD_DIR=$ws/build
    fake_lesson "$first" pass
    out=$("$runner" --no-build run "$first") || fail "the first run failed:"$'\n'"$out"
    expect_in "$out" "PASSED"
    copy=$ws/$first.cpp
    cp "$copy" "$ws/build/lessons/$first/workspace.built.cpp"  # as the last build was given it
    out=$("$runner" --no-build run "$first") || fail "an unchanged copy was rebuilt:"$'\n'"$out"
    expect_in "$out" "PASSED"
    echo "// saved while the build ran" >> "$copy"
    touch -d '-1 hour' "$copy"
    out=$("$runner" --no-build run "$first" 2>&1); status=$?
    [ $status -ne 0 ] || fail "the program of the older content was run:"$'\n'"$out"
    [[ "$out" != *PASSED* ]] || fail "the program of the older content was judged:"$'\n'"$out"
    expect_in "$out" "is not configured"
    [ "$ws/build/lessons/$first/workspace.cpp" -nt "$ws/build/lessons/$first/workspace" ] ||
        fail "the stub was not made newer than the program"
    ;;
verify-retries-timing-findings)
    # verify runs a program that must pass a second time when it failed with a step-timing
    # finding (stall, slow-callback, blocking-call measure the machine too), and says so; one
    # that fails twice fails. Stand-ins of lesson $second: broken prints what it must, and the
    # fix reports a stall on its first run only (or on every run).
    fake=$ws/build
    mkdir -p "$fake/lessons/$second"
    python3 - "$src/lessons/lessons.toml" "$second" "$fake/lessons/$second" "$ws/first-run-done" <<'PY' || fail "no stand-ins"
import json, sys, tomllib
l = next(x for x in tomllib.load(open(sys.argv[1], "rb"))["lesson"] if x["name"] == sys.argv[2])
out, mark = sys.argv[3], sys.argv[4]
def program(path, lines, counts, first_counts=None):
    rep = lambda c: json.dumps({"schema": "aio-debug-report", "findings": [], "counts": c})
    body = ['#!/bin/sh', 'r=${ASYNC_DEBUG#*report=}; r=${r%%,*}']
    if first_counts is not None:
        body += [f'if [ ! -e {mark} ]; then touch {mark}; printf "%s" \'{rep(first_counts)}\' > "$r"; '
                 f'else printf "%s" \'{rep(counts)}\' > "$r"; fi']
    else:
        body += [f'printf "%s" \'{rep(counts)}\' > "$r"']
    body += ["cat <<'EOF'"] + lines + ["EOF"]
    open(path, "w").write("\n".join(body) + "\n")
program(f"{out}/broken", l["broken"].get("output", []), {f: 1 for f in l["broken"]["findings"]})
program(f"{out}/fixed", l["fixed"].get("output", []), {}, {"stall": 1})
program(f"{out}/fixed-always", l["fixed"].get("output", []), {"stall": 1})
PY
    chmod +x "$fake/lessons/$second/"*
    out=$(AIO_LESSONS_BUILD_DIR=$fake "$runner" --no-build verify "$second") ||
        fail "a stall on the first run only failed verify:"$'\n'"$out"
    expect_in "$out" "passed on a second run; the first said: debug mode still finds: stall"
    mv "$fake/lessons/$second/fixed-always" "$fake/lessons/$second/fixed"
    out=$(AIO_LESSONS_BUILD_DIR=$fake "$runner" --no-build verify "$second"); status=$?
    [ $status -eq 1 ] || fail "a stall on every run passed verify:"$'\n'"$out"
    expect_in "$out" "debug mode still finds: stall"
    ;;
broken-must-hang)
    # A lesson whose broken program must hang (lessons.toml `hangs = true`): verify accepts a
    # stand-in that prints its lines and is still running at the time limit, and rejects one
    # that prints the same lines and ends by itself.
    hung=$(python3 -c 'import sys, tomllib; print(next(x["name"] for x in tomllib.load(open(sys.argv[1], "rb"))["lesson"] if x.get("broken", {}).get("hangs")))' "$src/lessons/lessons.toml") ||
        fail "no lesson in lessons.toml has hangs = true"
    fake=$ws/build
    mkdir -p "$fake/lessons/$hung"
    python3 - "$src/lessons/lessons.toml" "$hung" "$fake/lessons/$hung" <<'PY' || fail "no stand-ins"
import sys, tomllib
l = next(x for x in tomllib.load(open(sys.argv[1], "rb"))["lesson"] if x["name"] == sys.argv[2])
def program(path, lines, tail):
    body = ['#!/bin/sh', 'r=${ASYNC_DEBUG#*report=}; r=${r%%,*}',
            'printf "%s" \'{"schema": "aio-debug-report", "findings": [], "counts": {}}\' > "$r"']
    body += ["cat <<'EOF'"] + lines + ["EOF"] + tail
    open(path, "w").write("\n".join(body) + "\n")
program(f"{sys.argv[3]}/broken", l["broken"].get("output", []), ["exec sleep 30"])
program(f"{sys.argv[3]}/broken-ends", l["broken"].get("output", []), [])
program(f"{sys.argv[3]}/fixed", l["fixed"].get("output", []), [])
PY
    chmod +x "$fake/lessons/$hung/"*
    out=$(AIO_LESSONS_TIME_LIMIT=1 AIO_LESSONS_BUILD_DIR=$fake "$runner" --no-build verify "$hung") ||
        fail "a broken program that hangs as it must failed verify:"$'\n'"$out"
    expect_in "$out" "ok   $hung"
    mv "$fake/lessons/$hung/broken-ends" "$fake/lessons/$hung/broken"
    out=$(AIO_LESSONS_TIME_LIMIT=1 AIO_LESSONS_BUILD_DIR=$fake "$runner" --no-build verify "$hung"); status=$?
    [ $status -eq 1 ] || fail "a broken program that ended by itself passed verify:"$'\n'"$out"
    expect_in "$out" "expected it to hang until the time limit, but it ended after"
    ;;
hang-shows-tasks)
    # A run that hangs: before the kill, the runner runs the build tree's aio tool
    # (tools/inspect/aio pstree PID) on the program, still running, and prints what it says
    # under a heading; when the tool is missing, fails or takes too long (5 s), one line says
    # so. The program is killed in every case. Stand-ins: a lesson program that hangs and
    # writes its pid, and an aio that shows the command line of the process it was given.
    fake=$ws/build
    mkdir -p "$fake/lessons/$first" "$fake/tools/inspect"
    printf '%s\n' '#!/bin/sh' 'echo $$ > "$PIDFILE"' 'echo "serving..."' 'exec sleep 30' \
        > "$fake/lessons/$first/workspace"
    chmod +x "$fake/lessons/$first/workspace"
    tool=$fake/tools/inspect/aio
    export PIDFILE=$ws/pid AIO_LESSONS_BUILD_DIR=$fake AIO_LESSONS_TIME_LIMIT=1
    # run_hung: runs the lesson; the program must have been killed afterwards.
    run_hung() {
        rm -f "$PIDFILE"
        out=$("$runner" --no-build run "$first" 2>&1)
        [ -s "$PIDFILE" ] || fail "the stand-in did not start:"$'\n'"$out"
        ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null || fail "the hung program was left running"
        expect_in "$out" "hung: killed after 1.0 s"
    }
    printf '%s\n' '#!/bin/sh' '[ "$1" = pstree ] || exit 9' \
        'echo "tasks of $2: $(tr "\\0" " " < /proc/$2/cmdline)"' \
        'echo "deadlock: task 5 '"'a'"' waits for task 6 '"'b'"' (aio::lock) waits for task 5 '"'a'"'"' > "$tool"
    chmod +x "$tool"
    run_hung
    expect_in "$out" "the program hung; its tasks (aio pstree):"$'\n'"tasks of $(cat "$PIDFILE"): sleep 30"
    expect_in "$out" "deadlock: task 5 'a' waits for task 6 'b'"
    printf '%s\n' '#!/bin/sh' 'echo "aio: cannot attach to $2: no permission"' 'echo more' 'exit 1' > "$tool"
    run_hung
    expect_in "$out" "the program hung; aio pstree failed (status 1): aio: cannot attach to $(cat "$PIDFILE"): no permission"$'\n'
    [[ $out != *more* ]] || fail "more than one line about the failure:"$'\n'"$out"
    printf '%s\n' '#!/bin/sh' 'exec sleep 30' > "$tool"
    started=$(date +%s)
    run_hung
    expect_in "$out" "the program hung; aio pstree gave up: it took longer than 5 s"
    [ $(( $(date +%s) - started )) -lt 10 ] || fail "the runner waited for aio pstree past its bound"
    rm "$tool"
    run_hung
    expect_in "$out" "the program hung; the aio tool is not built ($tool), so its tasks cannot be shown"
    ;;
hang-shows-deadlock)
    # The real thing: lesson 24's broken program (argument 3), which deadlocks, run by the
    # runner past a short time limit; the real aio tool (argument 4) shows the tree, whose
    # deadlock line names the two transfers that wait for each other. Stand-in tree: links.
    [ -x "${3:-}" ] && [ -x "${4:-}" ] || fail "usage: test_runner.sh hang-shows-deadlock RUNNER BROKEN AIO"
    lesson=$(sed -n 's/^name = "\(24-[^"]*\)"/\1/p' "$src/lessons/lessons.toml")
    [ -n "$lesson" ] || fail "no lesson 24 in lessons.toml"
    fake=$ws/build
    mkdir -p "$fake/lessons/$lesson" "$fake/tools/inspect"
    ln -s "$3" "$fake/lessons/$lesson/workspace"
    ln -s "$4" "$fake/tools/inspect/aio"
    out=$(AIO_LESSONS_BUILD_DIR=$fake AIO_LESSONS_TIME_LIMIT=1.5 "$runner" --no-build run 24 2>&1)
    expect_in "$out" "hung: killed after 1.5 s"
    expect_in "$out" "the program hung; its tasks (aio pstree):"
    deadlock=$(sed -n '/its tasks (aio pstree):/,$p' <<<"$out" | grep -m1 'deadlock:') ||
        fail "no deadlock: line in the tree:"$'\n'"$out"
    [[ $deadlock == *payroll* && $deadlock == *refunds* ]] ||
        fail "the deadlock line does not name payroll and refunds: $deadlock"
    [[ $deadlock != *fees* ]] || fail "fees waits behind the cycle, it is not in it: $deadlock"
    ;;
*)
    fail "unknown case"
    ;;
esac
echo "ok ($case_name)"
