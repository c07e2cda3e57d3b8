# aio's gdb extension (docs/inspect.md, section "gdb"): commands that show an aio program's
# tasks inside gdb, on a live process (gdb -p PID) and on a core file (gdb PROG CORE):
#
#   aio tasks          one row per task of every loop: id, name, state, what it waits on,
#                      for how long, the user line where it is suspended, its creation site
#   aio tree           who waits for whom (get, gather, wait, task_group, a lock's holder,
#                      a job scheduler's jobs), and every cycle as a "deadlock:" line
#   aio bt TASK        show a suspended task's fiber stack: bt, frame N, info locals, print
#                      then work in it (TASK is an id or a name)
#   aio bt --all       every task's stack, identical stacks merged with a count
#   aio bt --reset     back to the thread's own stack (also: aio thread)
#
# Map of this file:
#   - memory and the root: _Target reads the inferior; _Layout is the table of named fields
#     of aio_inspect_root (runtime/src/inspect.hpp). Everything is read through those names,
#     never through aio's C++ types, so a program built without -g for aio works too.
#   - the snapshot: _Loop and _Task, read afresh by every command (the program may have run).
#   - fibers: _FiberUnwinder makes the saved registers of the selected fiber the caller of the
#     thread's innermost frame, so gdb unwinds the fiber's stack from frame #1 on; it writes no
#     register, which is why it works on a core file.
#   - the commands.

import os
import posixpath
import re
import struct
import time

import gdb
import gdb.unwinder

try:
    from gdb.FrameDecorator import FrameDecorator
except ImportError:  # a gdb built without the Python frame API extras
    FrameDecorator = None

ROOT_SYMBOL = "aio_inspect_root"
ROOT_SECTION = "aio_inspect"
ROOT_MAGIC = b"aio-insp"
ROOT_VERSION = 1
MAX_TASKS = 1000000
MAX_FRAMES = 200


class AioError(gdb.GdbError):
    """A message for the user, printed by gdb without a Python traceback."""


# --------------------------------------------------------------------------------------------
# Memory and the root


class _Target:
    """The inferior's memory, read little-endian (x86-64)."""

    def __init__(self):
        self.inf = gdb.selected_inferior()
        if self.inf is None or self.inf.pid == 0 or not self.inf.threads():
            raise AioError(
                "aio: no process: run the program, attach to it (gdb -p PID) or open a core "
                "file (gdb PROG CORE)")
        self.is_core = _is_core(self.inf)

    def read(self, addr, n):
        return bytes(self.inf.read_memory(addr, n))

    def u8(self, addr):
        return self.read(addr, 1)[0]

    def u32(self, addr):
        return struct.unpack("<I", self.read(addr, 4))[0]

    def u64(self, addr):
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def i64(self, addr):
        return struct.unpack("<q", self.read(addr, 8))[0]

    def cstr(self, addr, limit=4096):
        """A NUL-terminated string; reads page by page so that the end of a mapping is fine."""
        if addr == 0:
            return None
        out = b""
        while len(out) < limit:
            chunk = min(4096 - (addr + len(out)) % 4096, limit - len(out))
            try:
                data = self.read(addr + len(out), chunk)
            except gdb.MemoryError:
                break
            nul = data.find(b"\0")
            if nul >= 0:
                out += data[:nul]
                break
            out += data
        return out.decode("utf-8", "replace")

    def std_string(self, addr):
        """libstdc++'s std::string: char* data at +0, u64 size at +8."""
        data, size = self.u64(addr), self.u64(addr + 8)
        if data == 0 or size == 0:
            return ""
        return self.read(data, min(size, 4096)).decode("utf-8", "replace")


def _is_core(inf):
    conn = getattr(inf, "connection", None)
    if conn is not None:
        return conn.type == "core"
    return "core file" in gdb.execute("info target", to_string=True).lower()


def _find_root():
    """The address of aio_inspect_root: its symbol, or its section in a stripped program."""
    try:
        return int(gdb.parse_and_eval("(unsigned long)&%s" % ROOT_SYMBOL))
    except gdb.error:
        pass
    files = gdb.execute("info files", to_string=True)
    m = re.search(r"(0x[0-9a-fA-F]+) - 0x[0-9a-fA-F]+ is %s(\s|$)" % ROOT_SECTION, files)
    if m:
        return int(m.group(1), 16)
    return None


