"""Pictures of memory for teaching: one process's address space, physical
memory, and a run's timeline (matplotlib, PNG or SVG chosen by the suffix).

The address-space and physical pictures read the system from the host side
(``observe`` and ``physmap``), so drawing one changes nothing. SVGs keep their
text as text, so a reader (or a test) can search them for region names.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.collections import LineCollection  # noqa: E402 - after choosing the backend
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from minixvm.machine.ram import PAGE_SIZE  # noqa: E402
from minixvm.observe import MapEntry, maps, ps  # noqa: E402
from minixvm.views.physmap import USES, PhysMap, phys_map  # noqa: E402

if TYPE_CHECKING:
    from minixvm.boot import System

FORMATS = (".png", ".svg")

PRIVATE = "#4c72b0"
USE_COLOURS = {"kernel": "#7f7f7f", "pagetable": "#e6b400", "slab": "#c0392b",
               "yielded": "#2ca02c", "free": "#f4f4f4", "process": PRIVATE}
SHARED = "#e377c2"
# Each process's pages in the physical picture get a colour of their own.
OWNER_PALETTE = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#bcbd22",
                 "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd")
OTHER_OWNERS = "#aec7e8"
KIND_STYLE = {  # marker, colour, size, order drawn (lowest first)
    "msg": ("o", "#8c8c8c", 10, 0), "kcall": (".", "#c7c7c7", 8, 1),
    "file": ("s", "#17becf", 18, 2), "grant": ("D", "#9467bd", 18, 3),
    "exec": ("*", "#2ca02c", 80, 4), "fault": ("x", "#d62728", 30, 5),
    "cow": ("^", "#ff7f0e", 40, 6),
}
OTHER_KIND = ("o", "#000000", 12, 9)
# Above this many markers of a kind, an SVG holds them as one inline image.
RASTER_ABOVE = 2000


def address_space_picture(system: System, pid: int, path: str | Path) -> None:
    """Draw process ``pid``'s address space into ``path`` (.png or .svg)."""
    save(address_space_figure(system, pid), _checked(path))


def phys_picture(system: System, path: str | Path) -> None:
    """Draw physical memory, frame by frame, into ``path`` (.png or .svg)."""
    save(phys_figure(phys_map(system)), _checked(path))


def timeline_picture(events: Iterable[Mapping[str, Any]], path: str | Path) -> None:
    """Draw recorded events (dicts with step, kind, pid, proc) per process
    over steps into ``path`` (.png or .svg)."""
    save(timeline_figure(events), _checked(path))


def _checked(path: str | Path) -> str | Path:
    """``path``, if it names a picture format (ValueError before any drawing if not)."""
    if Path(path).suffix.lower() not in FORMATS:
        raise ValueError(f"{path}: a picture must end in .png or .svg")
    return path


def save(fig: Figure, path: str | Path) -> None:
    """Write ``fig`` as PNG or SVG, chosen by the suffix of ``path``."""
    suffix = Path(_checked(path)).suffix.lower()
    with _style():
        fig.savefig(path, format=suffix[1:], dpi=110, metadata=_metadata(suffix))


def to_svg(fig: Figure) -> str:
    """``fig`` as the text of an SVG document (for inlining in HTML)."""
    out = io.StringIO()
    with _style():
        fig.savefig(out, format="svg", metadata=_metadata(".svg"))
    return out.getvalue()


@contextmanager
def _style() -> Iterator[None]:
    """Text stays text in SVGs, and the ids in them are the same every time."""
    with matplotlib.rc_context():
        matplotlib.rcParams["svg.fonttype"] = "none"
        matplotlib.rcParams["svg.hashsalt"] = "minixvm"
        yield


def _metadata(suffix: str) -> dict[str, Any]:
    """No date or version in the file: the same system draws the same bytes."""
    if suffix == ".svg":
        return {"Date": None, "Creator": "minixvm"}
    return {"Software": "minixvm"}


def _hex(value: int) -> str:
    return f"{value:08x}"


# -- one address space ------------------------------------------------------------

