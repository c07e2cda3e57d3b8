#!/usr/bin/env python3
"""The aio command (tools/inspect) on tests/inspect/parked.cpp.

  test_ps.py live   AIO PROGRAM SOURCE   aio ps / pstree / where on the running program
  test_ps.py core   AIO PROGRAM SOURCE   the same on a core written by gcore
  test_ps.py errors AIO PROGRAM SOURCE   no process, not an aio program, no permission, a
                                         bad core, an unknown task: each says so, exit 1
  test_ps.py pause  AIO PROGRAM SOURCE   the program runs on after aio ps, unharmed, and the
                                         pause is reported

Every expectation comes from the program's source (parked_facts.py). Exits non-zero with
the failed checks and the command's output.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parked_facts import EDGES, TASKS, source_facts, start, stop  # noqa: E402

failures = []
outputs = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def aio(tool, *args, user=None):
    cmd = [tool] + list(args)
    if user is not None:
        cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
    outputs.append("$ %s  (%.2fs, exit %d)\n%s%s" % (" ".join(cmd), time.monotonic() - t0,
                                                     r.returncode, out, err))
    return r.returncode, out, err


def check_views(tool, source_args, source, parks, created, core):
    base = os.path.basename(source)
    rc, out, _ = aio(tool, "ps", *source_args, "--json")
    if not check(rc == 0, "aio ps --json exits 0"):
        return
    ps = json.loads(out)
    check(len(ps["loops"]) == 2, "two loops (got %d)" % len(ps["loops"]))
    check(ps["loops"][1]["thread_name"] == "second-loop", "the second loop's thread name")
    rows = {t["name"]: t for loop in ps["loops"] for t in loop["tasks"]}
    by_id = {t["id"]: t for t in rows.values()}
    for name, (park, waits) in TASKS.items():
        row = rows.get(name)
        if not check(row is not None, "aio ps has a row for %s" % name):
            continue
        check(row["state"] == "waiting", "%s is waiting (got %s)" % (name, row["state"]))
        check(row["waiting_on"] == waits, "%s waits on %s (got %s)" % (name, waits, row["waiting_on"]))
        at = row["suspended_at"] or {}
        check(at.get("file", "").endswith("/" + base) and at.get("line") == parks[park],
              "%s is suspended at %s:%d (got %s)" % (name, base, parks[park], at))
        site = row["created_at"] or {}
        check(site.get("file", "").endswith(base) and site.get("line") == created[name],
              "%s was created at %s:%d (got %s)" % (name, base, created[name], site))
        check(row["waiting_for_s"] is not None and 0 <= row["waiting_for_s"] < 60,
              "%s has waited a while (got %s)" % (name, row["waiting_for_s"]))
    # What the waits are on, in detail.
    check(rows["lock-waiter"]["detail"] == "held by task %d 'lock-holder'" % rows["lock-holder"]["id"],
          "the lock's holder is named (got %r)" % rows["lock-waiter"]["detail"])
    check(re.fullmatch(r"peer 127\.0\.0\.1:\d+", rows["reader"]["detail"]),
          "the reader's peer is named (got %r)" % rows["reader"]["detail"])
    check(rows["reader"]["deadline_kind"] == "deadline", "the read has a deadline (read timeout)")
    check(rows["timed"]["deadline_kind"] == "timeout", "the timeout's deadline is shown")
    if not core:
        check(3500 < rows["sleeper"]["deadline_in_s"] <= 3600, "the sleep ends in about an hour")
        check(55 < rows["reader"]["deadline_in_s"] <= 60, "the read times out within 60 s")
    check(rows["closer"]["detail"] == "scheduler 'orders'", "wait_and_close names the scheduler")
    check(rows["order-1"].get("job") == "order-1" and rows["order-1"].get("scheduler") == "orders",
          "a job is shown with its scheduler")
    # Who waits for whom, as ps reports it.
    for a, b in EDGES:
        check(any(by_id[w["id"]]["name"] == b for w in rows[a]["waits_for"]),
              "aio ps: %s waits for %s" % (a, b))

    # pstree, text: the edges are the tree's nesting, and the deadlock is named.
    rc, tree, _ = aio(tool, "pstree", *source_args)
    check(rc == 0, "aio pstree exits 0")
    edges, stack = set(), []
    for line in tree.splitlines():
        m = re.match(r"^((?:[│ ]   )*)([├└]── )task \d+ '([^']*)'", line)
        if not m:
            continue
        depth = len(m.group(1)) // 4
        del stack[depth:]
        if stack:
            edges.add((stack[-1], m.group(3)))
        stack.append(m.group(3))
    for e in EDGES:
        check(e in edges, "aio pstree: %s waits for %s" % e)
    dl = re.findall(r"^deadlock: .*$", tree, re.M)
    check(len(dl) == 1, "one deadlock line (got %d)" % len(dl))
    check(dl and re.fullmatch(r"deadlock: task \d+ 'cycle-a' waits for task \d+ 'cycle-b' "
                              r"\(aio::lock\), which waits for task \d+ 'cycle-a' \(aio::lock\)",
                              dl[0]), "the deadlock names the pair and the lock")
    rc, out, _ = aio(tool, "pstree", *source_args, "--json")
    cycles = json.loads(out)["deadlocks"] if rc == 0 else []
    check(len(cycles) == 1 and sorted(by_id[i]["name"] for i in cycles[0]["tasks"]) ==
          ["cycle-a", "cycle-b"], "pstree --json: the deadlocked pair")

    # where: the user's frame first, at the line of the wait; aio's frames after.
    cycle = "%s:%d" % (base, parks["cycle"])
    rc, out, _ = aio(tool, "where", *source_args, "cycle-a")
    check(rc == 0, "aio where exits 0")
    frames = re.findall(r"^  #(\d+)\s+(.*)$", out, re.M)
    check(frames and "hold_then_take" in frames[0][1] and frames[0][1].find(cycle) > 0,
          "aio where: #0 is hold_then_take at %s (got %s)" % (cycle, frames[:1]))
    check(re.search(r"inside the wait.*\n(?:.*\n)*.*aio::lock::acquire", out),
          "aio's own frames are listed after the user's")
    rc, out, _ = aio(tool, "where", *source_args, str(rows["cycle-b"]["id"]), "--json")
    w = json.loads(out)["tasks"][0] if rc == 0 else {"frames": []}
    kinds = [f["kind"] for f in w["frames"]]
    check(w["frames"] and kinds[0] == "aio" and "user" in kinds, "--json: frames with their kinds")
    first = w["frames"][w["first_user_frame"]] if w.get("first_user_frame") is not None else {}
    check(first.get("line") == parks["cycle"], "--json: the first user frame is the wait's line")
    rc, out, _ = aio(tool, "where", *source_args, "--all")
    check(rc == 0, "aio where --all exits 0")
    groups = re.findall(r"^(\d+) tasks with this stack: (.*)$", out, re.M)
    check(any("'gather-child-a'" in g and "'gather-child-b'" in g for _, g in groups),
          "where --all merges identical stacks")
    singles = len(re.findall(r"^task \d+ '[^']*' on thread", out, re.M))
    check(singles + sum(int(n) for n, _ in groups) == len(rows),
          "where --all covers every task (%d of %d)" % (singles + sum(int(n) for n, _ in groups),
                                                        len(rows)))

    # ps, text: the columns a person reads.
    rc, out, _ = aio(tool, "ps", *source_args)
    check(re.search(r"^\s+\d+ cycle-a\s+waiting aio::lock \(held by task \d+ 'cycle-b'\)", out, re.M),
          "aio ps: the text row of cycle-a")
    check(re.search(r"inspect/%s:%d" % (re.escape(base), parks["cycle"]), out), "aio ps: the line")


def run_live(tool, program, source):
    parks, created = source_facts(source)
    proc = start(program)
    try:
        check_views(tool, [str(proc.pid)], source, parks, created, core=False)
    finally:
        stop(proc)


def run_core(tool, program, source):
    parks, created = source_facts(source)
    proc = start(program)
    tmp = tempfile.mkdtemp(prefix="aio-ps-")
    try:
        subprocess.run(["gcore", "-o", os.path.join(tmp, "core"), str(proc.pid)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        path = os.path.join(tmp, "core.%d" % proc.pid)
        stop(proc)
        if not check(os.path.exists(path), "gcore wrote a core"):
            return
        check_views(tool, ["--core", program, path], source, parks, created, core=True)
        rc, out, _ = aio(tool, "ps", "--core", program, path)
        check("before the newest park" in out, "a core's durations say what they are relative to")
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def run_errors(tool, program, source):
    rc, _, err = aio(tool, "ps", "999999999")
    check(rc == 1 and "no process with id 999999999" in err, "no such process")
    rc, _, err = aio(tool, "ps", "abc")
    check(rc == 1 and "'abc' is not a process id" in err, "a bad process id")
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        rc, _, err = aio(tool, "ps", str(sleeper.pid))
        check(rc == 1 and "does not use aio" in err, "not an aio program")
    finally:
        sleeper.kill()
        sleeper.wait()
    rc, _, err = aio(tool, "ps", "--core", program, source)
    check(rc == 1 and "is not a core file" in err, "a file that is not a core")
    rc, _, err = aio(tool, "ps", "--core", "/nonexistent/prog", source)
    check(rc == 1 and "cannot read the program '/nonexistent/prog'" in err, "a missing program")
    rc, _, err = aio(tool, "ps")
    check(rc != 0 and "give one process id" in err, "no process id: the usage says what to give")
    proc = start(program)
    try:
        rc, _, err = aio(tool, "where", str(proc.pid), "no-such-task")
        check(rc == 1 and "no task with id or name 'no-such-task'" in err, "an unknown task")
        rc, _, err = aio(tool, "where", str(proc.pid), "idle")  # no idle tasks: none named so
        check(rc == 1, "a name nobody has")
        if os.geteuid() == 0 and shutil.which("setpriv"):
            # Another user may not attach to root's process: the message says why and what to do.
            rc, _, err = aio(tool, "ps", str(proc.pid), user=65534)
            check(rc == 1 and "no permission to attach to process %d" % proc.pid in err,
                  "no permission: says so")
            check("root" in err, "no permission: says what to do")
        # A process already traced (by gdb, say) is named.
        tracer = subprocess.Popen(["gdb", "-batch", "-nx", "-p", str(proc.pid), "-ex",
                                   "shell sleep 3"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                status = open("/proc/%d/status" % proc.pid).read()
                if re.search(r"TracerPid:\s+[1-9]", status):
                    break
                time.sleep(0.05)
            rc, _, err = aio(tool, "ps", str(proc.pid))
            check(rc == 1 and "is already traced by process" in err, "already traced: says so")
        finally:
            tracer.kill()
            tracer.wait()
    finally:
        stop(proc)
    # Several tasks of one name: where asks for the id.
    proc = subprocess.Popen([program, "3"], stdout=subprocess.PIPE, start_new_session=True)
    try:
        line = proc.stdout.readline().decode()
        check(line.startswith("READY"), "the program with idle tasks started")
        rc, _, err = aio(tool, "where", str(proc.pid), "idle")
        check(rc == 1 and "several tasks are named 'idle'" in err and "give the id" in err,
              "an ambiguous name")
    finally:
        stop(proc)


def run_pause(tool, program, source):
    proc = start(program)
    try:
        for _ in range(3):
            rc, out, _ = aio(tool, "ps", str(proc.pid))
            m = re.search(r"\(paused (\d+\.\d) ms\)", out)
            check(rc == 0 and m is not None, "the pause is reported")
        status = open("/proc/%d/status" % proc.pid).read()
        check(re.search(r"TracerPid:\s+0\b", status), "aio ps has detached")
        check(re.search(r"State:\s+S", status), "the program runs on (sleeping in its loop)")
        check(proc.poll() is None, "the program is alive")
        # Its tasks still run: a second look finds the same waits, with longer durations.
        _, a, _ = aio(tool, "ps", str(proc.pid), "--json")
        time.sleep(0.3)
        _, b, _ = aio(tool, "ps", str(proc.pid), "--json")
        t1 = {t["name"]: t for l in json.loads(a)["loops"] for t in l["tasks"]}
        t2 = {t["name"]: t for l in json.loads(b)["loops"] for t in l["tasks"]}
        check(t2["sleeper"]["waiting_for_s"] > t1["sleeper"]["waiting_for_s"],
              "time goes on between two looks")
    finally:
        stop(proc)


def main():
    mode, tool, program, source = sys.argv[1:5]
    program = os.path.abspath(program)
    {"live": run_live, "core": run_core, "errors": run_errors, "pause": run_pause}[mode](
        tool, program, source)
    if failures:
        print("\n".join(outputs))
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("ok (%d commands)" % len(outputs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