class _Layout:
    """The root's table of named fields: offsets, enum values and addresses."""

    def __init__(self, tgt):
        root = _find_root()
        if root is None:
            raise AioError(
                "aio: not an aio program: no symbol %s and no section %s (is aio linked in?)"
                % (ROOT_SYMBOL, ROOT_SECTION))
        try:
            head = tgt.read(root, 48)
        except gdb.MemoryError:
            raise AioError("aio: cannot read %s at 0x%x" % (ROOT_SYMBOL, root))
        magic, version, count, fields, loops, generation, loop_count = struct.unpack(
            "<8sIIQQQQ", head)
        if magic != ROOT_MAGIC:
            raise AioError("aio: not an aio program: %s at 0x%x has no 'aio-insp' magic"
                           % (ROOT_SYMBOL, root))
        if version != ROOT_VERSION:
            raise AioError(
                "aio: version mismatch: the program's %s is version %d, this extension reads "
                "version %d; load the aio_gdb.py installed with the program's aio "
                "(<prefix>/share/aio/gdb/aio_gdb.py)" % (ROOT_SYMBOL, version, ROOT_VERSION))
        self.root = root
        self.loops = loops
        self.generation = generation
        self.loop_count = loop_count
        self.values = {}
        table = tgt.read(fields, 16 * count) if count else b""
        for i in range(count):
            name_ptr, value = struct.unpack_from("<Qq", table, 16 * i)
            self.values[tgt.cstr(name_ptr, 128)] = value

    def __getitem__(self, name):
        try:
            return self.values[name]
        except KeyError:
            raise AioError("aio: the program's %s has no field '%s' (an older aio?)"
                           % (ROOT_SYMBOL, name))

    def get(self, name, default=None):
        return self.values.get(name, default)


# --------------------------------------------------------------------------------------------
# The snapshot: loops and tasks, read afresh by every command


class _Task:
    def __init__(self):
        self.addr = 0
        self.loop = None
        self.id = 0
        self.name = ""
        self.state = "?"
        self.waits_on = ""
        self.parked_at = 0
        self.ctx = 0
        self.stack = 0
        self.site = ""
        self.awaiting = 0
        self.wait_list = 0  # the list of its innermost waiter, or 0
        self.done_hook = 0
        self.done_hook_arg = 0
        self.waiting_object = 0

    @property
    def label(self):
        return "task %d '%s'" % (self.id, self.name)

    def has_context(self):
        """A fiber that ran and is parked has saved registers; a new or finished one has not."""
        return self.ctx != 0 and self.stack != 0 and self.state in ("waiting", "ready")


class _Loop:
    def __init__(self):
        self.addr = 0
        self.tid = 0
        self.thread_name = ""
        self.current = 0
        self.main = 0
        self.tasks = []

    def gdb_thread(self):
        for th in gdb.selected_inferior().threads():
            if th.ptid[1] == self.tid or (th.ptid[1] == 0 and th.ptid[0] == self.tid):
                return th
        return None


