"""``minixvm boot``: boot, run the demo workload, print the console and a summary."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from rich.table import Table

from minixvm.boot import Spawned, System
from minixvm.commands.options import add_json, add_ram, console, print_json
from minixvm.commands.run import recording, trace_printer
from minixvm.views.workload import Workload, drive


def add_parser(sub: argparse._SubParsersAction) -> None:
    boot = sub.add_parser("boot", help="boot, run the demo workload, report",
                          description="Boot, run the demo workload (Python programs that map, "
                          "fault, fork and die of SIGSEGV, then the compiled cow and segv), "
                          "print the console and a summary of the system's counters.")
    add_ram(boot)
    boot.add_argument("--trace", action="store_true",
                      help="print every message, kernel call and page fault")
    boot.add_argument("--sanity", action="store_true",
                      help="run VM's full sanity check after every request")
    boot.add_argument("--disk", metavar="IMAGE",
                      help="a MINIX v3 disk image to mount as the root file system "
                      "(default: a small image in memory holding the built-in programs)")
    boot.add_argument("--record", metavar="FILE",
                      help="record every trace event in FILE (JSON lines; minixvm trace, replay)")
    add_json(boot)
    boot.set_defaults(func=run, echo_errors=True)


def run(args: argparse.Namespace) -> int:
    """Boot, run the demo workload, print the console and a summary."""
    workload = Workload.demo(args.ram, args.disk, args.sanity)
    out = console()
    with recording(args.record, workload) as recorder, workload.boot(
            args.system_class, trace=args.trace, trace_sink=trace_printer(args.trace, out),
            record=recorder) as system:
        handles, _ = drive(system, workload)
        failed = [h.name for h in handles if h.returncode != 0]
        if args.json:
            print_json({"console": system.console.text,
                        "programs": [{"name": h.name, "pid": h.pid, "returncode": h.returncode}
                                     for h in handles],
                        "summary": dict(summary_rows(system, handles)),
                        "statistics": dataclasses.asdict(system.statistics())})
        else:
            out.print(system.console.text, end="", markup=False)
            out.print(summary(system, handles))
    if failed:
        out.print(f"[bold red]demo programs failed: {', '.join(failed)}[/]")
        return 1
    return 0


def summary_rows(system: System, handles: list[Spawned]) -> list[tuple[str, Any]]:
    """The summary's lines: a label and its value."""
    stats = system.statistics()
    return [
        ("programs run", len(handles)),
        ("processes forked", stats.vm.forks),
        ("page faults", stats.vm.pagefaults),
        ("  demand-zero", stats.vm.demand_zero),
        ("  copy-on-write breaks", stats.vm.cow_breaks),
        ("  SIGSEGV", stats.vm.sigsegv),
        ("VM block cache hits / misses", f"{stats.vm.cache_hits} / {stats.vm.cache_misses}"),
        ("MFS blocks: cache / VM / disk",
         f"{stats.mfs.cache_hits} / {stats.mfs.vm_hits} / {stats.mfs.disk_reads}"),
        ("messages", stats.messages),
        ("kernel calls", stats.kernel_calls),
        ("services RS started / restarts",
         f"{len(stats.restarts)} / {sum(stats.restarts.values())}"),
        ("frames used / free", f"{stats.frames_used} / {stats.frames_free}"),
    ]


def summary(system: System, handles: list[Spawned]) -> Table:
    table = Table(title="minixvm", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, value in summary_rows(system, handles):
        table.add_row(label, str(value))
    return table
