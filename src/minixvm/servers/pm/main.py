"""The process manager: pids, fork, exit, wait, signals, exec, brk, reboot.

PM owns process identity; memory is VM's business, files VFS's and
execution the kernel's, so every PM operation is a short conversation
with them. PM never waits for VFS: it asks by asynsend, and VFS's
answers (VFS_PM_*_REPLY) come as messages PM does not answer. Every
request gets an answer (a result or an error) unless it asks to wait
(waitpid), to end (exit, exec) or for VFS (fork, exec of a file: the
answer comes when VFS has answered); only the kernel's notifications and
VFS's answers go unanswered.
"""

from __future__ import annotations

from collections.abc import Callable

from minixvm.errors import ENOMEM, ENOSYS, EPERM, ESRCH, OK
from minixvm.include import pm as calls
from minixvm.include.arch import VM_DATATOP
from minixvm.include.com import (
    _ENDPOINT_P,
    INIT_PROC_NR,
    PM_PROC_NR,
    SYSTEM,
    VFS_PROC_NR,
    VM_PROC_NR,
)
from minixvm.include.ipc import Message
from minixvm.include.pm import PmBrk, PmGetpid
from minixvm.include.vfs import (
    VFS_PM_EXEC_REPLY,
    VFS_PM_EXIT_REPLY,
    VFS_PM_FORK_REPLY,
    VFS_PM_REBOOT_REPLY,
)
from minixvm.include.vm import VM_BRK
from minixvm.lib.sys import Scratch, SysLib
from minixvm.servers.pm import exec as pm_exec
from minixvm.servers.pm import forkexit, misc, signal
from minixvm.servers.pm.exec import ModuleTable
from minixvm.servers.pm.mproc import MProc

# A call's handler: the reply, or None if there is none now.
Handler = Callable[["PM", MProc, Message], "Message | None"]


def do_getpid(pm: PM, mp: MProc, m: Message) -> Message:
    """PM_GETPID: the caller's pid, and its parent's."""
    parent = pm.mproc.get(mp.parent)
    return PmGetpid(mp.pid, ppid=parent.pid if parent else 0)


def do_brk(pm: PM, mp: MProc, m: Message) -> Message:
    """PM_BRK: VM moves the caller's break to ``addr``; the new break (or -1)
    comes back in ``brk``. PM knows where the break is (exec set it): what
    the caller believes it to be does not count."""
    req = PmBrk.view(m.buf)
    if not 0 < req.addr <= VM_DATATOP or not mp.brk:
        return PmBrk(-ENOMEM, brk=-1)
    r = pm.sys.vm_call(VM_BRK, endpoint=mp.endpoint, addr=req.addr, old=mp.brk).m_type
    if r == OK:
        mp.brk = req.addr
    return PmBrk(r, brk=req.addr if r == OK else -1)


CALLS: dict[int, Handler] = {
    calls.PM_FORK: forkexit.do_fork,
    calls.PM_EXIT: forkexit.do_exit,
    calls.PM_WAIT: forkexit.do_waitpid,
    calls.PM_WAITPID: forkexit.do_waitpid,
    calls.PM_GETPID: do_getpid,
    calls.PM_KILL: signal.do_kill,
    calls.PM_BRK: do_brk,
    calls.PM_EXEC: pm_exec.do_exec,
    calls.PM_NEWEXEC: pm_exec.do_newexec,
    calls.SRV_FORK: forkexit.do_srv_fork,
    calls.EXEC_RESTART: pm_exec.do_exec_restart,
    calls.PM_REBOOT: misc.do_reboot,
}

# VFS's answers to PM's requests, and what PM does on each.
VFS_REPLIES: dict[int, Callable[[PM, Message], None]] = {
    VFS_PM_EXEC_REPLY: pm_exec.exec_restart,
    VFS_PM_FORK_REPLY: forkexit.fork_restart,
    VFS_PM_EXIT_REPLY: forkexit.exit_restart,
    VFS_PM_REBOOT_REPLY: misc.reboot_restart,
}


class PM:
    """The process manager. ``modules`` are the programs PM can exec, by path
    (the boot modules the System hands it)."""

    def __init__(self, sys: SysLib, modules: ModuleTable) -> None:
        self.sys = sys
        self.modules = modules
        self.mproc: dict[int, MProc] = {}
        # Slots of exited processes VFS has not answered for yet (slot ->
        # endpoint): no new process gets them until it has.
        self.held: dict[int, int] = {}
        self.vm_endpoint = VM_PROC_NR
        self.nr_procs = 0
        self._next_pid = 2
        self._scratch = Scratch(sys)

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
            reply = self.handle(m)
            if reply is not None:
                self.sys.sendnb(m.m_source, reply)

    def handle(self, m: Message) -> Message | None:
        """The answer to ``m``, or None: a kernel task's notification (which
        cannot take a reply) or a call that answers later."""
        if m.m_source < 0:
            # Kernel tasks send nothing but notifications; SYSTEM's means
            # signals are pending.
            if m.m_source == SYSTEM:
                signal.do_ksig(self)
            return None
        mp = self.by_endpoint(m.m_source)
        if mp is None:
            return Message(-ESRCH)
        restart = VFS_REPLIES.get(m.m_type)
        if restart is not None:
            # An answer from VFS is not answered; anyone else's is a forgery.
            if m.m_source != VFS_PROC_NR:
                return Message(-EPERM)
            restart(self, m)
            return None
        # A process's NOTIFY_MESSAGE-typed request is one more unknown call.
        handler = CALLS.get(m.m_type)
        if handler is None:
            # VFS sends nothing else that waits for an answer, and an answer
            # to what may be an answer could go back and forth for ever.
            return None if m.m_source == VFS_PROC_NR else Message(-ENOSYS)
        return handler(self, mp, m)

    # -- helpers ---------------------------------------------------------------------

    def reply(self, mp: MProc, reply: Message) -> None:
        """Answer a process PM kept waiting (it is receiving from PM; if it is
        not, as MINIX's PM does, PM does not wait for it)."""
        self.sys.sendnb(mp.endpoint, reply)

    def restart_sigs(self, mp: MProc) -> None:
        """Act on the signals that came while VFS worked for ``mp``."""
        if mp.sig_delayed and not mp.vfs_call and forkexit.live(mp):
            sigmap, mp.sig_delayed = mp.sig_delayed, 0
            signal.handle_ksig(self, mp, sigmap)

    def by_endpoint(self, ep: int) -> MProc | None:
        mp = self.mproc.get(_ENDPOINT_P(ep))
        return mp if mp is not None and mp.endpoint == ep and forkexit.live(mp) else None

    def by_pid(self, pid: int) -> MProc | None:
        return next((mp for mp in self.mproc.values() if mp.pid == pid and forkexit.live(mp)),
                    None)

    def free_slot(self) -> int | None:
        for slot in range(INIT_PROC_NR + 1, self.nr_procs):
            if slot not in self.mproc and slot not in self.held:
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
        addr = self._scratch.get(n)
        if addr < 0:
            self.sys.panic("no memory for exec buffers: %d", addr)
        return addr
