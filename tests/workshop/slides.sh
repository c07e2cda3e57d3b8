#!/usr/bin/env bash
# The workshop's slide deck (tools/workshop-slides): slides.sh CASE BUILD_DIR. Exit status 77
# (ctest: skipped) when pandoc, or for the browser case chromium, is not installed.
#
#   deck     renders the deck (--static) into BUILD_DIR/workshop/slides.html and checks it: a
#            <section> per heading of slides.md, one lesson slide per lesson of lessons.toml
#            holding a changed line of code of broken.cpp and one of fixed.cpp (found here
#            with diff, not by the tool) and its expected finding ids, each talk slide named
#            in slides.md, and no resource loaded from outside (src/href/url()/@import)
#   checks   a slides.md missing a lesson's slide, naming a lesson that does not exist, or
#            giving one lesson two slides: the tool exits 2 with a message naming the problem
#   run      --build with a stand-in build tree whose broken programs print a line and write
#            a debug report: the deck shows their findings and printed lines; a lesson not
#            built falls back to the static texts and says so; the footer names the source
#   browser  the deck in headless chromium: no script error, data-ready, and its own self-test
#            (#selftest: the keys step through every slide, exactly one shown at a time)
set -uo pipefail
case_name=$1
build=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
tool=$src/tools/workshop-slides

if ! command -v pandoc >/dev/null 2>&1 && [ "$case_name" != checks ]; then
    echo "SKIP: pandoc is not installed (apt-get install pandoc)"
    exit 77
fi
dir=$(mktemp -d /tmp/aio-workshop-slides.XXXXXX)
trap 'rm -rf "$dir"' EXIT

fail() { echo "FAIL ($case_name): $*" >&2; exit 1; }

# The lessons' folder names, from lessons.toml.
lessons() { sed -n 's/^name = "\([0-9][0-9]-[^"]*\)"/\1/p' "$src/lessons/lessons.toml"; }
# broken_field LESSON FIELD: the lesson's [lesson.broken] list FIELD (findings, output), one a line.
broken_field() {
    python3 -c 'import sys, tomllib
for l in tomllib.load(open(sys.argv[1], "rb"))["lesson"]:
    if l["name"] == sys.argv[2]:
        print("\n".join(l["broken"].get(sys.argv[3], [])))' "$src/lessons/lessons.toml" "$1" "$2"
}
# unescape FILE: its text with the HTML entities decoded (pandoc re-encodes some).
unescape() { python3 -c 'import html, sys; print(html.unescape(open(sys.argv[1]).read()))' "$1"; }
# first_changed SIDE LESSON: the first line that diff marks on that side ('<' broken, '>'
# fixed) and that is code (not blank, not a comment).
first_changed() {
    diff "$src/lessons/$2/broken.cpp" "$src/lessons/$2/fixed.cpp" |
        sed -n "s/^$1 //p" | grep -v -E '^[[:space:]]*(//|$)' | head -1
}
# section FILE NN: the HTML of lesson NN's slide (from its <section> to the next one).
section() {
    awk -v n="$2" '/<section /{on = index($0, "data-lesson=\"" n "\"") > 0} on' "$1"
}

case $case_name in
deck)
    out=$build/workshop/slides.html
    "$tool" --static -o "$out" >"$dir/log" 2>&1 || fail "the tool failed: $(cat "$dir/log")"
    [ -s "$out" ] || fail "no deck written"
    # A slide per heading of slides.md (headings inside fenced code do not count).
    headings=$(awk '/^(```|~~~)/{f = !f; next} !f && /^# /' "$src/docs/workshop/slides.md" | wc -l)
    sections=$(grep -c '<section ' "$out")
    [ "$sections" -eq "$headings" ] || fail "$sections slides for $headings headings"
    [ "$headings" -gt 23 ] || fail "only $headings headings"
    unescape "$out" >"$dir/text.html"
    n=0
    for l in $(lessons); do
        nn=${l:0:2}
        count=$(grep -c "<section [^>]*data-lesson=\"$nn\"" "$out")
        [ "$count" -eq 1 ] || fail "lesson $l has $count slides (want 1)"
        html=$(section "$dir/text.html" "$nn")
        [[ $html == *"lessons/$l/broken.cpp"* ]] || fail "$l: the slide does not name broken.cpp"
        # Both sides' code; each side's first changed line of code, when it has one (a fix
        # may only add lines).
        [[ $html == *'<pre class="broken">'* && $html == *'<pre class="fixed">'* ]] ||
            fail "$l: the slide lacks one side's code"
        changed=0
        for side in '<' '>'; do
            line=$(first_changed "$side" "$l")
            [ -n "$line" ] || continue
            changed=$((changed + 1))
            [[ $html == *"$line"* ]] ||
                fail "$l: the slide lacks the changed line '$line' ($side)"
        done
        [ "$changed" -gt 0 ] || fail "$l: diff found no changed line of code"
        for id in $(broken_field "$l" findings); do
            [[ $html == *"data-finding=\"$id\""* ]] || fail "$l: the slide lacks finding $id"
        done
        n=$((n + 1))
    done
    [ "$n" -ge 23 ] || fail "only $n lessons read from lessons.toml"
    # Each talk slide that slides.md names is a slide of its own.
    while IFS= read -r talk; do
        grep -qF "data-talk=\"$talk\"" "$dir/text.html" || fail "no slide for the talk's '$talk'"
    done < <(sed -n 's/^# .*talk="\([^"]*\)".*/\1/p' "$src/docs/workshop/slides.md" | sort -u)
    # No resource from outside: links (<a href>) may point anywhere, nothing may be loaded.
    if grep -oiE '<(img|script|link|iframe|video|audio|source|embed|object)[^>]*(src|href|data)=["'"'"']?(https?:)?//' "$out" ||
        grep -oiE 'url\(["'"'"']?(https?:)?//|@import' "$out"; then
        fail "the deck loads a resource from outside"
    fi
    grep -q '<script' "$out" || fail "no script embedded"
    echo "deck: $out, $sections slides, $n lessons, $(($(stat -c %s "$out") / 1000)) kB"
    ;;
