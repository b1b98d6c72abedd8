"""The libc of Python programs: a process handle with POSIX-like calls.

A Python program is a callable taking a ``Process``. Every call is a
message to a server (PM, VM, the console) or a kernel trap, and
``proc.mem`` is the process's own virtual memory as the CPU sees it:
every load and store goes through the MMU and may page-fault.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, overload

from minixvm.errors import EINVAL, MinixError, check
from minixvm.include.arch import PY_DATA_BASE
from minixvm.include.com import PM_PROC_NR, TTY_PROC_NR, VM_PROC_NR
from minixvm.include.dev import DEV_WRITE
from minixvm.include.grant import CPF_READ
from minixvm.include.ipc import Message, msgname
from minixvm.include.pm import (
    PM_BRK,
    PM_EXEC,
    PM_EXIT,
    PM_FORK,
    PM_GETPID,
    PM_KILL,
    PM_WAITPID,
)
from minixvm.include.vm import (
    MAP_ANON,
    MAP_PRIVATE,
    PROT_READ,
    PROT_WRITE,
    VM_MMAP,
    VM_MUNMAP,
)
from minixvm.kernel.trap import Entry, TrapPort
from minixvm.lib.exec import build_frame
from minixvm.lib.sys import SysLib
from minixvm.machine.ram import PAGE_SIZE

Program = Callable[["Process"], Any]
STDIO_BUF = PAGE_SIZE
NAME_MAX = 15  # a program name's characters (PROC_NAME_LEN - 1)


class Memory:
    """``proc.mem[a:b]`` reads, ``proc.mem[a:b] = data`` writes, ``proc.mem[a]``
    is one byte: all through the MMU, as the program's own loads and stores."""

    def __init__(self, sys: SysLib) -> None:
        self._sys = sys

    @overload
    def __getitem__(self, key: int) -> int: ...
    @overload
    def __getitem__(self, key: slice) -> bytes: ...

    def __getitem__(self, key: int | slice) -> int | bytes:
        if isinstance(key, int):
            return self._sys.mem_read(key, 1)[0]
        start, stop = _bounds(key)
        return self._sys.mem_read(start, stop - start)

    def __setitem__(self, key: int | slice, value: int | bytes | bytearray | memoryview) -> None:
        if isinstance(key, int):
            assert isinstance(value, int)
            self._sys.mem_write(key, bytes([value]))
            return
        start, stop = _bounds(key)
        if isinstance(value, int):
            raise TypeError("a memory slice takes bytes, not an int")
        data = memoryview(value).cast("B")
        if len(data) != stop - start:
            raise ValueError(f"writing {len(data)} bytes into a {stop - start}-byte slice")
        self._sys.mem_write(start, data)

    def read_u32(self, addr: int) -> int:
        return int.from_bytes(self._sys.mem_read(addr, 4), "little")

    def write_u32(self, addr: int, value: int) -> None:
        self._sys.mem_write(addr, (value & 0xFFFFFFFF).to_bytes(4, "little"))


def _bounds(key: slice) -> tuple[int, int]:
    if key.step not in (None, 1) or key.start is None or key.stop is None or key.stop < key.start:
        raise ValueError("memory slices need a start and a stop, step 1")
    return key.start, key.stop


