#!/usr/bin/env bash
# The HTML report in a real browser (headless chromium): browser.sh CASE AIO_REPORT FIXTURE
# BUILD_DIR. Exit status 77 (ctest: skipped) when chromium is not installed; tools/setup
# installs it when it can.
#
# The page writes data-ready="1" and data-render-ms (performance.now() when its script has
# drawn everything: summary, timeline, findings, tasks; measured from the start of
# navigation, so reading the file and parsing its data are included) on <html>, and logs
# the same figure on the console; a script error sets data-error and logs "Uncaught ...".
#
#   findings-timeline-no-errors   a report of lesson 05's broken program (the fixture's when
#                                 it is not built) with a trace: the DOM shows every detector
#                                 section, the groups and the timeline canvas, no error, and its
#                                 controls work (#aio-selftest); the screenshot goes to
#                                 BUILD_DIR/report.png
#   escapes-task-names            names, functions and source lines holding markup show as
#                                 text: no element comes out of them
#   big-report-renders-in-2s      10,000 findings and a trace of 1,000,000 events: drawn in
#                                 under 2 s (the console line's figure; best of two runs)
set -uo pipefail
case_name=$1
report=$2
fixture=$3
build=$4

chromium=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chromium" ]; then
    echo "SKIP: chromium is not installed (tools/setup installs it when it can: apt-get install chromium)"
    exit 77
fi
dir=$(mktemp -d /tmp/aio-report-browser.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1

fail() { echo "FAIL ($case_name): $*" >&2; exit 1; }
expect_in() { [[ "$1" == *"$2"* ]] || fail "expected '$2' in the page"; }

# browse MODE FILE [ARGS...]: headless chromium on file://FILE; MODE dump (the DOM to dom.html)
# or shot (a screenshot; ARGS give its path). The console goes to console.txt.
browse() {
    local mode=$1 file=$2
    shift 2
    local args=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run
                --no-default-browser-check --user-data-dir="$dir/profile"
                --enable-logging=stderr --v=0 --window-size=1400,1000)
    if [ "$mode" = dump ]; then
        timeout 90 "$chromium" "${args[@]}" --dump-dom "file://$dir/$file" >dom.html 2>console.txt
    else
        timeout 90 "$chromium" "${args[@]}" "$@" "file://$dir/$file" >/dev/null 2>console.txt
    fi
    local status=$?
    [ $status -eq 0 ] || fail "chromium exited $status:"$'\n'"$(tail -20 console.txt)"
}
# No script error: nothing uncaught on the console, no data-error on the page.
no_errors() {
    if grep -E 'CONSOLE.*(Uncaught|Error)' console.txt; then
        fail "the page logged an error"
    fi
    if [ -f dom.html ] && grep -o 'data-error="[^"]*"' dom.html; then
        fail "the page's script failed"
    fi
}
render_ms() { sed -n 's/.*"aio-report: page drawn in \([0-9.]*\) ms".*/\1/p' console.txt | head -1; }

case $case_name in
findings-timeline-no-errors)
    prog=$build/lessons/05-debug-mode-tour/broken
    if [ -x "$prog" ]; then
        # With the trace of the same run when debug mode has the trace= option.
        ASYNC_DEBUG="report=$dir/r.json,trace=$dir/t.json" timeout 60 "$prog" >/dev/null 2>&1
        [ -s r.json ] || ASYNC_DEBUG="report=$dir/r.json" timeout 60 "$prog" >/dev/null 2>&1
    fi
    [ -s r.json ] || "$fixture" report r.json 40 || fail "fixture report"
    [ -s t.json ] || "$fixture" trace t.json 20000 || fail "fixture trace"
    "$report" html r.json --trace t.json -o report.html >/dev/null || fail "aio-report html failed"
    browse dump report.html
    page=$(cat dom.html)
    expect_in "$page" 'data-ready="1"'
    expect_in "$page" '<canvas id="timeline" width="'
    no_errors
    # A section per detector id, with its groups; the first groups are open, with stacks.
    for id in $("$report" show r.json --color never | sed -n 's/^\[\([^]]*\)\].*/\1/p'); do
        expect_in "$page" "<span class=\"id\">$id</span>"
    done
    expect_in "$page" '<details class="group '
    expect_in "$page" 'open=""'
    expect_in "$page" '<pre class="snip">'
    expect_in "$page" '<table class="tasks">'
    # The controls, worked by the page itself (report.js: selfTest).
    browse dump "report.html#aio-selftest"
    grep -o 'data-selftest="ok, [1-9][0-9]* hover hits"' dom.html || fail "the self-test did not finish"
    no_errors
    browse shot report.html --screenshot="$build/report.png"
    [ -s "$build/report.png" ] || fail "no screenshot"
    no_errors
    echo "screenshot: $build/report.png; page drawn in $(render_ms) ms"
    ;;
escapes-task-names)
    "$fixture" report r.json 16 --evil || fail "fixture report"
    "$fixture" trace t.json 5000 --evil || fail "fixture trace"
    "$report" html r.json --trace t.json -o evil.html >/dev/null || fail "aio-report html failed"
    browse dump evil.html
    page=$(cat dom.html)
    expect_in "$page" 'data-ready="1"'
    no_errors
    if grep -qi '<img' dom.html; then
        fail "an <img> element came out of the report's text"
    fi
    # The text is there, as text (the DOM serializer escapes it).
    expect_in "$page" '&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;'
    ;;
big-report-renders-in-2s)
    "$fixture" report r.json 10000 || fail "fixture report"
    "$fixture" trace t.json 1000000 || fail "fixture trace"
    "$report" html r.json --trace t.json -o big.html >/dev/null || fail "aio-report html failed"
    # The page's own figure, best of two runs: one run can lose a second to a busy machine.
    for attempt in 1 2; do
        start=$(date +%s%N)
        browse shot big.html --screenshot="$dir/big.png"
        wall=$((($(date +%s%N) - start) / 1000000))
        no_errors
        ms=$(render_ms)
        [ -n "$ms" ] || fail "the page did not say when it was drawn:"$'\n'"$(grep CONSOLE console.txt)"
        echo "10,000 findings, 1,000,000 trace events, $(($(stat -c %s big.html) / 1000)) kB of HTML:" \
             "drawn in $ms ms (chromium's whole run: $wall ms)"
        awk -v ms="$ms" 'BEGIN { exit !(ms < 2000) }' && break
        [ $attempt -eq 2 ] && fail "drawn in $ms ms, more than 2 s"
    done
    ;;
*)
    fail "unknown case"
    ;;
esac
exit 0
