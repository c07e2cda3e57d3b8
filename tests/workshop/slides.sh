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
# unescape FILE: its text with the HTML entities decoded (pandoc re-encodes some).
unescape() { python3 -c 'import html, sys; print(html.unescape(open(sys.argv[1]).read()))' "$1"; }
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
    # Per lesson (one python3 for all: a process per check is slow on a busy machine).
    n=$(python3 - "$src" "$out" <<'PY'
import html, re, subprocess, sys, tomllib
src, out = sys.argv[1], sys.argv[2]
text = html.unescape(open(out).read())
def fail(msg):
    print(f"FAIL (deck): {msg}", file=sys.stderr)
    sys.exit(1)
lessons = tomllib.load(open(f"{src}/lessons/lessons.toml", "rb"))["lesson"]
for l in lessons:
    name, nn = l["name"], l["name"][:2]
    starts = [m.start() for m in re.finditer(rf'<section [^>]*data-lesson="{nn}"', text)]
    if len(starts) != 1:
        fail(f"lesson {name} has {len(starts)} slides (want 1)")
    end = text.find("<section ", starts[0] + 1)
    slide = text[starts[0]:end if end > 0 else len(text)]
    if f"lessons/{name}/broken.cpp" not in slide:
        fail(f"{name}: the slide does not name broken.cpp")
    if '<pre class="broken">' not in slide or '<pre class="fixed">' not in slide:
        fail(f"{name}: the slide lacks one side's code")
    # Each side's first changed line of code by diff(1), when it has one (a fix may only add).
    d = subprocess.run(["diff", f"{src}/lessons/{name}/broken.cpp",
                        f"{src}/lessons/{name}/fixed.cpp"], capture_output=True, text=True).stdout
    changed = 0
    for side in "<>":
        code = [x[2:] for x in d.splitlines() if x.startswith(side + " ")
                and x[2:].strip() and not x[2:].strip().startswith(("//", "#include"))]
        if code:
            changed += 1
            if code[0] not in slide:
                fail(f"{name}: the slide lacks the changed line {code[0]!r} ({side})")
    if not changed:
        fail(f"{name}: diff found no changed line of code")
    for fid in l.get("broken", {}).get("findings", []):
        if f'data-finding="{fid}"' not in slide:
            fail(f"{name}: the slide lacks finding {fid}")
print(len(lessons))
PY
) || exit 1
    [ "$n" -ge 23 ] || fail "only $n lessons read from lessons.toml"
    unescape "$out" >"$dir/text.html"
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
    # report with one finding; lesson 02's is not built. A lesson whose broken program must
    # hang (hangs = true) gets one that prints its lines and hangs, with no report: the
    # slide shows the lines of that run, and no finding.
    fake=$dir/build
    python3 - "$src" "$fake" <<'PY' || fail "could not make the stand-in tree"
import json, os, sys, tomllib
src, fake = sys.argv[1], sys.argv[2]
for l in tomllib.load(open(f"{src}/lessons/lessons.toml", "rb"))["lesson"]:
    name = l["name"]
    if name.startswith("02"):
        continue
    d = f"{fake}/lessons/{name}"
    os.makedirs(d)
    lines = ["not a line the slide shows"] + [f"stand-in {name}: {w}" for w in l["broken"]["output"]]
    open(f"{d}/lines.txt", "w").write("\n".join(lines) + "\n")
    report = {"schema": "aio-debug-report", "counts": {"stall": 2}, "findings": [
        {"id": "stall", "severity": "error", "fix": "stand-in fix", "count": 2,
         "title": f"stand-in finding of {name} at {src}/lessons/{name}/broken.cpp:7 (f)"}]}
    open(f"{d}/report.json", "w").write(json.dumps(report))
    # The program: its lines on stdout, the report where ASYNC_DEBUG's report= says.
    open(f"{d}/broken", "w").write(
        "#!/usr/bin/env bash\n"
        "report=${ASYNC_DEBUG#*report=}; report=${report%%,*}\n"
        f"cat '{d}/lines.txt'\ncp '{d}/report.json' \"$report\"\n")
    if l["broken"].get("hangs"):
        open(f"{d}/hangs", "w").close()
        open(f"{d}/broken", "w").write(f"#!/usr/bin/env bash\ncat '{d}/lines.txt'\nexec sleep 600\n")
    os.chmod(f"{d}/broken", 0o755)
PY
    AIO_LESSONS_TIME_LIMIT=1 "$tool" --build "$fake" -j 4 --markdown "$dir/deck.md" -o "$dir/deck.html" >"$dir/log" 2>&1 ||
        fail "the tool failed: $(cat "$dir/log")"
    unescape "$dir/deck.html" >"$dir/text.html"
    for l in $(lessons); do
        html=$(section "$dir/text.html" "${l:0:2}")
        if [ "${l:0:2}" = 02 ]; then
            [[ $html == *"not built: "* ]] || fail "02: no note that it was not built"
            [[ $html == *'data-source="static"'* ]] || fail "02: not static"
            continue
        fi
        if [ -e "$fake/lessons/$l/hangs" ]; then
            [[ $html == *'data-source="run"'* ]] || fail "$l (hangs): not from its run"
            [[ $html == *"stand-in $l: "* ]] || fail "$l (hangs): the printed lines are not on its slide"
            [[ $html != *"stand-in finding"* ]] || fail "$l (hangs): a finding is shown"
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
