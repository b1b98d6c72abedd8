"""The process manager: pids, fork, exit, wait, signals, exec, brk.

PM owns process identity; memory is VM's business and execution the
kernel's, so every PM operation is a short conversation with both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from minixvm.errors import ENOSYS, OK
from minixvm.include import pm as calls
from minixvm.include.com import (
    _ENDPOINT_P,
    INIT_PROC_NR,
    NOTIFY_MESSAGE,
    PM_PROC_NR,
    SYSTEM,
    VM_PROC_NR,
)
from minixvm.include.ipc import Message
from minixvm.include.vm import VM_BRK
from minixvm.kernel.proc import Proc
from minixvm.lib.sys import SysLib
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.pm import exec as pm_exec
from minixvm.servers.pm import forkexit, signal
from minixvm.servers.pm.mproc import MProc

Handler = Callable[["PM", MProc, Message], "int | None"]


def do_getpid(pm: PM, mp: MProc, m: Message) -> int:
    """PM_GETPID: the caller's pid and its parent's."""
    parent = pm.mproc.get(mp.parent)
    m.pid, m.ppid = mp.pid, parent.pid if parent else 0
    return OK


def do_brk(pm: PM, mp: MProc, m: Message) -> int:
    """PM_BRK: VM moves the caller's break from ``m.old`` to ``m.addr``."""
    return pm.sys.vm_call(VM_BRK, endpoint=mp.endpoint, addr=m.addr, old=m.old).m_type


CALLS: dict[int, Handler] = {
    calls.PM_FORK: forkexit.do_fork,
    calls.PM_EXIT: forkexit.do_exit,
    calls.PM_WAITPID: forkexit.do_waitpid,
    calls.PM_GETPID: do_getpid,
    calls.PM_KILL: signal.do_kill,
    calls.PM_BRK: do_brk,
    calls.PM_EXEC: pm_exec.do_exec,
}


class PM:
    """The process manager."""

    def __init__(self, sys: SysLib, programs: dict[int, Callable[..., Any]],
                 start_program: Callable[[Callable[..., Any]], Callable[[Proc], None]]) -> None:
        self.sys = sys
        self.programs = programs
        self.start_program = start_program
        self.mproc: dict[int, MProc] = {}
        self.vm_endpoint = VM_PROC_NR
        self.nr_procs = 0
        self._next_pid = 2
        self._scratch = 0
        self._scratch_len = 0

    def main(self) -> None:
        """Register the boot processes, then serve requests forever."""
        kinfo = self.sys.sys_getkinfo()
        self.nr_procs = kinfo.nr_procs
        for b in kinfo.boot_procs:
            pid = 1 if b.slot == INIT_PROC_NR else self.new_pid()
            self.mproc[b.slot] = MProc(b.slot, b.slot, pid, PM_PROC_NR, b.name, system=b.system)
        while True:
            r, m = self.sys.receive()
            if r != OK or m is None:
                continue
            if m.m_type == NOTIFY_MESSAGE:
                if m.m_source == SYSTEM:
                    signal.do_ksig(self)
                continue
            mp = self.by_endpoint(m.m_source)
            handler = CALLS.get(m.m_type)
            result = -ENOSYS if handler is None or mp is None else handler(self, mp, m)
            if result is not None and mp is not None:
                m.m_type = result
                self.sys.send(mp.endpoint, m)

    # -- helpers ---------------------------------------------------------------------

    def reply(self, mp: MProc, result: int, **fields: Any) -> None:
        """Answer a process PM kept waiting."""
        self.sys.send(mp.endpoint, Message(result, **fields))

    def by_endpoint(self, ep: int) -> MProc | None:
        mp = self.mproc.get(_ENDPOINT_P(ep))
        return mp if mp is not None and mp.endpoint == ep and forkexit.live(mp) else None

    def by_pid(self, pid: int) -> MProc | None:
        return next((mp for mp in self.mproc.values() if mp.pid == pid and forkexit.live(mp)),
                    None)

    def free_slot(self) -> int | None:
        for slot in range(INIT_PROC_NR + 1, self.nr_procs):
            if slot not in self.mproc:
                return slot
        return None

    def new_pid(self) -> int:
        used = {mp.pid for mp in self.mproc.values()}
        while self._next_pid in used:
            self._next_pid += 1
        pid, self._next_pid = self._next_pid, self._next_pid + 1
        return pid

    def scratch(self, n: int) -> int:
        """A buffer of at least ``n`` bytes in PM's own memory."""
        if n > self._scratch_len:
            size = -(-n // PAGE_SIZE) * PAGE_SIZE
            addr = self.sys.minix_mmap(size)
            if addr < 0:
                self.sys.panic("no memory for exec buffers: %d", addr)
            self._scratch, self._scratch_len = addr, size
        return self._scratch
