"""``minixvm ps``: the processes of a system, stopped where asked."""

from __future__ import annotations

import argparse
import dataclasses

from rich.table import Table

from minixvm.commands.options import add_json, add_view_source, console, print_json, view
from minixvm.observe import ps


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "ps", help="the processes of a run, at a step or when it is over",
        description="The processes PM knows (pid, parent, endpoint, name, the kernel's state, "
        "resident pages), in a run of --run PROGRAM, of a recorded run (--from-record), "
        "or of the demo workload; stopped after --at, or when the workload is over.")
    add_view_source(parser)
    add_json(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with view(args) as seen:
        rows = ps(seen.system)
        if args.json:
            print_json({**seen.to_json(), "processes": [dataclasses.asdict(r) for r in rows]})
            return 0
        table = Table(title=f"processes {seen.stopped}")
        for name in ("pid", "ppid", "endpoint", "name", "state", "pages"):
            table.add_column(name, justify="right" if name in ("pid", "ppid", "endpoint",
                                                                "pages") else "left")
        for r in rows:
            table.add_row(str(r.pid), str(r.ppid), str(r.endpoint),
                          r.name + (" (system)" if r.system else ""), r.state, str(r.pages))
        console().print(table)
    return 0
