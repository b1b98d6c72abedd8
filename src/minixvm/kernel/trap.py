"""The trap port: the one way process code reaches the kernel.

Every process (a server, a Python program, and the CPU running an i386
program) is handed a ``TrapPort`` when it starts, and holds nothing else of
the kernel. Through it a process can do only what a CPU in ring 3 can:

* the IPC traps, with a 36-byte message either in a host buffer (Python
  processes) or in the process's own memory at a virtual address (``ipc``:
  MINIX's ``int $0x21``, the kernel copying the message through the page
  tables, EFAULT for a bad address);
* kernel calls (``int $0x20``): the request is read from the message and
  the reply written back into it;
* loads and stores of its own memory, which may page-fault;
* giving up the CPU.

Two registers complete a Python process's context: its endpoint, and the
address of its static data page (where libsys keeps the buffers kernel
calls read and write; boot processes have it at their load address,
exec'ed programs at PY_DATA_BASE). A fork entry is the "program counter" a
forked Python child starts at.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from minixvm.errors import EINVAL
from minixvm.include.ipc import MESSAGE_SIZE

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel
    from minixvm.kernel.proc import Proc

# What a Python process runs: a callable given its trap port.
Entry = Callable[["TrapPort"], object]


class TrapPort:
    """The traps of one process."""

    __slots__ = ("_k", "_p", "endpoint", "data_base")

    def __init__(self, kernel: Kernel, proc: Proc) -> None:
        self._k = kernel
        self._p = proc
        self.endpoint = proc.endpoint
        assert proc.context is not None
        self.data_base = proc.context.data_base

    # -- IPC, message in a host buffer ------------------------------------------------

    def send(self, dst: int, msg: bytes | bytearray) -> int:
        """Blocking send of a 36-byte message."""
        if len(msg) != MESSAGE_SIZE:
            return -EINVAL
        return self._k.ipc.send(self._ipc_caller(), dst, bytes(msg))

    def sendnb(self, dst: int, msg: bytes | bytearray) -> int:
        """Send only if ``dst`` is waiting for it (ENOTREADY otherwise)."""
        if len(msg) != MESSAGE_SIZE:
            return -EINVAL
        return self._k.ipc.send(self._ipc_caller(), dst, bytes(msg), nonblock=True)

    def receive(self, src: int) -> tuple[int, bytes | None]:
        """Blocking receive from ``src`` (or ANY): the result and the message."""
        return self._k.ipc.receive(self._ipc_caller(), src)

    @property
    def notified(self) -> bool:
        """Was the message last received a notification (not a forged send)?"""
        return self._p.notified

    @property
    def from_kernel(self) -> bool:
        """Was the message last received sent by the kernel (a VM_PAGEFAULT)?"""
        return self._p.from_kernel

    def sendrec(self, dst: int, msg: bytes | bytearray) -> tuple[int, bytes | None]:
        """Send and wait for the reply from the same process."""
        if len(msg) != MESSAGE_SIZE:
            return -EINVAL, None
        return self._k.ipc.sendrec(self._ipc_caller(), dst, bytes(msg))

    def notify(self, dst: int) -> int:
        """Post a notification; never blocks."""
        return self._k.ipc.notify(self._ipc_caller(), dst)

    def senda(self, table: int, count: int) -> int:
        """Hand the kernel the ``count`` asynchronous messages (asynmsg_t) at
        ``table`` in this process's memory; never blocks."""
        return self._k.ipc.senda(self._ipc_caller(), table, count)

    # -- IPC, message in the process's memory (int $0x21) -----------------------------

    def ipc(self, call: int, endpoint: int, msg_addr: int) -> int:
        """The IPC trap with the message at ``msg_addr`` in this process's
        memory: SEND, RECEIVE, SENDREC, NOTIFY or SENDNB; SENDA with the
        table at ``msg_addr`` and its count in ``endpoint`` (MINIX do_ipc)."""
        return self._k.ipc.trap(self._ipc_caller(), call, endpoint, msg_addr)

    # -- kernel calls -------------------------------------------------------------------

    def kernel_call(self, msg: bytearray) -> int:
        """Kernel call ``msg.m_type``: the kernel reads the request from ``msg``
        and writes its reply fields (and the result, in m_type) back into it."""
        if len(msg) != MESSAGE_SIZE:
            return -EINVAL
        p = self._caller()
        self._k.watchdog.kernel_call(p)
        return self._k.calls.call(p, msg)

    # -- memory -------------------------------------------------------------------------

    def load(self, addr: int, n: int) -> bytes:
        """``n`` bytes of this process's memory (may page-fault)."""
        return self._k.memory.user_read(self._caller(), addr, n)

    def store(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        """Store into this process's memory (may page-fault)."""
        self._k.memory.user_write(self._caller(), addr, data)

    # -- the CPU --------------------------------------------------------------------------

    def yield_cpu(self) -> None:
        """Let every other runnable process run first."""
        self._k.sched.yield_cpu(self._caller())

    def set_fork_entry(self, entry: Entry) -> None:
        """Where a child made by the next fork starts."""
        context = self._caller().context
        assert context is not None
        context.fork_entry = entry

    def _ipc_caller(self) -> Proc:
        """The caller of an IPC trap, which is progress (``kernel/watchdog.py``)."""
        p = self._caller()
        self._k.watchdog.progress(p)
        return p

    def _caller(self) -> Proc:
        """This port's process, which must be the one running (a port used
        from another process's code is a bug)."""
        p = self._k.sched.caller()
        if p is not self._p:
            raise RuntimeError(f"trap port of {self._p.name} used by {p.name}")
        return p
