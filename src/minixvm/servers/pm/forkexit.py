"""fork, exit and waitpid (MINIX pm/forkexit.c).

VFS keeps each process's files, so it hears of every fork and exit
(VFS_PM_FORK, VFS_PM_EXIT, by asynsend: PM never waits for VFS). A fork
is answered, in parent and child, only when VFS has answered; an exited
process's slot is not given to a new process until VFS has answered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EAGAIN, ECHILD, EDEADSRCDST, EINVAL, EPERM, OK
from minixvm.include.com import (
    _ENDPOINT_P,
    INIT_PROC_NR,
    PM_PROC_NR,
    RS_PROC_NR,
    SYS_PRIV_DISALLOW,
    VFS_PROC_NR,
)
from minixvm.include.ipc import AMF_NOREPLY, Message
from minixvm.include.pm import PM_WAIT, PmExit, PmFork, PmWaitpid, SrvFork
from minixvm.include.signal import WNOHANG, WUNTRACED
from minixvm.include.vfs import VFS_PM_EXIT, VFS_PM_FORK, VfsPmExit, VfsPmFork
from minixvm.include.vm import VM_EXIT, VM_FORK, VM_WILLEXIT
from minixvm.servers.pm.mproc import IN_USE, SRV_NEW, WAITING, ZOMBIE, MProc

if TYPE_CHECKING:
    from minixvm.servers.pm.main import PM

SUSPEND = None
WAIT_OPTIONS = WNOHANG | WUNTRACED


def do_fork(pm: PM, mp: MProc, m: Message) -> Message | None:
    """PM_FORK: a copy of the caller; once VFS has copied its files, the
    child's reply is 0, the parent's the child's pid (and endpoint)."""
    return fork_proc(pm, mp, service=False)


def do_srv_fork(pm: PM, mp: MProc, m: Message) -> Message | None:
    """SRV_FORK (RS only): a child of RS that is a system process and does
    not run (RTS_NO_PRIV) until RS has exec'ed it and allowed it to."""
    if mp.slot != RS_PROC_NR:
        return PmFork(-EPERM)
    return fork_proc(pm, mp, service=True)


def fork_proc(pm: PM, mp: MProc, service: bool) -> Message | None:
    """Fork ``mp``; a process's answers wait for VFS (``fork_restart``)."""
    slot = pm.free_slot()
    if slot is None:
        return PmFork(-EAGAIN)
    reply = pm.sys.vm_call(VM_FORK, parent=mp.endpoint, slot=slot)
    if reply.m_type != OK:
        return PmFork(reply.m_type)
    child = MProc(slot, reply.child_ep, pm.new_pid(), mp.slot, mp.name, brk=mp.brk,
                  system=service, flags=IN_USE | (SRV_NEW if service else 0))
    pm.mproc[slot] = child
    if service:
        pm.sys.sys_privctl(child.endpoint, SYS_PRIV_DISALLOW)
    r = tell_vfs(pm, VfsPmFork(VFS_PM_FORK, endpoint=mp.endpoint, child=child.endpoint,
                               child_pid=child.pid))
    if r != OK:
        destroy(pm, child)
        del pm.mproc[slot]
        return PmFork(-EAGAIN)
    if service:
        # RS need not wait for VFS (which may itself wait for the driver RS
        # is restarting): the child cannot run before RS starts it, and by
        # then VFS has PM's message queued ahead of any the child could send.
        return SrvFork(child.pid, endpoint=child.endpoint)
    mp.vfs_call = child.vfs_call = VFS_PM_FORK
    return SUSPEND


def fork_restart(pm: PM, m: Message) -> None:
    """VFS_PM_FORK_REPLY: VFS has the child; both sides of the fork return."""
    child = pm.by_endpoint(VfsPmFork.view(m.buf).endpoint)
    if child is None or child.vfs_call != VFS_PM_FORK:
        return  # not a fork PM asked for
    vfs_done(child)
    pm.reply(child, PmFork(0))
    pm.restart_sigs(child)
    # Signals to the parent waited too, so it is still in this fork.
    parent = pm.mproc.get(child.parent)
    if parent is not None and parent.vfs_call == VFS_PM_FORK:
        vfs_done(parent)
        pm.reply(parent, PmFork(child.pid, endpoint=child.endpoint))
        pm.restart_sigs(parent)


