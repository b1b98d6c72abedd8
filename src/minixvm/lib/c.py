"""The libc of Python programs: a process handle with POSIX-like calls.

A Python program is a callable taking a ``Process``. Every call is a
message to a server (PM, VFS, VM) or a kernel trap, and ``proc.mem`` is
the process's own virtual memory as the CPU sees it: every load and store
goes through the MMU and may page-fault.

File calls pass names and data as the C library does: by address, in a
buffer the process maps in its own memory (VFS copies from and to it), in
the message slots of MINIX 3.2's libc (``include/vfs.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, overload

from minixvm.errors import EINVAL, OK, MinixError, check
from minixvm.include.arch import PY_DATA_BASE
from minixvm.include.com import PM_PROC_NR, VFS_PROC_NR, VM_PROC_NR
from minixvm.include.ipc import Message, msgname
from minixvm.include.pm import (
    PM_BRK,
    PM_EXEC,
    PM_EXIT,
    PM_FORK,
    PM_GETPID,
    PM_KILL,
    PM_REBOOT,
    PM_WAITPID,
    RBT_HALT,
)
from minixvm.include.stat import PREV_STAT_LAYOUT, STAT_LAYOUT, Stat, dirent_unpack
from minixvm.include.vfs import (
    CHDIR,
    CHMOD,
    CLOSE,
    CREAT,
    DUP,
    DUP_MASK,
    FCNTL,
    FSTAT,
    FTRUNCATE,
    GETDENTS,
    LINK,
    LSEEK,
    LSTAT,
    M3_STRING,
    MKDIR,
    O_CREAT,
    O_RDONLY,
    OPEN,
    PATH_MAX,
    PREV_FSTAT,
    PREV_LSTAT,
    PREV_STAT,
    RDLNK,
    READ,
    RENAME,
    RMDIR,
    SEEK_SET,
    STAT,
    STDOUT_FILENO,
    SYMLINK,
    SYNC,
    TRUNCATE,
    UNLINK,
    WRITE,
    VfsOpenCreat,
)
from minixvm.include.vm import (
    MAP_ANON,
    MAP_PRIVATE,
    PROT_READ,
    PROT_WRITE,
    VM_MMAP,
    VM_MPROTECT,
    VM_MUNMAP,
)
from minixvm.kernel.trap import Entry, TrapPort
from minixvm.lib.exec import build_frame
from minixvm.lib.sys import SysLib
from minixvm.machine.ram import PAGE_SIZE

Program = Callable[["Process"], Any]
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
        # The buffer names and data of file calls pass through (mapped on
        # first use, grown when a call needs more).
        self._buf = 0
        self._buf_size = 0

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
        self._brk, self._buf, self._buf_size = parent._brk, parent._buf, parent._buf_size
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

    def reboot(self, how: int = RBT_HALT) -> None:
        """Have every file system written back and unmounted (the machine
        stops when its System is closed)."""
        self._pm(PM_REBOOT, how=how)

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

    def mprotect(self, addr: int, length: int, prot: int) -> None:
        """Give the pages of [addr, addr+length) protection ``prot`` (PROT_*)."""
        self._call(VM_PROC_NR, VM_MPROTECT, addr=addr, len=length, prot=prot)

    def brk(self, addr: int) -> None:
        """Set the end of the heap."""
        self._brk = self._pm(PM_BRK, addr=addr).brk

    def sbrk(self, increment: int) -> int:
        """Move the end of the heap by ``increment``; the old end."""
        old = self._brk
        self.brk(old + increment)
        return old

    # -- files ------------------------------------------------------------------------

    def open(self, path: str, flags: int = O_RDONLY, mode: int = 0o666) -> int:
        """Open (with O_CREAT: create if need be, with ``mode``); the descriptor."""
        if flags & O_CREAT:
            # libc's m1 form: the m3 form has no slot left for the mode.
            raw = _cstr(path)
            (name,) = self._put(raw)
            m = VfsOpenCreat(OPEN, name_len=len(raw), flags=flags, mode=mode, name=name)
            return self._request(VFS_PROC_NR, m, path).m_type
        return self._vfs(OPEN, path, **self._name(path), flags=flags).m_type

    def creat(self, path: str, mode: int = 0o666) -> int:
        """Create (or truncate) ``path`` and open it for writing; the descriptor."""
        return self._vfs(CREAT, path, **self._name(path), mode=mode).m_type

    def close(self, fd: int) -> None:
        self._vfs(CLOSE, f"fd {fd}", fd=fd)

    def read(self, fd: int, n: int) -> bytes:
        """Up to ``n`` bytes from ``fd`` (fewer at the end of the file)."""
        (buf,) = self._put(n)
        got = self._vfs(READ, f"fd {fd}", fd=fd, nbytes=n, buffer=buf).m_type
        return self.mem[buf : buf + got]

    def write(self, data: bytes, fd: int = STDOUT_FILENO) -> int:
        """Write ``data`` to ``fd`` (standard output by default); bytes written."""
        (buf,) = self._put(data)
        return self._vfs(WRITE, f"fd {fd}", fd=fd, nbytes=len(data), buffer=buf).m_type

    def printf(self, fmt: str, *args: Any) -> int:
        """Format and write to standard output; the number of bytes written."""
        return self.write((fmt % args if args else fmt).encode())

    def lseek(self, fd: int, offset: int, whence: int = SEEK_SET) -> int:
        """Move ``fd``'s position; the new position."""
        return int(self._vfs(LSEEK, f"fd {fd}", fd=fd, offset=offset, whence=whence).offset)

    def stat(self, path: str) -> Stat:
        return Stat.unpack(self._stat(STAT, path, STAT_LAYOUT.size))

    def lstat(self, path: str) -> Stat:
        """stat of a symbolic link itself."""
        return Stat.unpack(self._stat(LSTAT, path, STAT_LAYOUT.size))

    def fstat(self, fd: int) -> Stat:
        return Stat.unpack(self._fstat(FSTAT, fd, STAT_LAYOUT.size))

    # The old libc's calls: a 36-byte struct minix_prev_stat, whose fields are
    # Stat's first eleven in Stat's order (no st_blksize, no st_blocks).

    def prev_stat(self, path: str) -> Stat:
        return Stat(*PREV_STAT_LAYOUT.unpack(self._stat(PREV_STAT, path, PREV_STAT_LAYOUT.size)))

    def prev_lstat(self, path: str) -> Stat:
        return Stat(*PREV_STAT_LAYOUT.unpack(self._stat(PREV_LSTAT, path,
                                                        PREV_STAT_LAYOUT.size)))

    def prev_fstat(self, fd: int) -> Stat:
        return Stat(*PREV_STAT_LAYOUT.unpack(self._fstat(PREV_FSTAT, fd, PREV_STAT_LAYOUT.size)))

    def _stat(self, call: int, path: str, size: int) -> bytes:
        """The ``size``-byte struct a stat call by name fills."""
        raw = _cstr(path)
        name, buf = self._put(raw, size)
        self._vfs(call, path, name_len=len(raw), name=name, buffer=buf)
        return self.mem[buf : buf + size]

    def _fstat(self, call: int, fd: int, size: int) -> bytes:
        """The ``size``-byte struct a stat call by descriptor fills."""
        (buf,) = self._put(size)
        self._vfs(call, f"fd {fd}", fd=fd, buffer=buf)
        return self.mem[buf : buf + size]

    def getdents(self, fd: int, nbytes: int = PAGE_SIZE) -> list[tuple[int, int, bytes]]:
        """The next directory records of ``fd`` that fit in ``nbytes``: (inode,
        position after the record, name); [] at the end."""
        (buf,) = self._put(nbytes)
        got = self._vfs(GETDENTS, f"fd {fd}", fd=fd, nbytes=nbytes, buffer=buf).m_type
        return dirent_unpack(self.mem[buf : buf + got])

    def listdir(self, path: str = ".") -> list[str]:
        """The names in directory ``path``, in directory order, without . and .."""
        fd = self.open(path)
        names: list[str] = []
        try:
            while records := self.getdents(fd):
                names += [name.decode() for _, _, name in records if name not in (b".", b"..")]
        finally:
            self.close(fd)
        return names

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        raw = _cstr(path)
        (name,) = self._put(raw)
        self._vfs(MKDIR, path, name_len=len(raw), mode=mode, name=name)

    def rmdir(self, path: str) -> None:
        self._vfs(RMDIR, path, **self._name(path))

    def unlink(self, path: str) -> None:
        self._vfs(UNLINK, path, **self._name(path))

    def chdir(self, path: str) -> None:
        self._vfs(CHDIR, path, **self._name(path))

    def chmod(self, path: str, mode: int) -> None:
        self._vfs(CHMOD, path, **self._name(path), mode=mode)

    def rename(self, old: str, new: str) -> None:
        self._two_names(RENAME, old, new)

    def link(self, old: str, new: str) -> None:
        """A new name ``new`` for the file ``old``."""
        self._two_names(LINK, old, new)

    def symlink(self, target: str, path: str) -> None:
        """A symbolic link at ``path`` whose contents are ``target``."""
        self._two_names(SYMLINK, target, path)

    def _two_names(self, call: int, name1: str, name2: str) -> None:
        raw1, raw2 = _cstr(name1), _cstr(name2)
        addr1, addr2 = self._put(raw1, raw2)
        self._vfs(call, f"{name1} {name2}", name1_len=len(raw1), name2_len=len(raw2),
                  name1=addr1, name2=addr2)

    def readlink(self, path: str) -> str:
        """The contents of the symbolic link ``path``."""
        raw = _cstr(path)
        name, buf = self._put(raw, PATH_MAX)
        got = self._vfs(RDLNK, path, name_len=len(raw), bufsize=PATH_MAX, name=name,
                        buffer=buf).m_type
        return self.mem[buf : buf + got].decode()

    def dup(self, fd: int) -> int:
        """A new descriptor (the lowest free) for ``fd``'s open file."""
        return self._vfs(DUP, f"fd {fd}", fd=fd).m_type

    def dup2(self, fd: int, fd2: int) -> int:
        """Make ``fd2`` a descriptor of ``fd``'s open file (closing it first); fd2."""
        return self._vfs(DUP, f"fd {fd}", fd=fd | DUP_MASK, fd2=fd2).m_type

    def fcntl(self, fd: int, cmd: int, arg: int = 0) -> int:
        """F_DUPFD (the lowest free descriptor >= ``arg``), F_GETFD/F_SETFD (the
        close-on-exec flag), F_GETFL/F_SETFL (the open flags)."""
        return self._vfs(FCNTL, f"fd {fd}", fd=fd, cmd=cmd, arg=arg).m_type

    def truncate(self, path: str, length: int) -> None:
        raw = _cstr(path)
        (name,) = self._put(raw)
        self._vfs(TRUNCATE, path, name_len=len(raw), length=length, name=name)

    def ftruncate(self, fd: int, length: int) -> None:
        self._vfs(FTRUNCATE, f"fd {fd}", fd=fd, length=length)

    def sync(self) -> None:
        """Write every file system's changes to its disk."""
        self._vfs(SYNC, "")

    def _name(self, path: str) -> dict[str, Any]:
        """The m3-form name fields of ``path``: its length, its address in the
        buffer and, if it is short enough, a copy in the message."""
        raw = _cstr(path)
        (addr,) = self._put(raw)
        fields: dict[str, Any] = {"name_len": len(raw), "name": addr}
        if len(raw) <= M3_STRING:
            fields["name_copy"] = raw[:-1].decode("latin-1")
        return fields

    def _put(self, *chunks: bytes | int) -> list[int]:
        """Lay ``chunks`` out one after the other (each 4-byte aligned) in the
        call buffer, storing the bytes ones (an int only reserves that much
        room); their addresses."""
        offsets, size = [], 0
        for chunk in chunks:
            offsets.append(size)
            size += (max(chunk if isinstance(chunk, int) else len(chunk), 0) + 3) & ~3
        if size > self._buf_size or not self._buf:
            if self._buf:
                self.munmap(self._buf, self._buf_size)
                self._buf = self._buf_size = 0
            new_size = max(PAGE_SIZE, (size + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE)
            self._buf = self.mmap(new_size)
            self._buf_size = new_size
        for offset, chunk in zip(offsets, chunks, strict=True):
            if not isinstance(chunk, int):
                self.mem[self._buf + offset : self._buf + offset + len(chunk)] = chunk
        return [self._buf + offset for offset in offsets]

    # -- plumbing -----------------------------------------------------------------------

    def _pm(self, call: int, **fields: int) -> Message:
        return self._call(PM_PROC_NR, call, "", **fields)

    def _vfs(self, call: int, about: str, **fields: Any) -> Message:
        """Request ``call`` of VFS; ``about`` (the names or descriptor it is on)
        goes into the error's message."""
        return self._call(VFS_PROC_NR, call, about, **fields)

    def _call(self, server: int, call: int, about: str = "", **fields: Any) -> Message:
        """Request ``call`` of ``server``: the reply, whose m_type is a result
        >= 0 (an error raises). An argument too wide for its field is EINVAL."""
        try:
            m = Message(call, **fields)
        except OverflowError:
            raise MinixError(EINVAL, _what(call, about)) from None
        return self._request(server, m, about)

    def _request(self, server: int, m: Message, about: str = "") -> Message:
        """Send ``m`` to ``server``; the reply (an IPC failure or an error
        result raises MinixError)."""
        r, reply = self.sys.sendrec(server, m)
        if r != OK or reply is None:
            raise MinixError(r, _what(m.m_type, about))
        check(reply.m_type, _what(m.m_type, about))
        return reply


def _what(call: int, about: str) -> str:
    """How an error names the call that failed: ``OPEN /etc/motd``."""
    return f"{msgname(call)} {about}" if about else msgname(call)


def _cstr(path: str) -> bytes:
    """``path`` as a C string (its NUL included)."""
    return path.encode() + b"\0"


def _int32(value: int) -> int:
    """``value`` converted to a C int, as a call's argument is."""
    return (value + 2**31) % 2**32 - 2**31


def execve(sys: SysLib, path: str, argv: Sequence[str], envp: Sequence[str]) -> int:
    """libc's execve: EXEC with the path and the initial stack frame in a
    mapping of this process, given back if exec fails. Returns only on
    failure: -errno (exec's, or the unmapping's if that failed too)."""
    raw, frame = path.encode() + b"\0", build_frame(argv, envp)
    size = len(raw) + len(frame)
    buf = sys.minix_mmap(size)
    if buf < 0:
        return buf
    sys.mem_write(buf, raw + frame)
    r = sys.taskcall(PM_PROC_NR, PM_EXEC, path_len=len(raw), frame_len=len(frame), path=buf,
                     frame=buf + len(raw)).m_type
    unmapped = sys.vm_call(VM_MUNMAP, addr=buf, len=size).m_type
    return r if unmapped == OK else unmapped


def program_entry(program: Program, report: Callable[[int, BaseException], None]) -> Entry:
    """The entry point that starts ``program`` in a freshly exec'ed process."""

    def entry(port: TrapPort) -> None:
        Process(SysLib(port), report).run(program)

    return entry
