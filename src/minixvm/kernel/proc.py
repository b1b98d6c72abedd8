"""The process table: slots, endpoints with generations, privileges.

A process is addressed by its endpoint, never by its slot: the endpoint
carries a generation number that changes every time the slot is reused,
so a message to a dead process's endpoint fails (EDEADSRCDST) instead of
reaching whoever occupies the slot next.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from minixvm.include.com import (
    _ENDPOINT,
    _ENDPOINT_G,
    _ENDPOINT_MAX_GENERATION,
    _ENDPOINT_P,
    ANY,
    NONE,
    NR_PROCS,
    NR_TASKS,
    SELF,
    SYS_SAFEREVMAP,
    SYS_SETGRANT,
)

if TYPE_CHECKING:
    from greenlet import greenlet

    from minixvm.kernel.trap import Entry
    from minixvm.machine.cpu import Registers

# Runtime flags: a process runs only when none is set (MINIX p_rts_flags).
RTS_SLOT_FREE = 0x01
RTS_PROC_STOP = 0x02
RTS_SENDING = 0x04
RTS_RECEIVING = 0x08
RTS_SIGNALED = 0x10
RTS_SIG_PENDING = 0x20
RTS_NO_PRIV = 0x80
RTS_VMINHIBIT = 0x200
RTS_PAGEFAULT = 0x400
RTS_VMREQUEST = 0x800
RTS_VMREQTARGET = 0x1000

RTS_NAMES = {
    RTS_SLOT_FREE: "SLOT_FREE",
    RTS_PROC_STOP: "PROC_STOP",
    RTS_SENDING: "SENDING",
    RTS_RECEIVING: "RECEIVING",
    RTS_SIGNALED: "SIGNALED",
    RTS_SIG_PENDING: "SIG_PENDING",
    RTS_NO_PRIV: "NO_PRIV",
    RTS_VMINHIBIT: "VMINHIBIT",
    RTS_PAGEFAULT: "PAGEFAULT",
    RTS_VMREQUEST: "VMREQUEST",
    RTS_VMREQTARGET: "VMREQTARGET",
}

# IPC traps (MINIX ipcconst.h).
SEND = 1
RECEIVE = 2
SENDREC = 3
NOTIFY = 4
SENDNB = 5
SENDA = 16

# Privilege flags.
SYS_PROC = 0x01  # a system process (server, driver, task)

# Trap masks.
ALL_TRAPS = frozenset({SEND, RECEIVE, SENDREC, NOTIFY, SENDNB, SENDA})
USER_TRAPS = frozenset({SENDREC})

# Kernel calls every process may make: announcing its own grant table (a
# grant can only give away access to the granter's own memory), and ending
# the mappings made through its own grants (a process that may make a map
# grant must be able to take it back).
USER_CALLS = frozenset({SYS_SETGRANT, SYS_SAFEREVMAP})

# Scheduling queues: tasks first, then servers, then user processes.
NR_SCHED_QUEUES = 16
TASK_Q = 0
SERVER_Q = 4
USER_Q = 7


@dataclass
class Priv:
    """A process's privileges (MINIX struct priv)."""

    flags: int = 0
    traps: frozenset[int] = USER_TRAPS
    calls: frozenset[int] = frozenset()
    # Grant table announced with SYS_SETGRANT: address and entry count.
    grant_table: int = 0
    grant_entries: int = 0
    # The table of asynchronous messages the last SENDA left pending
    # (s_asyntab, s_asynsize; size 0: none).
    asyn_table: int = 0
    asyn_size: int = 0

    def copy(self) -> Priv:
        """The privileges of a forked child: its copy of the parent's
        pending asynchronous messages is not sent again."""
        return Priv(self.flags, self.traps, self.calls, self.grant_table, self.grant_entries)


@dataclass
class Context:
    """The "registers" of a Python process.

    ``entry(port)`` is where the process starts (its program counter);
    ``fork_entry`` is what a child created by fork starts at (set by libc just
    before it asks PM to fork, because a Python stack cannot be duplicated);
    ``data_base`` is the address of its static data page (the stack pointer
    of MINIX's exec, which a Python process has no other use for).
    """

    entry: Entry
    data_base: int
    fork_entry: Entry | None = None
    # A CPU process: its registers (its entry is the kernel's user-mode loop),
    # and whether it is still inside the trap its parent made (a forked child).
    regs: Registers | None = None
    in_trap: bool = False

    def for_child(self) -> Context:
        """The child's context: a CPU process's registers are copied, a Python
        process's child starts at the fork entry libc set."""
        if self.regs is not None:
            return Context(self.entry, self.data_base, regs=self.regs.copy(), in_trap=True)
        if self.fork_entry is None:
            raise ValueError("fork without a child entry point")
        return Context(entry=self.fork_entry, data_base=self.data_base)


