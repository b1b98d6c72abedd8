"""``minixvm phys``: the physical memory map: frames by use and owner
(process pages, page tables, slab, the yielded-block cache, free)."""

from __future__ import annotations

import argparse

from rich.table import Table

from minixvm.commands.options import add_json, add_view_source, console, print_json, view
from minixvm.machine.ram import PAGE_SIZE
from minixvm.views.physmap import USES, phys_map


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "phys", help="the physical memory map: frames by use and owner",
        description="Every frame of RAM by use (kernel, process, pagetable, slab, yielded, "
        "free) and owner, as ranges, in a run of --run PROGRAM, a recorded run or the demo; "
        "after --at, or when the workload is over.")
    add_view_source(parser)
    add_json(parser)
    parser.add_argument("--png", metavar="FILE", help="also draw the map as PNG")
    parser.add_argument("--svg", metavar="FILE", help="also draw the map as SVG")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with view(args) as seen:
        pm = phys_map(seen.system)
        for path in (args.png, args.svg):
            if path:
                # matplotlib takes a while to import: only when drawing.
                from minixvm.views.pictures import phys_picture

                phys_picture(seen.system, path)
        if args.json:
            print_json({**seen.to_json(), **pm.to_json()})
            return 0
        out = console()
        counts = pm.counts()
        uses = Table(title=f"physical memory {seen.stopped}: {pm.frames} frames")
        for name in ("use", "frames", "KiB"):
            uses.add_column(name, justify="left" if name == "use" else "right")
        for use in USES:
            uses.add_row(use, str(counts[use]), str(counts[use] * PAGE_SIZE // 1024))
        out.print(uses)
        ranges = Table(title="ranges")
        for name in ("frames", "count", "use", "owner"):
            ranges.add_column(name, justify="right" if name == "count" else "left")
        for r in pm.ranges:
            ranges.add_row(f"{r.start:#x}-{r.end - 1:#x}", str(r.count), r.use, r.owner)
        out.print(ranges)
    return 0
