"""stat, fstat and lstat: the 100-byte struct the FS fills in the caller's
memory, the old calls' 36-byte minix_prev_stat that VFS converts (with
EOVERFLOW where MINIX truncated), and the pre-3.2.0 call numbers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fsutil import booted, errno_of, run_files
from vfscalls import Files

from minixvm import System
from minixvm.errors import EBADF, EFAULT, ENOENT, EOVERFLOW
from minixvm.include.stat import PREV_STAT_LAYOUT, Stat
from minixvm.include.vfs import (
    FSTAT_O,
    LSTAT_O,
    PREV_LSTAT,
    S_IFCHR,
    S_IFDIR,
    S_IFLNK,
    S_IFMT,
    S_IFREG,
    STAT,
    STAT_O,
)

# The times of a fresh system (reference: 2012-06-06 plus uptime).
EPOCH = 1338940800


@pytest.fixture
def system() -> Iterator[System]:
    yield from booted()


def test_stat_of_a_regular_file(system: System) -> None:
    def body(f: Files) -> tuple[Stat, Stat, Stat]:
        f.write_file("/file", b"x" * 3000, 0o640)
        fd = f.open("/file")
        return f.stat("/file"), f.fstat(fd), f.stat("/")

    st, fst, root = run_files(system, body)
    assert st == fst
    assert st.st_mode == S_IFREG | 0o640
    assert (st.st_size, st.st_nlink, st.st_uid, st.st_gid, st.st_rdev) == (3000, 1, 0, 0, 0)
    assert st.st_ino not in (0, root.st_ino)
    assert st.st_dev == root.st_dev == 3 << 8  # the disk, /dev/c0d0
    assert st.st_blksize == 1024
    assert st.st_blocks == 3 * 1024 // 512  # three 1 KiB zones
    assert EPOCH <= st.st_mtime == st.st_ctime <= EPOCH + 3600
    assert root.st_mode & S_IFMT == S_IFDIR and root.st_nlink >= 2


def test_lstat_sees_the_link_stat_its_target(system: System) -> None:
    def body(f: Files) -> tuple[Stat, Stat]:
        f.write_file("/target", b"12345")
        f.symlink("/target", "/link")
        return f.lstat("/link"), f.stat("/link")

    link, target = run_files(system, body)
    assert link.st_mode & S_IFMT == S_IFLNK and link.st_size == len("/target")
    assert target.st_mode & S_IFMT == S_IFREG and target.st_size == 5
    assert link.st_ino != target.st_ino


def test_a_device_s_rdev(system: System) -> None:
    st = run_files(system, lambda f: f.stat("/dev/null"))
    assert st.st_mode & S_IFMT == S_IFCHR
    assert st.st_rdev == 1 << 8 | 3


def test_stat_errors(system: System) -> None:
    def body(f: Files) -> tuple[int, ...]:
        missing, bad_fd = errno_of(lambda: f.stat("/nothing")), errno_of(lambda: f.fstat(40))
        addr, n = f.name("/")
        return missing, bad_fd, errno_of(lambda: f.call(STAT, name_len=n, name=addr,
                                                        buffer=0x1000))

    assert run_files(system, body) == (ENOENT, EBADF, EFAULT)


def test_prev_stat_is_the_36_byte_struct(system: System) -> None:
    def body(f: Files) -> tuple[bytes, Stat, bytes]:
        f.write_file("/old", b"y" * 77, 0o604)
        fd = f.open("/old")
        return f.prev_stat("/old"), f.stat("/old"), f.prev_fstat(fd)

    raw, new, fraw = run_files(system, body)
    assert raw[PREV_STAT_LAYOUT.size :] == b"\xee" * (64 - PREV_STAT_LAYOUT.size)
    dev, ino, mode, nlink, uid, gid, rdev, size, atime, mtime, ctime = PREV_STAT_LAYOUT.unpack(
        raw[: PREV_STAT_LAYOUT.size])
    assert (dev, ino, mode, nlink, uid, gid, rdev, size) == (
        new.st_dev, new.st_ino, new.st_mode, new.st_nlink, new.st_uid, new.st_gid, new.st_rdev,
        77)
    assert (atime, mtime, ctime) == (new.st_atime, new.st_mtime, new.st_ctime)
    assert fraw == raw[: PREV_STAT_LAYOUT.size]


def test_prev_lstat_of_a_symlink(system: System) -> None:
    def body(f: Files) -> bytes:
        f.symlink("/somewhere/else", "/sl")
        return f.prev_stat("/sl", PREV_LSTAT)

    fields = PREV_STAT_LAYOUT.unpack(run_files(system, body)[: PREV_STAT_LAYOUT.size])
    assert fields[2] & S_IFMT == S_IFLNK and fields[7] == len("/somewhere/else")


def test_prev_stat_refuses_what_does_not_fit(system: System) -> None:
    """A device number above 16 bits signed: MINIX truncated it silently."""

    def body(f: Files) -> tuple[int, Stat]:
        f.mknod("/bigdev", S_IFCHR | 0o600, 0x9001)
        return errno_of(lambda: f.prev_stat("/bigdev")), f.stat("/bigdev")

    r, st = run_files(system, body)
    assert r == EOVERFLOW
    assert st.st_rdev == 0x9001


def test_the_old_call_numbers_are_the_new_calls(system: System) -> None:
    def body(f: Files) -> tuple[Stat, ...]:
        f.write_file("/n", b"abc")
        f.symlink("/n", "/m")
        fd = f.open("/n")
        return (f.stat("/n"), f.stat("/n", STAT_O), f.fstat(fd, FSTAT_O), f.lstat("/m"),
                f.stat("/m", LSTAT_O))

    st, st_o, fst_o, lst, lst_o = run_files(system, body)
    assert st == st_o == fst_o
    assert lst == lst_o
