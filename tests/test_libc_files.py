"""The file calls of the Python libc (``Process.open`` ... ``sync``) on a
MINIX file system: what they return, and the errno a failure raises.
Standard output goes through VFS (descriptor 1), with or without a disk.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from fsutil import booted, errno_of, run

from minixvm import MinixError, System
from minixvm.errors import (
    EACCES,
    EBADF,
    EEXIST,
    EINVAL,
    EISDIR,
    ENAMETOOLONG,
    ENOENT,
    ENOTDIR,
    ENOTEMPTY,
    EPERM,
    OK,
)
from minixvm.include.ipc import Message
from minixvm.include.signal import WEXITSTATUS
from minixvm.include.vfs import (
    F_DUPFD,
    F_GETFD,
    F_GETFL,
    F_SETFD,
    F_SETFL,
    FD_CLOEXEC,
    O_APPEND,
    O_CREAT,
    O_EXCL,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    S_IFDIR,
    S_IFLNK,
    S_IFMT,
    S_IFREG,
    SEEK_CUR,
    SEEK_END,
)
from minixvm.include.vm import VM_MMAP
from minixvm.lib.c import Process
from minixvm.lib.sys import SysLib

HELLO = Path(__file__).resolve().parent.parent / "userland" / "bin" / "hello"


@pytest.fixture
def system() -> Iterator[System]:
    yield from booted()


def write_file(p: Process, path: str, data: bytes, mode: int = 0o644) -> None:
    fd = p.open(path, O_WRONLY | O_CREAT, mode)
    assert p.write(data, fd) == len(data)
    p.close(fd)


def read_file(p: Process, path: str) -> bytes:
    fd = p.open(path)
    data = p.read(fd, 1 << 20)
    p.close(fd)
    return data


# -- the messages libc sends (no system: a recording stand-in for the kernel) ---------


class Recorder:
    """What a Process's calls send: each message's bytes, by destination. VM
    maps memory for the call buffer; every other request answers
    ``result``."""

    BASE = 0x2000_0000

    def __init__(self, result: int = OK, ipc_status: int = OK) -> None:
        self.memory = bytearray(1 << 20)
        self.mapped = 0
        self.result, self.ipc_status = result, ipc_status
        self.sent: list[tuple[int, bytes]] = []

    def mem_read(self, addr: int, n: int) -> bytes:
        return bytes(self.memory[addr - self.BASE : addr - self.BASE + n])

    def mem_write(self, addr: int, data: bytes | memoryview) -> None:
        self.memory[addr - self.BASE : addr - self.BASE + len(data)] = data

    def sendrec(self, dst: int, m: Message) -> tuple[int, Message | None]:
        reply = bytearray(m.buf)
        if m.m_type == VM_MMAP:
            struct.pack_into("<i", reply, 4, OK)
            struct.pack_into("<I", reply, 20, self.BASE + self.mapped)  # m5_l1
            self.mapped += struct.unpack_from("<I", m.buf, 24)[0]  # m5_l2
            return OK, m.reply_view(reply)
        self.sent.append((dst, bytes(m.buf)))
        struct.pack_into("<i", reply, 4, self.result)
        return self.ipc_status, m.reply_view(reply)

    def last(self) -> tuple[int, ...]:
        """The last request: m_type and the seven 32-bit words after it."""
        return struct.unpack_from("<i7I", self.sent[-1][1], 4)

    def string(self, addr: int) -> bytes:
        """The NUL-terminated string at ``addr``, its NUL included."""
        data = self.mem_read(addr, 4096)
        return data[: data.index(0) + 1]


def recording(result: int = OK, ipc_status: int = OK) -> tuple[Process, Recorder]:
    rec = Recorder(result, ipc_status)
    return Process(cast(SysLib, rec), lambda pid, e: None), rec


def test_open_without_o_creat_is_the_m3_form_with_the_name_copied() -> None:
    p, rec = recording(result=3)
    assert p.open("/etc/motd", O_RDWR) == 3
    m_type, length, flags, name, *_ = rec.last()
    assert (rec.sent[-1][0], m_type, length, flags) == (1, 5, len("/etc/motd") + 1, O_RDWR)
    assert rec.string(name) == b"/etc/motd\0"
    assert rec.sent[-1][1][20:36] == b"/etc/motd".ljust(16, b"\0")  # m3_ca1


def test_a_name_of_16_bytes_or_more_is_not_copied_into_the_message() -> None:
    p, rec = recording()
    p.unlink("/fifteen-chars-x")
    m_type, length, _, name, *_ = rec.last()
    assert (m_type, length) == (10, 17)
    assert rec.string(name) == b"/fifteen-chars-x\0"
    assert rec.sent[-1][1][20:36] == bytes(16)


def test_open_with_o_creat_is_the_m1_form_with_the_mode() -> None:
    p, rec = recording(result=4)
    assert p.open("/tmp/new", O_WRONLY | O_CREAT, 0o640) == 4
    m_type, length, flags, mode, name, *_ = rec.last()
    assert (m_type, length, flags, mode) == (5, 9, O_WRONLY | O_CREAT, 0o640)
    assert rec.string(name) == b"/tmp/new\0"


def test_creat_mkdir_and_the_two_name_calls() -> None:
    p, rec = recording()
    p.creat("/f", 0o600)
    assert rec.last()[:3] == (8, 3, 0o600)
    p.mkdir("/d", 0o750)
    m_type, length, mode, _, name, *_ = rec.last()
    assert (m_type, length, mode, rec.string(name)) == (39, 3, 0o750, b"/d\0")
    for call, number in ((p.link, 9), (p.rename, 38), (p.symlink, 45)):
        call("/old-name", "/new")
        m_type, len1, len2, _, name1, name2, *_ = rec.last()
        assert (m_type, len1, len2) == (number, 10, 5)
        assert (rec.string(name1), rec.string(name2)) == (b"/old-name\0", b"/new\0")


def test_descriptor_calls() -> None:
    p, rec = recording()
    p.close(5)
    assert rec.last()[:2] == (6, 5)
    p.dup(3)
    assert rec.last()[:2] == (41, 3)
    p.dup2(3, 9)
    assert rec.last()[:3] == (41, 3 | 0o100, 9)  # DUP_MASK
    p.fcntl(3, F_SETFL, O_APPEND)
    assert rec.last()[:4] == (55, 3, F_SETFL, O_APPEND)
    p.lseek(3, 100, SEEK_END)
    m_type, fd, whence, _, offset, *_ = rec.last()
    assert (m_type, fd, whence, offset) == (19, 3, SEEK_END, 100)  # m2_i1, m2_i2, m2_l1
    p.ftruncate(3, 77)
    m_type, fd, _, _, length, *_ = rec.last()
    assert (m_type, fd, length) == (94, 3, 77)
    p.sync()
    assert rec.last()[0] == 36


def test_data_and_structs_go_by_address_in_the_process() -> None:
    p, rec = recording()
    p.write(b"some bytes", 4)
    m_type, fd, nbytes, _, buf, *_ = rec.last()
    assert (m_type, fd, nbytes, rec.mem_read(buf, 10)) == (4, 4, 10, b"some bytes")
    p.read(4, 300)
    assert rec.last()[:3] == (3, 4, 300)
    p.stat("/x")
    m_type, length, _, _, name, statbuf, *_ = rec.last()
    assert (m_type, length, rec.string(name)) == (51, 3, b"/x\0")
    assert statbuf != name
    p.prev_lstat("/x")
    assert rec.last()[:2] == (50, 3)
    p.fstat(7)
    m_type, fd, _, _, statbuf, *_ = rec.last()
    assert (m_type, fd) == (52, 7) and statbuf != 0
    p.getdents(7, 512)
    assert rec.last()[:3] == (80, 7, 512)
    p.readlink("/l")
    m_type, length, bufsize, _, name, buf, *_ = rec.last()
    assert (m_type, length, bufsize, rec.string(name)) == (49, 3, 255, b"/l\0")
    assert buf not in (0, name)
    p.truncate("/x", 12)
    m_type, length, _, _, size, _, name, _ = rec.last()  # m2_i1, m2_l1, m2_p1
    assert (m_type, length, size, rec.string(name)) == (93, 3, 12, b"/x\0")


def test_an_error_reply_names_the_call_and_its_file() -> None:
    p, _ = recording(result=-ENOENT)
    with pytest.raises(MinixError, match="OPEN /missing: ENOENT") as e:
        p.open("/missing")
    assert e.value.errno == ENOENT
    with pytest.raises(MinixError, match="READ fd 7: ENOENT"):
        p.read(7, 1)


def test_a_failed_trap_raises_too() -> None:
    p, _ = recording(ipc_status=-EBADF)
    assert errno_of(lambda: p.close(0)) == EBADF


# -- standard output ------------------------------------------------------------------


def test_printf_and_write_reach_the_console_through_vfs() -> None:
    with System.boot(ram="32M") as system:
        def body(p: Process) -> tuple[int, int]:
            return p.printf("%d apples\n", 3), p.write(b"to stderr\n", 2)

        assert run(system, body) == (len("3 apples\n"), len("to stderr\n"))
        assert system.console.text.endswith("3 apples\nto stderr\n")
        assert run(system, lambda p: errno_of(lambda: p.write(b"x", 9))) == EBADF


def test_a_write_bigger_than_a_page_arrives_whole() -> None:
    text = "".join(f"line {i}\n" for i in range(2000))
    with System.boot(ram="32M") as system:
        assert run(system, lambda p: p.write(text.encode())) == len(text)
        assert system.console.text.endswith(text)


# -- files ----------------------------------------------------------------------------


def test_write_seek_read_back(system: System) -> None:
    def body(p: Process) -> Any:
        fd = p.open("/f", O_RDWR | O_CREAT | O_EXCL, 0o640)
        written = p.write(b"hello, file system", fd)
        ends = p.lseek(fd, 0, SEEK_END), p.lseek(fd, -6, SEEK_CUR)
        tail = p.read(fd, 100)
        p.lseek(fd, 0)
        whole = p.read(fd, 100), p.read(fd, 100)
        st = p.fstat(fd)
        p.close(fd)
        return written, ends, tail, whole, st

    written, ends, tail, whole, st = run(system, body)
    assert written == 18 and ends == (18, 12)
    assert tail == b"system"
    assert whole == (b"hello, file system", b"")
    assert (st.st_mode, st.st_nlink, st.st_size) == (S_IFREG | 0o640, 1, 18)


def test_creat_truncates_and_o_excl_refuses(system: System) -> None:
    def body(p: Process) -> Any:
        write_file(p, "/f", b"long old contents")
        fd = p.creat("/f", 0o600)
        p.write(b"new", fd)
        p.close(fd)
        return read_file(p, "/f"), errno_of(lambda: p.open("/f", O_CREAT | O_EXCL | O_WRONLY))

    assert run(system, body) == (b"new", EEXIST)


def test_stat_lstat_and_fstat_agree(system: System) -> None:
    def body(p: Process) -> Any:
        write_file(p, "/f", b"x" * 3000)
        fd = p.open("/f")
        both = p.stat("/f"), p.lstat("/f"), p.fstat(fd)
        p.close(fd)
        return both

    st, lst, fst = run(system, body)
    assert st == lst == fst
    assert st.st_size == 3000 and st.st_ino > 1 and st.st_blksize == 1024


def test_the_old_stat_calls_give_the_same_values(system: System) -> None:
    def body(p: Process) -> Any:
        write_file(p, "/f", b"y" * 700, 0o604)
        p.symlink("f", "/l")
        fd = p.open("/f")
        pairs = [(p.stat("/f"), p.prev_stat("/f")), (p.lstat("/l"), p.prev_lstat("/l")),
                 (p.fstat(fd), p.prev_fstat(fd))]
        p.close(fd)
        return pairs

    for new, old in run(system, body):
        assert old == replace(new, st_blksize=0, st_blocks=0)
        assert old.st_blksize == 0 and new.st_blksize == 1024


def test_truncate_and_ftruncate(system: System) -> None:
    def body(p: Process) -> Any:
        write_file(p, "/f", b"abcdefgh")
        p.truncate("/f", 3)
        short = read_file(p, "/f")
        fd = p.open("/f", O_RDWR)
        p.ftruncate(fd, 6)
        p.close(fd)
        return short, read_file(p, "/f")

    assert run(system, body) == (b"abc", b"abc\0\0\0")


def test_file_errors(system: System) -> None:
    def body(p: Process) -> list[int]:
        write_file(p, "/f", b"data")
        return [
            errno_of(lambda: p.open("/missing")),
            errno_of(lambda: p.open("/f/below")),
            errno_of(lambda: p.open("/" + "n" * 61)),
            errno_of(lambda: p.open("/", O_WRONLY)),
            errno_of(lambda: p.close(17)),
            errno_of(lambda: p.read(17, 1)),
            errno_of(lambda: p.stat("/missing")),
            errno_of(lambda: p.truncate("/missing", 0)),
        ]

    assert run(system, body) == [ENOENT, ENOTDIR, ENAMETOOLONG, EISDIR, EBADF, EBADF, ENOENT,
                                 ENOENT]


# -- directories and names --------------------------------------------------------------


def test_mkdir_listdir_rmdir(system: System) -> None:
    def body(p: Process) -> Any:
        p.mkdir("/d", 0o750)
        write_file(p, "/d/a", b"1")
        p.mkdir("/d/sub")
        names = p.listdir("/d")
        st = p.stat("/d")
        errors = [errno_of(lambda: p.mkdir("/d")), errno_of(lambda: p.rmdir("/d")),
                  errno_of(lambda: p.rmdir("/nothing")), errno_of(lambda: p.unlink("/d/sub"))]
        p.unlink("/d/a")
        p.rmdir("/d/sub")
        p.rmdir("/d")
        return names, st, errors, errno_of(lambda: p.stat("/d"))

    names, st, errors, gone = run(system, body)
    assert names == ["a", "sub"]
    assert st.st_mode == S_IFDIR | 0o750 and st.st_nlink == 3  # ., its name, sub's ..
    assert errors == [EEXIST, ENOTEMPTY, ENOENT, EPERM]
    assert gone == ENOENT


def test_getdents_gives_dot_dotdot_and_inode_numbers(system: System) -> None:
    def body(p: Process) -> Any:
        p.mkdir("/d")
        write_file(p, "/d/file", b"")
        fd = p.open("/d")
        records = p.getdents(fd)
        rest = p.getdents(fd)
        too_small = errno_of(lambda: p.getdents(p.open("/d"), 4))
        return records, rest, too_small, p.stat("/d").st_ino, p.stat("/d/file").st_ino

    records, rest, too_small, dir_ino, file_ino = run(system, body)
    assert [(ino, name) for ino, _, name in records] == [
        (dir_ino, b"."), (1, b".."), (file_ino, b"file")]
    assert rest == [] and too_small == EINVAL


def test_rename_and_link(system: System) -> None:
    def body(p: Process) -> Any:
        write_file(p, "/a", b"contents")
        p.rename("/a", "/b")
        p.link("/b", "/c")
        linked = p.stat("/b"), p.stat("/c")
        p.unlink("/b")
        return errno_of(lambda: p.stat("/a")), linked, read_file(p, "/c"), p.stat("/c").st_nlink

    missing, (b, c), data, nlink = run(system, body)
    assert missing == ENOENT
    assert b.st_ino == c.st_ino and b.st_nlink == 2
    assert (data, nlink) == (b"contents", 1)


def test_symlink_readlink_lstat(system: System) -> None:
    def body(p: Process) -> Any:
        write_file(p, "/target", b"pointed at")
        p.symlink("target", "/link")
        return (p.readlink("/link"), p.lstat("/link"), p.stat("/link"), p.stat("/target"),
                read_file(p, "/link"), errno_of(lambda: p.readlink("/target")))

    text, lst, st, target, data, not_a_link = run(system, body)
    assert text == "target"
    assert lst.st_mode & S_IFMT == S_IFLNK and lst.st_size == len("target")
    assert st == target
    assert data == b"pointed at"
    assert not_a_link == EINVAL


def test_chdir_makes_relative_names_relative(system: System) -> None:
    def body(p: Process) -> Any:
        p.mkdir("/home")
        p.chdir("/home")
        write_file(p, "notes", b"relative")
        return read_file(p, "/home/notes"), errno_of(lambda: p.chdir("notes"))

    assert run(system, body) == (b"relative", ENOTDIR)


# -- descriptors ------------------------------------------------------------------------


def test_dup_and_dup2_share_the_position(system: System) -> None:
    def body(p: Process) -> Any:
        write_file(p, "/f", b"0123456789")
        fd = p.open("/f")
        copy = p.dup(fd)
        p.read(fd, 4)
        second = p.read(copy, 2)
        moved = p.dup2(fd, 20)
        p.close(fd)
        third = p.read(20, 2)
        return copy, second, moved, third, errno_of(lambda: p.dup(fd))

    copy, second, moved, third, closed = run(system, body)
    assert copy > 2
    assert (second, moved, third, closed) == (b"45", 20, b"67", EBADF)


def test_fcntl_sets_close_on_exec(system: System) -> None:
    def body(p: Process) -> tuple[int, int]:
        fd = p.open("/", O_RDONLY)
        before = p.fcntl(fd, F_GETFD)
        p.fcntl(fd, F_SETFD, FD_CLOEXEC)
        return before, p.fcntl(fd, F_GETFD)

    assert run(system, body) == (0, FD_CLOEXEC)


def test_fcntl_dupfd_and_the_open_flags(system: System) -> None:
    def body(p: Process) -> Any:
        write_file(p, "/f", b"start")
        fd = p.open("/f", O_WRONLY)
        copy = p.fcntl(fd, F_DUPFD, 10)
        flags = p.fcntl(copy, F_GETFL)
        p.fcntl(fd, F_SETFL, O_APPEND)
        p.write(b" end", fd)
        return copy, flags, p.fcntl(copy, F_GETFL), read_file(p, "/f")

    copy, flags, appending, data = run(system, body)
    assert copy == 10 and flags & 3 == O_WRONLY
    assert appending & O_APPEND  # one open file behind both descriptors
    assert data == b"start end"


def test_a_forked_child_writes_through_its_parents_descriptor(system: System) -> None:
    def body(p: Process) -> Any:
        fd = p.open("/f", O_RDWR | O_CREAT, 0o644)
        p.write(b"parent ", fd)
        pid = p.fork(lambda c: c.write(b"child", fd) and 0)
        _, status = p.waitpid(pid)
        p.lseek(fd, 0)
        return WEXITSTATUS(status), p.read(fd, 100)

    assert run(system, body) == (0, b"parent child")


def test_sync_puts_the_data_on_the_disk(system: System) -> None:
    data = b"synced to the medium " * 10

    def body(p: Process) -> None:
        write_file(p, "/f", data)
        p.sync()

    run(system, body)
    assert isinstance(system.disk, bytearray) and data in system.disk


# -- exec of a file -----------------------------------------------------------------------


def test_execve_of_a_program_written_through_the_file_system(system: System) -> None:
    def body(p: Process) -> Any:
        p.mkdir("/usr")
        write_file(p, "/usr/hello", HELLO.read_bytes(), 0o755)
        write_file(p, "/usr/data", HELLO.read_bytes(), 0o644)
        statuses = []
        for path in ("/usr/hello", "/usr/data", "/usr/missing"):
            def child(c: Process, path: str = path) -> int:
                try:
                    c.execve(path, [path])
                except MinixError as e:
                    return 100 + (e.errno or 0)

            statuses.append(WEXITSTATUS(p.waitpid(p.fork(child))[1]))
        return statuses

    before = len(system.console.text)
    assert run(system, body) == [0, 100 + EACCES, 100 + ENOENT]
    assert system.console.text[before:] == "hello, world\n"
