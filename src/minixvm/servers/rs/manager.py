"""Starting, watching and restarting services (MINIX rs/manager.c).

A service starts in steps: SRV_FORK (a child of RS that does not run),
its kernel calls (SYS_PRIVCTL), its image (srv_execve), its VM calls
(VM_RS_SET_PRIV), its label in DS, then SYS_PRIV_ALLOW lets it run and
RS sends it the SEF init message. A service that dies is restarted the
same way into a new endpoint, after MINIX's backoff: at once the first
time, then after 2, 4, 8, 16 and at most 30 periods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import OK, errname
from minixvm.include.com import NONE, PM_PROC_NR, SYS_PRIV_ALLOW, SYS_PRIV_SET_SYS
from minixvm.include.ds import DSF_OVERWRITE, DSF_PRIV_OVERWRITE
from minixvm.include.ipc import AMF_NOREPLY
from minixvm.include.pm import PM_KILL, SRV_FORK
from minixvm.include.rs import RS_INIT, SEF_INIT_FRESH, SEF_INIT_RESTART, RsInit
from minixvm.include.signal import SIGKILL, WEXITSTATUS, WIFEXITED, WIFSIGNALED, WTERMSIG
from minixvm.include.vm import VM_PROCCTL, VM_RS_SET_PRIV, VMPPARAM_CLEAR
from minixvm.kernel.trap import TrapPort
from minixvm.lib.ds import ds_delete_label, ds_publish_label
from minixvm.servers.rs.exec import srv_execve
from minixvm.servers.rs.service import (
    BACKOFF,
    EXITED,
    FAILED,
    STARTING,
    STOPPED,
    STOPPING,
    UP,
    Crash,
    Service,
)
from minixvm.servers.rs.table import MAX_BACKOFF, RS_STABLE_T
from minixvm.servers.vm.acl import mask_of_acl

if TYPE_CHECKING:
    from minixvm.servers.rs.main import RS

# How long a service has to answer its init message (MINIX RS_INIT_T: 10 s).
RS_INIT_PERIODS = 10


def never_runs(port: TrapPort) -> None:
    """What a child of SRV_FORK would run: nothing, for srv_execve replaces
    its image before it may run."""
    raise AssertionError("a service ran before RS loaded its image")


def start_service(rs: RS, svc: Service, init_type: int = SEF_INIT_FRESH) -> int:
    """Start a new instance of ``svc``: OK, or the step that failed (the
    half-made process is gone again)."""
    assert svc.image is not None
    svc.state = STARTING
    rs.sys.set_fork_entry(never_runs)
    reply = rs.sys.taskcall(PM_PROC_NR, SRV_FORK)
    if reply.m_type < 0:
        return int(reply.m_type)
    svc.pid, svc.endpoint = int(reply.m_type), int(reply.endpoint)
    # The child shares RS's memory copy-on-write; drop it before RS writes
    # any (a copy-on-write break RS could not get memory for would kill RS).
    r = int(rs.sys.vm_call(VM_PROCCTL, who=svc.endpoint, param=VMPPARAM_CLEAR).m_type)
    if r == OK:
        r = rs.sys.sys_privctl(svc.endpoint, SYS_PRIV_SET_SYS, svc.desc.kernel_calls)
    if r == OK:
        r = srv_execve(rs, svc.endpoint, svc.image)
    if r == OK:
        r = set_vm_priv(rs, svc)
    if r == OK:
        r = ds_publish_label(rs.sys, svc.label, svc.endpoint, DSF_OVERWRITE | DSF_PRIV_OVERWRITE)
    if r != OK:
        rs.log(f"cannot start {svc.label}: {errname(r)}")
        kill(rs, svc)
        return r
    svc.started = svc.alive_tm = svc.check_tm = rs.now()
    svc.panic_text = ""
    rs.sys.sys_privctl(svc.endpoint, SYS_PRIV_ALLOW)
    if svc.desc.sef:
        svc.state = STARTING
        rs.sys.asynsend(svc.endpoint, RsInit(RS_INIT, type=init_type), AMF_NOREPLY)
    else:
        svc.state = UP
    return OK


def set_vm_priv(rs: RS, svc: Service) -> int:
    """VM_RS_SET_PRIV: the VM calls of ``svc``'s description."""
    mask = mask_of_acl(svc.desc.vm_calls)
    return int(rs.sys.vm_call(VM_RS_SET_PRIV, endpoint=svc.endpoint, calls_lo=mask & 0xFFFFFFFF,
                              calls_hi=mask >> 32).m_type)


def init_ready(rs: RS, svc: Service, result: int) -> None:
    """RS_INIT answered: the service is up, or it could not start (killed)."""
    if result != OK:
        rs.log(f"{svc.label} failed to initialise: {errname(result)}")
        kill(rs, svc)
        return
    svc.state = UP
    svc.alive_tm = rs.now()