class _Snapshot:
    def __init__(self):
        self.tgt = _Target()
        self.lay = _Layout(self.tgt)
        self.warnings = []
        if self.lay.generation % 2 == 1:
            self.warnings.append(
                "a loop was being started or ended when the program stopped: the list of loops "
                "may be incomplete")
        if self.lay.loops == 0:
            raise AioError(
                "aio: no aio loop is running (aio::run has not started yet, or every loop has "
                "ended)")
        self.loops = []
        self.by_addr = {}
        self._read_loops()

    def _read_loops(self):
        tgt, lay = self.tgt, self.lay
        names = {v: k for k, v in lay.values.items() if k.startswith("state.")}
        words = {"state.scheduled": "ready", "state.running": "running",
                 "state.suspended": "waiting", "state.done": "done"}
        seen = set()
        addr = lay.loops
        while addr and addr not in seen:
            seen.add(addr)
            lp = _Loop()
            lp.addr = addr
            try:
                lp.tid = tgt.i64(addr + lay["loop.tid"])
                raw = tgt.read(addr + lay["loop.thread_name"], 16)
                lp.thread_name = raw.split(b"\0")[0].decode("utf-8", "replace")
                lp.current = tgt.u64(addr + lay["loop.current"])
                lp.main = tgt.u64(addr + lay["loop.main"])
                t = tgt.u64(addr + lay["loop.all_head"])
                nxt = tgt.u64(addr + lay["loop.next"])
            except gdb.MemoryError:
                self.warnings.append("cannot read the loop at 0x%x" % addr)
                break
            tseen = set()
            while t and t not in tseen and len(tseen) < MAX_TASKS:
                tseen.add(t)
                try:
                    task = self._read_task(t, lp, names, words)
                    t = tgt.u64(t + lay["task.all_next"])
                except gdb.MemoryError:
                    self.warnings.append("cannot read the task at 0x%x: the rest of loop %d's "
                                         "list is not shown" % (t, lp.tid))
                    break
                lp.tasks.append(task)
                self.by_addr[task.addr] = task
            lp.tasks.sort(key=lambda x: x.id)
            self.loops.append(lp)
            addr = nxt
        # The first loop started is listed first (the root links new loops at the head).
        self.loops.reverse()

    def _read_task(self, t, lp, names, words):
        tgt, lay = self.tgt, self.lay
        task = _Task()
        task.addr = t
        task.loop = lp
        task.id = tgt.u64(t + lay["task.id"])
        task.name = tgt.std_string(t + lay["task.name"]) or "task-%d" % task.id
        state = tgt.u8(t + lay["task.state"])
        task.state = words.get(names.get(state), "state-%d" % state)
        if t == lp.current:
            task.state = "running"
        task.parked_at = tgt.i64(t + lay["task.parked_at"])
        task.ctx = tgt.u64(t + lay["task.ctx"])
        task.stack = tgt.u64(t + lay["task.stack"])
        task.awaiting = tgt.u64(t + lay["task.awaiting"])
        task.waiting_object = tgt.u64(t + lay["task.waiting_object"])
        task.done_hook = tgt.u64(t + lay["task.done_hook"])
        task.done_hook_arg = tgt.u64(t + lay["task.done_hook_arg"])
        waits = tgt.u64(t + lay["task.waits"])
        if waits:
            task.wait_list = tgt.u64(waits + lay["waiter.list"])
        # What it waits on, in the order task_ref::waiting_on() uses (runtime/src/task.cpp).
        if task.state == "waiting":
            what = tgt.cstr(tgt.u64(t + lay["task.waiting_on"]), 256)
            if what is None and task.awaiting:
                what = "aio::task::get"
            if what is None and task.wait_list:
                what = tgt.cstr(tgt.u64(task.wait_list + lay["wait_list.what"]), 256)
            task.waits_on = what or "a yield point"
        site_file = tgt.cstr(tgt.u64(t + lay["task.site_file"]), 1024)
        if site_file:
            task.site = "%s:%d" % (site_file, tgt.u32(t + lay["task.site_line"]))
        else:
            caller = tgt.u64(t + lay["task.site_caller"])
            task.site = _call_site(caller) if caller else ""
        return task

    def tasks(self):
        for lp in self.loops:
            for t in lp.tasks:
                yield t

    def find(self, spec):
        matches = [t for t in self.tasks() if (spec.isdigit() and t.id == int(spec))
                   or t.name == spec]
        if not matches:
            raise AioError("aio: no task '%s' (aio tasks lists them)" % spec)
        if len(matches) > 1:
            raise AioError("aio: '%s' names %d tasks (%s): give an id" % (
                spec, len(matches), ", ".join(str(t.id) for t in matches)))
        return matches[0]

    def now_ns(self):
        """The clock parked_at is compared with: now, or in a core the newest park."""
        if self.tgt.is_core:
            return max([t.parked_at for t in self.tasks()] + [0])
        return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def _symbolize(pc):
    """file:line of a code address, or function+offset, or the address."""
    try:
        sal = gdb.find_pc_line(pc)
        if sal.symtab is not None and sal.line:
            return "%s:%d" % (sal.symtab.filename, sal.line)
    except gdb.error:
        pass
    try:
        out = gdb.execute("info symbol 0x%x" % pc, to_string=True).strip()
        if not out.startswith("No symbol"):
            return out.split(" in section ")[0]
    except gdb.error:
        pass
    return "0x%x" % pc


# --------------------------------------------------------------------------------------------
# Whose frames are the user's

_OWN_NAME_PREFIXES = ("aio::", "boost::", "std::", "__gnu_cxx::", "jump_fcontext",
                      "make_fcontext", "ontop_fcontext", "void aio::", "void boost::",
                      "void std::")


