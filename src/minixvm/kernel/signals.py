"""Kernel signals: the kernel stops a signalled process and tells PM.

PM collects pending signals with SYS_GETKSIG, acts on them (for a Python
program: the default action, usually termination) and lets the process run
again with SYS_ENDKSIG. The process cannot run in between (RTS_SIGNALED).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, OK, RequestError
from minixvm.include.com import NONE, PM_PROC_NR, SYSTEM, SysGetksig, SysSig
from minixvm.include.signal import _NSIG
from minixvm.kernel.proc import RTS_SIG_PENDING, RTS_SIGNALED, Proc

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel


def cause_sig(k: Kernel, p: Proc, sig: int) -> None:
    """Post signal ``sig`` to ``p``: stop it and notify PM once."""
    p.sig_pending |= 1 << sig
    if not p.rts_flags & RTS_SIG_PENDING:
        k.sched.rts_set(p, RTS_SIGNALED | RTS_SIG_PENDING)
        k.ipc.mini_notify(k.procs.slot(SYSTEM), k.procs.slot(PM_PROC_NR).endpoint)


def do_kill(k: Kernel, caller: Proc, m: SysSig) -> int:
    """SYS_KILL: post a signal to a process."""
    p = k.procs.isokendpt(m.endpoint)
    if p is None or p.nr < 0 or not 0 < m.sig < _NSIG:
        raise RequestError(EINVAL)
    cause_sig(k, p, m.sig)
    return OK


def do_getksig(k: Kernel, caller: Proc, m: SysGetksig) -> int:
    """SYS_GETKSIG: hand PM the next process with pending signals (or NONE)."""
    for p in k.procs.live():
        if p.rts_flags & RTS_SIG_PENDING:
            m.endpoint, m.sigmap = p.endpoint, p.sig_pending
            p.sig_pending = 0
            k.sched.rts_unset(p, RTS_SIG_PENDING)
            return OK
    m.endpoint, m.sigmap = NONE, 0
    return OK


def do_endksig(k: Kernel, caller: Proc, m: SysSig) -> int:
    """SYS_ENDKSIG: PM is done with a process's signals; it may run again."""
    p = k.procs.isokendpt(m.endpoint)
    if p is None or not p.rts_flags & RTS_SIGNALED:
        raise RequestError(EINVAL)
    if not p.rts_flags & RTS_SIG_PENDING:
        k.sched.rts_unset(p, RTS_SIGNALED)
    return OK
