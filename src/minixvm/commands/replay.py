"""``minixvm replay FILE``: run a recorded workload again and say whether
the new run is the same, event for event, or the first step where it is not."""

from __future__ import annotations

import argparse

from minixvm.commands.options import Differs, Matching, add_json, console, print_json
from minixvm.views.record import read_events, read_header
from minixvm.views.workload import At, Workload, drive


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "replay", help="re-run a recorded run; report the first step that differs",
        description="Run the workload a recording's header names (program, arguments, disk, "
        "memory) again and compare every event with the recorded one. Exit status 0 when "
        "the runs are identical, 1 at the first step where they differ.")
    parser.add_argument("file", help="a recorded run (minixvm run --record FILE)")
    add_json(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    head = read_header(args.file)
    workload = Workload.from_json(head["workload"], str(head.get("ram", "64M")))
    recorded = sum(1 for _ in read_events(args.file))
    compare = Matching(args.file)
    stop = At.parse(workload.at).until() if workload.at else None
    try:
        with workload.boot(record=compare) as system:
            drive(system, workload,
                  lambda event: compare.found(event) or bool(stop and stop(event)))
            compare.finish(len(system.kernel.trace.lines))
    except Differs as e:
        report(args, False, recorded, e)
        return 1
    report(args, True, recorded, None)
    return 0


def report(args: argparse.Namespace, same: bool, events: int, diff: Differs | None) -> None:
    if args.json:
        print_json({"file": args.file, "identical": same, "events": events,
                    "step": diff.step if diff else None,
                    "recorded": diff.recorded if diff else None,
                    "replayed": diff.replayed if diff else None})
        return
    out = console()
    if diff is None:
        out.print(f"{args.file}: identical: the new run made the same {events} events")
        return
    out.print(f"{args.file}: differs at step {diff.step}", markup=False)
    for label, event in (("recorded", diff.recorded), ("replayed", diff.replayed)):
        out.print(f"  {label}: {event['text'] if event else '(the run had ended)'}",
                  markup=False)
