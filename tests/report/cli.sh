#!/usr/bin/env bash
# Tests of the aio-report command: cli.sh CASE AIO_REPORT FIXTURE [BUILD_DIR, unused]. Each
# case works in a fresh temporary folder, with reports written by FIXTURE
# (tests/report/fixture.cpp), and fails (non-zero, with the reason) when the output or the exit
# status is not what the command promises (docs/reference/aio-report.md).
set -uo pipefail
case_name=$1
report=$2
fixture=$3
dir=$(mktemp -d /tmp/aio-report-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1

fail() { echo "FAIL ($case_name): $*" >&2; exit 1; }
expect_in() { [[ "$1" == *"$2"* ]] || fail "expected '$2' in:"$'\n'"$1"; }
expect_not_in() { [[ "$1" != *"$2"* ]] || fail "did not expect '$2' in:"$'\n'"$1"; }
# run ARGS...: sets out, err and status.
run() {
    "$report" "$@" >out.txt 2>err.txt
    status=$?
    out=$(cat out.txt)
    err=$(cat err.txt)
}
# bad_input PROBLEM ARGS...: exit status 2, stdout empty, stderr exactly one line that ends
# with PROBLEM.
bad_input() {
    local problem=$1
    shift
    run "$@"
    [ $status -eq 2 ] || fail "$*: exit status $status, expected 2"
    [ -z "$out" ] || fail "$*: printed on stdout: $out"
    [ "$(wc -l <err.txt)" -eq 1 ] || fail "$*: expected one line on stderr, got:"$'\n'"$err"
    [[ "$err" == "aio-report: "*": $problem" ]] || fail "$*: expected 'aio-report: FILE: $problem', got: $err"
}

"$fixture" report r8.json 8 || fail "fixture"
"$fixture" report r16.json 16 || fail "fixture"

case $case_name in
diff-exit-status)
    run diff r8.json r16.json
    [ $status -eq 1 ] || fail "new findings: exit status $status, expected 1"
    expect_in "$out" "new: 8"
    expect_in "$out" "fixed: 0"
    expect_in "$out" "unchanged: 8"
    expect_in "$out" "8 new, 0 fixed, 8 unchanged"
    run diff r16.json r8.json
    [ $status -eq 0 ] || fail "only fixed findings: exit status $status, expected 0"
    expect_in "$out" "0 new, 8 fixed, 8 unchanged"
    run diff r8.json r8.json
    [ $status -eq 0 ] || fail "same report: exit status $status, expected 0"
    # As a CI gate on errors only: the new warnings do not count.
    run diff r8.json r16.json --min-severity error --id never-awaited
    [ $status -eq 0 ] || fail "filtered diff: exit status $status, expected 0"
    ;;
diff-keys-by-line)
    # Another checkout and another run: every path and address differs, the lines do not.
    sed -e 's|/home/dev/shop/|/srv/ci/build-7/|g' -e 's|"0x55d1c2a4|"0x7ffe0000|g' r16.json >moved.json
    run diff r16.json moved.json
    [ $status -eq 0 ] || fail "same findings elsewhere: exit status $status, expected 0:"$'\n'"$out"
    expect_in "$out" "0 new, 0 fixed, 16 unchanged"
    # One finding's line changes: that is a new finding and a fixed one.
    sed -e '0,/"line": 10,/s//"line": 1010,/' r16.json >edited.json
    run diff r16.json edited.json
    [ $status -eq 1 ] || fail "a finding on another line: exit status $status, expected 1"
    expect_in "$out" "1 new, 1 fixed, 15 unchanged"
    expect_in "$out" "module0.cpp:1010"
    ;;
bad-input)
    bad_input "cannot open: No such file or directory" show missing.json
    bad_input "cannot open: No such file or directory" diff r8.json missing.json
    head -c 700 r8.json >cut.json
    bad_input "truncated or not JSON: unexpected end of input at byte 700" show cut.json
    sed 's/"version": 1/"version": 2/' r8.json >v2.json
    bad_input "written by a newer aio: schema version 2, this aio-report reads version 1" html v2.json
    "$fixture" trace t.json 100 || fail "fixture"
    bad_input 'not an aio debug report (no "schema" field)' show t.json
    bad_input 'not an aio trace (no "traceEvents" array)' html r8.json --trace r16.json -o x.html
    [ ! -e x.html ] || fail "html wrote its output despite a bad trace"
    sed 's/"severity": "warning",//' r8.json >nosev.json
    bad_input "missing field 'findings[0].severity'" diff r8.json nosev.json
    bad_input "cannot read: Is a directory" show .
    ;;
