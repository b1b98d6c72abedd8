"""A run as one self-contained HTML page: its summary, the process tree, the
address spaces, physical memory, the timeline and the trace, filterable.

``collect`` drives a workload one trace event at a time (``System.step``)
and takes pictures as it goes: each program's address space just before VM
frees it (when PM tells VM the process is exiting), or every program's at a
chosen event; physical memory then or at the end. ``render`` makes the page:
pictures inline as SVG, style and script inline, nothing fetched.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from minixvm.kernel.trace import Event
from minixvm.observe import ProcessInfo, has_memory, maps, ps
from minixvm.views.physmap import USES, PhysMap, phys_map
from minixvm.views.pictures import address_space_figure, phys_figure, timeline_figure, to_svg
from minixvm.views.workload import At, Workload, drive

if TYPE_CHECKING:
    from minixvm.boot import System

SECTIONS = (("summary", "Summary"), ("processes", "Process tree"),
            ("address-spaces", "Address spaces"), ("physical", "Physical memory"),
            ("timeline", "Timeline"), ("trace", "Trace"))


@dataclass(frozen=True)
class Snapshot:
    """One process's address space at one step, drawn."""

    when: str
    pid: int
    name: str
    regions: tuple[str, ...]
    svg: str


@dataclass
class Collected:
    """Everything a report shows, gathered while the workload ran."""

    title: str
    ram: str
    events: list[Event] = field(default_factory=list)
    processes: dict[int, ProcessInfo] = field(default_factory=dict)
    exited: dict[int, int] = field(default_factory=dict)  # pid -> step of its exit
    snapshots: list[Snapshot] = field(default_factory=list)
    phys: PhysMap | None = None
    phys_svg: str = ""
    phys_when: str = ""
    at_step: int | None = None  # where the pictures were taken, if at a chosen event
    statistics: dict[str, Any] = field(default_factory=dict)
    console: str = ""
    returncodes: dict[str, int | None] = field(default_factory=dict)


def collect(system: System, workload: Workload, at: At | None = None) -> Collected:
    """Run ``workload`` to the end, one event at a time; pictures of each
    program's address space at its exit, or of every program's at ``at``
    (and of physical memory then, else at the end)."""
    title = " ".join((workload.name, *workload.args))
    data = Collected(title + (f" (pictures at {at})" if at else ""), workload.ram)
    reached = at.until() if at is not None else None
    system.kernel.trace.pending()  # the report starts with the workload, not the boot
    _seen(data, system)

    def watch(event: Event) -> bool:
        data.events.append(event)
        if reached is not None and data.at_step is None and reached(event):
            _pictures_at(data, system, event["step"])
        exiting = _exiting(event)
        if exiting is not None:
            _exit(data, system, exiting, event["step"], pictures=at is None)
        return False

    handles, _ = drive(system, workload, watch)
    data.returncodes = {h.name: h.returncode for h in handles}
    if data.phys is None:
        _take_phys(data, system, "at the end of the run")
    _seen(data, system)
    data.statistics = _flat(dataclasses.asdict(system.statistics()))
    data.console = system.console.text
    return data


def _pictures_at(data: Collected, system: System, step: int) -> None:
    """Every program's address space, and physical memory, at ``step``."""
    when = f"at step {step}"
    data.at_step = step
    for p in _seen(data, system):
        if not p.system and has_memory(system, p.pid):
            data.snapshots.append(_snapshot(system, p, when))
    _take_phys(data, system, when)


def _exit(data: Collected, system: System, endpoint: int, step: int, pictures: bool) -> None:
    """Process ``endpoint`` is exiting at ``step``: remember it, draw it."""
    pid = system.kernel.trace.pid_of(endpoint)
    info = next((p for p in _seen(data, system) if p.pid == pid), None)
    if info is None or info.system:
        return
    data.exited[info.pid] = step
    if pictures and has_memory(system, info.pid):
        data.snapshots.append(_snapshot(system, info, f"at its exit (step {step})"))


def _exiting(event: Event) -> int | None:
    """The endpoint of the process PM is about to have VM free, if ``event``
    is PM telling VM so (VM has not run yet: the memory is still there)."""
    if event["kind"] == "msg" and event.get("type") == "VM_WILLEXIT" and not event.get("reply"):
        return int(event["fields"]["endpoint"])
    return None


def _seen(data: Collected, system: System) -> list[ProcessInfo]:
    """Every process now; each is remembered for the process tree."""
    now = ps(system)
    data.processes.update((p.pid, p) for p in now)
    return now


def _snapshot(system: System, p: ProcessInfo, when: str) -> Snapshot:
    regions = tuple(str(e) for e in maps(system, p.pid))
    return Snapshot(when, p.pid, p.name, regions,
                    to_svg(address_space_figure(system, p.pid)))