checks)
    slides=$src/docs/workshop/slides.md
    # expect_problem NAME SLIDES_FILE MESSAGE: the tool exits 2 and says MESSAGE.
    expect_problem() {
        local status=0
        "$tool" --slides "$2" --static --markdown "$dir/out.md" -o "$dir/out.html" >"$dir/log" 2>&1 ||
            status=$?
        [ "$status" -eq 2 ] || fail "$1: exit status $status (want 2): $(cat "$dir/log")"
        grep -qF "$3" "$dir/log" || fail "$1: the message lacks '$3': $(cat "$dir/log")"
    }
    last=$(lessons | tail -1)
    # Without the last lesson's slide: its heading loses the attribute.
    sed "s/ lesson=${last:0:2}}/}/" "$slides" >"$dir/missing.md"
    expect_problem missing "$dir/missing.md" "no slide for $last"
    # A slide of a lesson that is not there.
    sed "s/ see=01}/ see=99}/" "$slides" >"$dir/gone.md"
    expect_problem gone "$dir/gone.md" "see=99: there is no lesson 99"
    # Two slides for lesson 01.
    sed "s/ see=01}/ lesson=01}/" "$slides" >"$dir/twice.md"
    expect_problem twice "$dir/twice.md" "lesson 01 already has its slide"
    # The real one passes.
    "$tool" --static --markdown "$dir/out.md" -o "$dir/out.html" >"$dir/log" 2>&1 ||
        fail "the shipped slides.md is refused: $(cat "$dir/log")"
    ;;
run)
    # A stand-in build tree: each lesson's broken program prints a line of its own and writes a
    # report with one finding; lesson 02's is not built.
    fake=$dir/build
    for l in $(lessons); do
        [ "${l:0:2}" = 02 ] && continue
        mkdir -p "$fake/lessons/$l"
        { echo 'not a line the slide shows'; broken_field "$l" output | sed "s/^/stand-in $l: /"; } \
            >"$fake/lessons/$l/lines.txt"
        cat >"$fake/lessons/$l/broken" <<EOF
#!/usr/bin/env bash
report=\${ASYNC_DEBUG#*report=}; report=\${report%%,*}
cat "$fake/lessons/$l/lines.txt"
cat >"\$report" <<'JSON'
{"schema": "aio-debug-report", "findings": [{"id": "stall", "severity": "error",
 "title": "stand-in finding of $l at $src/lessons/$l/broken.cpp:7 (f)", "fix": "stand-in fix", "count": 2}],
 "counts": {"stall": 2}}
JSON
EOF
        chmod +x "$fake/lessons/$l/broken"
    done
    "$tool" --build "$fake" --markdown "$dir/deck.md" -o "$dir/deck.html" >"$dir/log" 2>&1 ||
        fail "the tool failed: $(cat "$dir/log")"
    unescape "$dir/deck.html" >"$dir/text.html"
    for l in $(lessons); do
        html=$(section "$dir/text.html" "${l:0:2}")
        if [ "${l:0:2}" = 02 ]; then
            [[ $html == *"not built: "* ]] || fail "02: no note that it was not built"
            [[ $html == *'data-source="static"'* ]] || fail "02: not static"
            continue
        fi
        # The title as the run wrote it, the source folder taken off; the count; the lines.
        [[ $html == *"stand-in finding of $l at lessons/$l/broken.cpp:7 (f)"* ]] ||
            fail "$l: the run's finding is not on its slide"
        [[ $html == *"×2"* ]] || fail "$l: no count"
        [[ $html == *"stand-in $l: "* ]] || fail "$l: the printed lines are not on its slide"
        [[ $html != *"not a line the slide shows"* ]] || fail "$l: a line no expectation matches is shown"
    done
    grep -q "from a run of each broken program of $fake" "$dir/deck.html" ||
        fail "the footer does not name the run as the source"
    ;;
browser)
    chromium=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
    if [ -z "$chromium" ]; then
        echo "SKIP: chromium is not installed (apt-get install chromium)"
        exit 77
    fi
    "$tool" --static -o "$dir/slides.html" >"$dir/log" 2>&1 || fail "the tool failed: $(cat "$dir/log")"
    cd "$dir" || exit 1
    # Network requests fail fast: a deck that needs one logs an error.
    timeout 90 "$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --no-first-run --no-default-browser-check --user-data-dir="$dir/profile" \
        --host-resolver-rules="MAP * ~NOTFOUND" --enable-logging=stderr --v=0 \
        --window-size=1280,800 --dump-dom "file://$dir/slides.html#selftest" \
        >dom.html 2>console.txt || fail "chromium failed: $(tail -20 console.txt)"
    if grep -E 'CONSOLE.*(Uncaught|Error)|net::ERR' console.txt; then
        fail "the deck logged an error or a failed request"
    fi
    grep -o 'data-error="[^"]*"' dom.html && fail "the deck's script failed"
    grep -q 'data-ready="1"' dom.html || fail "the deck's script did not finish"
    slides=$(grep -c '<section ' slides.html)
    grep -q "data-selftest=\"ok $slides\"" dom.html ||
        fail "self-test: $(grep -o 'data-selftest="[^"]*"' dom.html || echo 'did not run')"
    echo "chromium: $slides slides, each shown alone in turn"
    ;;
*)
    fail "unknown case"
    ;;
esac
exit 0
