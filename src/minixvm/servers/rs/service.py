"""RS's record of one service (MINIX struct rproc), readable from outside.

A record outlives its instances: a restart gives it a new endpoint and pid
and counts one more restart. The System holds the same record, so
``services()`` and the command line read it without sending a message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from minixvm.include.com import NONE
from minixvm.servers.rs.table import ServiceDescription

# A service's states.
STARTING = "starting"  # forked and exec'ed, its SEF init not answered yet
UP = "up"
BACKOFF = "backoff"  # dead, waiting ``backoff`` periods to be restarted
STOPPING = "stopping"  # asked to stop (RS_DOWN): not restarted
STOPPED = "stopped"
EXITED = "exited"  # ended, and not to be restarted
FAILED = "failed"  # crashed more than its description allows: given up
RUNNING = frozenset({STARTING, UP, STOPPING})


@dataclass(frozen=True)
class ServiceImage:
    """What RS execs: a Python program text loaded into the machine (its
    address) or an i386 ELF file's bytes."""

    name: str
    text: int = 0
    elf: bytes = b""


@dataclass(frozen=True)
class Crash:
    """One death of a service that RS logged."""

    tick: int
    endpoint: int
    status: int  # the wait status
    panic: str  # its panic text, if it panicked


@dataclass(eq=False)
class Service:
    """A service RS looks after."""

    desc: ServiceDescription
    image: ServiceImage | None  # None: a boot process (the kernel started it)
    endpoint: int = NONE
    pid: int = 0
    state: str = STARTING
    restarts: int = 0  # restarts since it last ran stably
    total_restarts: int = 0
    backoff: int = 0  # periods left before the restart
    started: int = 0  # uptime at which this instance started
    alive_tm: int = 0  # when it last answered (MINIX r_alive_tm)
    check_tm: int = 0  # when it was last pinged (r_check_tm)
    run_ticks: int = 0  # its user ticks at the last check
    panic_text: str = ""  # what this instance reported before it died
    restart_asked: bool = False  # RS_RESTART: its death is not a crash
    crashes: list[Crash] = field(default_factory=list)
    status: int | None = None  # the last instance's wait status
    start_error: int = 0  # why RS could not start its first instance (-errno)
    # Told of each instance's end: (pid, wait status).
    on_exit: Callable[[int, int], None] | None = None

    @property
    def label(self) -> str:
        return self.desc.label

    @property
    def running(self) -> bool:
        return self.state in RUNNING
