"""init: the ancestor of every program, and the starter of services.

The System asks init to start programs (a queue it fills, then an interrupt
from the kernel: a notification from HARDWARE). For each, init forks; the
child execs the program by path (a Python program image or an ELF file).
A child asked to be a service first waits while init gives it system
privileges and publishes its label in DS (until RS exists, init is the
service starter and does what RS does). PM notifies init when a child
exits; init collects it, deletes a service's label, and reports the
status to the System.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from minixvm.errors import ENOSYS, EPERM, OK, MinixError, errname
from minixvm.include.com import (
    HARDWARE,
    INIT_PROC_NR,
    NOTIFY_MESSAGE,
    PM_PROC_NR,
    SYS_PRIV_SET_SYS,
)
from minixvm.include.ds import DSF_PRIV_OVERWRITE
from minixvm.include.ipc import Message, layout, register_names
from minixvm.include.pm import PM_EXIT, PM_FORK, PM_WAITPID
from minixvm.include.signal import WNOHANG
from minixvm.include.vfs import STDERR_FILENO
from minixvm.include.vm import VM_RS_SET_PRIV
from minixvm.kernel.trap import TrapPort
from minixvm.lib.c import Process, execve
from minixvm.lib.ds import ds_delete_label, ds_publish_label
from minixvm.lib.sys import SysLib

INIT_GO = 0x1F00  # a service child asks init to set it up; the reply's m_type is OK
register_names(globals(), "INIT_GO", INIT_GO, 1)


@layout(INIT_GO)
class InitGo(Message):
    """No fields: who is asking is the message's source."""


@dataclass
class SpawnRequest:
    """A program the System wants started: the path PM finds it at, its
    arguments and environment."""

    path: str
    argv: list[str]
    env: list[str]
    name: str
    service: bool
    calls: frozenset[int]
    pid: int = 0
    error: int = 0  # set by init: the fork that was to start it failed (-errno)


class Init:
    """Process 1."""

    def __init__(self, sys: SysLib, requests: deque[SpawnRequest],
                 on_exit: Callable[[int, int], None]) -> None:
        self.sys = sys
        self.requests = requests
        self.on_exit = on_exit
        self.services: dict[int, SpawnRequest] = {}
        self.labels: dict[int, str] = {}  # pid -> label of a running service

    def main(self) -> None:
        while True:
            r, m = self.sys.receive()
            if r != OK or m is None:
                continue
            if m.m_type == NOTIFY_MESSAGE and m.m_source in (HARDWARE, PM_PROC_NR):
                # The System has programs to start; PM has a child's exit.
                if m.m_source == HARDWARE:
                    self.spawn_requested()
                else:
                    self.reap()
            elif m.m_source >= 0:
                result = self.make_service(m.m_source) if m.m_type == INIT_GO else -ENOSYS
                self.sys.sendnb(m.m_source, Message(result))

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
        if req.service:
            self.services[reply.endpoint] = req

    def child(self, port: TrapPort, req: SpawnRequest) -> None:
        """What a forked child of init runs: become a service if asked, then exec."""
        sys = SysLib(port)
        if req.service:
            sys.taskcall(INIT_PROC_NR, INIT_GO)
        r = execve(sys, req.path, req.argv, req.env)
        # A user process has no printf (a kernel call): it says so on stderr.
        with contextlib.suppress(MinixError):
            Process(sys, lambda pid, e: None).write(
                f"init: cannot exec {req.path}: {errname(r)}\n".encode(), STDERR_FILENO)
        sys.taskcall(PM_PROC_NR, PM_EXIT, status=127)

    def make_service(self, endpoint: int) -> int:
        """INIT_GO: give a child init started as a service its privileges and
        its label. Nobody else may ask."""
        req = self.services.pop(endpoint, None)
        if req is None:
            return -EPERM
        self.sys.sys_privctl(endpoint, SYS_PRIV_SET_SYS, req.calls)
        self.sys.vm_call(VM_RS_SET_PRIV, endpoint=endpoint)
        self.publish_label(req, endpoint)
        return OK

    def publish_label(self, req: SpawnRequest, endpoint: int) -> None:
        """Name the service in DS, as RS does: its name, or if a running service
        has that label already, its name and pid. Only init may rename it."""
        for label in (req.name, f"{req.name}.{req.pid}"):
            r = ds_publish_label(self.sys, label, endpoint, DSF_PRIV_OVERWRITE)
            if r == OK:
                self.labels[req.pid] = label
                return
        self.sys.printf("init: no label for %s: %d\n", req.name, r)

    def reap(self) -> None:
        """Collect every child that has exited."""
        while True:
            reply = self.sys.taskcall(PM_PROC_NR, PM_WAITPID, pid=-1, options=WNOHANG)
            if reply.m_type <= 0:
                return
            pid, status = reply.m_type, reply.status
            label = self.labels.pop(pid, None)
            if label is not None:
                ds_delete_label(self.sys, label)
            self.on_exit(pid, status)
