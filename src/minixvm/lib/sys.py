"""libsys: a process's interface to the kernel and to the servers.

One ``SysLib`` is bound to one process. Its methods are the MINIX library
calls (``sendrec``, ``sys_vmctl``, ``cpf_grant_direct``, ``panic``...), so
server code reads like the C original. A kernel call returns its result
(OK or a negative errno) and leaves reply fields in the message it returns.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

from minixvm.errors import OK, MinixError
from minixvm.include.com import (
    ANY,
    GET_KINFO,
    GET_WHOAMI,
    PM_PROC_NR,
    SELF,
    SYS_ABORT,
    SYS_CLEAR,
    SYS_DIAGCTL,
    SYS_ENDKSIG,
    SYS_EXEC,
    SYS_FORK,
    SYS_GETINFO,
    SYS_GETKSIG,
    SYS_KILL,
    SYS_MEMSET,
    SYS_PHYSCOPY,
    SYS_PRIVCTL,
    SYS_SAFECOPYFROM,
    SYS_SAFECOPYTO,
    SYS_SAFEMAP,
    SYS_SAFEREVMAP,
    SYS_SAFEUNMAP,
    SYS_SETGRANT,
    SYS_TIMES,
    SYS_UMAP,
    SYS_VIRCOPY,
    SYS_VMCTL,
    SYS_VSAFECOPY,
    VM_PROC_NR,
)
from minixvm.include.ipc import Message
from minixvm.include.pm import PM_EXIT
from minixvm.include.vm import MAP_ANON, MAP_PRIVATE, PROT_READ, PROT_WRITE, VM_MMAP
from minixvm.lib.grants import GrantTable

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel
    from minixvm.kernel.proc import Proc


class SysLib:
    """The library calls of one process."""

    def __init__(self, kernel: Kernel, proc: Proc) -> None:
        self.k = kernel
        self.proc = proc
        self.grants = GrantTable(self)
        self._panicking = False

    @property
    def endpoint(self) -> int:
        return self.proc.endpoint

    # -- IPC --------------------------------------------------------------------

    def send(self, dst: int, m: Message) -> int:
        """Blocking send."""
        return self.k.ipc.send(self.k.sched.caller(), dst, m)

    def sendnb(self, dst: int, m: Message) -> int:
        """Send only if ``dst`` is waiting for it (ENOTREADY otherwise)."""
        return self.k.ipc.send(self.k.sched.caller(), dst, m, nonblock=True)

    def receive(self, src: int = ANY) -> tuple[int, Message | None]:
        """Blocking receive from ``src`` or ANY."""
        return self.k.ipc.receive(self.k.sched.caller(), src)

    def sendrec(self, dst: int, m: Message) -> tuple[int, Message | None]:
        """Send and wait for the reply."""
        return self.k.ipc.sendrec(self.k.sched.caller(), dst, m)

    def notify(self, dst: int) -> int:
        """Post a notification."""
        return self.k.ipc.notify(self.k.sched.caller(), dst)

    def taskcall(self, dst: int, m_type: int, **fields: Any) -> Message:
        """Request ``m_type`` from server ``dst``; the reply's m_type is the result
        (an IPC failure shows up there too, as MINIX's _taskcall does)."""
        r, reply = self.sendrec(dst, Message(m_type, **fields))
        if r != OK or reply is None:
            return Message(r)
        return reply

    def set_fork_entry(self, entry: Any) -> None:
        """Where a child made by the next fork starts (its program counter)."""
        assert self.proc.context is not None
        self.proc.context.fork_entry = entry

    def yield_cpu(self) -> None:
        """Let every other runnable process run first."""
        self.k.sched.yield_cpu(self.k.sched.caller())

    # -- kernel calls -----------------------------------------------------------

    def kernel_call(self, call_nr: int, **fields: Any) -> Message:
        """Make a kernel call; the returned message holds the result in m_type."""
        m = Message(call_nr, **fields)
        m.m_type = self.k.kernel_call(call_nr, m)
        return m

    def sys_fork(self, parent: int, slot: int) -> Message:
        return self.kernel_call(SYS_FORK, parent=parent, slot=slot)

    def sys_exec(self, endpoint: int, entry: Any, name: str) -> int:
        return self.kernel_call(SYS_EXEC, endpoint=endpoint, entry=entry, name=name).m_type

    def sys_clear(self, endpoint: int) -> int:
        return self.kernel_call(SYS_CLEAR, endpoint=endpoint).m_type

    def sys_privctl(self, endpoint: int, request: int, calls: frozenset[int] = frozenset()) -> int:
        return self.kernel_call(SYS_PRIVCTL, endpoint=endpoint, request=request,
                                calls=calls).m_type

    def sys_kill(self, endpoint: int, sig: int) -> int:
        return self.kernel_call(SYS_KILL, endpoint=endpoint, sig=sig).m_type

    def sys_getksig(self) -> tuple[int, int]:
        m = self.kernel_call(SYS_GETKSIG)
        return m.endpoint, m.sigmap

    def sys_endksig(self, endpoint: int) -> int:
        return self.kernel_call(SYS_ENDKSIG, endpoint=endpoint).m_type

    def sys_vmctl(self, who: int, param: int, value: int = 0) -> int:
        return self.kernel_call(SYS_VMCTL, who=who, param=param, value=value).m_type

    def sys_vmctl_get(self, param: int) -> Message:
        """VMCTL_GET_PAGEFAULT / VMCTL_MEMREQ_GET: the whole reply."""
        return self.kernel_call(SYS_VMCTL, who=SELF, param=param, value=0)

    def sys_vircopy(self, src_ep: int, src_addr: int, dst_ep: int, dst_addr: int,
                    nbytes: int) -> int:
        return self.kernel_call(SYS_VIRCOPY, src_ep=src_ep, src_addr=src_addr, dst_ep=dst_ep,
                                dst_addr=dst_addr, bytes=nbytes).m_type

    def sys_physcopy(self, src_addr: int, dst_addr: int, nbytes: int) -> int:
        return self.kernel_call(SYS_PHYSCOPY, src_addr=src_addr, dst_addr=dst_addr,
                                bytes=nbytes).m_type

    def sys_memset(self, pattern: int, addr: int, nbytes: int) -> int:
        return self.kernel_call(SYS_MEMSET, pattern=pattern, addr=addr, bytes=nbytes).m_type

    def sys_umap(self, endpoint: int, addr: int, nbytes: int) -> tuple[int, int]:
        m = self.kernel_call(SYS_UMAP, endpoint=endpoint, addr=addr, bytes=nbytes)
        return m.m_type, getattr(m, "phys", 0)

    def sys_setgrant(self, addr: int, entries: int) -> int:
        return self.kernel_call(SYS_SETGRANT, addr=addr, entries=entries).m_type

    def sys_safecopyfrom(self, granter: int, grant: int, offset: int, address: int,
                         nbytes: int) -> int:
        return self.kernel_call(SYS_SAFECOPYFROM, granter=granter, grant=grant, offset=offset,
                                address=address, bytes=nbytes).m_type

    def sys_safecopyto(self, granter: int, grant: int, offset: int, address: int,
                       nbytes: int) -> int:
        return self.kernel_call(SYS_SAFECOPYTO, granter=granter, grant=grant, offset=offset,
                                address=address, bytes=nbytes).m_type

    def sys_vsafecopy(self, vector: list[tuple[int, int, int, int, int, int]]) -> tuple[int, int]:
        """Vectored safecopy; returns (result, number of elements done)."""
        m = self.kernel_call(SYS_VSAFECOPY, vector=tuple(vector), done=0)
        return m.m_type, m.done

    def sys_safemap(self, granter: int, grant: int, offset: int, address: int, nbytes: int,
                    writable: bool) -> int:
        return self.kernel_call(SYS_SAFEMAP, granter=granter, grant=grant, offset=offset,
                                address=address, bytes=nbytes, writable=writable).m_type

    def sys_saferevmap_gid(self, grant: int) -> int:
        return self.kernel_call(SYS_SAFEREVMAP, flag=0, grant=grant, address=0).m_type

    def sys_saferevmap_addr(self, address: int) -> int:
        return self.kernel_call(SYS_SAFEREVMAP, flag=1, grant=-1, address=address).m_type

    def sys_safeunmap(self, address: int) -> int:
        return self.kernel_call(SYS_SAFEUNMAP, address=address).m_type

    def sys_getkinfo(self) -> Any:
        return self.kernel_call(SYS_GETINFO, request=GET_KINFO).kinfo

    def sys_whoami(self) -> tuple[str, int, int]:
        """(name, endpoint, privilege flags), as the kernel knows them."""
        m = self.kernel_call(SYS_GETINFO, request=GET_WHOAMI)
        return m.name, m.endpoint, m.privflags

    def sys_times(self, endpoint: int = SELF) -> tuple[int, int, int]:
        """(user ticks, system ticks, uptime ticks)."""
        m = self.kernel_call(SYS_TIMES, endpoint=endpoint)
        return m.user_time, m.sys_time, m.uptime

    def sys_diagctl(self, text: str) -> int:
        return self.kernel_call(SYS_DIAGCTL, text=text).m_type

    def sys_abort(self, reason: str) -> int:
        return self.kernel_call(SYS_ABORT, reason=reason).m_type

    # -- memory of this process -------------------------------------------------

    def mem_read(self, addr: int, n: int) -> bytes:
        """Load ``n`` bytes from this process's memory (may page-fault)."""
        return self.k.memory.user_read(self.k.sched.caller(), addr, n)

    def mem_write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        """Store into this process's memory (may page-fault)."""
        self.k.memory.user_write(self.k.sched.caller(), addr, data)

    def minix_mmap(self, length: int) -> int:
        """Anonymous read-write memory for this process: its address, or a
        negative errno (MINIX minix_mmap)."""
        reply = self.vm_call(VM_MMAP, addr=0, len=length, prot=PROT_READ | PROT_WRITE,
                             flags=MAP_PRIVATE | MAP_ANON, fd=-1, offset=0)
        return reply.retaddr if reply.m_type == OK else reply.m_type

    def vm_call(self, m_type: int, **fields: Any) -> Message:
        """A request to VM (the reply's m_type is the result)."""
        return self.taskcall(VM_PROC_NR, m_type, **fields)

    # -- output and failure ------------------------------------------------------

    def printf(self, fmt: str, *args: Any) -> None:
        """printf for system processes: straight to the console through the kernel."""
        self.sys_diagctl(fmt % args if args else fmt)

    def panic(self, fmt: str, *args: Any) -> None:
        """Print ``NAME(ENDPOINT): panic: MESSAGE`` and a stack trace, then exit.

        The name and endpoint come from the kernel, not from the caller. A
        panic while panicking returns at once.
        """
        if self._panicking:
            return
        self._panicking = True
        name, endpoint, _ = self.sys_whoami()
        self.printf("%s(%d): panic: %s\n", name, endpoint, fmt % args if args else fmt)
        frames = [f.name for f in traceback.extract_stack()[:-1]]
        self.printf("syslib:panic.c: stacktrace: %s\n", " ".join(frames[-8:]))
        if endpoint in (PM_PROC_NR, VM_PROC_NR):
            self.sys_abort(f"{name} panicked")
        self.taskcall(PM_PROC_NR, PM_EXIT, status=1)
        raise MinixError(1, f"{name} could not exit after a panic")
