"""Checks a debug-mode report against the `// expect: <id>` marks of a source file.

Every mark (`// expect: <id>[, <id>...]`) must be matched by a finding of that id whose first
frame (culprit, else creation) is the marked line; every finding must name a line of the source file first, in its title and
its stacks; no frame may be one of aio's own headers. Usage: check.py SOURCE REPORT STDERR
"""
import json
import re
import sys

source, report_path, stderr_path = sys.argv[1:4]
name = source.rsplit("/", 1)[-1]
expected = []
with open(source) as f:
    for n, text in enumerate(f, start=1):
        m = re.search(r"// expect: ([a-z-]+(?:, [a-z-]+)*)", text)
        if m:
            for id_ in m.group(1).split(", "):
                expected.append((id_, n))

with open(report_path) as f:
    findings = json.load(f)["findings"]

problems = []


def first_frame(x):
    frames = x["culprit"] or x["creation"]
    return frames[0] if frames else None


for x in findings:
    ff = first_frame(x)
    where = f"{ff['file']}:{ff['line']}" if ff else "no frame"
    if ff is None or not ff["file"].endswith("/" + name):
        problems.append(f"[{x['id']}] names {where} first, not a line of {name}: {x['title']}")
    elif f"{name}:{ff['line']}" not in x["title"]:
        problems.append(f"[{x['id']}] title does not name {name}:{ff['line']}: {x['title']}")
    for fr in x["culprit"] + x["creation"]:
        if "/include/aio/" in fr["file"]:
            problems.append(f"[{x['id']}] has aio's header {fr['file']} among its frames")

for id_, line in expected:
    if not any(x["id"] == id_ and (ff := first_frame(x)) and ff["file"].endswith("/" + name)
               and ff["line"] == line for x in findings):
        got = [f"{x['id']} at {first_frame(x)['line'] if first_frame(x) else '?'}"
               for x in findings]
        problems.append(f"expected [{id_}] at {name}:{line}; findings: {', '.join(got)}")

# blocking-call findings only where a blocking call was made on purpose (aio's own work, such
# as resolving a creation site for the loop's error message, is not the user's blocking call).
blocking_lines = {line for id_, line in expected if id_ == "blocking-call"}
for x in findings:
    ff = first_frame(x)
    if x["id"] == "blocking-call" and (ff is None or ff["line"] not in blocking_lines):
        problems.append(f"unexpected [blocking-call]: {x['title']}")

# A finding captured while the user's line was inside the C library says what it was in.
for x in findings:
    if x["id"] == "stall" and not x["inside"]:
        problems.append(f"[stall] has no 'inside' frames: {x['title']}")

# The loop's own message names the user's line too (debug mode resolves creation sites for it).
with open(stderr_path) as f:
    lines = f.read().splitlines()
for k, text in enumerate(lines):
    if text == "aio: Task exception was never retrieved" and k + 1 < len(lines):
        m = re.search(r"created at (\S+)", lines[k + 1])
        if not m or not re.search(re.escape("/" + name) + r":\d+$", m.group(1)):
            problems.append(f"the loop's own message does not name {name}: {lines[k + 1]}")

# The live stall lines name the task whose step is stalled, as its finding does.
stall_tasks = {x["task"]["name"] for x in findings if x["id"] == "stall"}
for text in lines:
    m = re.search(r"\[stall\] loop blocked .* so far in task '([^']*)'", text)
    if m and m.group(1) not in stall_tasks:
        problems.append(f"a live stall line names task '{m.group(1)}', the findings "
                        f"{sorted(stall_tasks)}: {text}")

if problems:
    print("\n".join(problems), file=sys.stderr)
    print("--- stderr of the run:", file=sys.stderr)
    with open(stderr_path) as f:
        sys.stderr.write(f.read())
    sys.exit(1)
print(f"{len(findings)} findings, {len(expected)} expected ones, each names the user's line first")
