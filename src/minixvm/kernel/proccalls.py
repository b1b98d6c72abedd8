"""Process kernel calls: fork, exec, clear (exit), privctl, getinfo, times, diagctl."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import E2BIG, EINVAL, EPERM, OK, RequestError
from minixvm.include.com import (
    DIAGCTL_CODE_DIAG,
    DIAGCTL_CODE_TRACE,
    GET_KINFO,
    GET_WHOAMI,
    KERNEL_CALL,
    NONE,
    SYS_PRIV_ALLOW,
    SYS_PRIV_DISALLOW,
    SYS_PRIV_SET_SYS,
    SYS_PRIV_SET_USER,
    SysAbort,
    SysClear,
    SysDiagctl,
    SysExec,
    SysFork,
    SysGetinfo,
    SysPrivctl,
    SysSetalarm,
    SysTimes,
)
from minixvm.kernel.copy import endpoint_proc
from minixvm.kernel.proc import (
    ALL_TRAPS,
    RTS_NO_PRIV,
    RTS_RECEIVING,
    RTS_SLOT_FREE,
    SYS_PROC,
    USER_CALLS,
    USER_Q,
    USER_TRAPS,
    Context,
    Priv,
    Proc,
)
from minixvm.machine.cpu import Registers

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel

DIAG_MAX = 4096
P_NAME_LEN = 16


def do_fork(k: Kernel, caller: Proc, m: SysFork) -> int:
    """SYS_FORK: copy process ``m.parent`` into free slot ``m.slot``; m.child_ep out.

    The child starts where the parent will resume: blocked waiting for the
    reply to the fork request, and (for a Python process) at the parent's
    child entry point. Its address space is VM's business (cr3 stays 0
    until VM sets it).
    """
    parent = k.procs.isokendpt(m.parent)
    if parent is None or not 0 <= m.slot < k.procs.nr_procs:
        raise RequestError(EINVAL)
    child = k.procs.slot(m.slot)
    context = parent.context
    if (
        child.alive
        or not parent.rts_flags & RTS_RECEIVING
        or context is None
        or (context.regs is None and context.fork_entry is None)
    ):
        raise RequestError(EINVAL)
    child.endpoint = k.procs.next_endpoint(child)
    child.name = parent.name
    # A system process's child is a user process until someone (RS) says otherwise.
    child.priv = parent.priv.copy()
    child.priority = parent.priority
    if parent.is_system:
        child.priv.flags, child.priv.traps, child.priv.calls = 0, USER_TRAPS, USER_CALLS
        child.priority = USER_Q
    child.context = context.for_child()
    child.cr3 = 0
    child.getfrom_e = parent.getfrom_e
    child.reply_pending = parent.reply_pending
    child.request_type = parent.request_type
    child.msg_addr = parent.msg_addr
    child.rts_flags = RTS_RECEIVING
    context.fork_entry = None
    m.child_ep = child.endpoint
    m.msgaddr = parent.msg_addr
    return OK


def do_exec(k: Kernel, caller: Proc, m: SysExec) -> int:
    """SYS_EXEC: process ``m.endpoint`` starts at ``m.pc`` with stack pointer
    ``m.sp``, named by the string at ``m.name`` in the caller's memory: a
    Python text if ``m.pc`` is one the kernel loaded, else an i386 program
    on the CPU (only EIP and ESP are set, as MINIX's arch_pre_exec).

    Its old execution is discarded (exec does not return), any wait for a
    reply is cancelled, and it runs as soon as nothing else stops it. Its
    grant table and SENDA table were in the old image: the new program has
    neither.
    """
    p = endpoint_proc(k, caller, m.endpoint)
    if p.nr < 0:
        raise RequestError(EINVAL)
    name = k.memory.read(caller, m.name, P_NAME_LEN).split(b"\0", 1)[0]
    p.name = name.decode("latin-1")
    entry = k.texts.get(m.pc)
    if entry is not None:
        p.context = Context(entry=entry, data_base=m.sp)
    else:
        p.context = Context(k.user_mode, 0, regs=Registers(eip=m.pc, esp=m.sp))
        k.cpu.flush_code()
    p.priv.grant_table = p.priv.grant_entries = 0
    p.priv.asyn_table = p.priv.asyn_size = 0
    k.sched.drop_greenlet(p)
    p.getfrom_e = NONE
    p.reply_pending = False
    p.delivered = None
    k.sched.rts_unset(p, RTS_RECEIVING)
    return OK


def do_clear(k: Kernel, caller: Proc, m: SysClear) -> int:
    """SYS_CLEAR: release the slot of an exiting process (PM, after VM freed it)."""
    p = endpoint_proc(k, caller, m.endpoint)
    if p.nr < 0 or p is caller:
        raise RequestError(EINVAL)
    clear_proc(k, p)
    return OK


def clear_proc(k: Kernel, p: Proc) -> None:
    """Make ``p``'s slot free; its endpoint stays to seed the next generation."""
    k.ipc.clear(p)
    k.clock.cancel(p)
    k.vmctl.forget(p)
    k.safemaps.forget_process(p)
    k.sched.rts_set(p, RTS_SLOT_FREE)
    k.sched.drop_greenlet(p)
    p.rts_flags = RTS_SLOT_FREE
    p.name = ""
    p.priv = Priv()
    p.context = None
    p.cr3 = 0
    p.sig_pending = 0
    p.user_time = p.sys_time = 0


def do_privctl(k: Kernel, caller: Proc, m: SysPrivctl) -> int:
    """SYS_PRIVCTL: set up or change a process's privileges (its scheduling
    priority is not a privilege: it stays)."""
    p = endpoint_proc(k, caller, m.endpoint)
    req = m.request
    if req == SYS_PRIV_ALLOW:
        k.sched.rts_unset(p, RTS_NO_PRIV)
    elif req == SYS_PRIV_DISALLOW:
        k.sched.rts_set(p, RTS_NO_PRIV)
    elif req == SYS_PRIV_SET_SYS:
        mask = m.calls_hi << 32 | m.calls_lo
        calls = frozenset(KERNEL_CALL + n for n in range(64) if mask >> n & 1)
        p.priv = Priv(
            flags=SYS_PROC, traps=ALL_TRAPS, calls=calls,
            grant_table=p.priv.grant_table, grant_entries=p.priv.grant_entries,
        )
    elif req == SYS_PRIV_SET_USER:
        p.priv = Priv(traps=USER_TRAPS, calls=USER_CALLS)
    else:
        raise RequestError(EINVAL)
    return OK


def do_getinfo(k: Kernel, caller: Proc, m: SysGetinfo) -> int:
    """SYS_GETINFO: who am I (in the reply), or the kernel information the
    servers need at boot (struct kinfo, copied to ``m.val_ptr``)."""
    if m.request == GET_WHOAMI:
        m.who_endpoint, m.who_privflags = caller.endpoint, caller.priv.flags
        m.who_name = caller.name
    elif m.request == GET_KINFO:
        assert k.kinfo is not None
        data = k.kinfo.pack()
        if not caller.is_system:
            raise RequestError(EPERM)
        if m.val_len < len(data):
            raise RequestError(E2BIG)
        k.memory.write(caller, m.val_ptr, data)
    else:
        raise RequestError(EINVAL)
    return OK


def do_setalarm(k: Kernel, caller: Proc, m: SysSetalarm) -> int:
    """SYS_SETALARM: the caller's alarm goes off after ``exp_time`` ticks (or at
    uptime ``exp_time``; 0 cancels it); the reply says what was left of the
    previous one. CLOCK notifies the caller when it goes off."""
    if m.exp_time < 0:
        raise RequestError(EINVAL)
    expiry = 0 if m.exp_time == 0 else m.exp_time if m.abs_time else k.clock.ticks + m.exp_time
    m.exp_time = k.clock.set_alarm(caller, expiry)
    return OK


def do_times(k: Kernel, caller: Proc, m: SysTimes) -> int:
    """SYS_TIMES: a process's user and system ticks, and the uptime."""
    p = endpoint_proc(k, caller, m.endpoint)
    m.user_time, m.sys_time, m.uptime = p.user_time, p.sys_time, k.clock.ticks
    return OK


def do_abort(k: Kernel, caller: Proc, m: SysAbort) -> int:
    """SYS_ABORT: a process the system cannot live without gives up: stop everything."""
    k.panic("%s(%d): %s panicked", caller.name, caller.endpoint, caller.name)


def do_diagctl(k: Kernel, caller: Proc, m: SysDiagctl) -> int:
    """SYS_DIAGCTL: a system process's printf, shown on the console, or an
    event it reports for the trace."""
    if not 0 <= m.text_len <= DIAG_MAX or m.code not in (DIAGCTL_CODE_DIAG, DIAGCTL_CODE_TRACE):
        raise RequestError(EINVAL)
    text = k.memory.read(caller, m.text_addr, m.text_len).decode(errors="replace")
    if m.code == DIAGCTL_CODE_DIAG:
        k.console(text)
    elif k.trace.enabled:
        kind, _, details = text.partition(" ")
        k.trace.emit(kind, f"{k.trace.who(m.about)} {details}")
    return OK