def is_own_file(path):
    """aio's own files, libstdc++ and Boost: the rule of debug/src/own_files.hpp (a path in
    aio's runtime/src or debug/src, or a header under a directory named aio, as installed,
    vendored or in the source tree), plus the C++ library and Boost headers."""
    p = "/" + posixpath.normpath(path).lstrip("/")
    if "/runtime/src/" in p or "/debug/src/" in p:
        return True
    if "/aio/" in p and p.endswith(".hpp"):
        return True
    if "/c++/" in p or "/boost/" in p or "/libstdc++" in p:
        return True
    return False


def _is_user_frame(fr):
    """A frame of the user's code: known source outside aio/libstdc++/Boost, or, without
    debug info, a named function outside those namespaces."""
    if fr["file"]:
        return not is_own_file(fr["file"])
    name = fr["name"] or ""
    if not name or name.startswith(_OWN_NAME_PREFIXES):
        return False
    return fr["objfile_is_program"]


# --------------------------------------------------------------------------------------------
# Fibers: the unwinder that shows a suspended fiber's stack


class _FrameId:
    # gdb 13 reads these as gdb.Value (gdb 14 has gdb.unwinder.FrameId).
    def __init__(self, sp, pc):
        self.sp = gdb.Value(sp)
        self.pc = gdb.Value(pc)


class _Fiber:
    """The fiber whose stack gdb shows, on one gdb thread."""

    def __init__(self, task, thread_num, regs):
        self.task = task
        self.thread_num = thread_num
        self.regs = regs  # register name -> value
        # The thread's own frames: its innermost function frame and the calls inlined into it
        # at its pc (they share its registers); the fiber's frames start at level `own`.
        self.own = 1


_selected = None  # the _Fiber shown, or None: the threads' own stacks


def _fiber_registers(snap, task):
    lay, tgt = snap.lay, snap.tgt
    ctx = task.ctx
    regs = {"rip": tgt.u64(ctx + lay["fctx.rip"]), "rsp": ctx + lay["fctx.rsp"]}
    for r in ("rbp", "rbx", "r12", "r13", "r14", "r15"):
        regs[r] = tgt.u64(ctx + lay["fctx." + r])
    return regs


class _FiberUnwinder(gdb.unwinder.Unwinder):
    """While a fiber is selected, the innermost function frame of its thread gets the fiber's
    saved registers as its caller's: frame #own and older are the fiber's stack."""

    def __init__(self):
        super().__init__("aio-fiber")

    def __call__(self, pending):
        sel = _selected
        if sel is None or pending.level() != sel.own - 1:
            return None
        th = gdb.selected_thread()
        if th is None or th.global_num != sel.thread_num:
            return None
        pc = int(pending.read_register("rip"))
        # The frame's id takes a stack address below the fiber's frames: gdb refuses a caller
        # that is "inner" to (below) its callee, and the fiber's stack may lie anywhere.
        info = pending.create_unwind_info(_FrameId(sel.regs["rsp"] - 0x40, pc))
        for name, value in sel.regs.items():
            typ = pending.read_register(name).type
            info.add_saved_register(name, gdb.Value(value).cast(typ))
        return info


if FrameDecorator is not None:

    class _ThreadFrame(FrameDecorator):
        """Frame #0 while a fiber is shown: the thread's own frame, not the task's."""

        def __init__(self, base, fiber):
            super().__init__(base)
            self._fiber = fiber

        def function(self):
            who = self._fiber.task.label if self._fiber.task is not None else "a fiber"
            return "[the thread's own frame; the stack of %s starts at #%d; aio bt --reset]" % (
                who, self._fiber.own)

        def filename(self):
            return None

        def line(self):
            return None

        def frame_args(self):
            return None

        def frame_locals(self):
            return None


class _FiberFrameFilter:
    def __init__(self):
        self.name = "aio-fiber"
        self.priority = 100
        self.enabled = True

    def filter(self, frames):
        sel = _selected
        th = gdb.selected_thread()
        if sel is None or FrameDecorator is None or th is None or th.global_num != sel.thread_num:
            return frames
        return self._mark(frames, sel)

    @staticmethod
    def _mark(frames, sel):
        for d in frames:
            if d.inferior_frame().level() < sel.own:
                yield _ThreadFrame(d, sel)
            else:
                yield d


def _select(fiber):
    global _selected
    _selected = None
    gdb.invalidate_cached_frames()
    if fiber is not None:
        fiber.own = 1
        try:
            fr = gdb.newest_frame()
            while fr is not None and fr.type() == gdb.INLINE_FRAME:
                fr = fr.older()
                fiber.own += 1
        except gdb.error:
            pass
        _selected = fiber
        gdb.invalidate_cached_frames()


