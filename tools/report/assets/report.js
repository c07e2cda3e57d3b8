// The HTML report's script: draws the page from the JSON in #aio-data (html.cpp says what it
// holds). Every text from the report goes in through textContent or Node.append(string),
// never as markup. Built to stay quick on big reports: findings are grouped, only the first
// few groups are open and a group's stacks are built when it is opened; lists show a page at
// a time; the timeline keeps the trace in typed arrays and draws at most a few rectangles
// per pixel column.
//
//   summary()    the header: program, run figures, counts by id
//   Timeline     the canvas: tracks, spans, findings, zoom, pan, tooltip
//   findings()   sections per detector id, one <details> per group (id, user line)
//   tasks()      the task table
"use strict";
(function () {
  var DATA = JSON.parse(document.getElementById("aio-data").textContent);
  var report = DATA.report;
  var run = report.run;
  var findings = report.findings;
  var groups = DATA.groups;
  var app = document.getElementById("app");
  var PAGE = 50; // groups per detector section shown at first (and per "show more")
  var OPEN_FIRST = 3; // groups open when the page loads
  var TASK_PAGE = 200;

  // ---- small helpers ----------------------------------------------------------------

  // el("div", "cls", child, "text", ...): strings become text nodes, null is skipped.
  function el(tag, cls) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    for (var i = 2; i < arguments.length; i++) {
      var k = arguments[i];
      if (k === null || k === undefined) continue;
      e.append(typeof k === "object" ? k : String(k));
    }
    return e;
  }
  function sig(x) { return String(Number(x.toPrecision(3))); }
  function fmtMs(ms) {
    var a = Math.abs(ms);
    if (a === 0) return "0";
    if (a >= 1000) return sig(ms / 1000) + " s";
    if (a >= 1) return sig(ms) + " ms";
    if (a >= 0.001) return sig(ms * 1000) + " \u00b5s";
    return Math.round(ms * 1e6) + " ns";
  }
  function fmtUs(us) { return fmtMs(us / 1000); }
  function base(path) { var i = path.lastIndexOf("/"); return i < 0 ? path : path.slice(i + 1); }
  function place(file, line) {
    if (!file) return "(unknown place)";
    return line > 0 ? base(file) + ":" + line : base(file);
  }
  function plural(n, w) { return n + " " + w + (n === 1 ? "" : "s"); }
  function num(n) { return Number(n).toLocaleString("en-US"); }
  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function dark() { return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches; }

  // A color per task id: golden-angle hues, so neighbouring ids differ.
  var taskColors = new Map();
  function taskColor(id, faint) {
    var c = taskColors.get(id);
    if (!c) {
      var h = Math.round((id * 137.508) % 360);
      var l = dark() ? 60 : 50;
      c = ["hsl(" + h + ",62%," + l + "%)", "hsla(" + h + ",55%," + l + "%,0.28)"];
      taskColors.set(id, c);
    }
    return c[faint ? 1 : 0];
  }
  var severityOfId = {};
  findings.forEach(function (f) {
    if (severityOfId[f.id] !== "error") severityOfId[f.id] = f.severity;
  });
  var taskNames = new Map();
  DATA.tasks.forEach(function (t) { taskNames.set(t[0], t[1]); });
  function taskLabel(id) {
    if (id === undefined || id < 0) return "unknown task";
    var n = taskNames.get(id);
    return "task " + id + (n ? " '" + n + "'" : "");
  }

  // ---- summary --------------------------------------------------------------------------

  var filter = { text: "", errorsOnly: false, id: "" };

  function summary() {
    var h = el("header", "panel summary");
    var top = el("div", "top", el("h1", null, "aio debug report: " + base(run.program)));
    h.append(top);
    h.append(el("div", "path", run.program + "  \u00b7  pid " + run.pid + "  \u00b7  started " + run.started +
      (run.options ? "  \u00b7  ASYNC_DEBUG=" + run.options : "")));
    var total = 0, errors = 0, warnings = 0;
    findings.forEach(function (f) {
      total += f.count;
      if (f.severity === "error") errors += f.count; else if (f.severity === "warning") warnings += f.count;
    });
    var stats = el("div", "stats");
    function stat(v, k, bad) { stats.append(el("div", "stat" + (bad ? " bad" : ""), el("div", "v", v), el("div", "k", k))); }
    stat(fmtMs(run.duration_ms), "duration");
    stat(num(total), plural(total, "finding").replace(/^\S+ /, ""), errors > 0);
    stat(num(errors), "errors", errors > 0);
    stat(num(warnings), "warnings");
    stat(run.longest_stall_ms > 0 ? fmtMs(run.longest_stall_ms) : "none", "longest stall", run.longest_stall_ms > 0);
    stat(num(run.peak_tasks_alive), "peak tasks alive");
    stat(num(run.tasks_spawned), "tasks spawned");
    stat(num(run.steps), "steps");
    stat(run.ended || "closed", "ended", run.ended && run.ended !== "closed");
    h.append(stats);
    var ids = Object.keys(report.counts).sort(function (a, b) { return report.counts[b] - report.counts[a]; });
    if (ids.length) {
      var chips = el("div", "chips");
      ids.forEach(function (id) {
        var c = el("button", "chip " + (severityOfId[id] || ""), id + " ", el("b", null, num(report.counts[id])));
        c.type = "button";
        c.title = "show only " + id + " (click again for all)";
        c.addEventListener("click", function () {
          filter.id = filter.id === id ? "" : id;
          renderFindings();
          document.getElementById("findings").scrollIntoView();
        });
        chips.append(c);
      });
      h.append(chips);
    }
    return h;
  }

  // ---- findings -------------------------------------------------------------------------

  var groupViews = []; // per group: {details, built}
  var listHost = null;
  var shownCount = null;
  var sectionLimits = {}; // id -> groups shown in that section

  function groupText(g) {
    if (g.text === undefined) g.text = (g.id + " " + g.file + ":" + g.line + " " + g.function + " " + g.title).toLowerCase();
    return g.text;
  }
  function groupVisible(g) {
    if (filter.id && g.id !== filter.id) return false;
    if (filter.errorsOnly && g.severity !== "error") return false;
    return !filter.text || groupText(g).indexOf(filter.text) >= 0;
  }

  function frameLine(f, i) {
    var d = el("div", "frame", "#" + i + " ");
    var where = f.file ? (f.line > 0 ? f.file + ":" + f.line : f.file) : "";
    if (where) d.append(where);
    if (f.function) d.append(" ", el("span", "fn", where ? "(" + f.function + ")" : f.function));
    return d;
  }
  function snippet(f) {
    var s = f.snippet;
    var pre = el("pre", "snip");
    s.lines.forEach(function (text, k) {
      var n = s.first_line + k;
      pre.append(el("div", n === f.line ? "hl" : null, el("span", "ln", (n === f.line ? "> " : "  ") + n), text));
    });
    return pre;
  }
  function stack(label, frames, inside) {
    var box = el("div", "stack", el("h4", null, label));
    frames.forEach(function (f, i) {
      box.append(frameLine(f, i));
      if (i === 0 && inside && inside.length) {
        var names = inside.slice().reverse().map(function (x) { return x.function || base(x.file) || "?"; });
        box.append(el("div", "inside", "inside: " + names.join(" \u2192 ")));
      }
      if (f.snippet && f.snippet.lines) box.append(snippet(f));
    });
    return box;
  }

  function groupBody(g) {
    var f = findings[g.findings[0]];
    var body = el("div", "gbody");
    body.append(el("div", "muted", f.title));
    if (f.message) body.append(el("pre", "msg", f.message));
    var dl = el("dl", "advice");
    function row(k, v, cls) { dl.append(el("dt", null, k), el("dd", cls || null, v)); }
    var tasks = [];
    g.findings.forEach(function (i) {
      var t = findings[i].task;
      if (t.id > 0 && tasks.length < 6 && !tasks.some(function (x) { return x.id === t.id; })) tasks.push(t);
    });
    if (tasks.length) {
      row("task" + (tasks.length > 1 ? "s" : ""), tasks.map(function (t) { return "'" + t.name + "' (id " + t.id + ")"; }).join(", ") +
        (tasks.length === 6 ? ", \u2026" : ""));
    }
    row("count", g.count + (g.findings.length > 1 ? " (" + g.findings.length + " sites at this line)" : ""));
    if (g.duration_ms !== null) row("duration", fmtMs(g.duration_ms) + (g.count > 1 ? " (longest)" : ""));
    row("first seen", fmtMs(f.at_ms) + " after the loop started");
    row("why it hurts", f.why);
    row("fix", f.fix, "fix");
    if (f.lesson) {
      var a = el("a", null, "lesson " + f.lesson);
      a.href = "lessons/" + encodeURIComponent(f.lesson) + "/README.md";
      row("lesson", a);
    }
    body.append(dl);
    if (f.culprit.length) body.append(stack("where", f.culprit, f.inside));
    if (f.creation.length) body.append(stack("created at", f.creation, null));
    if (g.findings.length > 1) {
      var ul = el("ul", "others");
      g.findings.slice(1, 21).forEach(function (i) {
        var o = findings[i];
        ul.append(el("li", null, o.count + "\u00d7 " + o.title + (o.task.id > 0 ? " \u2014 task '" + o.task.name + "'" : "")));
      });
      if (g.findings.length > 21) ul.append(el("li", "muted", "\u2026 and " + (g.findings.length - 21) + " more"));
      body.append(el("div", "stack", el("h4", null, "other findings at this line"), ul));
    }
    return body;
  }

  function groupView(gi) {
    var g = groups[gi];
    var v = groupViews[gi];
    if (v) return v;
    var d = el("details", "group " + g.severity);
    d.id = "group-" + gi;
    var where = el("span", "where", place(g.file, g.line) + (g.function ? " " + g.function : ""));
    where.title = g.file ? g.file + ":" + g.line + (g.function ? " (" + g.function + ")" : "") : "";
    var title = el("span", "title", g.title);
    title.title = g.title;
    d.append(el("summary", null, el("span", "count", g.count + "\u00d7"),
      el("span", "dur", g.duration_ms !== null ? fmtMs(g.duration_ms) : ""), where, title));
    v = { details: d, built: false };
    d.addEventListener("toggle", function () {
      if (d.open && !v.built) { v.built = true; d.append(groupBody(g)); }
    });
    groupViews[gi] = v;
    return v;
  }
  function openGroup(gi) {
    var v = groupView(gi);
    if (!v.built) { v.built = true; v.details.append(groupBody(groups[gi])); }
    v.details.open = true;
  }

  function renderFindings() {
    listHost.textContent = "";
    var sections = new Map();
    var visible = 0;
    groups.forEach(function (g, gi) {
      if (!groupVisible(g)) return;
      visible++;
      if (!sections.has(g.id)) sections.set(g.id, []);
      sections.get(g.id).push(gi);
    });
    shownCount.textContent = visible === groups.length ? plural(groups.length, "place") :
      visible + " of " + plural(groups.length, "place");
    if (!visible) {
      listHost.append(el("p", "muted", findings.length ? "No findings match the filter." : "No findings: debug mode saw nothing wrong."));
      return;
    }
    sections.forEach(function (list, id) {
      var n = 0;
      list.forEach(function (gi) { n += groups[gi].count; });
      var sev = groups[list[0]].severity;
      var sec = el("section", "idsec");
      sec.append(el("div", "idhead", el("span", "badge " + sev, sev), el("span", "id", id),
        el("span", "muted", plural(n, "finding") + " at " + plural(list.length, "place"))));
      var box = el("div");
      sec.append(box);
      var limit = sectionLimits[id] || PAGE;
      function fill() {
        box.textContent = "";
        list.slice(0, limit).forEach(function (gi) { box.append(groupView(gi).details); });
        if (list.length > limit) {
          var b = el("button", "more", "show " + Math.min(PAGE, list.length - limit) + " more (" + (list.length - limit) + " not shown)");
          b.type = "button";
          b.addEventListener("click", function () { limit += PAGE; sectionLimits[id] = limit; fill(); });
          box.append(b);
        }
      }
      fill();
      listHost.append(sec);
    });
  }

  // Brings group `gi` into view, open (from a click on the timeline).
  function revealGroup(gi) {
    var g = groups[gi];
    if (!groupVisible(g)) { filter.text = ""; filter.errorsOnly = false; filter.id = ""; syncFilterInputs(); }
    var before = 0;
    groups.forEach(function (x, i) { if (i < gi && x.id === g.id && groupVisible(x)) before++; });
    if ((sectionLimits[g.id] || PAGE) <= before) sectionLimits[g.id] = before + 1;
    renderFindings();
    openGroup(gi);
    groupView(gi).details.scrollIntoView({ block: "center" });
  }

  var syncFilterInputs = function () {};

  function findingsPanel() {
    var p = el("section", "panel");
    p.id = "findings";
    var search = el("input");
    search.type = "search";
    search.placeholder = "filter: id, file, function, text";
    var sev = el("select", null, el("option", null, "all severities"), el("option", null, "errors only"));
    shownCount = el("span", "muted");
    var expand = el("button", null, "open the first " + PAGE);
    expand.type = "button";
    p.append(el("div", "toolbar", el("h2", null, "Findings"), el("span", "grow"), shownCount, search, sev, expand));
    listHost = el("div");
    p.append(listHost);
    search.addEventListener("input", function () { filter.text = search.value.trim().toLowerCase(); renderFindings(); });
    sev.addEventListener("change", function () { filter.errorsOnly = sev.selectedIndex === 1; renderFindings(); });
    expand.addEventListener("click", function () {
      var n = 0;
      groups.forEach(function (g, gi) { if (n < PAGE && groupVisible(g) && groupViews[gi] && groupViews[gi].details.isConnected) { openGroup(gi); n++; } });
    });
    syncFilterInputs = function () { search.value = filter.text; sev.selectedIndex = filter.errorsOnly ? 1 : 0; };
    renderFindings();
    for (var i = 0; i < Math.min(OPEN_FIRST, groups.length); i++) openGroup(i);
    return p;
  }

  // ---- tasks ----------------------------------------------------------------------------

  function tasksPanel() {
    var rows = DATA.tasks;
    var p = el("section", "panel");
    p.id = "tasks";
    var withTrace = !!DATA.trace;
    p.append(el("div", "toolbar", el("h2", null, "Tasks"), el("span", "grow"),
      el("span", "muted", withTrace ? plural(rows.length, "task") + " seen in the trace" :
        plural(rows.length, "task") + " named by findings (a trace, aio-report html --trace, lists them all)")));
    if (!rows.length) { p.append(el("p", "muted", "No task to show.")); return p; }
    // columns: [label, index in the row, numeric, formatter]
    var cols = [["id", 0, true, String], ["name", 1, false, null], ["state", 2, false, null],
      ["findings", 7, true, null]];
    if (withTrace) {
      cols.push(["first seen", 3, true, fmtMs], ["last seen", 4, true, fmtMs], ["busy", 5, true, fmtMs], ["steps", 6, true, num]);
    }
    var sortCol = withTrace ? 5 : 0, asc = !withTrace, limit = TASK_PAGE;
    var table = el("table", "tasks");
    var head = el("tr");
    table.append(el("thead", null, head));
    var tbody = el("tbody");
    table.append(tbody);
    var more = el("button", "more");
    more.type = "button";
    cols.forEach(function (c) {
      var th = el("th", null, c[0]);
      th.addEventListener("click", function () {
        if (sortCol === c[1]) asc = !asc; else { sortCol = c[1]; asc = !c[2]; }
        fill();
      });
      c.th = th;
      head.append(th);
    });
    function fill() {
      cols.forEach(function (c) { c.th.className = c[1] === sortCol ? "sorted" + (asc ? " asc" : "") : ""; });
      var sorted = rows.slice().sort(function (a, b) {
        var x = a[sortCol], y = b[sortCol];
        if (x === null) x = -Infinity;
        if (y === null) y = -Infinity;
        var r = x < y ? -1 : x > y ? 1 : a[0] - b[0];
        return asc ? r : -r;
      });
      tbody.textContent = "";
      sorted.slice(0, limit).forEach(function (r) {
        var tr = el("tr", r[2] === "failed" || r[2] === "pending at close" ? "bad" : null);
        cols.forEach(function (c) {
          var v = r[c[1]];
          var td;
          if (c[1] === 1) {
            var sw = el("span", "swatch");
            sw.style.background = taskColor(r[0], false);
            td = el("td", "name", sw, v);
          } else if (c[1] === 7) {
            td = el("td", null, v ? v + " (" + r[8] + ")" : "");
          } else {
            td = el("td", (c[2] ? "num" : "") + (c[1] === 2 ? " state" : ""), v === null ? "" : c[3] ? c[3](v) : v);
          }
          tr.append(td);
        });
        tbody.append(tr);
      });
      more.hidden = rows.length <= limit;
      more.textContent = "show " + Math.min(TASK_PAGE, rows.length - limit) + " more (" + (rows.length - limit) + " not shown)";
    }
    more.addEventListener("click", function () { limit += TASK_PAGE; fill(); });
    fill();
    p.append(table, more);
    return p;
  }

  // ---- timeline -------------------------------------------------------------------------

  var STEP = 0, IO = 1, TIMERS = 2, RUN = 3, WAITING = 4, EXECUTOR = 5;
  var BUSY = [true, false, true, true, false, true, true];

  function lowerBound(arr, v) { // first index with arr[i] >= v (arr ascending)
    var lo = 0, hi = arr.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (arr[mid] < v) lo = mid + 1; else hi = mid; }
    return lo;
  }

  function Timeline(trace) {
    var self = this;
    var unit = 0.1; // the page's arrays hold tenths of a microsecond
    this.end = Math.max(trace.end * unit, 1);
    this.names = trace.names;
    // Decode the compact arrays once into typed arrays; M[i] = the largest end among spans
    // 0..i, so the first span that reaches a time is found by binary search.
    this.tracks = trace.tracks.map(function (t) {
      var n = t.s.length;
      var S = new Float64Array(n), D = new Float64Array(n), K = new Uint8Array(n), A = new Float64Array(n), M = new Float64Array(n);
      var acc = 0, mx = -Infinity;
      for (var i = 0; i < n; i++) {
        acc += t.s[i];
        S[i] = acc * unit;
        D[i] = t.d[i] * unit;
        K[i] = t.k[i];
        A[i] = t.a[i];
        var e = S[i] + D[i];
        if (e > mx) mx = e;
        M[i] = mx;
      }
      return { name: t.name, kind: t.kind, task: t.task, S: S, D: D, K: K, A: A, M: M };
    });
    this.findings = trace.findings.map(function (f) {
      return { ts: f[0] * unit, dur: f[1] < 0 ? -1 : f[1] * unit, id: f[2], severity: f[3], title: f[4], where: f[5] };
    });
    this.fixed = this.tracks.filter(function (t) { return t.kind !== "task"; });
    this.taskTracks = this.tracks.filter(function (t) { return t.kind === "task"; });
    this.rowOffset = 0;
    this.view = { t0: 0, t1: this.end };

    var panel = el("section", "panel");
    panel.id = "timeline-panel";
    var zin = el("button", null, "+"), zout = el("button", null, "\u2212"), fit = el("button", null, "fit");
    zin.title = "zoom in (or the mouse wheel over the timeline)";
    zout.title = "zoom out";
    fit.title = "show the whole run";
    var up = el("button", null, "\u25b2"), down = el("button", null, "\u25bc");
    up.title = "earlier tasks (or the wheel over the names)";
    down.title = "later tasks";
    this.rowsInfo = el("span", "muted");
    this.rangeInfo = el("span", "muted mono");
    [zin, zout, fit, up, down].forEach(function (b) { b.type = "button"; });
    panel.append(el("div", "toolbar", el("h2", null, "Timeline"), el("span", "grow"), this.rangeInfo, zin, zout, fit,
      this.rowsInfo, up, down));
    var wrap = el("div", "timeline-wrap");
    this.canvas = el("canvas");
    this.canvas.id = "timeline";
    this.tip = el("div", "tooltip");
    this.tip.hidden = true;
    wrap.append(this.canvas, this.tip);
    panel.append(wrap);
    function key(color, text) { var i = el("i"); i.style.background = color; return el("span", null, i, text); }
    this.legend = el("div", "legend");
    panel.append(this.legend);
    var info = plural(trace.events, "event") + (trace.dropped ? ", " + num(trace.dropped) + " dropped (the trace buffer was full)" : "") +
      "; wheel: zoom, drag: pan, click a finding: open it";
    panel.append(el("div", "meta", info));
    if (trace.pid && run.pid && trace.pid !== run.pid) {
      panel.append(el("div", "meta mismatch", "This trace is of process " + trace.pid + " (started " + trace.started +
        "), the report of process " + run.pid + " (started " + run.started + "): they are not of the same run."));
    }
    this.panel = panel;
    this.fillLegend = function () {
      self.legend.textContent = "";
      self.legend.append(key(taskColor(1, false), "task step (a color per task)"), key(css("--io"), "I/O wait"),
        key(css("--timers"), "timers"), key(css("--stall"), "stall"), key(css("--warning"), "warning"),
        key(taskColor(1, true), "task waiting"));
    };

    zin.addEventListener("click", function () { self.zoom(0.5, null); });
    zout.addEventListener("click", function () { self.zoom(2, null); });
    fit.addEventListener("click", function () { self.view = { t0: 0, t1: self.end }; self.redraw(); });
    up.addEventListener("click", function () { self.scrollRows(-self.visibleTaskRows()); });
    down.addEventListener("click", function () { self.scrollRows(self.visibleTaskRows()); });
    this.listen();
  }

  Timeline.prototype.LABEL_W = 170;
  Timeline.prototype.AXIS_H = 22;
  Timeline.prototype.FIND_H = 20;
  Timeline.prototype.LOOP_H = 26;
  Timeline.prototype.ROW_H = 16;
  Timeline.prototype.MAX_H = 460;

  Timeline.prototype.visibleTaskRows = function () {
    var fixedH = this.AXIS_H + this.FIND_H + this.fixed.reduce(function (s, t) { return s + (t.kind === "loop" ? 26 : 16); }, 0);
    return Math.max(0, Math.min(this.taskTracks.length, Math.floor((this.MAX_H - fixedH) / this.ROW_H)));
  };

  // Rows from top to bottom: [{kind, track, y, h, label}]
  Timeline.prototype.layout = function () {
    var rows = [], y = this.AXIS_H;
    rows.push({ kind: "findings", y: y, h: this.FIND_H, label: "findings" });
    y += this.FIND_H;
    var self = this;
    this.fixed.forEach(function (t) {
      var h = t.kind === "loop" ? self.LOOP_H : self.ROW_H;
      rows.push({ kind: "track", track: t, y: y, h: h, label: t.name });
      y += h;
    });
    var n = this.visibleTaskRows();
    this.rowOffset = Math.max(0, Math.min(this.rowOffset, this.taskTracks.length - n));
    for (var i = 0; i < n; i++) {
      var t = this.taskTracks[this.rowOffset + i];
      rows.push({ kind: "track", track: t, y: y, h: this.ROW_H, label: t.name });
      y += this.ROW_H;
    }
    this.rows = rows;
    this.height = y + 4;
    if (this.taskTracks.length > n) {
      this.rowsInfo.textContent = "tasks " + (this.rowOffset + 1) + "\u2013" + (this.rowOffset + n) + " of " + this.taskTracks.length;
    } else {
      this.rowsInfo.textContent = this.taskTracks.length ? plural(this.taskTracks.length, "task row") : "";
    }
  };

  Timeline.prototype.scrollRows = function (d) { this.rowOffset += d; this.redraw(); };

  Timeline.prototype.zoom = function (factor, atX) {
    var v = this.view, w = v.t1 - v.t0;
    var tm = atX === null ? (v.t0 + v.t1) / 2 : v.t0 + (atX / this.plotW) * w;
    var nw = Math.min(Math.max(w * factor, 1), this.end * 1.1);
    var t0 = tm - (tm - v.t0) * (nw / w);
    this.setView(t0, t0 + nw);
  };
  Timeline.prototype.setView = function (t0, t1) {
    var w = t1 - t0, lo = -this.end * 0.05, hi = this.end * 1.05;
    if (t0 < lo) { t0 = lo; t1 = lo + w; }
    if (t1 > hi) { t1 = hi; t0 = Math.max(lo, hi - w); }
    this.view = { t0: t0, t1: t1 };
    this.redraw();
  };

  Timeline.prototype.redraw = function () {
    var self = this;
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(function () { self.pending = false; self.draw(); });
  };

  Timeline.prototype.draw = function () {
    this.layout();
    var c = this.canvas;
    var dpr = window.devicePixelRatio || 1;
    var cssW = c.parentNode.clientWidth || 1000;
    if (c.width !== Math.round(cssW * dpr) || c.height !== Math.round(this.height * dpr)) {
      c.width = Math.round(cssW * dpr);
      c.height = Math.round(this.height * dpr);
      c.style.height = this.height + "px";
    }
    this.cssW = cssW;
    this.plotW = Math.max(50, cssW - this.LABEL_W - 8);
    var ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, this.height);
    var v = this.view;
    this.scale = this.plotW / (v.t1 - v.t0);
    this.colors = { text: css("--text"), muted: css("--muted"), faint: css("--faint"), border: css("--border"),
      io: css("--io"), timers: css("--timers"), stall: css("--stall"), error: css("--error"), warning: css("--warning") };
    var X = this.LABEL_W;
    ctx.font = "12px " + css("--sans");
    ctx.textBaseline = "middle";
    var self = this;
    // Row backgrounds and labels.
    this.rows.forEach(function (r, i) {
      if (i % 2 === 1) { ctx.fillStyle = self.colors.faint; ctx.fillRect(0, r.y, cssW, r.h); }
      ctx.save();
      ctx.beginPath();
      ctx.rect(0, r.y, X - 6, r.h);
      ctx.clip();
      ctx.fillStyle = r.kind === "findings" ? self.colors.error : r.track && r.track.kind === "task" ? self.colors.muted : self.colors.text;
      ctx.fillText(r.label, 8, r.y + r.h / 2);
      ctx.restore();
    });
    this.drawAxis(ctx);
    ctx.save();
    ctx.beginPath();
    ctx.rect(X, this.AXIS_H, this.plotW, this.height - this.AXIS_H);
    ctx.clip();
    this.rows.forEach(function (r) { if (r.kind === "track") self.drawTrack(ctx, r); });
    this.drawFindings(ctx);
    ctx.restore();
    this.rangeInfo.textContent = fmtUs(v.t0) + " \u2013 " + fmtUs(v.t1);
  };

  Timeline.prototype.drawAxis = function (ctx) {
    var v = this.view, X = this.LABEL_W;
    var raw = (v.t1 - v.t0) * 110 / this.plotW;
    var pow = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (m) { return m * pow; }).find(function (s) { return s >= raw; });
    ctx.strokeStyle = this.colors.border;
    ctx.fillStyle = this.colors.muted;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (var t = Math.ceil(v.t0 / step) * step; t <= v.t1; t += step) {
      var x = Math.round(X + (t - v.t0) * this.scale) + 0.5;
      ctx.moveTo(x, this.AXIS_H - 5);
      ctx.lineTo(x, this.height);
      var label = fmtUs(t);
      if (x + 3 + ctx.measureText(label).width < this.cssW) ctx.fillText(label, x + 3, this.AXIS_H / 2);
    }
    ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(0, this.AXIS_H - 0.5);
    ctx.lineTo(this.cssW, this.AXIS_H - 0.5);
    ctx.stroke();
  };

  Timeline.prototype.spanColor = function (tr, i) {
    var k = tr.K[i];
    if (k === STEP || k === EXECUTOR) return tr.A[i] >= 0 ? taskColor(tr.A[i], false) : this.colors.muted;
    if (k === IO) return this.colors.io;
    if (k === TIMERS) return this.colors.timers;
    if (k === RUN) return taskColor(tr.task, false);
    if (k === WAITING) return taskColor(tr.task, true);
    return this.colors.muted;
  };

  // Spans wider than a pixel are drawn as they are; thinner ones are summed per pixel column
  // and each column drawn once, in the color of its longest span, more opaque the more of
  // the column is covered. Waits are drawn as a thin band under the steps.
  Timeline.prototype.drawTrack = function (ctx, r) {
    var tr = r.track, S = tr.S, D = tr.D, K = tr.K, n = S.length;
    if (!n) return;
    var v = this.view, sc = this.scale, W = Math.ceil(this.plotW), X = this.LABEL_W;
    if (!this.cols || this.cols.busy.length < W + 1) {
      this.cols = { busy: new Float32Array(W + 1), busyW: new Float32Array(W + 1), busyI: new Int32Array(W + 1),
        bg: new Float32Array(W + 1), bgI: new Int32Array(W + 1) };
    }
    var cols = this.cols;
    cols.busy.fill(0); cols.busyW.fill(0); cols.bg.fill(0);
    var wideBusy = [], wideBg = [];
    for (var i = lowerBound(tr.M, v.t0); i < n; i++) {
      var s = S[i];
      if (s > v.t1) break;
      var e = s + D[i];
      if (e < v.t0) continue;
      var x0 = (s - v.t0) * sc, x1 = (e - v.t0) * sc;
      if (x0 < 0) x0 = 0;
      if (x1 > W) x1 = W;
      var w = x1 - x0, busy = BUSY[K[i]];
      if (w >= 1.5) { (busy ? wideBusy : wideBg).push(i); continue; }
      var col = x0 | 0;
      if (busy) {
        cols.busy[col] += w;
        if (w >= cols.busyW[col]) { cols.busyW[col] = w; cols.busyI[col] = i; }
      } else {
        if (w >= cols.bg[col]) cols.bgI[col] = i;
        cols.bg[col] += w;
      }
    }
    var y = r.y + 2, h = r.h - 4, self = this;
    var bandY = r.y + r.h * 0.35, bandH = Math.max(2, r.h * 0.3);
    wideBg.forEach(function (i) {
      var x0 = Math.max(0, (S[i] - v.t0) * sc), x1 = Math.min(W, (S[i] + D[i] - v.t0) * sc);
      ctx.fillStyle = self.spanColor(tr, i);
      ctx.fillRect(X + x0, bandY, x1 - x0, bandH);
    });
    for (var c = 0; c <= W; c++) {
      if (cols.bg[c] > 0 && cols.busy[c] === 0) {
        ctx.fillStyle = this.spanColor(tr, cols.bgI[c]);
        ctx.fillRect(X + c, bandY, 1, bandH);
      }
    }
    wideBusy.forEach(function (i) {
      var x0 = Math.max(0, (S[i] - v.t0) * sc), x1 = Math.min(W, (S[i] + D[i] - v.t0) * sc);
      ctx.fillStyle = self.spanColor(tr, i);
      ctx.fillRect(X + x0, y, Math.max(1, x1 - x0 - 0.5), h);
    });
    for (c = 0; c <= W; c++) {
      if (cols.busy[c] > 0) {
        ctx.globalAlpha = Math.min(1, 0.45 + cols.busy[c] * 2);
        ctx.fillStyle = this.spanColor(tr, cols.busyI[c]);
        ctx.fillRect(X + c, y, 1, h);
      }
    }
    ctx.globalAlpha = 1;
  };

  Timeline.prototype.findingColor = function (f) {
    if (f.id === "stall") return this.colors.stall;
    return f.severity === "error" ? this.colors.error : this.colors.warning;
  };

  // Findings: triangles for the instants, at most one per pixel column and color; then bars
  // for those with a duration, on top (stalls and other errors also frame the loop rows).
  Timeline.prototype.drawFindings = function (ctx) {
    var v = this.view, sc = this.scale, X = this.LABEL_W, fr = this.rows[0], self = this;
    var loopRows = this.rows.filter(function (r) { return r.track && r.track.kind === "loop"; });
    var lastX = -1, lastColor = "", bars = [];
    this.findings.forEach(function (f) {
      var end = f.dur > 0 ? f.ts + f.dur : f.ts;
      if (end < v.t0 || f.ts > v.t1) return;
      if (f.dur > 0) { bars.push(f); return; }
      var color = self.findingColor(f);
      var px = Math.round(X + (f.ts - v.t0) * sc);
      if (px === lastX && color === lastColor) return;
      lastX = px;
      lastColor = color;
      ctx.fillStyle = color;
      ctx.beginPath();
      ctx.moveTo(px - 5, fr.y + 3);
      ctx.lineTo(px + 5, fr.y + 3);
      ctx.lineTo(px, fr.y + fr.h - 3);
      ctx.closePath();
      ctx.fill();
    });
    bars.forEach(function (f) {
      var x0 = (f.ts - v.t0) * sc, w = Math.max(3, f.dur * sc);
      ctx.fillStyle = self.findingColor(f);
      ctx.fillRect(X + x0, fr.y + 3, w, fr.h - 6);
      if (f.id === "stall" || f.severity === "error") {
        // Framed on the loop rows, not painted over: the step inside keeps its task's color.
        ctx.strokeStyle = ctx.fillStyle;
        ctx.lineWidth = 2;
        loopRows.forEach(function (r) { ctx.strokeRect(X + x0 + 1, r.y + 1, w - 2, r.h - 2); });
      }
    });
  };

  // What is under the mouse: {text, finding} or null.
  Timeline.prototype.hit = function (x, y) {
    if (x < this.LABEL_W) return null;
    var r = null;
    for (var i = 0; i < this.rows.length; i++) {
      if (y >= this.rows[i].y && y < this.rows[i].y + this.rows[i].h) { r = this.rows[i]; break; }
    }
    if (!r) return null;
    var v = this.view, t = v.t0 + (x - this.LABEL_W) / this.scale, tol = 4 / this.scale;
    if (r.kind === "findings") {
      var best = null, bd = Infinity;
      this.findings.forEach(function (f) {
        var end = f.dur > 0 ? f.ts + f.dur : f.ts;
        var d = t < f.ts ? f.ts - t : t > end ? t - end : 0;
        if (d <= tol && d < bd) { bd = d; best = f; }
      });
      if (!best) return null;
      var lines = ["[" + best.id + "] " + best.title];
      if (best.dur > 0) lines.push("duration " + fmtUs(best.dur));
      lines.push("at " + fmtUs(best.ts) + (best.where ? "  \u00b7  " + best.where : ""), "click to open it below");
      return { text: lines.join("\n"), finding: best };
    }
    var tr = r.track, S = tr.S, D = tr.D, K = tr.K, n = S.length;
    var pick = -1, pickBusy = false, pickD = Infinity, budget = 20000;
    for (var k = lowerBound(tr.M, t - tol); k < n && S[k] <= t + tol && budget-- > 0; k++) {
      var e = S[k] + D[k];
      if (e < t - tol) continue;
      var d = t < S[k] ? S[k] - t : t > e ? t - e : 0;
      var busy = BUSY[K[k]];
      // Prefer steps over waits, then the nearest, then the longest.
      if ((busy && !pickBusy) || (busy === pickBusy && (d < pickD || (d === pickD && D[k] > D[pick])))) {
        pick = k; pickBusy = busy; pickD = d;
      }
    }
    if (pick < 0) return null;
    var kind = K[pick], dur = fmtUs(D[pick]), at = " at " + fmtUs(S[pick]);
    var text;
    if (kind === STEP) text = taskLabel(tr.A[pick]) + "\nstep " + dur + at;
    else if (kind === IO) text = "I/O wait " + dur + at;
    else if (kind === TIMERS) text = "timers: " + (tr.A[pick] >= 0 ? tr.A[pick] + " fired" : "") + " " + dur + at;
    else if (kind === RUN) text = taskLabel(tr.task) + "\nrunning " + dur + at;
    else if (kind === WAITING) text = taskLabel(tr.task) + "\nwaiting: " + (this.names[tr.A[pick]] || "?") + " " + dur + at;
    else if (kind === EXECUTOR) text = "to_thread for " + taskLabel(tr.A[pick]) + "\n" + dur + at;
    else text = dur + at;
    // A finding that overlaps this span (a stall during this step): name it too.
    var s0 = S[pick], s1 = S[pick] + D[pick];
    var f = this.findings.find(function (x) { return x.dur > 0 && x.ts < s1 && x.ts + x.dur > s0; });
    if (f && tr.kind === "loop") text += "\n[" + f.id + "] " + f.title;
    return { text: text, finding: null };
  };

  Timeline.prototype.listen = function () {
    var self = this, c = this.canvas, drag = null;
    function pos(e) { var b = c.getBoundingClientRect(); return { x: e.clientX - b.left, y: e.clientY - b.top }; }
    c.addEventListener("wheel", function (e) {
      var p = pos(e);
      e.preventDefault();
      if (p.x < self.LABEL_W) { self.scrollRows(e.deltaY > 0 ? 3 : -3); return; }
      self.zoom(Math.exp(e.deltaY * 0.0015), p.x - self.LABEL_W);
    }, { passive: false });
    c.addEventListener("mousedown", function (e) {
      var p = pos(e);
      drag = { x: p.x, t0: self.view.t0, t1: self.view.t1, moved: false };
    });
    window.addEventListener("mousemove", function (e) {
      var p = pos(e);
      if (drag) {
        var dx = p.x - drag.x;
        if (Math.abs(dx) > 3) { drag.moved = true; c.classList.add("dragging"); }
        if (drag.moved) {
          var dt = dx / self.scale;
          self.setView(drag.t0 - dt, drag.t1 - dt);
          self.tip.hidden = true;
          return;
        }
      }
      if (e.target !== c) { self.tip.hidden = true; return; }
      var h = self.hit(p.x, p.y);
      if (!h) { self.tip.hidden = true; return; }
      self.tip.textContent = h.text;
      self.tip.hidden = false;
      var left = p.x + 14, top = p.y + 14;
      if (left + self.tip.offsetWidth > self.cssW) left = Math.max(0, p.x - self.tip.offsetWidth - 10);
      self.tip.style.left = left + "px";
      self.tip.style.top = top + "px";
    });
    window.addEventListener("mouseup", function (e) {
      if (!drag) return;
      var moved = drag.moved;
      drag = null;
      c.classList.remove("dragging");
      if (moved || e.target !== c) return;
      var p = pos(e), h = self.hit(p.x, p.y);
      if (h && h.finding) openFindingFromTrace(h.finding);
    });
    c.addEventListener("mouseleave", function () { self.tip.hidden = true; });
    window.addEventListener("resize", function () { self.redraw(); });
    if (window.matchMedia) {
      var mq = window.matchMedia("(prefers-color-scheme: dark)");
      if (mq.addEventListener) mq.addEventListener("change", function () { taskColors.clear(); self.fillLegend(); self.redraw(); });
    }
  };

  // A finding of the trace -> its group in the list: same id, same file name and line.
  function openFindingFromTrace(f) {
    var m = /^(.*):(\d+)(?: \(.*\))?$/.exec(f.where || "");
    var gi = -1;
    if (m) {
      var file = base(m[1]), line = Number(m[2]);
      gi = groups.findIndex(function (g) { return g.id === f.id && base(g.file) === file && g.line === line; });
    }
    if (gi < 0) gi = groups.findIndex(function (g) { return g.id === f.id; });
    if (gi >= 0) revealGroup(gi);
  }

  // ---- the page -------------------------------------------------------------------------

  app.append(summary());
  var timeline = null;
  if (DATA.trace) {
    timeline = new Timeline(DATA.trace);
    app.append(timeline.panel);
    timeline.fillLegend();
    timeline.draw(); // now, not at the next frame: the first view is complete when this script ends
  }
  app.append(findingsPanel());
  app.append(tasksPanel());
  app.append(el("footer", null, "aio-debug-report version " + report.version + " \u00b7 written by aio-report" +
    (DATA.trace ? " \u00b7 trace of pid " + DATA.trace.pid + " started " + DATA.trace.started : "") +
    " \u00b7 see docs/report-format.md"));
  // With #aio-selftest in the address, the page works its controls once (zoom, pan, hover,
  // a click on a finding, the filters, "show more", sorting) and writes data-selftest: a
  // test in a headless browser (tests/report/browser.sh) cannot move a mouse. An exception
  // here lands in data-error like any other.
  function selfTest() {
    var hovers = 0;
    if (timeline) {
      var c = timeline.canvas, b = c.getBoundingClientRect();
      var fire = function (type, x, y, extra) {
        var init = { clientX: b.left + x, clientY: b.top + y, bubbles: true, cancelable: true };
        for (var k in extra || {}) init[k] = extra[k];
        c.dispatchEvent(type === "wheel" ? new WheelEvent(type, init) : new MouseEvent(type, init));
      };
      var midY = timeline.rows[1] ? timeline.rows[1].y + 5 : 30;
      fire("wheel", timeline.LABEL_W + 200, midY, { deltaY: -400 });
      fire("wheel", 20, midY, { deltaY: 100 });
      fire("mousedown", timeline.LABEL_W + 300, midY);
      fire("mousemove", timeline.LABEL_W + 250, midY);
      fire("mouseup", timeline.LABEL_W + 250, midY);
      timeline.zoom(0.5, null);
      timeline.draw();
      timeline.rows.forEach(function (r) {
        for (var x = timeline.LABEL_W; x < timeline.cssW; x += 9) {
          if (timeline.hit(x, r.y + r.h / 2)) hovers++;
        }
      });
      fire("mousemove", timeline.LABEL_W + 100, midY);
      if (timeline.findings.length) {
        // A click on the first finding's marker opens its place in the list.
        timeline.setView(0, timeline.end);
        timeline.draw();
        var f0 = timeline.findings[0];
        var fx = timeline.LABEL_W + (f0.ts - timeline.view.t0) * timeline.scale;
        fire("mousedown", fx, timeline.rows[0].y + 8);
        fire("mouseup", fx, timeline.rows[0].y + 8);
      }
      timeline.scrollRows(1);
      timeline.draw();
    }
    filter.text = "a";
    renderFindings();
    filter.errorsOnly = true;
    renderFindings();
    filter.text = "";
    filter.errorsOnly = false;
    renderFindings();
    Array.prototype.forEach.call(document.querySelectorAll("button.more"), function (m) { m.click(); });
    if (groups.length) revealGroup(groups.length - 1);
    Array.prototype.forEach.call(document.querySelectorAll("table.tasks th"), function (th) { th.click(); th.click(); });
    document.documentElement.setAttribute("data-selftest", "ok, " + hovers + " hover hits");
  }
  if (location.hash === "#aio-selftest") selfTest();

  // How long the page took to be drawn, from the start of navigation (reading the file and
  // the data included): read by the tests (tests/report/browser.sh), from the attribute or
  // from the console line.
  var renderMs = performance.now().toFixed(1);
  document.documentElement.setAttribute("data-render-ms", renderMs);
  document.documentElement.setAttribute("data-ready", "1");
  console.info("aio-report: page drawn in " + renderMs + " ms");
})();
