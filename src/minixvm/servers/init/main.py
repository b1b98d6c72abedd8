"""init: the ancestor of every program.

The System asks init to start programs (a queue it fills, then an interrupt
from the kernel: a notification from HARDWARE). For each, init forks; the
child execs the program by path (a Python program image or an ELF file).
PM notifies init when a child exits (or an orphan it inherited); init
collects it and reports the status to the System. Services are RS's
business: init is an ordinary process.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from minixvm.errors import ENOSYS, OK, MinixError, errname
from minixvm.include.com import HARDWARE, PM_PROC_NR
from minixvm.include.ipc import Message
from minixvm.include.pm import PM_EXIT, PM_FORK, PM_WAITPID
from minixvm.include.signal import WNOHANG
from minixvm.include.vfs import STDERR_FILENO
from minixvm.kernel.trap import TrapPort
from minixvm.lib.c import Process, execve
from minixvm.lib.sys import SysLib


@dataclass
class SpawnRequest:
    """A program the System wants started: the path PM finds it at, its
    arguments and environment."""

    path: str
    argv: list[str]
    env: list[str]
    name: str
    pid: int = 0
    error: int = 0  # set by init: the fork that was to start it failed (-errno)


class Init:
    """Process 1."""

    def __init__(self, sys: SysLib, requests: deque[SpawnRequest],
                 on_exit: Callable[[int, int], None]) -> None:
        self.sys = sys
        self.requests = requests
        self.on_exit = on_exit

    def main(self) -> None:
        while True:
            r, m = self.sys.receive()
            if r != OK or m is None:
                continue
            if self.sys.notified:
                # The System has programs to start; PM has a child's exit.
                if m.m_source == HARDWARE:
                    self.spawn_requested()
                elif m.m_source == PM_PROC_NR:
                    self.reap()
            else:
                self.sys.sendnb(m.m_source, Message(-ENOSYS))

    def spawn_requested(self) -> None:
        while self.requests:
            self.spawn(self.requests.popleft())

    def spawn(self, req: SpawnRequest) -> None:
        """Fork a child that execs ``req``'s program."""
        self.sys.set_fork_entry(lambda port: self.child(port, req))
        reply = self.sys.taskcall(PM_PROC_NR, PM_FORK)
        if reply.m_type < 0:
            self.sys.printf("init: cannot start %s: fork failed (%d)\n", req.name, reply.m_type)
            req.error = reply.m_type
            return
        req.pid = reply.m_type

    def child(self, port: TrapPort, req: SpawnRequest) -> None:
        """What a forked child of init runs: exec the program."""
        sys = SysLib(port)
        r = execve(sys, req.path, req.argv, req.env)
        # A user process has no printf (a kernel call): it says so on stderr.
        with contextlib.suppress(MinixError):
            Process(sys, lambda pid, e: None).write(
                f"init: cannot exec {req.path}: {errname(r)}\n".encode(), STDERR_FILENO)
        sys.taskcall(PM_PROC_NR, PM_EXIT, status=127)

    def reap(self) -> None:
        """Collect every child that has exited."""
        while True:
            reply = self.sys.taskcall(PM_PROC_NR, PM_WAITPID, pid=-1, options=WNOHANG)
            if reply.m_type <= 0:
                return
            self.on_exit(reply.m_type, reply.status)
