"""Workloads the command line runs, described well enough to run them
again (a recording's header): the demo (``boot``) or one program (``run``);
and where to stop one (``--at``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from minixvm.boot import USERLAND_BIN, Spawned, System
from minixvm.kernel.trace import KINDS, Event
from minixvm.programs.demo import DEMO

# The compiled demo programs the boot workload runs after the Python ones.
DEMO_ELF = ("cow", "segv")


def builtin_programs() -> list[str]:
    """The names of the built-in programs (the ELF files in userland/bin)."""
    return sorted(p.name for p in USERLAND_BIN.glob("*") if p.is_file()
                  and p.read_bytes()[:4] == b"\x7fELF")


@dataclass(frozen=True)
class Workload:
    """What a run does: ``boot`` runs the demo programs, ``run`` one program
    (a host file by its absolute path, a built-in name, or a path in
    ``disk``) with ``args``; ``at`` is where a recording of it stopped."""

    verb: str
    program: str = ""
    args: tuple[str, ...] = ()
    disk: str | None = None
    ram: str = "64M"
    sanity: bool = False
    at: str | None = None

    @classmethod
    def demo(cls, ram: str = "64M", disk: str | None = None, sanity: bool = False) -> Workload:
        return cls("boot", disk=_checked_disk(disk), ram=ram, sanity=sanity)

    @classmethod
    def run(cls, program: str, args: list[str] | tuple[str, ...] = (), ram: str = "64M",
            disk: str | None = None) -> Workload:
        """One program, as ``minixvm run`` finds it (ValueError if it is not there)."""
        if _checked_disk(disk) is None and Path(program).is_file():
            program = str(Path(program).resolve())
        elif disk is None and not program.startswith("/") and program not in builtin_programs():
            raise ValueError(f"{program}: no such file or built-in program")
        return cls("run", program, tuple(args), disk, ram)

    @classmethod
    def from_json(cls, data: dict[str, Any], ram: str) -> Workload:
        """The workload of a recording's header (ValueError if it names none)."""
        if not isinstance(data, dict) or data.get("verb") not in ("boot", "run"):
            raise ValueError("the recording names no workload (boot or run)")
        if data["verb"] == "boot":
            workload = cls.demo(ram, data.get("disk"), bool(data.get("sanity")))
        else:
            workload = cls.run(str(data.get("program", "")), tuple(data.get("args", ())), ram,
                               data.get("disk"))
        return cls(**{**asdict(workload), "at": data.get("at")})

    def to_json(self) -> dict[str, Any]:
        """The header's description (``ram`` has its own field)."""
        data = asdict(self)
        data["args"] = list(self.args)
        del data["ram"]
        return data

    @property
    def name(self) -> str:
        return Path(self.program).name if self.verb == "run" else "demo"

    def boot(self, system: type[System] = System, **options: Any) -> System:
        """A ``system`` booted as this workload needs."""
        return system.boot(ram=self.ram, sanity_checks=self.sanity, disk=self.disk, **options)

    def starters(self) -> list[Callable[[System], Spawned]]:
        """How to start each of its programs, in turn."""
        if self.verb == "run":
            return [lambda system: system.spawn_exec(self._path(), [self.name, *self.args])]
        elf = DEMO_ELF if self.disk is None else ()
        starts: list[Callable[[System], Spawned]] = [
            functools.partial(System.spawn, program=prog) for prog in DEMO]
        return starts + [functools.partial(System.spawn_exec, program=f"/bin/{name}")
                         for name in elf]

    def _path(self) -> str | Path:
        """The program to exec: a host file, or a path in the system."""
        if self.disk is None and Path(self.program).is_absolute() and Path(self.program).is_file():
            return Path(self.program)
        if self.disk is None and not self.program.startswith("/"):
            return f"/bin/{self.program}"
        return self.program


def _checked_disk(disk: str | None) -> str | None:
    if disk is not None and not Path(disk).is_file():
        raise ValueError(f"{disk}: no such disk image")
    return disk


def drive(system: System, workload: Workload, until: Callable[[Event], bool] | None = None,
          ) -> tuple[list[Spawned], Event | None]:
    """Run ``workload``: each program to its exit in turn, then until the
    system is idle. With ``until``, step by step, stopping at the first event
    it holds for (returned with the programs started). The system's
    ``record`` sees no event after: a recording is of the workload, not of
    what comes next (the shutdown)."""
    handles: list[Spawned] = []
    try:
        for start in workload.starters():
            handle = start(system)
            handles.append(handle)
            if until is not None:
                stop = _step_until(system, handle, until)
                if stop is not None:
                    return handles, stop
            system.wait(handle)
        if until is None:
            system.run_until_idle()
            return handles, None
        return handles, _step_until(system, None, until)
    finally:
        system.kernel.trace.record = None


def _step_until(system: System, handle: Spawned | None,
                until: Callable[[Event], bool]) -> Event | None:
    """Step until ``handle``'s program is over (or could not start) or the
    system is idle (None), or to an event for which ``until`` holds (that event)."""
    while handle is None or not (handle.done or handle.start_error):
        event = system.step()
        if event is None:
            return None
        if until(event):
            return event
    return None


@dataclass(frozen=True)
class At:
    """A point in a run: its ``count``-th event, or with ``kind``, its
    ``count``-th event of that kind (``fault:100``)."""

    kind: str | None
    count: int

    @classmethod
    def parse(cls, text: str) -> At:
        m = re.fullmatch(r"(?:([a-z]+):)?([1-9][0-9]*)", text.strip())
        if m is None or (m[1] is not None and m[1] not in KINDS):
            raise ValueError(f"bad step {text!r}: expected a step number or KIND:N "
                             f"(e.g. fault:100; kinds: {', '.join(KINDS)})")
        return cls(m[1], int(m[2]))

    def __str__(self) -> str:
        return f"{self.kind}:{self.count}" if self.kind else str(self.count)

    def until(self) -> Callable[[Event], bool]:
        """A test for ``drive``: holds at this point's event."""
        if self.kind is None:
            return lambda event: bool(event["step"] >= self.count)
        seen = 0

        def reached(event: Event) -> bool:
            nonlocal seen
            seen += event["kind"] == self.kind
            return seen >= self.count

        return reached
