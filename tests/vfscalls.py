"""The file calls as messages to VFS, the way libc sends them, for the VFS
tests: each raises MinixError on failure, as the Python libc does.

Names and data go through a buffer mapped in the calling process, so VFS
and the file server reach them as they reach a C program's.
"""

from __future__ import annotations

from minixvm.errors import MinixError
from minixvm.include import vfs as V
from minixvm.include.com import VFS_PROC_NR
from minixvm.include.ipc import Message, msgname
from minixvm.include.stat import PREV_STAT_LAYOUT, STAT_LAYOUT, Stat, dirent_unpack
from minixvm.lib.c import Process

BUF_SIZE = 1 << 16
NAME1, NAME2, STATBUF, DATA = 0, 0x400, 0x800, 0x1000
DATA_MAX = BUF_SIZE - DATA


class Files:
    """File calls of process ``p``."""

    def __init__(self, p: Process) -> None:
        self.p = p
        self.sys = p.sys
        self.buf = p.mmap(BUF_SIZE)

    def send(self, m: Message) -> Message:
        """Send ``m`` to VFS: the reply (an error raises)."""
        r, reply = self.sys.sendrec(VFS_PROC_NR, m)
        assert reply is not None
        if r < 0 or reply.m_type < 0:
            raise MinixError(r if r < 0 else reply.m_type, msgname(m.m_type))
        return reply

    def call(self, call: int, **fields: int) -> Message:
        return self.send(Message(call, **fields))

    def name(self, path: str | bytes, where: int = NAME1) -> tuple[int, int]:
        """``path`` and its NUL in the buffer: (address, length)."""
        raw = (path.encode() if isinstance(path, str) else path) + b"\0"
        self.sys.mem_write(self.buf + where, raw)
        return self.buf + where, len(raw)

    def m3(self, call: int, path: str, flags: int = 0) -> int:
        """A call in libc's m3 form (a short name rides in the message)."""
        addr, n = self.name(path)
        m = V.VfsName(call, name_len=n, flags=flags, name=addr)
        if n <= V.M3_STRING:
            m.name_copy = path
        return int(self.send(m).m_type)

    def open(self, path: str, flags: int = V.O_RDONLY, mode: int = 0) -> int:
        if not flags & V.O_CREAT:
            return self.m3(V.OPEN, path, flags)
        addr, n = self.name(path)
        return int(self.send(V.VfsOpenCreat(V.OPEN, name_len=n, flags=flags, mode=mode,
                                            name=addr)).m_type)

    def creat(self, path: str, mode: int = 0o644) -> int:
        return self.m3(V.CREAT, path, mode)

    def close(self, fd: int) -> None:
        self.call(V.CLOSE, fd=fd)

    def read(self, fd: int, n: int) -> bytes:
        got = self.read_into(fd, self.buf + DATA, min(n, DATA_MAX))
        return self.sys.mem_read(self.buf + DATA, got)

    def read_into(self, fd: int, addr: int, n: int) -> int:
        return int(self.call(V.READ, fd=fd, nbytes=n, buffer=addr).m_type)

    def write(self, fd: int, data: bytes) -> int:
        done = 0
        while done < len(data):
            chunk = data[done : done + DATA_MAX]
            self.sys.mem_write(self.buf + DATA, chunk)
            done += self.call(V.WRITE, fd=fd, nbytes=len(chunk), buffer=self.buf + DATA).m_type
        return done

    def lseek(self, fd: int, offset: int, whence: int = V.SEEK_SET) -> int:
        return int(self.call(V.LSEEK, fd=fd, offset=offset, whence=whence).offset)

    def stat(self, path: str, call: int = V.STAT) -> Stat:
        addr, n = self.name(path)
        self.call(call, name_len=n, name=addr, buffer=self.buf + STATBUF)
        return Stat.unpack(self.sys.mem_read(self.buf + STATBUF, STAT_LAYOUT.size))

    def lstat(self, path: str) -> Stat:
        return self.stat(path, V.LSTAT)

    def fstat(self, fd: int, call: int = V.FSTAT) -> Stat:
        self.call(call, fd=fd, buffer=self.buf + STATBUF)
        return Stat.unpack(self.sys.mem_read(self.buf + STATBUF, STAT_LAYOUT.size))

    def prev_stat(self, path: str, call: int = V.PREV_STAT) -> bytes:
        """The 36-byte minix_prev_stat (the bytes after it untouched)."""
        addr, n = self.name(path)
        self.sys.mem_write(self.buf + STATBUF, b"\xee" * 64)
        self.call(call, name_len=n, name=addr, buffer=self.buf + STATBUF)
        return self.sys.mem_read(self.buf + STATBUF, 64)

    def prev_fstat(self, fd: int) -> bytes:
        self.sys.mem_write(self.buf + STATBUF, b"\xee" * 64)
        self.call(V.PREV_FSTAT, fd=fd, buffer=self.buf + STATBUF)
        return self.sys.mem_read(self.buf + STATBUF, PREV_STAT_LAYOUT.size)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        addr, n = self.name(path)
        self.call(V.MKDIR, name_len=n, mode=mode, name=addr)

    def mknod(self, path: str, mode: int, dev: int) -> None:
        addr, n = self.name(path)
        self.call(V.MKNOD, name_len=n, mode=mode, dev=dev, name=addr)

    def unlink(self, path: str) -> None:
        self.m3(V.UNLINK, path)

    def rmdir(self, path: str) -> None:
        self.m3(V.RMDIR, path)

    def chdir(self, path: str) -> None:
        self.m3(V.CHDIR, path)

    def chmod(self, path: str, mode: int) -> None:
        self.m3(V.CHMOD, path, mode)

    def two(self, call: int, name1: str, name2: str) -> None:
        a1, n1 = self.name(name1)
        a2, n2 = self.name(name2, NAME2)
        self.call(call, name1_len=n1, name2_len=n2, name1=a1, name2=a2)

    def rename(self, old: str, new: str) -> None:
        self.two(V.RENAME, old, new)

    def link(self, old: str, new: str) -> None:
        self.two(V.LINK, old, new)

    def symlink(self, target: str, path: str) -> None:
        self.two(V.SYMLINK, target, path)

    def readlink(self, path: str, size: int = 255) -> bytes:
        addr, n = self.name(path)
        got = self.call(V.RDLNK, name_len=n, name=addr, bufsize=size,
                        buffer=self.buf + DATA).m_type
        return self.sys.mem_read(self.buf + DATA, got)

    def dup(self, fd: int) -> int:
        return int(self.call(V.DUP, fd=fd).m_type)

    def dup2(self, fd: int, fd2: int) -> int:
        return int(self.call(V.DUP, fd=fd | V.DUP_MASK, fd2=fd2).m_type)

    def fcntl(self, fd: int, cmd: int, arg: int = 0) -> int:
        return int(self.call(V.FCNTL, fd=fd, cmd=cmd, arg=arg).m_type)

    def getdents(self, fd: int, n: int = 4096) -> list[tuple[int, int, bytes]]:
        got = self.call(V.GETDENTS, fd=fd, nbytes=n, buffer=self.buf + DATA).m_type
        return dirent_unpack(self.sys.mem_read(self.buf + DATA, got))

    def listdir(self, path: str) -> list[str]:
        fd = self.open(path)
        names: list[str] = []
        while entries := self.getdents(fd):
            names += [name.decode() for _, _, name in entries]
        self.close(fd)
        return names

    def truncate(self, path: str, length: int) -> None:
        addr, n = self.name(path)
        self.call(V.TRUNCATE, name_len=n, length=length, name=addr)

    def ftruncate(self, fd: int, length: int) -> None:
        self.call(V.FTRUNCATE, fd=fd, length=length)

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        fd = self.open(path, V.O_WRONLY | V.O_CREAT | V.O_TRUNC, mode)
        self.write(fd, data)
        self.close(fd)

    def read_file(self, path: str) -> bytes:
        fd = self.open(path)
        out = b""
        while chunk := self.read(fd, DATA_MAX):
            out += chunk
        self.close(fd)
        return out