def _frames_of_selected(limit=MAX_FRAMES):
    """The selected fiber's frames, as dicts, innermost first."""
    out = []
    try:
        fr = gdb.newest_frame()
        for _ in range(_selected.own if _selected is not None else 1):
            fr = fr.older() if fr is not None else None
        progfile = gdb.current_progspace().filename
        while fr is not None and len(out) < limit:
            sal = fr.find_sal()
            name = fr.name()
            objfile = None
            try:
                objfile = gdb.current_progspace().objfile_for_address(fr.pc())
            except (AttributeError, gdb.error):
                pass
            file = sal.symtab.filename if sal.symtab is not None else None
            line, via = sal.line, None
            if file is not None and is_own_file(file) and fr.type() != gdb.INLINE_FRAME:
                file, line, via = _own_line_of_user_function(fr, file, line)
            out.append({
                "level": fr.level(),
                "pc": fr.pc(),
                "name": name,
                "file": file,
                "line": line,
                "via": via,
                "inline": fr.type() == gdb.INLINE_FRAME,
                "objfile_is_program": objfile is None or objfile.filename == progfile,
                "frame": fr,
            })
            fr = fr.older()
    except gdb.error:
        pass
    return out


def _own_line_of_user_function(fr, file, line):
    """A frame of a user's function whose call instruction the line table gives to a header
    inlined there (`aio::sleep(50ms)`: chrono.h) with no inlined frame for it: the frame is the
    user's, its line unknown. Returns (the function's file, None, "header:line") then."""
    try:
        fn = fr.function()
        if fn is not None and fn.symtab is not None and not is_own_file(fn.symtab.filename):
            return fn.symtab.filename, None, "%s:%d" % (posixpath.basename(file), line)
    except (gdb.error, RuntimeError):
        pass
    return file, line, None


def _unwind_with(regs, task=None, limit=MAX_FRAMES):
    """The frames gdb unwinds from `regs` (as a suspended fiber's), innermost first, on the
    selected thread (any thread: they share the memory); the previous selection is put back."""
    prev = _selected
    th = gdb.selected_thread()
    if th is None:
        return []
    try:
        _select(_Fiber(task, th.global_num, regs))
        frames = _frames_of_selected(limit)
        for f in frames:
            del f["frame"]
        return frames
    except gdb.MemoryError:
        return []
    finally:
        _select(prev)


def _fiber_frames(snap, task):
    """One task's fiber stack, down to its entry (the frames below make_fcontext are not the
    task's: Boost.Context's first frame has no caller)."""
    frames = _unwind_with(_fiber_registers(snap, task), task)
    for i, f in enumerate(frames):
        if f["name"] == "make_fcontext" or f["pc"] == 0:
            return frames[:i + 1]
    return frames


def _call_site(pc):
    """Where a return address was called from: the innermost location in the user's code of
    its chain of inlined calls, else the outermost (as the runtime's resolve_site does). gdb
    shows inlined calls only as frames, so the address is unwound as if it were a fiber's."""
    try:
        sp = int(gdb.selected_frame().read_register("rsp"))
    except gdb.error:
        return _symbolize(pc - 1)
    regs = {"rip": pc, "rsp": sp, "rbp": 0, "rbx": 0, "r12": 0, "r13": 0, "r14": 0, "r15": 0}
    chain = []
    for f in _unwind_with(regs, None, 32):
        if f["pc"] != pc:
            break
        chain.append(f)
    for f in chain:
        if f["file"] and not is_own_file(f["file"]):
            return "%s:%d" % (f["file"], f["line"])
    if chain and chain[-1]["file"]:
        return "%s:%d" % (chain[-1]["file"], chain[-1]["line"])
    return _symbolize(pc - 1)


def _where(fr, base=False):
    """file:line, or for a line the line table gives to an inlined header, file (header:line)."""
    name = posixpath.basename(fr["file"]) if base else fr["file"]
    if fr.get("via"):
        return "%s (%s)" % (name, fr["via"])
    return "%s:%d" % (name, fr["line"])


def _describe(fr):
    where = ""
    if fr["file"]:
        where = " at " + _where(fr)
    return "%s%s" % (fr["name"] or "0x%x" % fr["pc"], where)


# --------------------------------------------------------------------------------------------
# Output helpers