def kill(rs: RS, svc: Service) -> None:
    """Kill the current instance (MINIX crash_service); PM tells RS of its end."""
    if svc.pid:
        rs.sys.taskcall(PM_PROC_NR, PM_KILL, pid=svc.pid, sig=SIGKILL)


def stop_service(rs: RS, svc: Service) -> None:
    """RS_DOWN: kill it and do not restart it."""
    if svc.running and svc.image is not None:
        svc.state = STOPPING
        kill(rs, svc)
    elif svc.state == BACKOFF:
        svc.state = STOPPED
        ds_delete_label(rs.sys, svc.label)


def restart_service(rs: RS, svc: Service) -> None:
    """RS_RESTART: a new instance now (the old one, if alive, is killed and
    replaced at once, without backoff)."""
    if svc.running:
        svc.backoff = 0
        svc.restart_asked = True
        kill(rs, svc)
    elif svc.state in (BACKOFF, STOPPED, FAILED, EXITED):
        svc.backoff = 0
        revive(rs, svc)


def service_died(rs: RS, svc: Service, status: int) -> None:
    """An instance of ``svc`` ended with wait status ``status``: log it,
    then restart it now, later (backoff), or never."""
    svc.status = status
    stopped = svc.state == STOPPING
    # Not up while RS decides (what it does next may wait for replies).
    svc.state = BACKOFF
    dead, svc.endpoint, svc.pid = svc.endpoint, NONE, 0
    if stopped:
        svc.state = STOPPED
        ds_delete_label(rs.sys, svc.label)
        return
    if svc.restart_asked:
        svc.restart_asked = False  # asked for: not a crash, and no backoff
        if start_service(rs, svc, SEF_INIT_RESTART) == OK:
            svc.total_restarts += 1
            return
    if WIFEXITED(status) and WEXITSTATUS(status) == 0 or not svc.desc.restart:
        svc.state = EXITED
        ds_delete_label(rs.sys, svc.label)
        return
    crash(rs, svc, dead, status)
    if rs.now() - svc.started > RS_STABLE_T:
        svc.restarts = 0
    if svc.restarts >= svc.desc.max_restarts:
        svc.state = FAILED
        rs.log(f"{svc.label} crashed {svc.restarts + 1} times in a row; not restarted")
        ds_delete_label(rs.sys, svc.label)
        return
    if svc.restarts == 0:
        revive(rs, svc)
    else:
        svc.state = BACKOFF
        svc.backoff = min(1 << svc.restarts, MAX_BACKOFF)


def crash(rs: RS, svc: Service, endpoint: int, status: int) -> None:
    """Log a death RS did not ask for, with the panic text the service sent."""
    how = (f"signal {WTERMSIG(status)}" if WIFSIGNALED(status)
           else f"exit status {WEXITSTATUS(status)}")
    svc.crashes.append(Crash(rs.now(), endpoint, status, svc.panic_text))
    text = f"; panic: {svc.panic_text.splitlines()[0]}" if svc.panic_text else ""
    rs.log(f"{svc.label}({endpoint}) died ({how}){text}")


def revive(rs: RS, svc: Service) -> None:
    """Start the next instance of a service that died (SEF_INIT_RESTART)."""
    svc.restarts += 1
    svc.total_restarts += 1
    if start_service(rs, svc, SEF_INIT_RESTART) != OK:
        svc.state = BACKOFF
        svc.backoff = min(1 << svc.restarts, MAX_BACKOFF)


def ran_since(rs: RS, svc: Service) -> None:
    """A service that ran since the last check is alive even if it has not
    answered: time here is counted in dispatches, so one long request (a
    16 MiB read) can outlast two periods. Only a service that neither runs
    nor answers is hung. (MINIX looks at answers alone.)"""
    ticks = rs.sys.sys_times(svc.endpoint)[0]
    if ticks != svc.run_ticks:
        svc.run_ticks = ticks
        svc.alive_tm = rs.now()


def do_period(rs: RS) -> None:
    """Once a period (MINIX do_period): restarts whose backoff is over, and
    pings; a service that has neither run nor answered for two periods (or
    has not answered its init for RS_INIT_PERIODS) is killed, and so
    restarted."""
    now = rs.now()
    for svc in list(rs.services.values()):
        period = svc.desc.period or rs.delta
        if svc.state == BACKOFF:
            svc.backoff -= 1
            if svc.backoff <= 0:
                revive(rs, svc)
        elif svc.state == STARTING and now - svc.started > RS_INIT_PERIODS * rs.delta:
            rs.log(f"{svc.label} did not answer its init message; killed")
            kill(rs, svc)
        elif svc.state == UP and svc.desc.period:
            ran_since(rs, svc)
            if svc.alive_tm < svc.check_tm:
                if now - svc.alive_tm > 2 * period:
                    rs.log(f"{svc.label} stopped answering; killed")
                    kill(rs, svc)
            elif now - svc.check_tm >= period:
                rs.sys.notify(svc.endpoint)
                svc.check_tm = now
