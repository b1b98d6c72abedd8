"""What the verbs share: their common options, bad input as one line, and
the system a view verb (ps, maps, phys) looks at."""

from __future__ import annotations

import argparse
import json
import shlex
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from minixvm.boot import System
from minixvm.kernel.trace import Event
from minixvm.machine.ram import parse_size
from minixvm.observe import has_memory
from minixvm.views.record import Recorder, as_recorded, header, read_events, read_header
from minixvm.views.workload import At, Workload, drive


class UsageError(Exception):
    """Bad input from the user: said in one line, exit status 2."""


def size(text: str) -> str:
    """An argparse type: a memory size such as 64M (kept as written)."""
    try:
        parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def at(text: str) -> At:
    """An argparse type: a point in a run, STEP or KIND:N."""
    try:
        return At.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def positive(text: str) -> int:
    """An argparse type: a number from 1 up."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"bad number {text!r}: expected 1 or more")
    return int(text)


def add_ram(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ram", default="64M", type=size,
                        help="memory size, e.g. 64M or 1G (default 64M)")


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def console() -> Console:
    """Where a verb prints: stdout, no syntax colouring, long lines kept whole."""
    return Console(highlight=False, soft_wrap=True)


def add_view_source(parser: argparse.ArgumentParser) -> None:
    """The options of a verb that looks at a system: what to run, where to stop."""
    parser.add_argument("--run", metavar="'PROGRAM ARGS'",
                        help="run this program (a built-in, an ELF file, or with --disk a path "
                        "in the image; its arguments after it, quoted together); "
                        "default: the demo workload")
    parser.add_argument("--from-record", metavar="FILE",
                        help="replay this recorded run (minixvm run --record)")
    parser.add_argument("--at", type=at, metavar="STEP|KIND:N",
                        help="stop after this event: a step number, or the Nth event of a kind "
                        "(fault:100, cow:1, exec:2); default: when the workload is over")
    parser.add_argument("--disk", metavar="IMAGE", help="boot from this MINIX v3 disk image")
    parser.add_argument("--record", metavar="FILE",
                        help="record the run's trace events in FILE (JSON lines)")
    add_ram(parser)


@dataclass
class View:
    """A system stopped where a view verb looks at it."""

    system: System
    step: int  # the last event of the run so far
    stopped: str  # where it stopped, for people

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "stopped": self.stopped}


def workload_of(args: argparse.Namespace) -> Workload:
    """The workload of --from-record, --run, or the demo."""
    if args.from_record and args.run:
        raise UsageError("--run and --from-record: give one of them")
    if args.from_record:
        head = read_header(args.from_record)
        return Workload.from_json(head["workload"], str(head.get("ram", "64M")))
    if args.run:
        words = shlex.split(args.run)
        if not words:
            raise UsageError("--run: no program given")
        return Workload.run(words[0], words[1:], args.ram, args.disk)
    return Workload.demo(args.ram, args.disk)


class Differs(Exception):
    """A run's event is not the recorded one."""

    def __init__(self, step: int, recorded: Event | None, replayed: Event | None) -> None:
        super().__init__(f"step {step} differs")
        self.step, self.recorded, self.replayed = step, recorded, replayed


class Matching:
    """A ``record`` callback comparing each event of a run with the next one
    recorded in ``path``; the first that differs is kept (``differs``: the
    callback runs inside the system, where it must not raise)."""

    def __init__(self, path: str) -> None:
        self._recorded = read_events(path)
        self.differs: Differs | None = None

    def __call__(self, event: Event) -> None:
        if self.differs is None:
            expected = next(self._recorded, None)
            if as_recorded(event) != expected:
                self.differs = Differs(event["step"], expected, event)

    def found(self, event: Event) -> bool:
        """A test for ``drive``: has a difference been found?"""
        return self.differs is not None

    def finish(self, step: int) -> None:
        """The run is over after ``step``: Differs if an event differed, or
        if the recording goes on."""
        if self.differs is not None:
            raise self.differs
        rest = next(self._recorded, None)
        if rest is not None:
            raise Differs(step + 1, rest, None)


def records(*callbacks: Callable[[Event], None] | None) -> Callable[[Event], None] | None:
    """One ``record`` callback calling each of ``callbacks`` given."""
    present = [c for c in callbacks if c is not None]
    if len(present) <= 1:
        return present[0] if present else None

    def each(event: Event) -> None:
        for callback in present:
            callback(event)

    return each


def both(*tests: Callable[[Event], bool] | None) -> Callable[[Event], bool] | None:
    """A test that holds when any of ``tests`` does (each sees every event)."""
    present = [t for t in tests if t is not None]
    if not present:
        return None
    return lambda event: any([t(event) for t in present])


@contextmanager
def view(args: argparse.Namespace, pid: int | None = None) -> Iterator[View]:
    """The system of ``args``'s workload, stopped at ``--at``, or when the
    workload is over; with ``pid``, if that process is gone by then, at the
    last step it still had an address space (found by running it twice)."""
    workload = workload_of(args)
    stop = args.at or (At.parse(workload.at) if workload.at else None)
    with ExitStack() as stack:
        system, stopped, last_alive = _first_run(args, workload, stop, pid, stack)
        if stopped is not None:
            asked = f" ({stop})" if stop is not None and stop.kind else ""
            yield View(system, stopped["step"], f"at step {stopped['step']}{asked}")
            return
        if pid is None or has_memory(system, pid):
            step = len(system.kernel.trace.lines)
            yield View(system, step, f"at the end of the run (step {step})")
            return
        if last_alive is None:
            raise UsageError(f"no process {pid} in this run")
        stack.close()
        with workload.boot(trace=True) as again:
            _, stopped = drive(again, workload, At(None, last_alive).until())
            assert stopped is not None, "the same workload runs the same way"
            yield View(again, stopped["step"],
                       f"at step {stopped['step']}, the last with process {pid}")


def _first_run(args: argparse.Namespace, workload: Workload, stop: At | None, pid: int | None,
               stack: ExitStack) -> tuple[System, Event | None, int | None]:
    """Run ``workload`` (recorded with --record, checked against
    --from-record) to ``stop`` or its end: the system (closed with
    ``stack``), the event it stopped at, and without ``stop``, the last
    step at which ``pid`` had an address space."""
    recorder = None
    if args.record:
        recorder = Recorder(args.record, header(
            {**workload.to_json(), "at": str(stop) if stop else None}, workload.ram))
        stack.callback(recorder.close)
    replayed = Matching(args.from_record) if args.from_record else None
    system = stack.enter_context(workload.boot(trace=True, record=records(recorder, replayed)))
    last_alive: int | None = None

    def track(event: Event) -> bool:
        nonlocal last_alive
        if pid is not None and has_memory(system, pid):
            last_alive = event["step"]
        return False

    watch = track if stop is None and pid is not None else None
    try:
        _, stopped = drive(system, workload, both(
            stop.until() if stop else None, replayed.found if replayed else None, watch))
        if replayed is not None and (stopped is None or replayed.differs):
            replayed.finish(len(system.kernel.trace.lines))
    except Differs as e:
        raise UsageError(f"{args.from_record}: the recorded run does not replay: "
                         f"step {e.step} differs") from None
    if stop is not None and stopped is None:
        raise UsageError(f"the run ended at step {len(system.kernel.trace.lines)}, "
                         f"before {stop}")
    return system, stopped, last_alive
