#!/usr/bin/env python3
"""Drives a program in a pseudo-terminal, as a participant at a keyboard would (for the
runner's watch tests): pty_drive.py STEP... -- COMMAND ARGS...

Steps, in order (each `expect` waits up to 20 s and looks only after the previous match):
  expect:TEXT    the output shows TEXT ("\\e" stands for ESC)
  absent:SECS:TEXT  TEXT does not show within SECS seconds
  send:KEYS      types KEYS
  raw            the terminal is in raw mode now (no echo, no line buffering)
  cooked         the terminal is back to echo and line buffering
  exit:STATUS    the program ends, with that exit status
Exits 0 when every step held, 1 otherwise, printing the step that failed and the output."""
import os
import pty
import select
import sys
import termios
import time

TIMEOUT = 20.0


def main():
    split = sys.argv.index("--")
    steps, command = sys.argv[1:split], sys.argv[split + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    out = b""
    pos = 0
    status = None

    def pump(seconds):
        nonlocal out
        ready, _, _ = select.select([fd], [], [], max(0.0, seconds))
        if not ready:
            return True
        try:
            data = os.read(fd, 65536)
        except OSError:  # the program and everything on the terminal ended
            data = b""
        out += data
        return bool(data)

    def fail(step, why):
        sys.stdout.write("pty_drive: step '%s' failed: %s\n--- output ---\n%s\n--- end ---\n"
                         % (step, why, out.decode(errors="replace")))
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        sys.exit(1)

    for step in steps:
        kind, _, arg = step.partition(":")
        if kind == "expect":
            want = arg.replace("\\e", "\x1b").encode()
            end = time.time() + TIMEOUT
            while out.find(want, pos) < 0:
                if time.time() > end or not pump(end - time.time()):
                    fail(step, "not in the output")
            pos = out.find(want, pos) + len(want)
        elif kind == "absent":
            secs, _, text = arg.partition(":")
            end = time.time() + float(secs)
            while time.time() < end and pump(end - time.time()):
                pass
            if out.find(text.encode(), pos) >= 0:
                fail(step, "it showed")
        elif kind == "send":
            os.write(fd, arg.encode())
        elif kind in ("raw", "cooked"):
            lflag = termios.tcgetattr(fd)[3]
            is_raw = not (lflag & termios.ECHO) and not (lflag & termios.ICANON)
            is_cooked = bool(lflag & termios.ECHO) and bool(lflag & termios.ICANON)
            if (kind == "raw" and not is_raw) or (kind == "cooked" and not is_cooked):
                fail(step, "the terminal's local flags are %#o" % lflag)
        elif kind == "exit":
            end = time.time() + TIMEOUT
            while status is None and time.time() < end:
                pump(0.1)
                done, st = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = os.waitstatus_to_exitcode(st)
            if status != int(arg):
                fail(step, "exit status %s" % status)
        else:
            fail(step, "unknown step")
    if status is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    sys.stdout.write(out.decode(errors="replace"))


if __name__ == "__main__":
    main()
