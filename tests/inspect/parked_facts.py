"""What tests/inspect/parked.cpp does, for the inspection tests (test_ps.py: the aio command;
test_gdb.py: the gdb extension): its tasks, where each suspends and what it waits on, who
waits for whom, read from the program's source; starting and stopping it."""

import os
import re
import select
import signal
import subprocess
import time

# name -> (park marker, what it waits on): the program's tasks, read from parked.cpp's code.
TASKS = {
    "main": ("main", "aio::event"),
    "sleeper": ("sleeper", "aio::sleep"),
    "event-waiter": ("event-waiter", "aio::event"),
    "lock-holder": ("lock-holder", "aio::event"),
    "lock-waiter": ("lock-waiter", "aio::lock"),
    "queue-getter": ("queue-getter", "aio::queue::get"),
    "joiner": ("joiner", "aio::task::get"),
    "gatherer": ("gatherer", "aio::gather"),
    "gather-child-a": ("nap", "aio::sleep"),
    "gather-child-b": ("nap", "aio::sleep"),
    "grouper": ("grouper", "aio::task_group"),
    "group-child": ("group-child", "aio::event"),
    "timed": ("timed", "aio::event"),
    "threaded": ("threaded", "aio::to_thread"),
    "cycle-a": ("cycle", "aio::lock"),
    "cycle-b": ("cycle", "aio::lock"),
    "reader": ("reader", "aio::stream::read_line"),
    "order-1": ("nap", "aio::sleep"),
    "order-2": ("nap", "aio::sleep"),
    "closer": ("closer", "aio::jobs::scheduler::wait_and_close"),
    "other-main": ("other-main", "aio::task::get"),
    "other-sleeper": ("other-sleeper", "aio::sleep"),
    "other-getter": ("other-getter", "aio::queue::get"),
}

EDGES = [("joiner", "sleeper"), ("gatherer", "gather-child-a"), ("gatherer", "gather-child-b"),
         ("grouper", "group-child"), ("lock-waiter", "lock-holder"), ("closer", "order-1"),
         ("closer", "order-2"), ("other-main", "other-sleeper")]


def source_facts(path):
    """park markers -> line; task name -> the line that creates it: the first that spells
    its name, or for a loop's main task the aio::run call."""
    lines = open(path).read().splitlines()
    parks, created = {}, {}
    in_main = False
    for no, text in enumerate(lines, 1):
        m = re.search(r"// park:(\S+)", text)
        if m:
            parks[m.group(1)] = no
        for name in TASKS:
            if '"%s"' % name in text:
                created.setdefault(name, no)
        if text.startswith("int main("):
            in_main = True
        if "aio::run(" in text:
            created["main" if in_main else "other-main"] = no
    return parks, created


def start(program):
    proc = subprocess.Popen([program], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 10
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.1)
        if r:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            if b"READY" in buf and buf.endswith(b"\n"):
                return proc
    stop(proc)
    raise SystemExit("the program did not print READY: %r" % buf)


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


