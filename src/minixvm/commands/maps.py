"""``minixvm maps PID``: a process's regions, like /proc/PID/maps with
MINIX's detail: flags, resident pages, and the physical blocks behind them
with their refcounts and the other processes sharing them."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterator
from typing import Any

from minixvm.commands.options import (
    UsageError,
    add_json,
    add_view_source,
    print_json,
    view,
)
from minixvm.machine.ram import PAGE_SIZE
from minixvm.observe import BlockInfo, MapEntry, has_memory, maps, ps


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "maps", help="a process's regions and the physical blocks behind them",
        description="The regions of process PID (address range, flags r/w and s(hared) or "
        "p(rivate), memory type, pages, resident pages) and the physical blocks behind them "
        "(refcount, copy-on-write or shared, the other processes mapping them), in a run of "
        "--run PROGRAM, a recorded run or the demo; after --at, or when the workload is over "
        "(or, if PID is gone by then, at the last step it had an address space).")
    parser.add_argument("pid", type=int, help="the process, by pid (see minixvm ps)")
    add_view_source(parser)
    add_json(parser)
    parser.add_argument("--png", metavar="FILE", help="also draw the address space as PNG")
    parser.add_argument("--svg", metavar="FILE", help="also draw the address space as SVG")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with view(args, args.pid) as seen:
        if not has_memory(seen.system, args.pid):
            raise UsageError(f"no process {args.pid} {seen.stopped} (see minixvm ps)")
        entries = maps(seen.system, args.pid)
        name = next(p.name for p in ps(seen.system) if p.pid == args.pid)
        for path in (args.png, args.svg):
            if path:
                # matplotlib takes a while to import: only when drawing.
                from minixvm.views.pictures import address_space_picture

                address_space_picture(seen.system, args.pid, path)
        if args.json:
            print_json({**seen.to_json(), "pid": args.pid, "name": name,
                        "regions": [region_json(e) for e in entries]})
            return 0
        print(f"{name}({args.pid}) {seen.stopped}")
        print("\n".join(lines(entries)))
    return 0


def region_json(entry: MapEntry) -> dict[str, Any]:
    return {**dataclasses.asdict(entry), "pages": entry.pages, "resident": entry.resident}


def lines(entries: list[MapEntry]) -> Iterator[str]:
    """A line per region, as /proc/PID/maps, and under it one per run of
    like blocks: where they are in RAM, their refcount, sharing, sharers."""
    for e in entries:
        yield (f"{e.start:08x}-{e.end:08x} {e.perms} {e.memtype:<10} {e.pages:>6} pages, "
               f"{e.resident} resident")
        for first, count in runs(e.blocks):
            sharing = f" {first.sharing}" if first.sharing else ""
            sharers = (f", shared with {', '.join(map(str, first.sharers))}"
                       if first.sharers else "")
            yield (f"    {first.vaddr:08x} {count:>4} page{'s' if count > 1 else ' '} "
                   f"at {first.phys:#010x} refcount {first.refcount}{sharing}{sharers}")


def runs(blocks: tuple[BlockInfo, ...]) -> Iterator[tuple[BlockInfo, int]]:
    """Runs of pages contiguous in both address spaces with the same
    refcount, sharing and sharers: (the first block, pages)."""
    first: BlockInfo | None = None
    count = 0
    for b in sorted(blocks, key=lambda b: b.vaddr):
        pages = b.length // PAGE_SIZE
        if (first is not None and b.vaddr == first.vaddr + count * PAGE_SIZE
                and b.phys == first.phys + count * PAGE_SIZE
                and (b.refcount, b.sharing, b.sharers)
                == (first.refcount, first.sharing, first.sharers)):
            count += pages
            continue
        if first is not None:
            yield first, count
        first, count = b, pages
    if first is not None:
        yield first, count
