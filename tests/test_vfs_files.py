"""VFS on a MINIX file system: descriptors, offsets, paths, links,
directories and devices, as programs see them through the file calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fsutil import booted, errno_of, run_files
from vfscalls import DATA, NAME2, Files

from minixvm import MinixError, System
from minixvm.commands.mkfs import make_image
from minixvm.errors import (
    EBADF,
    EBUSY,
    EEXIST,
    EFAULT,
    EINVAL,
    EISDIR,
    ELOOP,
    EMFILE,
    ENAMETOOLONG,
    ENOENT,
    ENOSYS,
    ENOTDIR,
    ENOTEMPTY,
    EOVERFLOW,
    EPERM,
    EROFS,
    ESRCH,
)
from minixvm.include.mfs import MFSFLAG_CLEAN
from minixvm.include.vfs import (
    F_DUPFD,
    F_GETFD,
    F_GETFL,
    F_SETFD,
    F_SETFL,
    FD_CLOEXEC,
    O_ACCMODE,
    O_APPEND,
    O_CREAT,
    O_EXCL,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    O_WRONLY,
    OPEN,
    OPEN_MAX,
    PATH_MAX,
    S_IFCHR,
    SEEK_CUR,
    SEEK_END,
    SEEK_SET,
    SYNC,
    VFS_PM_EXIT,
    WRITE,
    VfsMount,
    VfsUmount,
)
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE


@pytest.fixture
def system() -> Iterator[System]:
    yield from booted()


def test_write_then_read_back(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        fd = f.open("/tmp.txt", O_RDWR | O_CREAT, 0o644)
        wrote = f.write(fd, b"hello, world\n")
        end = f.lseek(fd, 0, SEEK_CUR)
        f.lseek(fd, 7)
        tail = f.read(fd, 100)
        at_eof = f.read(fd, 100)
        f.close(fd)
        return fd, wrote, end, tail, at_eof, f.read_file("/tmp.txt")

    assert run_files(system, body) == (3, 13, 13, b"world\n", b"", b"hello, world\n")


def test_data_survives_the_writer(system: System) -> None:
    run_files(system, lambda f: f.write_file("/kept", b"x" * 5000))
    assert run_files(system, lambda f: f.read_file("/kept")) == b"x" * 5000


def test_open_flags(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.write_file("/f", b"0123456789")
        excl = errno_of(lambda: f.open("/f", O_WRONLY | O_CREAT | O_EXCL, 0o644))
        fd = f.open("/f", O_WRONLY | O_APPEND)
        f.lseek(fd, 0)
        f.write(fd, b"AB")
        f.close(fd)
        appended = f.read_file("/f")
        fd = f.open("/f", O_RDWR | O_TRUNC)
        size = f.fstat(fd).st_size
        f.close(fd)
        return (excl, appended, size, errno_of(lambda: f.open("/f", O_ACCMODE)),
                errno_of(lambda: f.open("/missing")), errno_of(lambda: f.open("/", O_WRONLY)))

    assert run_files(system, body) == (EEXIST, b"0123456789AB", 0, EINVAL, ENOENT, EISDIR)


def test_creat_truncates_and_opens_for_writing(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.write_file("/c", b"old contents")
        fd = f.creat("/c", 0o600)
        no_read = errno_of(lambda: f.read(fd, 1))
        f.write(fd, b"new")
        f.close(fd)
        return no_read, f.read_file("/c")

    assert run_files(system, body) == (EBADF, b"new")


def test_bad_descriptors(system: System) -> None:
    def body(f: Files) -> tuple[int, ...]:
        fd = f.open("/", O_RDONLY)
        f.close(fd)
        return (errno_of(lambda: f.read(fd, 1)), errno_of(lambda: f.close(fd)),
                errno_of(lambda: f.write(-1, b"x")), errno_of(lambda: f.read(OPEN_MAX, 1)))

    assert run_files(system, body) == (EBADF,) * 4


def test_a_directory_reads_as_eisdir_and_lists_with_getdents(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.mkdir("/d")
        for name in ("a", "b", "c"):
            f.write_file(f"/d/{name}", b"")
        fd = f.open("/d")
        r = errno_of(lambda: f.read(fd, 10))
        f.close(fd)
        return r, sorted(f.listdir("/d"))

    assert run_files(system, body) == (EISDIR, [".", "..", "a", "b", "c"])


def test_getdents_needs_room_for_a_record_and_a_directory(system: System) -> None:
    def body(f: Files) -> tuple[int, ...]:
        fd = f.open("/")
        small = errno_of(lambda: f.getdents(fd, 4))
        f.write_file("/file", b"")
        fd2 = f.open("/file")
        return small, errno_of(lambda: f.getdents(fd2))

    assert run_files(system, body) == (EINVAL, EBADF)


def test_dup_shares_the_offset(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.write_file("/s", b"abcdef")
        fd = f.open("/s")
        fd2 = f.dup(fd)
        first = f.read(fd, 2)
        second = f.read(fd2, 2)
        fd3 = f.dup2(fd, 9)
        third = f.read(fd3, 2)
        return fd2, first, second, fd3, third, f.lseek(fd, 0, SEEK_CUR)

    assert run_files(system, body) == (4, b"ab", b"cd", 9, b"ef", 6)


def test_dup2_closes_its_target_and_dup_runs_out(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.write_file("/one", b"1")
        f.write_file("/two", b"2")
        a, b = f.open("/one"), f.open("/two")
        f.dup2(a, b)
        via_b = f.read(b, 1)
        same = f.dup2(a, a)
        bad = errno_of(lambda: f.dup2(a, OPEN_MAX))
        while True:
            try:
                f.dup(a)
            except MinixError as e:
                return via_b, same == a, bad, e.errno

    assert run_files(system, body) == (b"1", True, EBADF, EMFILE)


def test_fcntl(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.write_file("/x", b"")
        fd = f.open("/x", O_WRONLY | O_APPEND)
        flags = f.fcntl(fd, F_GETFL)
        f.fcntl(fd, F_SETFL, 0)
        cleared = f.fcntl(fd, F_GETFL)
        before = f.fcntl(fd, F_GETFD)
        f.fcntl(fd, F_SETFD, FD_CLOEXEC)
        after = f.fcntl(fd, F_GETFD)
        dup = f.fcntl(fd, F_DUPFD, 20)
        return (flags, cleared, before, after, dup, f.fcntl(dup, F_GETFD),
                errno_of(lambda: f.fcntl(fd, 99)), errno_of(lambda: f.fcntl(fd, F_DUPFD, -1)))

    assert run_files(system, body) == (O_WRONLY | O_APPEND, O_WRONLY, 0, FD_CLOEXEC, 20, 0, EINVAL,
                                 EINVAL)


def test_lseek(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.write_file("/l", b"0123456789")
        fd = f.open("/l", O_RDWR)
        end = f.lseek(fd, -2, SEEK_END)
        tail = f.read(fd, 10)
        f.lseek(fd, 20)
        f.write(fd, b"!")
        hole = f.read_file("/l")
        return (end, tail, hole, errno_of(lambda: f.lseek(fd, -1)),
                errno_of(lambda: f.lseek(fd, 0, 7)))

    assert run_files(system, body) == (8, b"89", b"0123456789" + bytes(10) + b"!", EINVAL, EINVAL)


def test_fork_shares_descriptors_and_offsets(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        fd = f.open("/shared", O_RDWR | O_CREAT, 0o644)
        f.write(fd, b"parent1 ")

        def child(c: Process) -> int:
            Files(c).write(fd, b"child ")
            return 0

        pid = f.p.fork(child)
        f.p.waitpid(pid)
        f.write(fd, b"parent2")
        return f.read_file("/shared")

    assert run_files(system, body) == b"parent1 child parent2"


def test_a_child_closing_does_not_close_the_parents(system: System) -> None:
    def body(f: Files) -> bytes:
        f.write_file("/p", b"still open")
        fd = f.open("/p")

        def child(c: Process) -> int:
            Files(c).close(fd)
            return 0

        f.p.waitpid(f.p.fork(child))
        return f.read(fd, 100)

    assert run_files(system, body) == b"still open"


def test_dot_and_dotdot(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.mkdir("/a")
        f.mkdir("/a/b")
        f.write_file("/a/b/file", b"found")
        f.chdir("/a/b")
        rel = f.read_file("./file")
        up = f.read_file("../b/../../a/./b/file")
        above_root = f.read_file("/../../a/b/file")
        f.chdir("..")
        return rel, up, above_root, f.read_file("b/file")

    assert run_files(system, body) == (b"found",) * 4


def test_path_errors(system: System) -> None:
    def body(f: Files) -> tuple[int, ...]:
        f.write_file("/plain", b"")
        return (errno_of(lambda: f.open("/plain/x")), errno_of(lambda: f.chdir("/plain")),
                errno_of(lambda: f.open("")), errno_of(lambda: f.open("/" + "n" * 61)),
                errno_of(lambda: f.open("/" + "a/" * 130)),
                errno_of(lambda: f.mkdir("/nodir/new")))

    assert run_files(system, body) == (ENOTDIR, ENOTDIR, ENOENT, ENAMETOOLONG, ENAMETOOLONG, ENOENT)


def test_a_name_is_fetched_from_the_callers_memory(system: System) -> None:
    def body(f: Files) -> tuple[int, ...]:
        unmapped = errno_of(lambda: f.call(OPEN, name_len=20, flags=0, name=0x1000))
        f.p.mem[f.buf : f.buf + 20] = b"/" * 20
        no_nul = errno_of(lambda: f.call(OPEN, name_len=20, flags=0, name=f.buf))
        too_long = errno_of(lambda: f.call(OPEN, name_len=PATH_MAX + 1, flags=0, name=f.buf))
        return unmapped, no_nul, too_long

    assert run_files(system, body) == (EFAULT, ENAMETOOLONG, ENAMETOOLONG)


def test_symlinks(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.mkdir("/dir")
        f.write_file("/dir/target", b"through the link")
        f.symlink("/dir", "/abs")
        f.symlink("target", "/dir/rel")
        f.symlink("../dir/rel", "/dir/chain")
        f.symlink("loop1", "/loop2")
        f.symlink("loop2", "/loop1")
        return (f.read_file("/abs/target"), f.read_file("/dir/rel"), f.read_file("/abs/chain"),
                f.readlink("/abs"), f.readlink("/dir/chain"),
                errno_of(lambda: f.open("/loop1")), errno_of(lambda: f.readlink("/dir/target")))

    assert run_files(system, body) == (b"through the link",) * 3 + (b"/dir", b"../dir/rel", ELOOP,
                                                              EINVAL)


def test_unlinked_open_file_stays_readable(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.write_file("/gone", b"still here")
        fd = f.open("/gone")
        f.unlink("/gone")
        missing = errno_of(lambda: f.stat("/gone"))
        data = f.read(fd, 100)
        nlink = f.fstat(fd).st_nlink
        f.close(fd)
        return missing, data, nlink, "gone" in f.listdir("/")

    assert run_files(system, body) == (ENOENT, b"still here", 0, False)


def test_rename_and_link(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.mkdir("/d1")
        f.mkdir("/d2")
        f.write_file("/d1/a", b"A")
        f.rename("/d1/a", "/d2/b")
        f.link("/d2/b", "/d1/again")
        f.write_file("/d2/c", b"C")
        f.rename("/d2/c", "/d2/b")  # replaces b
        f.rename("/d2", "/d3")
        return (sorted(f.listdir("/d1")), sorted(f.listdir("/d3")), f.read_file("/d3/b"),
                f.read_file("/d1/again"), f.stat("/d1/again").st_nlink,
                errno_of(lambda: f.stat("/d2")))

    assert run_files(system, body) == ([".", "..", "again"], [".", "..", "b"], b"C", b"A", 1,
                                       ENOENT)


def test_unlink_and_rmdir_rules(system: System) -> None:
    def body(f: Files) -> tuple[int, ...]:
        f.mkdir("/full")
        f.write_file("/full/x", b"")
        return (errno_of(lambda: f.rmdir("/full")), errno_of(lambda: f.rmdir("/full/x")),
                errno_of(lambda: f.unlink("/nothing")), errno_of(lambda: f.mkdir("/full")))

    assert run_files(system, body) == (ENOTEMPTY, ENOTDIR, ENOENT, EEXIST)


def test_truncate_and_ftruncate(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.write_file("/t", b"0123456789")
        f.truncate("/t", 4)
        short = f.read_file("/t")
        fd = f.open("/t", O_RDWR)
        f.ftruncate(fd, 6)
        longer = f.read_file("/t")
        ro = f.open("/t")
        return (short, longer, errno_of(lambda: f.ftruncate(ro, 0)),
                errno_of(lambda: f.truncate("/", 0)), errno_of(lambda: f.truncate("/t", -1)))

    assert run_files(system, body) == (b"0123", b"0123\0\0", EBADF, EISDIR, EINVAL)


def test_devices(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        null = f.open("/dev/null", O_RDWR)
        zero = f.open("/dev/zero")
        console = f.open("/dev/console", O_WRONLY)
        tty = f.open("/dev/tty", O_WRONLY)
        mem = f.open("/dev/mem")
        f.write(console, b"on the console\n")
        f.write(tty, b"on the tty\n")
        return (f.write(null, b"gone"), f.read(null, 10), f.read(zero, 5),
                f.lseek(null, 100, SEEK_SET), len(f.read(mem, 16)))

    assert run_files(system, body) == (4, b"", bytes(5), 100, 16)
    assert "on the console\non the tty\n" in system.console.text


def test_descriptors_0_1_2_are_the_console(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.write(1, b"out\n")
        f.write(2, b"err\n")
        st = f.fstat(1)
        return f.read(0, 10), st.st_rdev, f.fcntl(0, F_GETFL)

    assert run_files(system, body) == (b"", 4 << 8, O_RDWR)
    assert "out\nerr\n" in system.console.text


def test_a_read_into_an_unmapped_buffer_fails_whole(system: System) -> None:
    """MINIX test 44: the buffer's second page is unmapped, and the read is
    EFAULT, not a short count; the position does not move."""

    def body(f: Files) -> tuple[Any, ...]:
        f.write_file("/big", bytes(range(256)) * 32)
        fd = f.open("/big")
        buf = f.p.mmap(2 * PAGE_SIZE)
        f.p.munmap(buf + PAGE_SIZE, PAGE_SIZE)
        r = errno_of(lambda: f.read_into(fd, buf, 2 * PAGE_SIZE))
        return r, f.lseek(fd, 0, SEEK_CUR), f.read_into(fd, buf, PAGE_SIZE)

    assert run_files(system, body) == (EFAULT, 0, PAGE_SIZE)



def test_an_unknown_call_is_enosys_and_pm_s_requests_are_pm_s(system: System) -> None:
    def body(f: Files) -> tuple[int, ...]:
        return errno_of(lambda: f.call(200)), errno_of(lambda: f.call(VFS_PM_EXIT))

    assert run_files(system, body) == (ENOSYS, EPERM)


def test_a_write_from_an_unmapped_buffer_is_efault(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.write_file("/w", b"before")
        fd = f.open("/w", O_RDWR)
        r = errno_of(lambda: f.call(WRITE, fd=fd, nbytes=10, buffer=0x1000))
        return r, f.lseek(fd, 0, SEEK_CUR), f.read_file("/w")

    assert run_files(system, body) == (EFAULT, 0, b"before")


def test_names_up_to_60_bytes(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.mkdir("/" + "d" * 60)
        f.write_file("/" + "d" * 60 + "/" + "f" * 60, b"deep")
        return (f.read_file("/" + "d" * 60 + "/" + "f" * 60),
                errno_of(lambda: f.mkdir("/" + "e" * 61)),
                errno_of(lambda: f.open("/" + "g" * 61, O_WRONLY | O_CREAT, 0o644)))

    assert run_files(system, body) == (b"deep", ENAMETOOLONG, ENAMETOOLONG)


def test_creating_through_symlinks(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.mkdir("/real")
        f.symlink("/real", "/via")
        f.symlink("/real/nothing", "/dangling")
        f.write_file("/via/new", b"made")
        return (f.read_file("/real/new"),
                errno_of(lambda: f.open("/dangling", O_WRONLY | O_CREAT | O_EXCL, 0o644)),
                f.readlink("/via", 3))

    assert run_files(system, body) == (b"made", EEXIST, b"/re")


def test_exit_closes_what_the_process_held(system: System) -> None:
    """An unlinked file a process still holds keeps its inode until the
    process exits; then the inode is free again (MFS hands it out anew)."""

    def body(f: Files) -> tuple[bool, bool]:
        f.write_file("/held", b"data")
        ino = f.stat("/held").st_ino

        def child(c: Process) -> int:
            cf = Files(c)
            cf.open("/held")
            cf.unlink("/held")
            cf.write_file("/other", b"")
            return 0 if cf.stat("/other").st_ino != ino else 1

        _, status = f.p.waitpid(f.p.fork(child))
        f.unlink("/other")
        f.write_file("/again", b"")
        return status == 0, f.stat("/again").st_ino == ino

    assert run_files(system, body) == (True, True)


def test_an_unclean_file_system_is_mounted_read_only() -> None:
    """MFS mounts it read-only; VFS refuses an open for writing (EROFS),
    or, if the FS did not say so at mount, the FS refuses the write."""
    image = make_image(4 << 20, files={"/f": b"kept"})
    image[1024 + 14] &= ~MFSFLAG_CLEAN  # s_flags

    def write(f: Files) -> None:
        f.write(f.open("/f", O_WRONLY), b"x")

    with System.boot(ram="32M", disk=image) as system:
        def body(f: Files) -> tuple[Any, ...]:
            return (errno_of(lambda: write(f)), errno_of(lambda: f.mkdir("/d")),
                    errno_of(lambda: f.unlink("/f")), f.read_file("/f"))

        assert run_files(system, body) == (EROFS, EROFS, EROFS, b"kept")
        assert "unclean, mounting readonly" in system.console.text


def test_a_block_device_reads_at_any_offset(system: System) -> None:
    """/dev/c0d0 through VFS's sector buffer: the superblock's magic (byte
    1024 + 24) by an unaligned two-byte read."""

    def body(f: Files) -> tuple[bytes, int]:
        fd = f.open("/dev/c0d0")
        f.lseek(fd, 1024 + 24)
        magic = f.read(fd, 2)
        return magic, f.lseek(fd, 0, SEEK_CUR)

    assert run_files(system, body) == (b"\x5a\x4d", 1024 + 26)


def test_getdents_goes_on_where_it_stopped(system: System) -> None:
    def body(f: Files) -> tuple[list[str], list[str]]:
        f.mkdir("/many")
        names = [f"file{i:02}" for i in range(40)]
        for name in names:
            f.write_file(f"/many/{name}", b"")
        fd = f.open("/many")
        seen: list[str] = []
        while entries := f.getdents(fd, 64):
            seen += [name.decode() for _, _, name in entries]
        return sorted(seen), sorted([".", "..", *names])

    seen, want = run_files(system, body)
    assert seen == want


def test_chmod_mknod_and_sync(system: System) -> None:
    def body(f: Files) -> tuple[Any, ...]:
        f.write_file("/m", b"")
        f.chmod("/m", 0o4711)
        mode = f.stat("/m").st_mode & 0o7777
        f.mknod("/mynull", S_IFCHR | 0o666, 1 << 8 | 3)
        fd = f.open("/mynull", O_RDWR)
        wrote = f.write(fd, b"into nothing")
        f.call(SYNC)
        return mode, wrote, f.read(fd, 5), errno_of(lambda: f.chmod("/nothing", 0))

    assert run_files(system, body) == (0o4711, 12, b"", ENOENT)


def test_positions_stop_at_2_gib(system: System) -> None:
    """Positions are 32-bit: the largest is 2**31 - 1."""

    def body(f: Files) -> tuple[Any, ...]:
        fd = f.open("/dev/zero")
        top = f.lseek(fd, (1 << 31) - 4)
        past = errno_of(lambda: f.lseek(fd, 5, SEEK_CUR))
        return top, len(f.read(fd, 100)), f.read(fd, 1), past

    assert run_files(system, body) == ((1 << 31) - 4, 3, b"", EOVERFLOW)


def test_mount_and_umount_refuse_what_is_in_use(system: System) -> None:
    """The root file system's device is mounted already (EBUSY), a label
    nobody has is ESRCH; the root cannot be unmounted (EBUSY), nor what is
    not a mount point (EINVAL)."""

    def body(f: Files) -> tuple[int, ...]:
        def mount(label: str) -> None:
            special, special_len = f.name("/dev/c0d0")
            name, name_len = f.name("/tmp", NAME2)
            f.sys.mem_write(f.buf + DATA, label.encode() + b"\0")
            f.send(VfsMount(special_len=special_len, name_len=name_len, special=special,
                            name=name, label=f.buf + DATA))

        def umount(path: str) -> None:
            name, name_len = f.name(path)
            f.send(VfsUmount(name_len=name_len, name=name))

        return (errno_of(lambda: mount("mfs")), errno_of(lambda: mount("no-such-fs")),
                errno_of(lambda: umount("/")), errno_of(lambda: umount("/tmp")))

    assert run_files(system, body) == (EBUSY, ESRCH, EBUSY, EINVAL)
