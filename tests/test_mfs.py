"""MFS, the MINIX v3 file system server, through the file calls: images
made by Linux's mkfs.minix and by our mkfs, checked by fsck.minix after
every workload that writes (1 KiB blocks); files from empty to past the
double-indirect threshold, holes, big directories, renames, unlinked open
files, running out of space, and corrupt images (EINVAL at mount, EIO
later, never a crash).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fsutil import errno_of, run
from mfsimage import (
    fsck,
    linux_image,
    list_raw,
    lookup,
    pattern,
    read_file,
    read_inode,
    superblock,
    write_inode,
)

from minixvm import MinixError, System
from minixvm.commands.mkfs import make_image
from minixvm.errors import (
    EINVAL,
    EIO,
    ELOOP,
    ENAMETOOLONG,
    ENOENT,
    ENOSPC,
    ENOSYS,
    ENOTEMPTY,
    EPERM,
    EROFS,
)
from minixvm.include.com import VFS_PROC_NR
from minixvm.include.ipc import Message
from minixvm.include.mfs import MFSFLAG_CLEAN, SUPER_OFFSET, ZONE_DOUBLE, ZONE_SINGLE
from minixvm.include.vfs import O_CREAT, O_RDWR, O_WRONLY, S_IFDIR, S_IFLNK, S_IFMT, SEEK_SET
from minixvm.include.vfsif import REQ_LOOKUP, ROOT_INODE
from minixvm.lib.c import Process
from minixvm.servers.mfs.main import MFS, MfsOptions

KIB = 1024
FLAGS = SUPER_OFFSET + 14  # s_flags


@pytest.fixture
def image() -> bytearray:
    return linux_image(4 << 20)


@pytest.fixture
def system(image: bytearray) -> Iterator[System]:
    with System.boot(ram="32M", disk=image) as s:
        yield s


def write_file(p: Process, path: str, data: bytes, mode: int = 0o644) -> None:
    fd = p.open(path, O_WRONLY | O_CREAT, mode)
    done = 0
    while done < len(data):
        done += p.write(data[done : done + 64 * KIB], fd)
    p.close(fd)


def synced(system: System, image: bytearray) -> None:
    """Shut the machine down (it unmounts) and have fsck.minix pass the image."""
    system.close()
    rc, out = fsck(image)
    assert rc == 0, out


# -- reading and writing --------------------------------------------------------------

SIZES = [0, 1, 1023, 1024, 1025, 7 * KIB, 7 * KIB + 1, 263 * KIB, 263 * KIB + 1, 300 * KIB]


def test_files_of_every_size_read_back_and_pass_fsck(system: System, image: bytearray) -> None:
    def body(p: Process) -> list[tuple[int, int, bool]]:
        for n in SIZES:
            write_file(p, f"/f{n}", pattern(n, n))
        return [(p.stat(f"/f{n}").st_size, p.stat(f"/f{n}").st_blocks,
                 read_file(p, f"/f{n}") == pattern(n, n)) for n in SIZES]

    got = run(system, body)
    # st_blocks: data zones plus the indirect zones, in 512-byte units.
    indirect = {263 * KIB + 1: 3, 300 * KIB: 3, 7 * KIB + 1: 1, 263 * KIB: 1}
    assert got == [(n, 2 * (-(-n // KIB) + indirect.get(n, 0)), True) for n in SIZES]
    synced(system, image)


def test_data_survives_a_reboot(image: bytearray) -> None:
    with System.boot(ram="32M", disk=image) as s:
        run(s, lambda p: write_file(p, "/kept", pattern(300 * KIB)))
    with System.boot(ram="32M", disk=image) as s:
        assert run(s, lambda p: read_file(p, "/kept")) == pattern(300 * KIB)


def test_holes_read_as_zeros(system: System, image: bytearray) -> None:
    def body(p: Process) -> tuple[bytes, bytes, int, int]:
        fd = p.open("/sparse", O_RDWR | O_CREAT, 0o644)
        p.write(b"head", fd)
        p.lseek(fd, 290 * KIB, SEEK_SET)
        p.write(b"tail", fd)
        p.lseek(fd, 0, SEEK_SET)
        data = b""
        while chunk := p.read(fd, 64 * KIB):
            data += chunk
        p.ftruncate(fd, 600 * KIB)
        p.lseek(fd, 500 * KIB, SEEK_SET)
        grown = p.read(fd, 4)
        p.close(fd)
        return data[:4], data[-4:], data.count(0), len(grown) and grown.count(0)

    head, tail, zeros, grown_zeros = run(system, body)
    assert (head, tail, zeros, grown_zeros) == (b"head", b"tail", 290 * KIB - 4, 4)
    synced(system, image)


def test_truncate_frees_zones_and_zeroes_the_tail(system: System, image: bytearray) -> None:
    def body(p: Process) -> tuple[bytes, int]:
        write_file(p, "/t", pattern(300 * KIB))
        p.truncate("/t", 1500)
        p.truncate("/t", 3000)
        data = read_file(p, "/t")
        return data, p.stat("/t").st_blocks

    data, blocks = run(system, body)
    assert data == pattern(1500) + bytes(1500)
    assert blocks == 6
    synced(system, image)


# -- directories ----------------------------------------------------------------------


def test_directories_with_hundreds_of_entries(system: System, image: bytearray) -> None:
    names = [f"entry-{i:04d}-" + "x" * (i % 40) for i in range(400)]

    def body(p: Process) -> tuple[list[str], list[str], bytes]:
        p.mkdir("/big", 0o755)
        for i, name in enumerate(names):
            write_file(p, f"/big/{name}", str(i).encode())
        listed = p.listdir("/big")
        for name in names[::2]:
            p.unlink(f"/big/{name}")
        return listed, p.listdir("/big"), read_file(p, f"/big/{names[399]}")

    listed, after, last = run(system, body)
    assert listed == names
    assert after == names[1::2]
    assert last == b"399"
    synced(system, image)


def test_rename_across_directories(system: System, image: bytearray) -> None:
    def body(p: Process) -> tuple[Any, ...]:
        for d in ("/a", "/b", "/a/sub"):
            p.mkdir(d, 0o755)
        write_file(p, "/a/sub/file", b"contents")
        write_file(p, "/b/old", b"replaced")
        p.rename("/a/sub/file", "/b/old")
        p.rename("/a/sub", "/b/moved")
        below = errno_of(lambda: p.rename("/b", "/b/moved/inside"))
        p.mkdir("/a/full", 0o755)
        write_file(p, "/a/full/x", b"")
        not_empty = errno_of(lambda: p.rename("/b/moved", "/a/full"))
        return (p.listdir("/a"), p.listdir("/b"), read_file(p, "/b/old"),
                p.stat("/b/moved/..").st_ino == p.stat("/b").st_ino,
                p.stat("/a").st_nlink, p.stat("/b").st_nlink, below, not_empty)

    assert run(system, body) == (["full"], ["old", "moved"], b"contents", True, 3, 3,
                                 EINVAL, ENOTEMPTY)
    synced(system, image)


def test_an_unlinked_open_file_lives_until_closed(system: System, image: bytearray) -> None:
    def body(p: Process) -> tuple[Any, ...]:
        write_file(p, "/gone", pattern(20 * KIB))
        fd = p.open("/gone", O_RDWR)
        p.unlink("/gone")
        missing = errno_of(lambda: p.stat("/gone"))
        p.lseek(fd, 20 * KIB, SEEK_SET)
        p.write(b"more", fd)
        p.lseek(fd, 0, SEEK_SET)
        data = p.read(fd, 30 * KIB)
        nlink = p.fstat(fd).st_nlink
        p.close(fd)
        return missing, data == pattern(20 * KIB) + b"more", nlink

    assert run(system, body) == (ENOENT, True, 0)
    synced(system, image)


def test_symlinks_relative_absolute_and_loops(system: System, image: bytearray) -> None:
    def body(p: Process) -> tuple[Any, ...]:
        p.mkdir("/d", 0o755)
        write_file(p, "/d/target", b"found")
        p.symlink("target", "/d/rel")
        p.symlink("/d/target", "/abs")
        p.symlink("d", "/dir")
        p.symlink("/loop", "/loop")
        return (read_file(p, "/d/rel"), read_file(p, "/abs"), read_file(p, "/dir/rel"),
                p.readlink("/d/rel"), p.lstat("/abs").st_mode & S_IFMT == S_IFLNK,
                errno_of(lambda: p.open("/loop")))

    assert run(system, body) == (b"found", b"found", b"found", "target", True, ELOOP)
    synced(system, image)


def test_names_of_60_bytes_fit_and_61_are_too_long(system: System, image: bytearray) -> None:
    def body(p: Process) -> tuple[Any, ...]:
        write_file(p, "/" + "n" * 60, b"ok")
        return (p.listdir("/"), errno_of(lambda: write_file(p, "/" + "n" * 61, b"")),
                errno_of(lambda: p.mkdir("/" + "m" * 61)),
                errno_of(lambda: p.stat("/" + "n" * 61)))

    assert run(system, body) == (["n" * 60], ENAMETOOLONG, ENAMETOOLONG, ENAMETOOLONG)
    synced(system, image)


# -- running out ----------------------------------------------------------------------


def test_out_of_space_leaves_the_file_system_sound() -> None:
    image = linux_image(200 * KIB)
    with System.boot(ram="32M", disk=image) as s:
        def body(p: Process) -> tuple[Any, ...]:
            fd = p.open("/big", O_WRONLY | O_CREAT, 0o644)
            wrote = 0
            while True:
                try:
                    n = p.write(pattern(16 * KIB), fd)
                except MinixError as e:
                    full = e.errno
                    break
                wrote += n
            p.close(fd)
            no_dir = errno_of(lambda: p.mkdir("/d", 0o755))
            size = p.stat("/big").st_size
            p.unlink("/big")
            write_file(p, "/again", pattern(50 * KIB))
            return wrote, size, full, no_dir, read_file(p, "/again") == pattern(50 * KIB)

        wrote, size, full, no_dir, again = run(s, body)
        assert (full, no_dir, again) == (ENOSPC, ENOSPC, True)
        assert size == wrote > 100 * KIB
        synced(s, image)


def test_out_of_inodes_leaves_the_file_system_sound() -> None:
    image = linux_image(1 << 20, inodes=32)
    with System.boot(ram="32M", disk=image) as s:
        def body(p: Process) -> tuple[int, int]:
            made = 0
            try:
                while True:
                    write_file(p, f"/f{made}", b"x")
                    made += 1
            except MinixError as e:
                return made, e.errno

        made, err = run(s, body)
        assert err == ENOSPC and made == superblock(image).ninodes - 1
        synced(s, image)


# -- mounting -------------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [(24, 0x1234), (28, 512), (28, 8192), (12, 9),
                                          (14, 0x0101), (20, 1 << 30)])
def test_a_bad_superblock_is_einval_at_mount(field: int, value: int) -> None:
    image = linux_image(1 << 20)
    width = 4 if field == 20 else 2
    image[SUPER_OFFSET + field : SUPER_OFFSET + field + width] = value.to_bytes(width, "little")
    with System.boot(ram="32M", disk=image) as s:
        assert "EINVAL" in s.console.text
        assert run(s, lambda p: errno_of(lambda: p.stat("/"))) == ENOENT


def test_an_unclean_file_system_mounts_read_only() -> None:
    image = linux_image(1 << 20, clean=False)
    original = bytes(image)
    with System.boot(ram="32M", disk=image) as s:
        assert "mfs: WARNING: FS 0x300 unclean, mounting readonly" in s.console.text
        assert run(s, lambda p: (p.listdir("/"),
                                 errno_of(lambda: write_file(p, "/x", b"")),
                                 errno_of(lambda: p.mkdir("/d")))) == ([], EROFS, EROFS)
        run(s, lambda p: p.sync())
    assert image == original


def test_the_clean_flag_is_cleared_while_mounted_and_set_at_unmount(image: bytearray) -> None:
    assert image[FLAGS] & MFSFLAG_CLEAN
    with System.boot(ram="32M", disk=image) as s:
        assert not image[FLAGS] & MFSFLAG_CLEAN
        run(s, lambda p: write_file(p, "/f", pattern(50 * KIB)))
    assert image[FLAGS] & MFSFLAG_CLEAN
    rc, out = fsck(image)
    assert rc == 0, out
    with System.boot(ram="32M", disk=image) as s:
        assert "unclean" not in s.console.text
        run(s, lambda p: write_file(p, "/g", b"still writable"))
        assert run(s, lambda p: read_file(p, "/f")) == pattern(50 * KIB)


# -- corrupt images -------------------------------------------------------------------


def corrupt_file(size: int, change: Callable[[bytearray, int], None]) -> bytearray:
    """An image with a file /f of ``size`` bytes, then ``change``d (with /f's inode)."""
    image = linux_image(1 << 20)
    with System.boot(ram="32M", disk=image) as s:
        run(s, lambda p: write_file(p, "/f", pattern(size)))
    change(image, lookup(image, "/f"))
    return image


def test_an_indirect_zone_outside_the_disk_is_eio() -> None:
    def far_single(image: bytearray, num: int) -> None:
        d = read_inode(image, num)
        d.zones[ZONE_SINGLE] = 1 << 30
        write_inode(image, num, d)

    image = corrupt_file(100 * KIB, far_single)
    with System.boot(ram="32M", disk=image) as s:
        def body(p: Process) -> tuple[Any, ...]:
            fd = p.open("/f", O_RDWR)
            head = p.read(fd, 7 * KIB)
            beyond = errno_of(lambda: p.read(fd, KIB))
            p.lseek(fd, 50 * KIB, SEEK_SET)
            no_write = errno_of(lambda: p.write(b"x", fd))
            p.close(fd)
            return head == pattern(7 * KIB), beyond, no_write, errno_of(lambda: p.unlink("/f"))

        assert run(s, body) == (True, EIO, EIO, EIO)


def test_an_entry_of_an_indirect_block_outside_the_zones_is_eio() -> None:
    def far_entry(image: bytearray, num: int) -> None:
        d = read_inode(image, num)
        off = d.zones[ZONE_DOUBLE] * KIB
        single = int.from_bytes(image[off : off + 4], "little")
        image[single * KIB + 8 : single * KIB + 12] = (superblock(image).zones + 5).to_bytes(
            4, "little")

    image = corrupt_file(300 * KIB, far_entry)
    with System.boot(ram="32M", disk=image) as s:
        def body(p: Process) -> tuple[Any, ...]:
            fd = p.open("/f")
            p.lseek(fd, 263 * KIB, SEEK_SET)
            ok = p.read(fd, 2 * KIB)
            bad = errno_of(lambda: p.read(fd, KIB))
            p.close(fd)
            return ok == pattern(300 * KIB)[263 * KIB : 265 * KIB], bad

        assert run(s, body) == (True, EIO)


def test_bad_directory_entries_are_eio() -> None:
    image = linux_image(1 << 20)
    with System.boot(ram="32M", disk=image) as s:
        run(s, lambda p: (p.mkdir("/d", 0o755), write_file(p, "/d/f", b"")))
    num = lookup(image, "/d")
    zone = read_inode(image, num).zones[0]
    slot = zone * KIB + 2 * 64  # after "." and "..": the entry of f
    image[slot : slot + 4] = (1 << 31).to_bytes(4, "little")
    with System.boot(ram="32M", disk=image) as s:
        assert run(s, lambda p: (errno_of(lambda: p.listdir("/d")),
                                 errno_of(lambda: p.stat("/d/f")),
                                 p.stat("/d").st_mode & S_IFMT == S_IFDIR)) == (EIO, EIO, True)


def test_a_root_that_is_not_a_directory_is_einval() -> None:
    image = linux_image(1 << 20)
    d = read_inode(image, ROOT_INODE)
    d.mode = 0o100644
    write_inode(image, ROOT_INODE, d)
    with System.boot(ram="32M", disk=image) as s:
        assert "EINVAL" in s.console.text


# -- our own images, 4 KiB blocks, the VM cache -----------------------------------------


def test_four_kib_blocks() -> None:
    image = make_image(8 << 20, block_size=4096)
    size = (7 + 1024) * 4 * KIB + 5000  # into the double-indirect zones
    with System.boot(ram="32M", disk=image) as s:
        def body(p: Process) -> tuple[Any, ...]:
            fd = p.open("/tmp/big", O_RDWR | O_CREAT, 0o644)
            p.write(b"start", fd)
            p.lseek(fd, size - 5, SEEK_SET)
            p.write(b"end!!", fd)
            p.close(fd)
            write_file(p, "/tmp/small", pattern(100 * KIB))
            return p.stat("/tmp/big").st_blksize, p.listdir("/dev")

        blksize, devs = run(s, body)
        assert blksize == 4096 and "console" in devs
    with System.boot(ram="32M", disk=image) as s:
        def check(p: Process) -> tuple[Any, ...]:
            fd = p.open("/tmp/big")
            head = p.read(fd, 5)
            p.lseek(fd, size - 9, SEEK_SET)
            tail = p.read(fd, 100)
            p.close(fd)
            return head, tail, read_file(p, "/tmp/small") == pattern(100 * KIB)

        assert run(s, check) == (b"start", bytes(4) + b"end!!", True)


def test_evicted_blocks_come_back_from_vm() -> None:
    image = make_image(4 << 20)
    with System.boot(ram="32M", disk=image, mfs=MfsOptions(cache_blocks=16)) as s:
        run(s, lambda p: write_file(p, "/f", pattern(200 * KIB)))
        # Blocks written whole are not read, so VM had none of them: the
        # first read yields each block it evicts, the second gets them back.
        assert run(s, lambda p: read_file(p, "/f")) == pattern(200 * KIB)
        before = s.statistics()
        assert run(s, lambda p: read_file(p, "/f")) == pattern(200 * KIB)
        after = s.statistics()
        assert after.vm.cache_hits - before.vm.cache_hits > 180
        assert after.mfs.vm_hits - before.mfs.vm_hits == after.vm.cache_hits - before.vm.cache_hits
        assert after.mfs.disk_reads == before.mfs.disk_reads
        synced(s, image)


def test_without_the_vm_cache_nothing_is_yielded() -> None:
    image = make_image(4 << 20)
    with System.boot(ram="32M", disk=image,
                     mfs=MfsOptions(cache_blocks=16, vm_cache=False)) as s:
        run(s, lambda p: write_file(p, "/f", pattern(200 * KIB)))
        before = s.statistics().mfs
        assert run(s, lambda p: read_file(p, "/f")) == pattern(200 * KIB)
        after = s.statistics().mfs
        assert s.statistics().vm.yields == 0 and after.vm_hits == 0
        assert after.disk_reads - before.disk_reads >= 200
        synced(s, image)


# -- requests -------------------------------------------------------------------------


def test_only_vfs_may_ask_and_unknown_requests_are_enosys() -> None:
    mfs = MFS(None, MfsOptions())  # none of these requests gets as far as a kernel call
    assert mfs.reply(Message(REQ_LOOKUP, m_source=42)).m_type == -EPERM
    assert mfs.reply(Message(0xA7F, m_source=VFS_PROC_NR)).m_type == -ENOSYS
    assert mfs.reply(Message(REQ_LOOKUP, m_source=VFS_PROC_NR)).m_type == -EINVAL


def test_a_service_talking_to_mfs_directly_gets_eperm(system: System) -> None:
    mfs = system.endpoint_of("mfs")

    def body(p: Process) -> int:
        return p.sys.taskcall(mfs, REQ_LOOKUP).m_type

    assert run_service(system, body) == -EPERM


def run_service(system: System, body: Callable[[Process], int]) -> int:
    out: list[int] = []

    def program(p: Process) -> int:
        out.append(body(p))
        return 0

    assert system.run(program, service=True) == 0
    return out[0]


# -- more calls -----------------------------------------------------------------------


def test_links_modes_and_removal(system: System, image: bytearray) -> None:
    def body(p: Process) -> tuple[Any, ...]:
        write_file(p, "/one", b"shared")
        p.link("/one", "/two")
        links = p.stat("/one").st_nlink
        p.unlink("/one")
        p.chmod("/two", 0o600)
        p.mkdir("/d", 0o755)
        write_file(p, "/d/x", b"")
        return (links, read_file(p, "/two"), p.stat("/two").st_nlink,
                p.stat("/two").st_mode & 0o7777, errno_of(lambda: p.unlink("/d")),
                errno_of(lambda: p.rmdir("/d")), errno_of(lambda: p.link("/d", "/e")),
                p.unlink("/d/x"), p.rmdir("/d"), errno_of(lambda: p.stat("/d")))

    assert run(system, body) == (2, b"shared", 1, 0o600, EPERM, ENOTEMPTY, EPERM, None, None,
                                 ENOENT)
    synced(system, image)


def test_special_files_keep_their_device_number() -> None:
    with System.boot(ram="32M", disk=make_image(1 << 20)) as s:
        st = run(s, lambda p: p.stat("/dev/console"))
        assert (st.st_mode & S_IFMT, st.st_rdev, st.st_size) == (0o020000, 0x400, 0)


def test_a_directory_loop_on_disk_is_eio_not_a_hang() -> None:
    image = linux_image(1 << 20)
    with System.boot(ram="32M", disk=image) as s:
        run(s, lambda p: (p.mkdir("/a", 0o755), p.mkdir("/a/b", 0o755), p.mkdir("/c", 0o755)))
    b = lookup(image, "/a/b")
    slot = read_inode(image, b).zones[0] * KIB + 64  # its ".."
    image[slot : slot + 4] = b.to_bytes(4, "little")
    with System.boot(ram="32M", disk=image) as s:
        assert run(s, lambda p: errno_of(lambda: p.rename("/c", "/a/b/c"))) == EIO


def test_a_negative_file_size_on_disk_is_eio() -> None:
    """An inode whose size field is negative (the image fuzz found MFS
    indexing its zones with a negative block number) is corrupt."""
    image = linux_image(1 << 20)
    with System.boot(ram="32M", disk=image) as s:
        run(s, lambda p: write_file(p, "/f", pattern(3000)))
    num = lookup(image, "/f")
    d = read_inode(image, num)
    d.size = -5000
    write_inode(image, num, d)

    def use(p: Process) -> tuple[int, int]:
        return errno_of(lambda: p.open("/f", O_RDWR)), errno_of(lambda: p.stat("/f"))

    with System.boot(ram="32M", disk=image) as s:
        assert run(s, use) == (EIO, EIO)
        assert s.kernel.panicked is None


@pytest.mark.parametrize("seed", range(12))
def test_random_damage_gives_errors_not_crashes(seed: int) -> None:
    """Scribble over metadata blocks (inodes, directories, indirect blocks),
    then use every file: any call may fail, MFS must answer them all."""
    rng = random.Random(seed)
    image = linux_image(4 << 20)
    with System.boot(ram="32M", disk=image) as s:
        def populate(p: Process) -> None:
            p.mkdir("/d", 0o755)
            for i in range(20):
                write_file(p, f"/d/f{i}", pattern(rng.choice([10, 3000, 20 * KIB, 280 * KIB])))
            p.symlink("d/f1", "/l")

        run(s, populate)
    sb = superblock(image)
    # The bitmaps and the inode table's blocks in use, a directory, indirect blocks.
    metadata = list(range(2, sb.inode_table + 1))
    metadata += [read_inode(image, lookup(image, "/d")).zones[0]]
    metadata += [z for n in range(1, sb.ninodes + 1) if (z := read_inode(image, n).zones[7])]
    for _ in range(40):
        block = rng.choice(metadata)
        pos = block * KIB + rng.randrange(KIB)
        image[pos] = rng.randrange(256)
    with System.boot(ram="32M", disk=image) as s:
        def use(p: Process) -> int:
            # A damaged size can make a file of 2 GiB of holes: read 400 KiB at most.
            calls = [lambda: list_raw(p, "/d"), lambda: read_file(p, "/l", 400 * KIB),
                     lambda: p.mkdir("/d/new", 0o755), lambda: p.rename("/d/f2", "/f2"),
                     lambda: write_file(p, "/d/f3", pattern(30 * KIB)),
                     lambda: p.truncate("/d/f4", 100), lambda: p.rmdir("/d")]
            calls += [lambda i=i: read_file(p, f"/d/f{i}", 400 * KIB) for i in range(20)]
            calls += [lambda i=i: p.unlink(f"/d/f{i}") for i in range(20)]
            failed = 0
            for call in calls:
                try:
                    call()
                except MinixError:
                    failed += 1
            p.sync()
            return failed

        run(s, use)
        assert run(s, lambda p: p.stat("/").st_ino) == ROOT_INODE
    assert len(image) == 4 << 20, "nothing written past the end of the disk"