def _duration(ns):
    s = ns / 1e9
    if s < 0:
        return "-"
    if s < 1:
        return "%dms" % int(s * 1000)
    if s < 60:
        return "%.1fs" % s
    if s < 3600:
        return "%dm%02ds" % (s // 60, s % 60)
    return "%dh%02dm" % (s // 3600, (s % 3600) // 60)


def _table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.rjust(widths[0]) if i == 0 else c.ljust(widths[i]) for i, c in enumerate(r)]
        lines.append("  " + "  ".join(cells).rstrip())
    return "\n".join(lines)


def _loop_title(lp):
    th = lp.gdb_thread()
    where = " (gdb thread %d)" % th.num if th is not None else ""
    return "loop on thread %d '%s'%s: %d tasks" % (lp.tid, lp.thread_name, where, len(lp.tasks))


def _warn(snap):
    for w in snap.warnings:
        gdb.write("aio: warning: %s\n" % w)


# --------------------------------------------------------------------------------------------
# The await graph


def _edges(snap):
    """(waiter task, awaited task or a description, how) for every wait of one task for
    another: get/gather/wait (the awaited task's done_waiters), task_group children, a lock's
    holder, a job scheduler's jobs."""
    tgt, lay = snap.tgt, snap.lay
    edges = []
    for c in snap.tasks():
        base = c.addr + lay["task.done_waiters"]
        for head in ("wait_list.waiting_head", "wait_list.handed_head"):
            w = tgt.u64(base + lay[head])
            seen = set()
            while w and w not in seen:
                seen.add(w)
                p = snap.by_addr.get(tgt.u64(w + lay["waiter.task"]))
                if p is not None:
                    edges.append((p, c, p.waits_on or "aio::task::get"))
                w = tgt.u64(w + lay["waiter.next"])
    job_hook = lay.get("job.hook")
    for p in snap.tasks():
        if p.state != "waiting":
            continue
        if p.waits_on == "aio::task_group" and p.waiting_object:
            vec = p.waiting_object + lay["task_group.children"]
            begin, end = tgt.u64(vec), tgt.u64(vec + 8)
            if begin and end >= begin and (end - begin) // 8 <= MAX_TASKS:
                for i in range((end - begin) // 8):
                    c = snap.by_addr.get(tgt.u64(begin + 8 * i))
                    if c is not None:
                        edges.append((p, c, "aio::task_group"))
        if not p.wait_list:
            continue
        what = tgt.cstr(tgt.u64(p.wait_list + lay["wait_list.what"]), 256)
        if what == "aio::lock":
            owner = tgt.u64(p.wait_list + lay["lock.owner_from_waiters"])
            lock = p.wait_list - lay["lock.waiters"]
            if owner == lock:
                edges.append((p, "the lock at 0x%x, held outside any task" % lock, "aio::lock"))
            elif owner in snap.by_addr:
                edges.append((p, snap.by_addr[owner], "aio::lock"))
        elif p.waits_on == "aio::jobs::scheduler::wait_and_close" and job_hook is not None:
            sched = p.wait_list + lay["scheduler.from_change_waiters"]
            for c in snap.tasks():
                if (c.done_hook == job_hook and c.done_hook_arg
                        and tgt.u64(c.done_hook_arg + lay["job.scheduler"]) == sched
                        and c.state != "done"):
                    edges.append((p, c, p.waits_on))
    unique, seen = [], set()
    for p, c, how in edges:
        key = (p.addr, c.addr if isinstance(c, _Task) else c)
        if key not in seen:
            seen.add(key)
            unique.append((p, c, how))
    return unique


def _cycles(edges):
    """Every elementary cycle once, as a list of (task, how it waits for the next)."""
    out_edges = {}
    for p, c, how in edges:
        if isinstance(c, _Task):
            out_edges.setdefault(p.addr, []).append((c, how))
    cycles, keys = [], set()
    tasks = {p.addr: p for p, _, _ in edges}

    def walk(start, node, path, on_path):
        for c, how in out_edges.get(node.addr, []):
            if c.addr == start.addr:
                cyc = path + [(node, how)]
                ids = [t.id for t, _ in cyc]
                k = min(range(len(ids)), key=lambda i: ids[i])
                cyc = cyc[k:] + cyc[:k]
                key = tuple(t.addr for t, _ in cyc)
                if key not in keys:
                    keys.add(key)
                    cycles.append(cyc)
            elif c.addr not in on_path and c.id > start.id and len(path) < 64:
                on_path.add(c.addr)
                walk(start, c, path + [(node, how)], on_path)
                on_path.discard(c.addr)

    for t in sorted(tasks.values(), key=lambda x: x.id):
        walk(t, t, [], {t.addr})
    return cycles


def _deadlock_line(cyc):
    # The same words as `aio pstree` (tools/inspect/render.cpp).
    out = "deadlock: " + cyc[0][0].label
    for i, (_, how) in enumerate(cyc):
        nxt = cyc[(i + 1) % len(cyc)][0]
        out += "%s%s (%s)" % (" waits for " if i == 0 else ", which waits for ", nxt.label, how)
    return out


# --------------------------------------------------------------------------------------------
# The commands


class _AioPrefix(gdb.Command):
    """aio: look at an aio program's tasks (docs/inspect.md, section gdb).

aio tasks        every task: id, name, state, waits on, for how long, suspended at, created at
aio tree         who waits for whom, and deadlocks
aio bt TASK      show a suspended task's stack (TASK: id or name); bt, frame, info locals work
aio bt --all     every task's stack, identical stacks merged
aio bt --reset   back to the thread's own stack (also: aio thread)"""

    def __init__(self):
        super().__init__("aio", gdb.COMMAND_STACK, gdb.COMPLETE_NONE, True)


class _AioTasks(gdb.Command):
    """List every task of every aio loop: id, name, state, what it waits on, for how long,
the user line where it is suspended and where it was created."""

    def __init__(self):
        super().__init__("aio tasks", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        snap = _Snapshot()
        now = snap.now_ns()
        _warn(snap)
        if snap.tgt.is_core:
            gdb.write("(core file: 'for' is counted up to the last park in the process)\n")
        for lp in snap.loops:
            gdb.write(_loop_title(lp) + "\n")
            rows = [("id", "name", "state", "waits on", "for", "suspended at", "created at")]
            for t in lp.tasks:
                at = "-"
                if t.has_context() and t.addr != lp.current:
                    user = [f for f in _fiber_frames(snap, t) if _is_user_frame(f)]
                    if user:
                        f = user[0]
                        at = _where(f, base=True) if f["file"] else f["name"]
                elif t.addr == lp.current:
                    at = "(on the CPU)"
                waited = "-"
                if t.state == "waiting" and t.parked_at:
                    waited = _duration(max(now - t.parked_at, 0))
                site = t.site
                if ":" in site and "/" in site:
                    site = posixpath.basename(site)
                rows.append((str(t.id), t.name, t.state, t.waits_on or "-", waited, at,
                             site or "-"))
            gdb.write(_table(rows) + "\n")


class _AioTree(gdb.Command):
    """Show who waits for whom (get, gather, wait, task_group, a lock's holder, a scheduler's
jobs) as a tree, and every cycle as a deadlock."""

    def __init__(self):
        super().__init__("aio tree", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        snap = _Snapshot()
        _warn(snap)
        edges = _edges(snap)
        children, waited_for = {}, set()
        for p, c, how in edges:
            children.setdefault(p.addr, []).append((c, how))
            if isinstance(c, _Task):
                waited_for.add(c.addr)

        def node(t):
            what = " [%s]" % t.waits_on if t.waits_on else ""
            return "%s %s%s" % (t.label, t.state, what)

        def draw(t, prefix, on_path):
            kids = children.get(t.addr, [])
            for i, (c, how) in enumerate(kids):
                last = i == len(kids) - 1
                branch = prefix + ("└── " if last else "├── ")
                if not isinstance(c, _Task):
                    gdb.write("%s%s\n" % (branch, c))
                    continue
                if c.addr in on_path:
                    gdb.write("%s%s (cycle, see deadlock below)\n" % (branch, c.label))
                    continue
                gdb.write(branch + node(c) + "\n")
                draw(c, prefix + ("    " if last else "│   "), on_path | {c.addr})

        drawn = set()
        for lp in snap.loops:
            gdb.write(_loop_title(lp) + "\n")
            for t in lp.tasks:
                if t.addr in waited_for:
                    continue
                gdb.write(node(t) + "\n")
                draw(t, "", {t.addr})
                drawn.add(t.addr)
        cycles = _cycles(edges)
        # Tasks that only appear inside cycles have no root above them: draw each cycle from
        # its lowest id.
        for cyc in cycles:
            head = cyc[0][0]
            if head.addr not in drawn:
                gdb.write(node(head) + "\n")
                draw(head, "", {head.addr})
                drawn.add(head.addr)
        for cyc in cycles:
            gdb.write(_deadlock_line(cyc) + "\n")


class _AioBt(gdb.Command):
    """aio bt TASK: show a suspended task's fiber stack (TASK: an id or a name).
Frame #0 stays the thread's own frame; the task's frames start at #1, and bt, frame N, up,
down, info locals and print work in them until the program runs again or aio bt --reset.
aio bt --all: every task's stack, identical stacks merged with a count.
aio bt --reset: back to the thread's own stack."""

    def __init__(self):
        super().__init__("aio bt", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        arg = arg.strip()
        if arg in ("--reset", "-r"):
            _reset(verbose=True)
            return
        if arg in ("--all", "-a"):
            self._all()
            return
        if not arg:
            raise AioError("aio bt: give a task id or name, --all or --reset")
        _select(None)
        snap = _Snapshot()
        _warn(snap)
        t = snap.find(arg)
        lp = t.loop
        th = lp.gdb_thread()
        if t.addr == lp.current or t.state == "running":
            gdb.write("%s is running on thread %d: it has no saved context; its thread's own "
                      "stack is its stack:\n" % (t.label, lp.tid))
            if th is not None:
                th.switch()
            gdb.execute("backtrace")
            return
        if not t.has_context():
            raise AioError("aio: %s is %s and has no stack to show (%s)" % (
                t.label, t.state, "not started yet" if t.state == "ready" else "finished"))
        home = th if th is not None else gdb.selected_thread()
        home.switch()
        _select(_Fiber(t, home.global_num, _fiber_registers(snap, t)))
        gdb.write("%s, %s%s, on thread %d '%s' (gdb thread %d):\n" % (
            t.label, t.state, " on " + t.waits_on if t.waits_on else "", lp.tid,
            lp.thread_name, home.num))
        gdb.execute("backtrace")
        frames = _frames_of_selected()
        user = [f for f in frames if _is_user_frame(f)]
        pick = user[0] if user else (frames[0] if frames else None)
        if pick is not None:
            pick["frame"].select()
            gdb.write("selected #%d %s (frame N, up, down, info locals, print work here; "
                      "aio bt --reset goes back)\n" % (pick["level"], _describe(pick)))

    def _all(self):
        _select(None)
        snap = _Snapshot()
        _warn(snap)
        groups, order, running = {}, [], []
        for lp in snap.loops:
            for t in lp.tasks:
                if t.addr == lp.current or t.state == "running":
                    running.append(t)
                    continue
                if not t.has_context():
                    continue
                frames = _fiber_frames(snap, t)
                key = tuple(f["pc"] for f in frames)
                if key not in groups:
                    groups[key] = ([], frames)
                    order.append(key)
                groups[key][0].append(t)
        for key in order:
            tasks, frames = groups[key]
            head = "%d task%s: " % (len(tasks), "" if len(tasks) == 1 else "s")
            gdb.write(head + ", ".join(t.label for t in tasks) + "  [%s]\n" % (
                tasks[0].waits_on or tasks[0].state))
            user = [i for i, f in enumerate(frames) if _is_user_frame(f)]
            first = user[0] if user else 0
            if first:
                gdb.write("  (%d frame%s inside aio above)\n" % (first, "" if first == 1 else "s"))
            for f in frames[first:]:
                gdb.write("  #%-3d %s\n" % (f["level"], _describe(f)))
            gdb.write("\n")
        for t in running:
            gdb.write("%s is running on thread %d: see its thread's stack (thread apply all bt)\n"
                      % (t.label, t.loop.tid))


class _AioThread(gdb.Command):
    """Go back to the threads' own stacks after aio bt TASK."""

    def __init__(self):
        super().__init__("aio thread", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        _reset(verbose=True)


def _reset(verbose=False, *_):
    had = _selected is not None
    _select(None)
    if verbose:
        gdb.write("aio: back to the thread's own stack\n" if had else
                  "aio: no fiber was shown; this is the thread's own stack\n")


def _on_cont(_event):
    # Once the program runs, a saved fiber context is stale.
    if _selected is not None:
        _select(None)


def _install():
    _AioPrefix()
    _AioTasks()
    _AioTree()
    _AioBt()
    _AioThread()
    gdb.unwinder.register_unwinder(None, _FiberUnwinder(), replace=True)
    gdb.frame_filters["aio-fiber"] = _FiberFrameFilter()
    gdb.events.cont.connect(_on_cont)
    gdb.events.exited.connect(_on_cont)


_install()
