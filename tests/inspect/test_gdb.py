#!/usr/bin/env python3
"""The gdb extension (tools/inspect/gdb/aio_gdb.py) on tests/inspect/parked.cpp.

  test_gdb.py live   PROGRAM SOURCE   gdb -p on the running program: aio tasks, tree, bt
  test_gdb.py core   PROGRAM SOURCE   the same on a core written by gcore
  test_gdb.py errors PROGRAM SCRIPT   the section is there; no process, not an aio program,
                                      version mismatch, no loop: each says so
  test_gdb.py running PROGRAM SOURCE  stopped at a breakpoint inside a task: that task is
                                      running, and the others' stacks still show (the
                                      thread's innermost frames are then inlined calls)

The extension is not sourced by hand in `live` and `core`: gdb must auto-load it from the
program's .debug_gdb_scripts. Every expectation comes from the program's source: the
`// park:NAME` marker of the line where a task suspends, the line that creates it, and what
the call there waits on. Exits non-zero with the failed checks and gdb's output.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parked_facts import CORE_DIR, EDGES, TASKS, source_facts, start, stop  # noqa: E402

GDB = os.environ.get("GDB", "gdb")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def gdb(args, commands, safe_dir=None):
    cmd = [GDB, "-batch", "-nx"]
    if safe_dir:
        cmd += ["-iex", "add-auto-load-safe-path " + safe_dir]
    for c in commands:
        cmd += ["-ex", c]
    t0 = time.monotonic()
    out = subprocess.run(cmd + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=60, check=False).stdout.decode("utf-8", "replace")
    return out, time.monotonic() - t0


def section(out, start_re, end_re):
    m = re.search(start_re, out, re.M)
    if not m:
        return ""
    rest = out[m.end():]
    e = re.search(end_re, rest, re.M)
    return rest[:e.start()] if e else rest


# The commands of one gdb run: `aio bt` takes an id, which only the run itself knows, so a
# line of Python in gdb reads it from `aio tasks`' output, as a user reads it.
BT_BY_ID = ("python import re; _o = gdb.execute('aio tasks', to_string=True); "
            "_i = re.search(r'^\\s*(\\d+)\\s+cycle-a\\s', _o, re.M).group(1); "
            "print('=== bt ' + _i); gdb.execute('aio bt ' + _i)")
COMMANDS = [
    "echo === info auto-load\\n", "info auto-load python-scripts",
    "echo === tasks\\n", "aio tasks",
    "echo === tree\\n", "aio tree",
    BT_BY_ID,
    "echo === bt plain\\n", "bt",
    "echo === locals\\n", "info locals",
    "echo === up\\n", "up",
    "echo === reset\\n", "aio bt --reset", "bt 3",
    "echo === all\\n", "aio bt --all",
    "echo === end\\n",
]


def check_output(out, source, parks, created, core):
    base = os.path.basename(source)
    if "ptrace: Operation not permitted" in out:
        raise SystemExit("gdb may not attach (ptrace): /proc/sys/kernel/yama/ptrace_scope must "
                         "be 0 for this test, or run it as root (docs/inspect.md)")
    check("aio-gdb-extension" in section(out, "^=== info auto-load", "^===")
          and re.search(r"Yes\s+aio-gdb-extension", out), "the extension was auto-loaded")

    # aio tasks: one row per task, each checked against the source.
    tasks = section(out, "^=== tasks", "^=== tree")
    if core:
        check("core file" in tasks, "aio tasks says the times in a core are relative")
    rows = {}
    for line in tasks.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 7 and cells[0].isdigit():
            rows[cells[1]] = cells
    check(len(re.findall(r"^loop on thread \d+ ", tasks, re.M)) == 2, "two loops are listed")
    check(re.search(r"^loop on thread \d+ 'second-loop'", tasks, re.M), "the thread name")
    for name, (park, waits) in TASKS.items():
        row = rows.get(name)
        if not check(row is not None, "aio tasks has a row for %s" % name):
            continue
        _, _, state, on, waited, at, site = row
        check(state == "waiting", "%s is waiting (got %s)" % (name, state))
        check(on == waits, "%s waits on %s (got %s)" % (name, waits, on))
        check(re.fullmatch(r"\d+(ms|\.\ds)", waited) is not None,
              "%s has waited a duration (got %s)" % (name, waited))
        want = "%s:%d" % (base, parks[park])
        check(at == want, "%s is suspended at %s (got %s)" % (name, want, at))
        check(site == "%s:%d" % (base, created[name]),
              "%s was created at %s:%d (got %s)" % (name, base, created[name], site))

    # aio tree: the edges (a child line one level under its parent) and the deadlock.
    tree = section(out, "^=== tree", r"^=== bt ")
    edges, stack = set(), []
    for line in tree.splitlines():
        m = re.match(r"^((?:[│ ]   )*)(?:[├└]── )?task \d+ '([^']*)'", line)
        if not m:
            continue
        depth = len(m.group(1)) // 4 + (1 if re.match(r"^(?:[│ ]   )*[├└]── ", line) else 0)
        del stack[depth:]
        if stack:
            edges.add((stack[-1], m.group(2)))
        stack.append(m.group(2))
    for e in EDGES:
        check(e in edges, "aio tree: %s waits for %s" % e)
    dl = re.findall(r"^deadlock: .*$", tree, re.M)
    check(len(dl) == 1, "one deadlock line (got %d)" % len(dl))
    check(dl and re.fullmatch(r"deadlock: task \d+ 'cycle-a' waits for task \d+ 'cycle-b' "
                              r"\(aio::lock\), which waits for task \d+ 'cycle-a' \(aio::lock\)",
                              dl[0]), "the deadlock names the pair, as aio pstree does")

    # aio bt ID: the fiber's frames; bt, info locals and up work in them; --reset leaves.
    cycle = "%s:%d" % (base, parks["cycle"])
    bt = section(out, r"^=== bt \d+", "^=== bt plain")
    check(re.search(r"^#\d+ .*hold_then_take.* at \S*%s$" % re.escape(cycle), bt, re.M),
          "aio bt shows hold_then_take at %s" % cycle)
    check(re.search(r"^selected #\d+ .*hold_then_take at \S*%s" % re.escape(cycle), bt, re.M),
          "aio bt selects the first user frame")
    plain = section(out, "^=== bt plain", "^=== locals")
    check(re.search(r"hold_then_take.* at \S*%s$" % re.escape(cycle), plain, re.M),
          "a plain bt shows the fiber's stack")
    check(re.search(r"^#0 .*thread's own frame", plain, re.M), "frame #0 is marked as the thread's")
    locals_ = section(out, "^=== locals", "^=== up")
    check(re.search(r"^g1 = ", locals_, re.M), "info locals in hold_then_take shows g1")
    up = section(out, "^=== up", "^=== reset")
    calls = [no for no, text in enumerate(open(source).read().splitlines(), 1)
             if "hold_then_take(la, lb)" in text]
    check(calls and re.search(r"operator\(\).* at \S*%s:%d" % (re.escape(base), calls[0]), up, re.M),
          "up goes to the lambda that called hold_then_take")
    reset = section(out, "^=== reset", "^=== all")
    check("back to the thread's own stack" in reset and "hold_then_take" not in reset,
          "aio bt --reset shows the thread's own stack again")

    # aio bt --all: every task, the two gather children (same code path) merged.
    all_ = section(out, "^=== all", "^=== end")
    groups = re.findall(r"^(\d+) tasks?: (.*)$", all_, re.M)
    live = [r for r in rows.values() if not r[2].startswith("done")]  # a done task has no stack
    check(sum(int(n) for n, _ in groups) == len(live), "aio bt --all covers every task not done "
          "(%d of %d)" % (sum(int(n) for n, _ in groups), len(live)))
    check(any("'gather-child-a'" in g and "'gather-child-b'" in g for _, g in groups),
          "identical stacks are merged")
    check(re.search(r"hold_then_take at \S*%s$" % re.escape(cycle), all_, re.M),
          "aio bt --all shows the cycle's line")
    check("Traceback" not in out and "Python Exception" not in out, "no Python error")


def run_live(program, source, core):
    parks, created = source_facts(source)
    safe = os.path.dirname(os.path.realpath(program))
    proc = start(program)
    tmp = tempfile.mkdtemp(prefix="aio-gdb-", dir=CORE_DIR)
    try:
        if core:
            t0 = time.monotonic()
            r = subprocess.run(["gcore", "-o", os.path.join(tmp, "core"), str(proc.pid)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            gcore_s = time.monotonic() - t0
            stop(proc)
            path = os.path.join(tmp, "core.%d" % proc.pid)
            if not os.path.exists(path):
                raise SystemExit("gcore wrote no core:\n" + r.stdout.decode())
            out, secs = gdb([program, path], COMMANDS, safe)
            print("gcore: %.2fs, core %.0f MB" % (gcore_s, os.path.getsize(path) / 1e6))
        else:
            out, secs = gdb(["-p", str(proc.pid)], COMMANDS, safe)
        print("gdb: %.2fs" % secs)
        check_output(out, source, parks, created, core)
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def run_errors(program, script):
    out = subprocess.run(["readelf", "-SW", program], stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    check(re.search(r"\.debug_gdb_scripts\s+PROGBITS", out), "the program has .debug_gdb_scripts")
    src = ["source " + script]
    # No process.
    out, _ = gdb([program], src + ["aio tasks"])
    check("aio: no process" in out, "no process: says so")
    # Not an aio program: a process without aio_inspect_root.
    out2, _ = gdb(["--args", shutil.which("true") or "/bin/true"],
                  src + ["starti", "aio tasks"])
    check("aio: not an aio program" in out2, "not an aio program: says so")
    out += out2
    # Version mismatch and no loop: the root of the running program, altered under gdb.
    proc = start(program)
    try:
        root = "((char*)&aio_inspect_root)"
        out3, _ = gdb(["-p", str(proc.pid)], src + [
            "set var *(unsigned int*)(%s + 8) = 99" % root, "aio tasks",
            "set var *(unsigned int*)(%s + 8) = 1" % root,
            "set var *(long*)(%s + 24) = 0" % root, "aio tree",
            "set var *(char*)%s = 'x'" % root, "aio tasks"])
    finally:
        stop(proc)
    check("version mismatch: the program's aio_inspect_root is version 99" in out3,
          "a version mismatch names both versions")
    check("no aio loop is running" in out3, "no loop: says so")
    check("'aio-insp' magic" in out3, "a bad magic: not an aio program")
    check("Traceback" not in out3 + out, "no Python error")
    return out + out3


def run_running(program, source):
    parks, _ = source_facts(source)
    base = os.path.basename(source)
    safe = os.path.dirname(os.path.realpath(program))
    out, secs = gdb(["--args", program], [
        "break hold_then_take", "run", "echo === tasks\\n", "aio tasks",
        "echo === bt running\\n", "aio bt cycle-a",
        "echo === bt sleeper\\n", "aio bt sleeper", "echo === end\\n", "kill"], safe)
    print("gdb: %.2fs" % secs)
    tasks = section(out, "^=== tasks", "^=== bt running")
    check(re.search(r"^\s*\d+\s+cycle-a\s+running\s+-\s+-\s+\(on the CPU\)", tasks, re.M),
          "cycle-a is running, on the CPU")
    check(re.search(r"^\s*\d+\s+sleeper\s+waiting\s+aio::sleep\s+\S+\s+%s:%d\s" % (
        re.escape(base), parks["sleeper"]), tasks, re.M), "sleeper is suspended at its park line")
    running = section(out, "^=== bt running", "^=== bt sleeper")
    check("is running on thread" in running and "no saved context" in running,
          "aio bt on the running task says so")
    check(re.search(r"^#0 .*hold_then_take", running, re.M), "and shows its thread's stack")
    sleeper = section(out, "^=== bt sleeper", "^=== end")
    check(re.search(r"^selected #\d+ .* at \S*%s:%d" % (re.escape(base), parks["sleeper"]),
                    sleeper, re.M), "aio bt sleeper selects its park line")
    check("Traceback" not in out and "Python Exception" not in out, "no Python error")
    return out


def main():
    mode, program, arg = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    if mode == "running":
        out = run_running(program, arg)
    elif mode == "errors":
        out = run_errors(program, arg)
    else:
        out = run_live(program, arg, core=(mode == "core"))
    if failures:
        print(out)
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