class Process:
    """What a Python program holds: its own process."""

    def __init__(self, sys: SysLib, report: Callable[[int, BaseException], None]) -> None:
        self.sys = sys
        self.mem = Memory(sys)
        self._report = report
        self._pid = 0
        self._brk = PY_DATA_BASE + PAGE_SIZE
        self._stdio = 0
        self._stdio_grant = -1

    # -- identity ---------------------------------------------------------------------

    @property
    def endpoint(self) -> int:
        return self.sys.endpoint

    @property
    def name(self) -> str:
        """The program's name: at the start of its static data page."""
        raw = self.sys.mem_read(self.sys.data_base, NAME_MAX + 1)
        return raw.split(b"\0", 1)[0].decode("latin-1")

    def getpid(self) -> int:
        if not self._pid:
            self._pid = self._pm(PM_GETPID).m_type
        return self._pid

    def getppid(self) -> int:
        return int(self._pm(PM_GETPID).ppid)

    # -- processes ----------------------------------------------------------------------

    def fork(self, child: Program) -> int:
        """Fork; the child runs ``child(its Process)`` in a copy-on-write copy of
        this address space and exits with its result. Returns the child's pid."""
        parent = self

        def child_entry(port: TrapPort) -> None:
            Process(SysLib(port), parent._report)._inherit(parent).run(child)

        self.sys.set_fork_entry(child_entry)
        return self._pm(PM_FORK).m_type

    def _inherit(self, parent: Process) -> Process:
        """Take over the libc state a forked child has in its copied memory."""
        self.sys.grants = parent.sys.grants.clone_for(self.sys)
        self._brk, self._stdio, self._stdio_grant = parent._brk, parent._stdio, parent._stdio_grant
        return self

    def execve(self, path: str, argv: Sequence[str] = (), env: Sequence[str] = ()) -> NoReturn:
        """Replace this program by the one at ``path`` (an ELF file installed in
        the system, or a Python program image); returns only by raising the
        reason it failed."""
        raise MinixError(execve(self.sys, path, argv, env), f"execve {path}")

    def exit(self, status: int = 0) -> NoReturn:
        """End this process with ``status``; never returns."""
        # C's exit(int): the status as a 32-bit int (PM keeps the low 8 bits).
        self.sys.taskcall(PM_PROC_NR, PM_EXIT, status=_int32(status))
        raise AssertionError("exit returned")

    def waitpid(self, pid: int = -1, options: int = 0) -> tuple[int, int]:
        """Wait for a child (any with -1): (pid, POSIX wait status)."""
        reply = self._pm(PM_WAITPID, pid=pid, options=options)
        return reply.m_type, reply.status

    def wait(self) -> tuple[int, int]:
        return self.waitpid(-1)

    def kill(self, pid: int, sig: int) -> None:
        self._pm(PM_KILL, pid=pid, sig=sig)

    def sched_yield(self) -> None:
        """Let the other runnable processes run."""
        self.sys.yield_cpu()

    def run(self, program: Program) -> NoReturn:
        """Run ``program`` and exit with its result (an int, or 0)."""
        try:
            result = program(self)
        except Exception as e:  # noqa: BLE001 - a program's bug must not take down the system
            self._crash(e)
        self.exit(result if isinstance(result, int) else 0)

    def _crash(self, e: BaseException) -> NoReturn:
        self._report(self.getpid(), e)
        with contextlib.suppress(MinixError):
            self.printf("%s: uncaught %s: %s\n", self.name, type(e).__name__, e)
        self.exit(1)

    # -- memory -------------------------------------------------------------------------

    def mmap(self, length: int, prot: int = PROT_READ | PROT_WRITE,
             flags: int = MAP_PRIVATE | MAP_ANON, addr: int = 0, fd: int = -1,
             offset: int = 0) -> int:
        """Map anonymous memory; its address."""
        reply = self._call(VM_PROC_NR, VM_MMAP, addr=addr, len=length, prot=prot, flags=flags,
                           fd=fd, offset=offset)
        return reply.retaddr

    def munmap(self, addr: int, length: int) -> None:
        self._call(VM_PROC_NR, VM_MUNMAP, addr=addr, len=length)

    def brk(self, addr: int) -> None:
        """Set the end of the heap."""
        self._brk = self._pm(PM_BRK, addr=addr).brk

    def sbrk(self, increment: int) -> int:
        """Move the end of the heap by ``increment``; the old end."""
        old = self._brk
        self.brk(old + increment)
        return old

    # -- output -------------------------------------------------------------------------

    def printf(self, fmt: str, *args: Any) -> int:
        """Format and write to the console; the number of bytes written."""
        return self.write((fmt % args if args else fmt).encode())

    def write(self, data: bytes) -> int:
        """Write bytes to the console through a grant on a buffer in our memory."""
        if not self._stdio:
            self._stdio = self.mmap(STDIO_BUF)
            self._stdio_grant = check(self.sys.grants.cpf_grant_direct(
                TTY_PROC_NR, self._stdio, STDIO_BUF, CPF_READ), "write")
        done = 0
        while done < len(data):
            chunk = data[done : done + STDIO_BUF]
            self.mem[self._stdio : self._stdio + len(chunk)] = chunk
            reply = self._call(TTY_PROC_NR, DEV_WRITE, grant=self._stdio_grant,
                               count=len(chunk))
            done += reply.m_type
        return done

    # -- plumbing -----------------------------------------------------------------------

    def _pm(self, call: int, **fields: int) -> Message:
        return self._call(PM_PROC_NR, call, **fields)

    def _call(self, server: int, call: int, **fields: int) -> Message:
        """Request ``call`` of ``server``: the reply, whose m_type is a result
        >= 0 (an error raises). An argument too wide for its field is EINVAL."""
        try:
            reply = self.sys.taskcall(server, call, **fields)
        except OverflowError:
            raise MinixError(EINVAL, msgname(call)) from None
        check(reply.m_type, msgname(call))
        return reply


def _int32(value: int) -> int:
    """``value`` converted to a C int, as a call's argument is."""
    return (value + 2**31) % 2**32 - 2**31


def execve(sys: SysLib, path: str, argv: Sequence[str], envp: Sequence[str]) -> int:
    """libc's execve: EXEC with the path and the initial stack frame in a
    mapping of this process, given back if exec fails. Returns only on
    failure: -errno."""
    raw, frame = path.encode() + b"\0", build_frame(argv, envp)
    size = len(raw) + len(frame)
    buf = sys.minix_mmap(size)
    if buf < 0:
        return buf
    sys.mem_write(buf, raw + frame)
    r = sys.taskcall(PM_PROC_NR, PM_EXEC, path_len=len(raw), frame_len=len(frame), path=buf,
                     frame=buf + len(raw)).m_type
    sys.vm_call(VM_MUNMAP, addr=buf, len=size)
    return r


def program_entry(program: Program, report: Callable[[int, BaseException], None]) -> Entry:
    """The entry point that starts ``program`` in a freshly exec'ed process."""

    def entry(port: TrapPort) -> None:
        Process(SysLib(port), report).run(program)

    return entry