@dataclass(eq=False)
class VMRequest:
    """A kernel call waiting for VM to make memory present (p_vmrequest)."""

    req_type: int
    target: int
    addr: int
    length: int
    write: bool
    # Second process/address, for map requests.
    ep2: int = NONE
    addr2: int = 0
    result: int | None = None


@dataclass(eq=False)
class Proc:
    """One slot of the kernel's process table."""

    nr: int
    endpoint: int = NONE
    name: str = ""
    rts_flags: int = RTS_SLOT_FREE
    priority: int = USER_Q
    priv: Priv = field(default_factory=Priv)
    cr3: int = 0
    context: Context | None = None
    greenlet: greenlet | None = None
    # IPC state.
    sendto_e: int = NONE
    getfrom_e: int = NONE
    sendmsg: bytes | None = None
    send_from_kernel: bool = False  # sendmsg is the kernel's (MF_SENDING_FROM_KERNEL)
    reply_pending: bool = False
    # The m_type of the request a sendrec caller waits to have answered
    # (the trace shows the reply in that request's layout).
    request_type: int = 0
    delivered: bytes | None = None
    # A CPU process blocked in an IPC trap: where its message is.
    msg_addr: int = 0
    ipc_result: int = 0
    # Was the last message it received a notification, or the kernel's
    # (MINIX's ipc_status, IPC_FLG_MSG_FROM_KERNEL)?
    notified: bool = False
    from_kernel: bool = False
    caller_q: deque[Proc] = field(default_factory=deque)
    notify_pending: set[int] = field(default_factory=set)
    # A sender's SENDA table may hold a message for it (MF_ASYNMSG).
    asynmsg: bool = False
    # A kernel call's request to VM.
    vmrequest: VMRequest | None = None
    # Signals not yet collected by PM.
    sig_pending: int = 0
    # Accounting, in clock ticks.
    user_time: int = 0
    sys_time: int = 0

    @property
    def alive(self) -> bool:
        return not self.rts_flags & RTS_SLOT_FREE

    @property
    def runnable(self) -> bool:
        return self.rts_flags == 0

    @property
    def is_system(self) -> bool:
        return bool(self.priv.flags & SYS_PROC)

    def flags_text(self) -> str:
        """The RTS flags as names, for inspection."""
        names = [n for bit, n in RTS_NAMES.items() if self.rts_flags & bit]
        return "|".join(names) or "RUNNABLE"

    def __repr__(self) -> str:
        return f"<Proc {self.name or '-'} slot={self.nr} ep={self.endpoint} {self.flags_text()}>"


class ProcTable:
    """Slots NR_TASKS negative task slots plus NR_PROCS process slots."""

    def __init__(self, nr_procs: int = NR_PROCS) -> None:
        self.nr_procs = nr_procs
        self._slots = [Proc(nr) for nr in range(-NR_TASKS, nr_procs)]

    def slot(self, nr: int) -> Proc:
        """The process in slot ``nr`` (tasks are negative)."""
        return self._slots[nr + NR_TASKS]

    def __iter__(self) -> Iterator[Proc]:
        return iter(self._slots)

    def live(self) -> Iterator[Proc]:
        """Every slot in use, in slot order."""
        return (p for p in self._slots if p.alive)

    def isokendpt(self, e: int) -> Proc | None:
        """The live process whose current endpoint is ``e``, else None (a stale or bad endpoint)."""
        if e in (ANY, NONE, SELF):
            return None
        nr = _ENDPOINT_P(e)
        if not -NR_TASKS <= nr < self.nr_procs:
            return None
        p = self._slots[nr + NR_TASKS]
        return p if p.alive and p.endpoint == e else None

    def free_slot(self, first: int) -> Proc | None:
        """The lowest free user-process slot at or above ``first``."""
        for p in self._slots[first + NR_TASKS :]:
            if not p.alive:
                return p
        return None

    @staticmethod
    def next_endpoint(p: Proc) -> int:
        """The endpoint for the next occupant of ``p``'s slot: one generation on."""
        gen = _ENDPOINT_G(p.endpoint) + 1 if p.endpoint != NONE else 0
        if gen > _ENDPOINT_MAX_GENERATION:
            gen = 1
        return _ENDPOINT(gen, p.nr)