show-groups-and-filters)
    run show r16.json
    [ $status -eq 0 ] || fail "show: exit status $status"
    first=$(head -1 out.txt)
    expect_in "$first" "/home/dev/shop/build/shop: 5.02 s, "
    expect_in "$first" "longest stall 150 ms, peak 12 tasks alive"
    # Sections by id, errors first; one line per place with its source line and the fix.
    errors_end=$(grep -n '^\[.*\] error:' out.txt | tail -1 | cut -d: -f1)
    warnings_start=$(grep -n '^\[.*\] warning:' out.txt | head -1 | cut -d: -f1)
    [ "$errors_end" -lt "$warnings_start" ] || fail "warnings before errors:"$'\n'"$out"
    [ "$(grep -c '^\[' out.txt)" -eq 8 ] || fail "expected 8 detector sections:"$'\n'"$out"
    expect_in "$out" "[never-awaited] warning: "
    expect_in "$out" "      fix: how to fix never-awaited"
    expect_in "$out" "/home/dev/shop/src/module0.cpp:10 (handler_0()): task 'worker-0' tripped never-awaited"
    expect_in "$out" $'\n      10 | aio::create_task(work, 0);'
    expect_not_in "$out" $'\x1b['
    run show r16.json --min-severity error
    expect_not_in "$out" "warning:"
    expect_in "$out" "[stall] error:"
    run show r16.json --id stall --id never-awaited
    [ "$(grep -c '^\[' out.txt)" -eq 2 ] || fail "--id twice: expected 2 sections:"$'\n'"$out"
    run show r16.json --color always
    expect_in "$out" $'\x1b[1;31m[stall]\x1b[0m'
    run show r16.json --id no-such-id
    expect_in "$out" "no findings match the filters"
    ;;
html-writes-a-page)
    "$fixture" trace t.json 1000 || fail "fixture"
    run html r8.json --trace t.json -o page.html
    [ $status -eq 0 ] || fail "html: exit status $status: $err"
    expect_in "$out" "wrote page.html"
    # The fixture's report and trace share their pid; another pid is another run.
    [ -z "$err" ] || fail "html warned: $err"
    sed 's/"pid":4242,"started"/"pid":4243,"started"/' t.json >other.json
    run html r8.json --trace other.json -o other.html
    [ $status -eq 0 ] || fail "html with another run's trace: exit status $status"
    expect_in "$err" "aio-report: warning: other.json is the trace of process 4243, r8.json the report of process 4242: not the same run"
    head -c 15 page.html | grep -q '<!DOCTYPE html>' || fail "page.html is not an HTML page"
    grep -q '"trace":{"program"' page.html || fail "page.html has no trace data"
    run html r8.json
    [ -s r8.html ] || fail "html without -o did not write r8.html"
    grep -q '"trace":null' r8.html || fail "r8.html should have no trace"
    run html r8.json -o /nonexistent-dir/x.html
    [ $status -eq 2 ] || fail "unwritable output: exit status $status"
    expect_in "$err" "aio-report: /nonexistent-dir/x.html: cannot write: No such file or directory"
    ;;
usage-errors)
    for args in "bogus r8.json" "show r8.json --bogus" "show r8.json --min-severity info" "show" ""; do
        # shellcheck disable=SC2086
        run $args
        [ $status -eq 2 ] || fail "'aio-report $args': exit status $status, expected 2"
        [ -n "$err" ] || fail "'aio-report $args': nothing on stderr"
    done
    run --help
    [ $status -eq 0 ] || fail "--help: exit status $status"
    expect_in "$out" "diff"
    ;;
*)
    fail "unknown case"
    ;;
esac
exit 0
