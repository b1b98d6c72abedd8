"""``minixvm run``: an i386 ELF program, its output and its exit status;
``--step`` shows the run one trace event at a time."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console

from minixvm.commands.options import add_json, add_ram, console, print_json
from minixvm.kernel.trace import Event
from minixvm.views.record import Recorder, header
from minixvm.views.workload import Workload, builtin_programs, drive


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run", help="run an i386 ELF program (a file, or a built-in one)",
        description="Run an i386 ELF program and exit with its status. Without --disk, "
        "PROGRAM is a host file if one is there (installed in /bin first), else a built-in "
        "program or a path in the default disk; with --disk, a path in that image. "
        "run's own options come before PROGRAM; everything after it is its arguments.")
    run.add_argument("program", help="an ELF file, or a built-in program: "
                     + ", ".join(builtin_programs()))
    run.add_argument("args", nargs=argparse.REMAINDER,
                     help="its arguments (everything after PROGRAM)")
    add_ram(run)
    run.add_argument("--trace", action="store_true", help="print every event as it happens")
    run.add_argument("--disk", metavar="IMAGE",
                     help="boot from this disk image; PROGRAM is then a path in it")
    run.add_argument("--record", metavar="FILE",
                     help="record every trace event in FILE (JSON lines; minixvm trace, replay)")
    run.add_argument("--step", action="store_true",
                     help="show the run one event at a time, numbered (on a terminal, "
                     "Enter shows the next)")
    add_json(run)
    run.set_defaults(func=cmd_run, echo_errors=True)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the program; print its output; its exit status (128 + signal if
    a signal killed it, as a shell says)."""
    workload = Workload.run(args.program, args.args, args.ram, args.disk)
    out = console()
    with recording(args.record, workload) as recorder, workload.boot(
            args.system_class, trace=args.trace or args.step,
            trace_sink=trace_printer(args.trace, out), record=recorder) as system:
        handles, _ = drive(system, workload, stepper(out) if args.step else None)
        code = handles[-1].returncode
        assert code is not None
        if args.json:
            print_json({"program": workload.program, "args": list(workload.args),
                        "returncode": code, "console": system.console.text})
        else:
            out.print(system.console.text, end="", markup=False)
    return code if code >= 0 else 128 - code


def trace_printer(enabled: bool, out: Console) -> Callable[[str], None] | None:
    """A trace sink printing each line dimmed (None unless ``enabled``)."""
    return (lambda line: out.print(line, style="dim", markup=False)) if enabled else None


@contextmanager
def recording(path: str | None, workload: Workload) -> Iterator[Recorder | None]:
    """A recorder of ``workload``'s run into ``path`` (None without a path)."""
    if path is None:
        yield None
        return
    recorder = Recorder(path, header(workload.to_json(), workload.ram))
    try:
        yield recorder
    finally:
        recorder.close()


def stepper(out: Console) -> Callable[[Event], bool]:
    """A test for ``drive`` that shows each event (never stops the run); on
    a terminal it waits for Enter after each."""
    wait = sys.stdin.isatty() and sys.stdout.isatty()

    def show(event: Event) -> bool:
        out.print(f"{event['step']:>7}  {event['text']}", markup=False)
        if wait:
            input()
        return False

    return show
