"""libsys: a process's interface to the kernel and to the servers.

One ``SysLib`` is bound to one process's trap port. Its methods are the
MINIX library calls (``sendrec``, ``sys_vmctl``, ``cpf_grant_direct``,
``panic``...), so server code reads like the C original. Messages are
36-byte MINIX messages (``include/ipc.py``); a kernel call returns its
result (OK or a negative errno) and leaves its reply fields in the message
it returns. Data a kernel call reads or writes (a name, a text, struct
kinfo, a vector) goes through a buffer in the process's static data page,
as MINIX's libsys passes pointers to its own variables.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from typing import Any

from minixvm.errors import EAGAIN, OK, MinixError
from minixvm.include import com
from minixvm.include.com import (
    ANY,
    DIAGCTL_CODE_DIAG,
    DIAGCTL_CODE_TRACE,
    GET_KINFO,
    GET_WHOAMI,
    KERNEL_CALL,
    NONE,
    NR_PROCS,
    PM_PROC_NR,
    RS_PROC_NR,
    SELF,
    VM_PROC_NR,
    VSCP_VEC,
)
from minixvm.include.grant import CPF_READ
from minixvm.include.ipc import AMF_DONE, AMF_EMPTY, AMF_VALID, ASYNMSG, ASYNMSG_SIZE, Message
from minixvm.include.kinfo import KINFO_MAX, KernelInfo
from minixvm.include.pm import PM_EXIT
from minixvm.include.rs import CRASH_TEXT_MAX, RS_CRASH_REPORT, RS_INIT, RsCrashReport, RsInit
from minixvm.include.vm import (
    MAP_ANON,
    MAP_PREALLOC,
    MAP_PRIVATE,
    PROT_READ,
    PROT_WRITE,
    VM_MMAP,
    VM_MUNMAP,
)
from minixvm.kernel.trap import Entry, TrapPort
from minixvm.lib.grants import GrantTable
from minixvm.machine.ram import PAGE_SIZE

# libsys's buffer in the static data page (the page starts with the name).
STATIC_OFFSET = 0x800
STATIC_SIZE = 0x800
assert KINFO_MAX <= STATIC_SIZE
_VEC_CHUNK = STATIC_SIZE // VSCP_VEC.size
# asynsend's table: entries, and its size in bytes.
ASYN_NR = 2 * NR_PROCS
_ASYN_BYTES = ASYN_NR * ASYNMSG_SIZE
_AMF_SENT = AMF_VALID | AMF_DONE


def _waiting(flags: int) -> bool:
    """Is an asynsend entry with these flags one the kernel has yet to deliver?"""
    return flags != AMF_EMPTY and flags & _AMF_SENT != _AMF_SENT


class SysLib:
    """The library calls of one process."""

    def __init__(self, port: TrapPort) -> None:
        self.port = port
        self.endpoint = port.endpoint
        self.data_base = port.data_base
        self._static = port.data_base + STATIC_OFFSET
        self.grants = GrantTable(self)
        self._panicking = False
        self.notified = self.from_kernel = False
        self._scratch = Scratch(self)
        # asynsend's table in this process's memory (0: not made yet), and
        # the entries the kernel may still have to deliver: [first, next).
        self._asyn = 0
        self._asyn_first = self._asyn_next = 0

    # -- IPC --------------------------------------------------------------------

    def send(self, dst: int, m: Message) -> int:
        """Blocking send."""
        return self.port.send(dst, m.buf)

    def sendnb(self, dst: int, m: Message) -> int:
        """Send only if ``dst`` is waiting for it (ENOTREADY otherwise)."""
        return self.port.sendnb(dst, m.buf)

    def receive(self, src: int = ANY) -> tuple[int, Message | None]:
        """Blocking receive from ``src`` or ANY; the message in the layout of
        its type. As MINIX's sef_receive, RS's pings are answered here and
        never returned: a service answers them whatever it waits for.
        ``notified`` says whether the message is a notification,
        ``from_kernel`` whether the kernel sent it."""
        while True:
            r, data = self.port.receive(src)
            m = None if data is None else Message.decode(data)
            self.notified, self.from_kernel = self.port.notified, self.port.from_kernel
            if self.notified and m is not None and m.m_source == RS_PROC_NR != src:
                self.port.notify(RS_PROC_NR)
                continue
            return r, m

    def sef_startup(self) -> int:
        """Wait for RS's init message, answer it (OK); the init type
        (SEF_INIT_FRESH, or SEF_INIT_RESTART for a restarted instance).
        A ping that comes first is answered."""
        while True:
            r, m = self.receive(RS_PROC_NR)
            if r != OK or m is None:
                return r
            if self.notified:
                self.port.notify(RS_PROC_NR)
                continue
            if m.m_type == RS_INIT:
                self.send(RS_PROC_NR, RsInit(RS_INIT, result=OK))
                return RsInit.view(m.buf).type

    def sendrec(self, dst: int, m: Message) -> tuple[int, Message | None]:
        """Send and wait for the reply (in the request's layout)."""
        r, data = self.port.sendrec(dst, m.buf)
        return r, None if data is None else m.reply_view(data)

    def notify(self, dst: int) -> int:
        """Post a notification."""
        return self.port.notify(dst)

    def asynsend(self, dst: int, m: Message, flags: int = 0) -> int:
        """Send ``m`` to ``dst`` without waiting: the kernel delivers it when
        ``dst`` receives (MINIX asynsend3). AMF_NOREPLY in ``flags``: ``m`` is
        not an answer, so it waits while ``dst`` waits for a reply. OK, or an
        error: no memory for the table, or EAGAIN if it is full of messages
        not yet delivered."""
        if not self._asyn:
            table = self.minix_mmap(_ASYN_BYTES)
            if table < 0:
                return table
            self._asyn = table
        entries = self._asyn_entries(self._asyn_first, self._asyn_next)
        self._asyn_first += next((i for i, e in enumerate(entries) if _waiting(e[0])),
                                 len(entries))
        if self._asyn_first == self._asyn_next:
            self._asyn_first = self._asyn_next = 0
        if self._asyn_next == ASYN_NR:
            self._asyn_compact()
        full = self._asyn_next == ASYN_NR
        if not full:
            entry = ASYNMSG.pack(AMF_VALID | flags, dst, 0, bytes(m.buf))
            self.mem_write(self._asyn + self._asyn_next * ASYNMSG_SIZE, entry)
            self._asyn_next += 1
        r = self.port.senda(self._asyn + self._asyn_first * ASYNMSG_SIZE,
                            self._asyn_next - self._asyn_first)
        return -EAGAIN if full else r

    def _asyn_entries(self, first: int, end: int) -> list[tuple[int, int, int, bytes]]:
        """Entries [first, end) of the asynsend table."""
        raw = self.mem_read(self._asyn + first * ASYNMSG_SIZE, (end - first) * ASYNMSG_SIZE)
        return list(ASYNMSG.iter_unpack(raw))

    def _asyn_compact(self) -> None:
        """Move the entries not yet delivered to the start of the full table."""
        self.port.senda(0, 0)  # the kernel must not scan the table while it moves
        waiting = [e for e in self._asyn_entries(self._asyn_first, self._asyn_next)
                   if _waiting(e[0])]
        data = b"".join(ASYNMSG.pack(*e) for e in waiting)
        self.mem_write(self._asyn, data + bytes(_ASYN_BYTES - len(data)))
        self._asyn_first, self._asyn_next = 0, len(waiting)

    def taskcall(self, dst: int, m_type: int, **fields: Any) -> Message:
        """Request ``m_type`` from server ``dst``; the reply's m_type is the result
        (an IPC failure shows up there too, as MINIX's _taskcall does)."""
        m = Message(m_type, **fields)
        r, reply = self.sendrec(dst, m)
        if r != OK or reply is None:
            return type(m)(r)
        return reply

    def set_fork_entry(self, entry: Entry) -> None:
        """Where a child made by the next fork starts (its program counter)."""
        self.port.set_fork_entry(entry)

    def yield_cpu(self) -> None:
        """Let every other runnable process run first."""
        self.port.yield_cpu()

    # -- kernel calls -----------------------------------------------------------

    def kernel_call(self, call_nr: int, **fields: Any) -> Message:
        """Make a kernel call; the returned message holds the result in m_type."""
        m = Message(call_nr, **fields)
        self.port.kernel_call(m.buf)
        return m

    def sys_fork(self, parent: int, slot: int) -> Message:
        return self.kernel_call(com.SYS_FORK, parent=parent, slot=slot)

    def sys_exec(self, endpoint: int, pc: int, name: str, sp: int) -> int:
        """Start ``endpoint`` at ``pc`` with stack pointer ``sp``, named ``name``
        (for a Python text, ``sp`` is its static data page)."""
        self.mem_write(self._static, name.encode("latin-1", errors="replace")[:15] + b"\0")
        return self.kernel_call(com.SYS_EXEC, endpoint=endpoint, pc=pc, name=self._static,
                                sp=sp).m_type

    def sys_clear(self, endpoint: int) -> int:
        return self.kernel_call(com.SYS_CLEAR, endpoint=endpoint).m_type

    def sys_privctl(self, endpoint: int, request: int, calls: Iterable[int] = ()) -> int:
        """Set ``endpoint``'s privileges; ``calls`` are the kernel calls it may make."""
        mask = 0
        for call in calls:
            mask |= 1 << (call - KERNEL_CALL)
        return self.kernel_call(com.SYS_PRIVCTL, endpoint=endpoint, request=request,
                                calls_lo=mask & 0xFFFFFFFF, calls_hi=mask >> 32).m_type

    def sys_kill(self, endpoint: int, sig: int) -> int:
        return self.kernel_call(com.SYS_KILL, endpoint=endpoint, sig=sig).m_type

    def sys_getksig(self) -> tuple[int, int]:
        m = self.kernel_call(com.SYS_GETKSIG)
        return m.endpoint, m.sigmap

    def sys_endksig(self, endpoint: int) -> int:
        return self.kernel_call(com.SYS_ENDKSIG, endpoint=endpoint).m_type

    def sys_vmctl(self, who: int, param: int, value: int = 0) -> int:
        return self.kernel_call(com.SYS_VMCTL, who=who, param=param, value=value).m_type

    def sys_vmctl_get(self, param: int) -> Message:
        """VMCTL_MEMREQ_GET: the whole reply."""
        return self.kernel_call(com.SYS_VMCTL, who=SELF, param=param)

    def sys_vircopy(self, src_ep: int, src_addr: int, dst_ep: int, dst_addr: int,
                    nbytes: int) -> int:
        return self.kernel_call(com.SYS_VIRCOPY, src_ep=src_ep, src_addr=src_addr, dst_ep=dst_ep,
                                dst_addr=dst_addr, bytes=nbytes).m_type

    def sys_physcopy(self, src_addr: int, dst_addr: int, nbytes: int) -> int:
        return self.kernel_call(com.SYS_PHYSCOPY, src_addr=src_addr, dst_addr=dst_addr,
                                bytes=nbytes).m_type

    def sys_memset(self, pattern: int, addr: int, nbytes: int, process: int = NONE) -> int:
        """Fill ``nbytes`` at ``addr``: physical memory, or ``process``'s memory."""
        return self.kernel_call(com.SYS_MEMSET, pattern=pattern, addr=addr, bytes=nbytes,
                                process=process).m_type

    def sys_umap(self, endpoint: int, addr: int, nbytes: int) -> tuple[int, int]:
        m = self.kernel_call(com.SYS_UMAP, endpoint=endpoint, addr=addr, bytes=nbytes)
        return m.m_type, m.phys

    def sys_setgrant(self, addr: int, entries: int) -> int:
        return self.kernel_call(com.SYS_SETGRANT, addr=addr, entries=entries).m_type

    def sys_safecopyfrom(self, granter: int, grant: int, offset: int, address: int,
                         nbytes: int) -> int:
        return self.kernel_call(com.SYS_SAFECOPYFROM, granter=granter, grant=grant,
                                offset=offset, address=address, bytes=nbytes).m_type

    def sys_safecopyto(self, granter: int, grant: int, offset: int, address: int,
                       nbytes: int) -> int:
        return self.kernel_call(com.SYS_SAFECOPYTO, granter=granter, grant=grant, offset=offset,
                                address=address, bytes=nbytes).m_type

    def sys_vsafecopy(self, vector: list[tuple[int, int, int, int, int, int]]) -> tuple[int, int]:
        """Vectored safecopy; returns (result, number of elements done). The
        vector goes through the static buffer, a chunk at a time."""
        done = 0
        while True:
            chunk = vector[done : done + _VEC_CHUNK]
            self.mem_write(self._static, b"".join(VSCP_VEC.pack(*v) for v in chunk))
            m = self.kernel_call(com.SYS_VSAFECOPY, vec_addr=self._static, vec_size=len(chunk))
            done += m.done
            if m.m_type != OK or done == len(vector):
                return m.m_type, done

    def sys_safemap(self, granter: int, grant: int, offset: int, address: int, nbytes: int,
                    writable: bool) -> int:
        return self.kernel_call(com.SYS_SAFEMAP, granter=granter, grant=grant, offset=offset,
                                address=address, bytes=nbytes, writable=int(writable)).m_type

    def sys_saferevmap_gid(self, grant: int) -> int:
        return self.kernel_call(com.SYS_SAFEREVMAP, flag=0, grant=grant).m_type

    def sys_saferevmap_addr(self, address: int) -> int:
        return self.kernel_call(com.SYS_SAFEREVMAP, flag=1, grant=-1, address=address).m_type

    def sys_safeunmap(self, address: int) -> int:
        return self.kernel_call(com.SYS_SAFEUNMAP, address=address).m_type

    def sys_getkinfo(self) -> KernelInfo:
        """struct kinfo, copied by the kernel into our static buffer."""
        m = self.kernel_call(com.SYS_GETINFO, request=GET_KINFO, val_ptr=self._static,
                             val_len=STATIC_SIZE)
        if m.m_type != OK:
            raise MinixError(m.m_type, "sys_getkinfo")
        return KernelInfo.unpack(self.mem_read(self._static, STATIC_SIZE))

    def sys_whoami(self) -> tuple[str, int, int]:
        """(name, endpoint, privilege flags), as the kernel knows them."""
        m = self.kernel_call(com.SYS_GETINFO, request=GET_WHOAMI)
        return m.who_name, m.who_endpoint, m.who_privflags

    def sys_times(self, endpoint: int = SELF) -> tuple[int, int, int]:
        """(user ticks, system ticks, uptime ticks)."""
        m = self.kernel_call(com.SYS_TIMES, endpoint=endpoint)
        return m.user_time, m.sys_time, m.uptime

    def sys_diagctl(self, text: str, code: int = DIAGCTL_CODE_DIAG, about: int = 0) -> int:
        """Show ``text`` on the console (or report it for the trace), a buffer at a time."""
        data = text.encode()
        r = OK
        for off in range(0, max(len(data), 1), STATIC_SIZE):
            chunk = data[off : off + STATIC_SIZE]
            self.mem_write(self._static, chunk)
            r = self.kernel_call(com.SYS_DIAGCTL, code=code, text_addr=self._static,
                                 text_len=len(chunk),
                                 about=about).m_type
            if r != OK:
                return r
        return r

    def sys_abort(self) -> int:
        return self.kernel_call(com.SYS_ABORT).m_type

    def trace(self, kind: str, about: int, text: str) -> None:
        """An event of ``kind`` about process ``about`` for the system trace."""
        line = f"{kind} {text}"
        if len(line) > STATIC_SIZE:
            raise ValueError("trace line too long")
        self.sys_diagctl(line, DIAGCTL_CODE_TRACE, about)

    # -- memory of this process -------------------------------------------------

    def mem_read(self, addr: int, n: int) -> bytes:
        """Load ``n`` bytes from this process's memory (may page-fault)."""
        return self.port.load(addr, n)

    def mem_write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        """Store into this process's memory (may page-fault)."""
        self.port.store(addr, data)

    def minix_mmap(self, length: int, flags: int = MAP_PREALLOC) -> int:
        """Anonymous read-write memory for this process: its address, or a
        negative errno (MINIX minix_mmap). Allocated now unless ``flags``
        says otherwise (0: demand-zero), so that a server or library using
        its buffer never faults on full memory: running out is this call's
        ENOMEM, an error the caller can answer with."""
        reply = self.vm_call(VM_MMAP, addr=0, len=length, prot=PROT_READ | PROT_WRITE,
                             flags=MAP_PRIVATE | MAP_ANON | flags, fd=-1, offset=0)
        return reply.retaddr if reply.m_type == OK else reply.m_type

    def scratch(self, nbytes: int) -> int:
        """The libraries' buffer in this process's memory (a DS key, an RS
        label on its way by grant), at least ``nbytes`` long: its address,
        or -errno. It is one call's: the next may move it."""
        return self._scratch.get(nbytes)

    def vm_call(self, m_type: int, **fields: Any) -> Message:
        """A request to VM (the reply's m_type is the result)."""
        return self.taskcall(VM_PROC_NR, m_type, **fields)

    # -- output and failure ------------------------------------------------------

    def crash_report(self, text: str) -> None:
        """Hand RS the text of this process's panic (RS keeps it for a
        service it started, and answers anyone else EPERM)."""
        data = text.encode()[:CRASH_TEXT_MAX]
        self.mem_write(self._static, data)
        grant = self.grants.cpf_grant_direct(RS_PROC_NR, self._static, len(data), CPF_READ)
        if grant >= 0:
            self.sendrec(RS_PROC_NR, RsCrashReport(RS_CRASH_REPORT, grant=grant,
                                                  length=len(data)))
            self.grants.cpf_revoke(grant)

    def sys_setalarm(self, ticks: int, absolute: bool = False) -> int:
        """Have CLOCK notify this process after ``ticks`` (or at uptime
        ``ticks``; 0 cancels); the ticks left on the previous alarm."""
        m = self.kernel_call(com.SYS_SETALARM, exp_time=ticks, abs_time=int(absolute))
        return m.m_type if m.m_type < 0 else m.exp_time

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
        stack = " ".join(frames[-8:])
        self.printf("syslib:panic.c: stacktrace: %s\n", stack)
        if endpoint in (PM_PROC_NR, VM_PROC_NR):
            self.sys_abort()
        self.crash_report(f"{fmt % args if args else fmt}\nstacktrace: {stack}")
        self.taskcall(PM_PROC_NR, PM_EXIT, status=1)
        raise MinixError(1, f"{name} could not exit after a panic")


class Scratch:
    """A buffer in a process's own memory that grows as asked (the old one is
    unmapped): a server's or library's room for one call's data."""

    def __init__(self, sys: SysLib) -> None:
        self.sys = sys
        self.addr = 0
        self.size = 0

    def get(self, nbytes: int) -> int:
        """The buffer, at least ``nbytes`` long: its address, or -errno (no
        memory: the old buffer stays)."""
        if self.size < nbytes:
            size = -(-nbytes // PAGE_SIZE) * PAGE_SIZE
            addr = self.sys.minix_mmap(size)
            if addr < 0:
                return addr
            if self.size:
                self.sys.vm_call(VM_MUNMAP, addr=self.addr, len=self.size)
            self.addr, self.size = addr, size
        return self.addr