GAP = 3.0  # display width of the unmapped space between two regions
MIN_BLOCK = 0.8  # the narrowest a resident block is drawn


@dataclass(frozen=True)
class _Placed:
    """A region laid out on the compressed address line."""

    entry: MapEntry
    x: float
    width: float

    def block_x(self, vaddr: int, length: int) -> tuple[float, float]:
        """Where [vaddr, vaddr + length) is drawn: at least MIN_BLOCK wide,
        so one resident page of a huge stack region can still be seen."""
        scale = self.width / (self.entry.end - self.entry.start)
        x0 = self.x + (vaddr - self.entry.start) * scale
        x1 = max(x0 + length * scale, x0 + MIN_BLOCK)
        shift = max(0.0, x1 - (self.x + self.width))
        return x0 - shift, x1 - shift


def _region_width(pages: int) -> float:
    """Small regions at one unit a page, large ones growing with the log of
    their size: a 4-page stack and a 4096-page heap both stay visible."""
    if pages <= 16:
        return max(4.0, float(pages))
    return 16.0 + 4.0 * math.log2(pages / 16)


def _lay_out(entries: list[MapEntry]) -> list[_Placed]:
    placed, x = [], 0.0
    for entry in sorted(entries, key=lambda e: e.start):
        width = _region_width((entry.end - entry.start) // PAGE_SIZE)
        placed.append(_Placed(entry, x, width))
        x += width + GAP
    return placed


def _refcount_colour(refcount: int, sharing: str) -> str:
    """Private pages blue; copy-on-write pages darker orange the more processes
    share them; grant-mapped (smap) pages purple likewise."""
    if refcount <= 1:
        return PRIVATE
    shades = (("#fdae6b", "#f16913", "#a63603") if sharing != "smap"
              else ("#bcbddc", "#807dba", "#54278f"))
    return shades[min(refcount, 4) - 2]


def address_space_figure(system: System, pid: int) -> Figure:
    """The regions of ``pid`` along its address line (unmapped space between
    them shrunk), each page resident coloured by its refcount, and a lane for
    every other process sharing pages with lines to the pages it shares."""
    entries = maps(system, pid)
    names = {p.pid: p.name for p in ps(system)}
    placed = _lay_out(entries)
    total = placed[-1].x + placed[-1].width if placed else 10.0
    fig = Figure(figsize=(min(22.0, max(9.0, total * 0.11)), 4.2))
    ax = fig.add_subplot()
    legend: dict[str, str] = {}
    links: list[tuple[float, int, str]] = []  # x, the other pid, colour
    for p in placed:
        _draw_region(ax, p, tilt=len(placed) > 4)
        for b in p.entry.blocks:
            colour = _refcount_colour(b.refcount, b.sharing)
            legend.setdefault("private" if b.refcount <= 1
                              else f"{b.sharing or 'shared'} ×{b.refcount}", colour)
            x0, x1 = p.block_x(b.vaddr, b.length)
            ax.add_patch(Rectangle((x0, 0.12), x1 - x0, 0.76, facecolor=colour, lw=0))
            links += [((x0 + x1) / 2, other, colour) for other in b.sharers]
    lanes = {other: -1.2 - 0.7 * i for i, other in enumerate(sorted({o for _, o, _ in links}))}
    for x, other, colour in links:
        ax.plot([x, x], [0, lanes[other]], color=colour, lw=0.7, alpha=0.8)
        ax.plot([x], [lanes[other]], marker="o", ms=3, color=colour)
    for other, y in lanes.items():
        ax.axhline(y, color="#dddddd", lw=0.6, zorder=0)
        ax.text(-1, y, f"shared with {names.get(other, '?')}({other})", ha="right",
                va="center", fontsize=8)
    ticks = [(p.x, p.entry.start) for p in placed]
    if placed:
        ticks.append((total, placed[-1].entry.end))
    ax.set_xticks([x for x, _ in ticks], [_hex(a) for _, a in ticks],
                  rotation=90, fontsize=7, family="monospace")
    ax.set_xlim(-1, total + 1)
    ax.set_ylim(min(lanes.values(), default=0.0) - 0.6, 2.2)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel("virtual address (hex; unmapped gaps shrunk to ≈)")
    resident = sum(e.resident for e in entries)
    shared = sum(b.length // PAGE_SIZE for e in entries for b in e.blocks if b.refcount > 1)
    ax.set_title(f"Address space of {names.get(pid, '?')}({pid}): {len(entries)} regions, "
                 f"{resident} pages resident, {shared} shared")
    handles = [Patch(facecolor=c, label=name) for name, c in legend.items()]
    handles.append(Patch(facecolor="#ffffff", edgecolor="black", label="not resident"))
    fig.legend(handles=handles, loc="lower center", fontsize=7, ncols=len(handles),
               frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def _draw_region(ax: Any, p: _Placed, tilt: bool) -> None:
    """The outline of a region (hatched if PROT_NONE, grey if read-only), its
    memory type, protection and size above it, and a ≈ for the gap after it."""
    e = p.entry
    ax.add_patch(Rectangle((p.x, 0), p.width, 1, facecolor="#ffffff" if "w" in e.perms
                           else "#eeeeee", edgecolor="black", lw=0.8,
                           hatch="//" if e.perms.startswith("-") else None))
    ax.text(p.x + p.width / 2, 1.12,
            f"{e.memtype} {e.perms}\n{e.pages} page{'s' if e.pages != 1 else ''}",
            ha="center", va="bottom", rotation=30 if tilt else 0, fontsize=8)
    ax.text(p.x + p.width + GAP / 2, 0.5, "≈", ha="center", va="center", color="#888888")


# -- physical memory -----------------------------------------------------------------


def _owner_colours(pm: PhysMap) -> dict[str, str]:
    """A colour for each process owning pages, the biggest first; shared
    pages one colour; those past the palette one more."""
    owners = sorted(pm.owners("process").items(), key=lambda kv: -kv[1])
    private = [o for o, _ in owners if "," not in o]
    colours = {o: c for o, c in zip(private, OWNER_PALETTE, strict=False)}
    for o, _ in owners:
        colours.setdefault(o, SHARED if "," in o else OTHER_OWNERS)
    return colours


@dataclass(frozen=True)
class _Row:
    """A row of the physical picture: ``repeat`` rows of ``per_row`` frames
    from ``start``, all alike when ``repeat`` > 1 (drawn once)."""

    start: int
    repeat: int
    colours: tuple[str, ...]


def _rows(pm: PhysMap, colour_of: dict[tuple[str, str], str], per_row: int) -> list[_Row]:
    """The frames in rows, runs of rows of one use and owner folded into one."""
    frames: list[str] = []
    for r in pm.ranges:
        frames += [colour_of[(r.use, r.owner)]] * r.count
    frames += [USE_COLOURS["kernel"]] * (-len(frames) % per_row)
    rows: list[_Row] = []
    for start in range(0, len(frames), per_row):
        colours = tuple(frames[start:start + per_row])
        last = rows[-1] if rows else None
        if last is not None and len(set(colours)) == 1 and colours == last.colours:
            rows[-1] = _Row(last.start, last.repeat + 1, colours)
        else:
            rows.append(_Row(start, 1, colours))
    return rows


def _row_label(row: _Row, per_row: int) -> str:
    first = row.start * PAGE_SIZE
    if row.repeat == 1:
        return f"{first:08x}"
    return f"{first:08x}-{(row.start + row.repeat * per_row) * PAGE_SIZE - 1:08x}"


def _phys_legend(pm: PhysMap, owner_colours: dict[str, str]) -> list[Patch]:
    """One entry per use, then per process owning pages, with frame counts."""
    counts = pm.counts()
    handles = [Patch(facecolor=USE_COLOURS[u], edgecolor="#999999",
                     label=f"{u} ({counts[u]})") for u in USES if u != "process"]
    owned = pm.owners("process")
    shown = [o for o, c in owner_colours.items() if c not in (SHARED, OTHER_OWNERS)]
    handles += [Patch(facecolor=owner_colours[o], label=f"{o} ({owned[o]})") for o in shown]
    for colour, label in ((SHARED, "shared by several"), (OTHER_OWNERS, "other processes")):
        n = sum(owned[o] for o, c in owner_colours.items() if c == colour)
        if n:
            handles.append(Patch(facecolor=colour, label=f"{label} ({n})"))
    return handles


def phys_figure(pm: PhysMap) -> Figure:
    """Physical memory as rows of frames (lowest address at the top), each
    frame coloured by its use, process pages by their owner; a run of rows
    all of one use (the kernel, free memory) is drawn as one row."""
    owner_colours = _owner_colours(pm)
    colour_of = {(r.use, r.owner): owner_colours[r.owner] if r.use == "process"
                 else USE_COLOURS[r.use] for r in pm.ranges}
    per_row = 128
    rows = _rows(pm, colour_of, per_row)
    while len(rows) > 48:
        per_row *= 2
        rows = _rows(pm, colour_of, per_row)
    handles = _phys_legend(pm, owner_colours)
    rgb = {c: to_rgb(c) for c in set(colour_of.values()) | {USE_COLOURS["kernel"]}}
    image = [[rgb[c] for c in row.colours] for row in rows]
    fig = Figure(figsize=(11, max(3.2, 1.8 + len(rows) * 0.22, 1.0 + 0.16 * len(handles))))
    ax = fig.add_subplot()
    ax.imshow(image, aspect="auto", interpolation="nearest", extent=(0, per_row, len(rows), 0))
    for i in range(1, len(rows)):
        ax.axhline(i, color="white", lw=1.5)
    ax.set_yticks([i + 0.5 for i in range(len(rows))],
                  [_row_label(row, per_row) for row in rows], family="monospace", fontsize=7)
    xt = list(range(0, per_row + 1, per_row // 8))
    ax.set_xticks(xt, [f"+{x * PAGE_SIZE:x}" for x in xt], family="monospace", fontsize=7)
    ax.set_ylabel("physical address (hex)")
    ax.set_xlabel(f"offset in the row (hex; {per_row} frames of 4 KiB a row; "
                  "rows all alike are drawn as one)")
    counts = pm.counts()
    ax.set_title(f"Physical memory: {pm.frames} frames, {counts['free']} free, "
                 f"{counts['process']} process pages, {counts['pagetable']} page tables")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7,
              title="use / owner (frames)", title_fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


# -- a run over time -----------------------------------------------------------------


def _parties(event: Mapping[str, Any]) -> list[tuple[int, str, str]]:
    """Who an event is about, as (row, name, pid or endpoint label): its
    process, and for a message the process it went to. Rows are processes
    by pid; kernel tasks and processes without a pid come after, by endpoint."""
    parties = [(event.get("pid"), event.get("endpoint"), event.get("proc"))]
    if event.get("to") is not None:
        parties.append((event.get("to_pid"), event["to"], event.get("to_proc")))
    return [(int(pid), str(name or "?"), f"({pid})") if pid is not None
            else ((1 << 30) + int(ep or 0), str(name or "?"), f" (ep {ep})")
            for pid, ep, name in parties]


def _lane_names(events: list[Mapping[str, Any]]) -> dict[int, str]:
    """Each row's label: the names its process had in turn (an exec renames
    it: ``init→cow(11)``), then its pid, or for a task its endpoint."""
    names: dict[int, list[str]] = {}
    suffix: dict[int, str] = {}
    for ev in events:
        for lane, name, who in _parties(ev):
            seen = names.setdefault(lane, [])
            suffix.setdefault(lane, who)
            if not seen or seen[-1] != name:
                seen.append(name)
    return {lane: "→".join(names[lane]) + suffix[lane] for lane in names}


ADDRESSES_SHOWN = 40  # faults and COW breaks labelled with their address, at most
MESSAGE_LINES = 250  # messages drawn from sender to receiver, at most (more is a blur)


def _draw_sends(ax: Any, sends: list[list[tuple[int, int]]]) -> None:
    """Each message as a line from its sender's row to an arrow at its receiver's."""
    ax.add_collection(LineCollection(sends, colors="#a0a0a0", linewidths=0.7, zorder=1))
    for marker, down in (("v", True), ("^", False)):
        ends = [end for start, end in sends if (end[1] > start[1]) == down]
        ax.scatter([x for x, _ in ends], [y for _, y in ends], marker=marker, c="#808080",
                   s=36, zorder=1, linewidths=0)


def _label_addresses(ax: Any, events: list[Mapping[str, Any]], order: dict[int, int]) -> None:
    """Beside each fault and COW break, its address, when there are few enough."""
    marked = [ev for ev in events if ev["kind"] in ("fault", "cow") and "addr" in ev]
    if len(marked) > ADDRESSES_SHOWN:
        return
    steps = [int(ev["step"]) for ev in events]
    near = (max(steps) - min(steps)) / 25 if steps else 0
    below: dict[int, tuple[int, bool]] = {}  # row -> the last label's step, and if below
    for ev in marked:
        step, row = int(ev["step"]), order[_parties(ev)[0][0]]
        last = below.get(row)
        # Two labels close together in one row: one above the marker, one below.
        under = last is not None and step - last[0] < near and not last[1]
        below[row] = (step, under)
        ax.annotate(f"{int(ev['addr']):08x}", (step, row), xytext=(3, -11 if under else 5),
                    textcoords="offset points", fontsize=6.5, family="monospace",
                    color=KIND_STYLE[ev["kind"]][1])


def timeline_figure(events: Iterable[Mapping[str, Any]]) -> Figure:
    """Every event as a marker in its process's row at its step, one marker
    style per kind (faults and COW breaks stand out, messages are faint),
    and each message as a line to the row of the process it went to."""
    chosen = list(events)
    labels = _lane_names(chosen)
    order = {lane: i for i, lane in enumerate(sorted(labels))}
    points: dict[str, tuple[list[int], list[int]]] = {}
    sends: list[list[tuple[int, int]]] = []
    for ev in chosen:
        parties = [order[lane] for lane, _, _ in _parties(ev)]
        xs, ys = points.setdefault(ev["kind"], ([], []))
        xs.append(int(ev["step"]))
        ys.append(parties[0])
        if len(parties) == 2:
            sends.append([(int(ev["step"]), parties[0]), (int(ev["step"]), parties[1])])
    kinds = Counter({kind: len(xs) for kind, (xs, _) in points.items()})
    fig = Figure(figsize=(12, max(3.0, 1.5 + 0.32 * len(order))))
    ax = fig.add_subplot()
    if len(sends) <= MESSAGE_LINES:
        _draw_sends(ax, sends)
    _label_addresses(ax, chosen, order)
    for kind in sorted(points, key=lambda k: KIND_STYLE.get(k, OTHER_KIND)[3]):
        marker, colour, size, z = KIND_STYLE.get(kind, OTHER_KIND)
        xs, ys = points[kind]
        ax.scatter(xs, ys, marker=marker, c=colour, s=size, zorder=z + 2,
                   label=f"{kind} ({kinds[kind]})", rasterized=len(xs) > RASTER_ABOVE,
                   linewidths=1.0 if marker == "x" else 0.3)
    ax.set_yticks(list(order.values()), [labels[lane] for lane in order], fontsize=8)
    ax.set_ylim(max(1, len(order)) - 0.5, -0.5)
    ax.margins(x=0.04)  # room for the last address label
    ax.grid(axis="y", color="#eeeeee", zorder=0)
    ax.set_xlabel("step (the event's number in the trace, counted from boot)"
                  + ("; a message is a line from its sender to the arrow at its receiver"
                     if len(sends) <= MESSAGE_LINES else ""))
    ax.set_ylabel("process")
    total = sum(kinds.values())
    ax.set_title(f"Timeline: {total} events; page faults {kinds['fault']}, "
                 f"copy-on-write breaks {kinds['cow']}, messages {kinds['msg']}")
    if points:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False,
                  title="kind (events)", title_fontsize=8)
    fig.tight_layout()
    return fig
