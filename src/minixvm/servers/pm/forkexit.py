"""fork, exit and waitpid (MINIX pm/forkexit.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EAGAIN, ECHILD, EINVAL, OK
from minixvm.include.com import INIT_PROC_NR, PM_PROC_NR
from minixvm.include.ipc import Message
from minixvm.include.signal import WNOHANG
from minixvm.include.vm import VM_EXIT, VM_FORK, VM_WILLEXIT
from minixvm.servers.pm.mproc import IN_USE, WAITING, ZOMBIE, MProc

if TYPE_CHECKING:
    from minixvm.servers.pm.main import PM

SUSPEND = None


def do_fork(pm: PM, mp: MProc, m: Message) -> int | None:
    """PM_FORK: a copy of the caller; the child's reply is 0, the parent's its pid."""
    slot = pm.free_slot()
    if slot is None:
        return -EAGAIN
    reply = pm.sys.vm_call(VM_FORK, parent=mp.endpoint, slot=slot)
    if reply.m_type != OK:
        return reply.m_type
    child = MProc(slot, reply.child_ep, pm.new_pid(), mp.slot, mp.name)
    pm.mproc[slot] = child
    pm.reply(child, OK, pid=0)
    m.pid, m.endpoint = child.pid, child.endpoint
    return OK


def do_exit(pm: PM, mp: MProc, m: Message) -> int | None:
    """PM_EXIT: the caller ends with ``m.status``; no reply."""
    exit_proc(pm, mp, (m.status & 0xFF) << 8)
    return SUSPEND


def exit_proc(pm: PM, mp: MProc, status: int) -> None:
    """Tear a process down: VM frees its memory, the kernel its slot; it
    stays a zombie until its parent collects the status."""
    if mp.slot in (PM_PROC_NR,) or mp.endpoint == pm.vm_endpoint:
        pm.sys.panic("%s exited with status %#x", mp.name, status)
    pm.sys.vm_call(VM_WILLEXIT, endpoint=mp.endpoint)
    r = pm.sys.vm_call(VM_EXIT, endpoint=mp.endpoint).m_type
    if r != OK:
        pm.sys.panic("VM_EXIT of %s failed: %d", mp.name, r)
    pm.sys.sys_clear(mp.endpoint)
    mp.flags |= ZOMBIE
    mp.status = status
    for child in list(pm.mproc.values()):
        if child.parent == mp.slot and child is not mp:
            child.parent = INIT_PROC_NR
            if child.flags & ZOMBIE:
                tell_parent(pm, child)
    tell_parent(pm, mp)


def tell_parent(pm: PM, mp: MProc) -> None:
    """A child became a zombie: a waiting parent gets its status now; a
    system-process parent is notified; PM's own children are released."""
    parent = pm.mproc.get(mp.parent)
    if parent is None or parent.slot == PM_PROC_NR:
        release(pm, mp)
        return
    if parent.flags & WAITING and parent.wait_pid in (-1, mp.pid):
        parent.flags &= ~WAITING
        pm.reply(parent, OK, pid=mp.pid, status=mp.status)
        release(pm, mp)
    elif parent.system:
        pm.sys.notify(parent.endpoint)


def release(pm: PM, mp: MProc) -> None:
    del pm.mproc[mp.slot]


def do_waitpid(pm: PM, mp: MProc, m: Message) -> int | None:
    """PM_WAITPID: collect an exited child (m.pid: -1 any, or one pid)."""
    want = m.pid
    if want == 0 or want < -1:
        return -EINVAL
    children = [c for c in pm.mproc.values() if c.parent == mp.slot and c is not mp]
    if want > 0:
        children = [c for c in children if c.pid == want]
    if not children:
        return -ECHILD
    for child in children:
        if child.flags & ZOMBIE:
            m.pid, m.status = child.pid, child.status
            release(pm, child)
            return OK
    if m.options & WNOHANG:
        m.pid, m.status = 0, 0
        return OK
    mp.flags |= WAITING
    mp.wait_pid, mp.wait_options = want, m.options
    return SUSPEND


def live(mp: MProc) -> bool:
    return mp.flags & IN_USE and not mp.flags & ZOMBIE
