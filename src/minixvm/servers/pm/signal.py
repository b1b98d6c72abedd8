"""Signals (MINIX pm/signal.c): kill, and the kernel's signals.

Python programs cannot catch signals: every signal takes its default
action, which for all but SIGCHLD is to terminate the process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, EPERM, ESRCH, OK
from minixvm.include.com import INIT_PROC_NR, NONE
from minixvm.include.ipc import Message
from minixvm.include.pm import PmKill
from minixvm.include.signal import _NSIG, SIGCHLD, W_EXITCODE
from minixvm.servers.pm.forkexit import exit_proc, live
from minixvm.servers.pm.mproc import MProc

if TYPE_CHECKING:
    from minixvm.servers.pm.main import PM

IGNORED_BY_DEFAULT = frozenset({SIGCHLD})


def do_kill(pm: PM, mp: MProc, m: Message) -> Message:
    """PM_KILL: send ``sig`` to process ``pid``; signal 0 only checks that it
    exists (POSIX). There are no process groups: ``pid`` 0 and below are EINVAL."""
    req = PmKill.view(m.buf)
    if not 0 <= req.sig < _NSIG or req.pid <= 0:
        return PmKill(-EINVAL)
    target = pm.by_pid(req.pid)
    if target is None:
        return PmKill(-ESRCH)
    # A user may not signal a system process, nor anyone a boot server: the
    # system cannot go on without them (RS stops only the services it started).
    if target.system and not mp.system or target.system and target.slot < INIT_PROC_NR:
        return PmKill(-EPERM)
    if req.sig:
        r = pm.sys.sys_kill(target.endpoint, req.sig)
        if r != OK:
            return PmKill(r)
    return PmKill(OK)


def do_ksig(pm: PM) -> None:
    """The kernel has signals for processes: act on each, or, for a process
    VFS is working for (exec, fork), once VFS has answered (the process
    stays stopped until then)."""
    while True:
        ep, sigmap = pm.sys.sys_getksig()
        if ep == NONE:
            return
        mp = pm.by_endpoint(ep)
        if mp is None or not live(mp):
            continue
        if mp.vfs_call:
            mp.sig_delayed |= sigmap
        else:
            handle_ksig(pm, mp, sigmap)


def handle_ksig(pm: PM, mp: MProc, sigmap: int) -> None:
    """The default action of the signals in ``sigmap``: the first fatal one
    ends the process; if none is, it runs on."""
    fatal = [s for s in range(1, _NSIG) if sigmap & (1 << s) and s not in IGNORED_BY_DEFAULT]
    if fatal:
        exit_proc(pm, mp, W_EXITCODE(0, fatal[0]))
    else:
        pm.sys.sys_endksig(mp.endpoint)