def do_exit(pm: PM, mp: MProc, m: Message) -> Message | None:
    """PM_EXIT: the caller ends with the low 8 bits of ``status``; no reply.
    VM cannot end: everything else depends on it."""
    if mp.endpoint == pm.vm_endpoint:
        return Message(-EPERM)
    exit_proc(pm, mp, (PmExit.view(m.buf).status & 0xFF) << 8)
    return SUSPEND


def exit_proc(pm: PM, mp: MProc, status: int) -> None:
    """Tear a process down: VM frees its memory, the kernel its slot, VFS
    its files; it stays a zombie until its parent collects the status."""
    if mp.slot == PM_PROC_NR or mp.endpoint == pm.vm_endpoint:
        pm.sys.panic("%s exited with status %#x", mp.name, status)
    destroy(pm, mp)
    mp.flags |= ZOMBIE
    mp.status = status
    # VFS itself has no one to tell.
    if mp.endpoint != VFS_PROC_NR and tell_vfs(
            pm, VfsPmExit(VFS_PM_EXIT, endpoint=mp.endpoint)) == OK:
        pm.held[mp.slot] = mp.endpoint
    for child in list(pm.mproc.values()):
        if child.parent == mp.slot and child is not mp:
            child.parent = INIT_PROC_NR
            if child.flags & ZOMBIE:
                tell_parent(pm, child)
    tell_parent(pm, mp)


def exit_restart(pm: PM, m: Message) -> None:
    """VFS_PM_EXIT_REPLY: VFS is done with an exited process: its slot may
    be used again."""
    endpoint = VfsPmExit.view(m.buf).endpoint
    slot = _ENDPOINT_P(endpoint)
    if pm.held.get(slot) == endpoint:
        del pm.held[slot]


def destroy(pm: PM, mp: MProc) -> None:
    """VM frees the process's memory and the kernel its slot."""
    pm.sys.vm_call(VM_WILLEXIT, endpoint=mp.endpoint)
    r = pm.sys.vm_call(VM_EXIT, endpoint=mp.endpoint).m_type
    if r != OK:
        pm.sys.panic("VM_EXIT of %s failed: %d", mp.name, r)
    pm.sys.sys_clear(mp.endpoint)


def tell_vfs(pm: PM, m: Message) -> int:
    """Send VFS the request ``m`` without waiting (asynsend); VFS answers
    later. OK, or the reason VFS cannot be asked (it is gone)."""
    if pm.by_endpoint(VFS_PROC_NR) is None:
        return -EDEADSRCDST
    # Not an answer: it must not end a sendrec VFS has going to PM (PM_NEWEXEC).
    return pm.sys.asynsend(VFS_PROC_NR, m, AMF_NOREPLY)


def vfs_done(mp: MProc) -> None:
    """VFS has answered the request about ``mp``."""
    mp.vfs_call = 0


def tell_parent(pm: PM, mp: MProc) -> None:
    """A child became a zombie: a waiting parent gets its status now; a
    system-process parent is notified; PM's own children are released."""
    parent = pm.mproc.get(mp.parent)
    if parent is None or parent.slot == PM_PROC_NR:
        release(pm, mp)
        return
    if parent.flags & WAITING and parent.wait_pid in (-1, mp.pid):
        parent.flags &= ~WAITING
        pm.reply(parent, PmWaitpid(mp.pid, status=mp.status))
        release(pm, mp)
    elif parent.system:
        pm.sys.notify(parent.endpoint)


def release(pm: PM, mp: MProc) -> None:
    del pm.mproc[mp.slot]


def do_waitpid(pm: PM, mp: MProc, m: Message) -> Message | None:
    """PM_WAITPID: collect an exited child (``pid`` -1: any; process groups,
    0 and below -1, do not exist here); PM_WAIT: any child, no options."""
    req = PmWaitpid.view(m.buf)
    want, options = (-1, 0) if m.m_type == PM_WAIT else (req.pid, req.options)
    if want == 0 or want < -1 or options & ~WAIT_OPTIONS:
        return PmWaitpid(-EINVAL)
    children = [c for c in pm.mproc.values() if c.parent == mp.slot and c is not mp]
    if want > 0:
        children = [c for c in children if c.pid == want]
    if not children:
        return PmWaitpid(-ECHILD)
    for child in children:
        if child.flags & ZOMBIE:
            release(pm, child)
            return PmWaitpid(child.pid, status=child.status)
    if options & WNOHANG:
        return PmWaitpid(0)
    mp.flags |= WAITING
    mp.wait_pid, mp.wait_options = want, options
    return SUSPEND


def live(mp: MProc) -> bool:
    return bool(mp.flags & IN_USE and not mp.flags & ZOMBIE)