def _take_phys(data: Collected, system: System, when: str) -> None:
    data.phys = phys_map(system)
    data.phys_svg = to_svg(phys_figure(data.phys))
    data.phys_when = when


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dataclass dicts as one level: ``vm.cow_breaks``."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# -- the page ------------------------------------------------------------------------

_SVG_HEAD = re.compile(r"\A.*?(?=<svg)", re.DOTALL)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')
_ID = re.compile(r'(id="|url\(#|href="#)([\w.-]+)')


def inline_svg(svg: str, prefix: str) -> str:
    """An SVG document as an element of an HTML page: no XML prologue,
    namespaces or metadata (HTML knows SVG), every id made unique by
    ``prefix`` so several pictures can share the page."""
    svg = _METADATA.sub("", _SVG_HEAD.sub("", svg, count=1))
    svg = _XMLNS.sub("", svg)
    return _ID.sub(lambda m: f"{m[1]}{prefix}-{m[2]}", svg)


def render(data: Collected) -> str:
    """The HTML page of ``data``."""
    nav = " ".join(f'<a href="#{key}">{title}</a>' for key, title in SECTIONS)
    body = "\n".join((_summary(data), _tree(data), _spaces(data), _physical(data),
                      _timeline(data), _trace(data)))
    e = html.escape
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>minixvm report: {e(data.title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header><h1>minixvm report: {e(data.title)}</h1>
<p>{e(data.ram)} of RAM · {len(data.events)} events recorded from the start of the workload</p>
<nav>{nav}</nav></header>
{body}
<script>{_SCRIPT}</script>
</body>
</html>
"""


def _section(key: str, intro: str, content: str) -> str:
    title = dict(SECTIONS)[key]
    return (f'<section id="{key}"><h2>{title}</h2>\n<p class="intro">{intro}</p>\n'
            f"{content}</section>")


def _table(rows: Iterable[Sequence[object]], head: Sequence[str], cls: str = "") -> str:
    e = html.escape
    th = "".join(f"<th>{e(h)}</th>" for h in head)
    body = "\n".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>"
                     for row in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>\n{body}\n</tbody></table>'


def _summary(data: Collected) -> str:
    s = data.statistics
    headline = [("programs", ", ".join(f"{n} → {c}" for n, c in data.returncodes.items())),
                ("page faults", s.get("vm.pagefaults")),
                ("copy-on-write breaks", s.get("vm.cow_breaks")),
                ("demand-zero pages", s.get("vm.demand_zero")),
                ("forks", s.get("vm.forks")), ("messages", s.get("messages")),
                ("kernel calls", s.get("kernel_calls")),
                ("frames used / free", f"{s.get('frames_total', 0) - s.get('frames_free', 0)}"
                                       f" / {s.get('frames_free')}")]
    every = _table(sorted(s.items()), ("counter", "value"), "counters")
    console = f"<h3>Console</h3><pre>{html.escape(data.console)}</pre>" if data.console else ""
    return _section("summary", "What the run did, as the system counted it at the end.",
                    _table(headline, ("", "")) + console
                    + f"<details><summary>Every counter</summary>{every}</details>")


def _tree(data: Collected) -> str:
    children: dict[int, list[ProcessInfo]] = {}
    for p in sorted(data.processes.values(), key=lambda p: p.pid):
        parent = p.ppid if p.ppid in data.processes and p.ppid != p.pid else 0
        children.setdefault(parent, []).append(p)

    def branch(pid: int) -> str:
        items = []
        for p in children.get(pid, []):
            fate = (f"exited at step {data.exited[p.pid]}" if p.pid in data.exited
                    else p.state.lower())
            kind = "system" if p.system else "user"
            items.append(f'<li class="{kind}"><b>{html.escape(p.name)}</b> pid {p.pid} '
                         f"(endpoint {p.endpoint}) · {html.escape(fate)}"
                         f"{branch(p.pid)}</li>")
        return f"<ul>{''.join(items)}</ul>" if items else ""

    return _section("processes", "Every process seen during the run, under its parent "
                    "(servers in grey).", f'<div class="tree">{branch(0)}</div>')


def _spaces(data: Collected) -> str:
    if not data.snapshots:
        return _section("address-spaces", "No program had memory to show.", "")
    parts = []
    for i, snap in enumerate(data.snapshots):
        regions = html.escape("\n".join(snap.regions))
        parts.append(f'<article class="space"><h3>{html.escape(snap.name)}({snap.pid}) '
                     f"{html.escape(snap.when)}</h3>"
                     f'<div class="picture">{inline_svg(snap.svg, f"as{i}")}</div>'
                     f"<pre>{regions}</pre></article>")
    return _section("address-spaces", "Each program's regions along its address line: "
                    "resident pages coloured by how many processes share them, a lane for "
                    "each process sharing them.", "\n".join(parts))


def _physical(data: Collected) -> str:
    assert data.phys is not None
    counts = data.phys.counts()
    table = _table(((u, counts[u], f"{counts[u] * 4} KiB") for u in USES),
                   ("use", "frames", "memory"))
    return _section("physical", f"Every frame of RAM by use and owner, {data.phys_when}.",
                    f'<div class="picture">{inline_svg(data.phys_svg, "phys")}</div>{table}')


def _timeline(data: Collected) -> str:
    svg = to_svg(timeline_figure(data.events))
    return _section("timeline", "Each event in its process's row at its step: page faults "
                    "(×), copy-on-write breaks (▲), execs (★), messages (•), file requests "
                    "(■), grant copies (◆), kernel calls (·); in a short run, a line from "
                    "each message's sender to its receiver.",
                    f'<div class="picture">{inline_svg(svg, "tl")}</div>')


def _trace(data: Collected) -> str:
    e = html.escape
    kinds = sorted({ev["kind"] for ev in data.events})
    options = "".join(f'<option value="{e(k)}">{e(k)}</option>' for k in kinds)
    rows = "\n".join(_trace_row(ev) for ev in data.events)
    controls = (f'<div class="filter"><label>kind <select id="f-kind"><option value="">all'
                f"</option>{options}</select></label> "
                '<label>pid <input id="f-pid" size="6" placeholder="any"></label> '
                '<label>text <input id="f-text" size="30" placeholder="e.g. VM_FORK"></label> '
                '<span id="f-count"></span></div>')
    table = ('<table id="trace-table"><thead><tr><th>step</th><th>kind</th><th>process</th>'
             f"<th>event</th></tr></thead><tbody>\n{rows}\n</tbody></table>")
    return _section("trace", "Every event of the run; choose a kind, a pid or a text to "
                    "show only those.", controls + table)


def _trace_row(ev: Event) -> str:
    """One event as a table row; its kind and pid also as data, for the filter."""
    e = html.escape
    pid = ev.get("pid")
    return (f'<tr data-kind="{e(ev["kind"])}" data-pid="{"" if pid is None else pid}">'
            f'<td>{ev["step"]}</td><td>{e(ev["kind"])}</td>'
            f'<td>{e(str(ev.get("proc")))}({"-" if pid is None else pid})</td>'
            f'<td class="text">{e(_detail(ev))}</td></tr>')


def _detail(ev: Event) -> str:
    """The event's trace line without its kind (the table has a column for it)."""
    words = str(ev.get("text", "")).split(None, 1)
    return words[1] if len(words) > 1 else ""


_CSS = """
body { font-family: sans-serif; margin: 0 2em 2em; color: #222; max-width: 1400px; }
header { border-bottom: 2px solid #4c72b0; margin-bottom: 1em; }
nav a { margin-right: 1em; }
h2 { border-bottom: 1px solid #ccc; margin-top: 1.6em; }
.intro { color: #555; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; }
th { background: #f0f0f0; }
pre { background: #f8f8f8; padding: 0.5em; overflow-x: auto; }
.picture svg { max-width: 100%; height: auto; }
.tree ul { list-style: none; padding-left: 1.4em; border-left: 1px dotted #aaa; }
.tree li.system { color: #888; }
.tree li.user { color: #222; }
.filter { margin: 0.5em 0; position: sticky; top: 0; background: #fff; padding: 0.4em 0; }
#trace-table td.text { font-family: monospace; white-space: pre-wrap; }
#trace-table tr.hidden { display: none; }
"""

_SCRIPT = """
(function () {
  var kind = document.getElementById('f-kind'), pid = document.getElementById('f-pid'),
      text = document.getElementById('f-text'), count = document.getElementById('f-count');
  var rows = document.querySelectorAll('#trace-table tbody tr');
  // A filter can be given in the address: report.html?kind=cow&pid=12&text=VM_
  var asked = new URLSearchParams(window.location.search);
  kind.value = asked.get('kind') || '';
  pid.value = asked.get('pid') || '';
  text.value = asked.get('text') || '';
  function filter() {
    var k = kind.value, p = pid.value.trim(), t = text.value.toLowerCase(), shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var ok = (!k || r.dataset.kind === k) && (!p || r.dataset.pid === p) &&
               (!t || r.textContent.toLowerCase().indexOf(t) >= 0);
      r.classList.toggle('hidden', !ok);
      if (ok) shown++;
    }
    count.textContent = shown + ' of ' + rows.length + ' events';
  }
  kind.addEventListener('change', filter);
  pid.addEventListener('input', filter);
  text.addEventListener('input', filter);
  filter();
})();
"""
