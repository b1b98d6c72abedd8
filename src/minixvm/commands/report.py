"""``minixvm report``: a run as one self-contained HTML page (summary, process
tree, address spaces, physical memory, timeline, a filterable trace)."""

from __future__ import annotations

import argparse
from pathlib import Path

from minixvm.commands.options import UsageError, add_view_source, console, workload_of
from minixvm.commands.run import recording
from minixvm.views.workload import At


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "report", help="write a run as one HTML page: summary, pictures, trace",
        description="Run --run PROGRAM, a recorded run (--from-record) or the demo workload "
        "to the end and write one self-contained HTML page (no network needed): a summary, "
        "the process tree, each program's address space as it exits (or every program's "
        "at --at), the physical memory map, a timeline, and the trace, filterable in the page.")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="the HTML file to write (e.g. run.html)")
    add_view_source(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the workload, write the page, say what it holds."""
    output = Path(args.output)
    if not output.parent.is_dir():
        raise UsageError(f"{output}: no directory {output.parent} to write it in")
    workload = workload_of(args)
    at = args.at or (At.parse(workload.at) if workload.at else None)
    # matplotlib takes a while to import: only for the verb that draws.
    from minixvm.views.report import collect, render

    with recording(args.record, workload) as recorder, \
            workload.boot(trace=True, record=recorder) as system:
        data = collect(system, workload, at)
        end = len(system.kernel.trace.lines)
    if at is not None and data.at_step is None:
        raise UsageError(f"the run ended at step {end}, before {at}")
    output.write_text(render(data), encoding="utf-8")
    console().print(f"{output}: {len(data.events)} events, {len(data.snapshots)} address "
                    f"spaces, physical memory {data.phys_when}", markup=False)
    return 0
