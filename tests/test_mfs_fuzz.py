"""Fuzz: MFS on corrupted images.

A populated image (nested directories, a directory of several blocks, a
file past the single-indirect zone, symbolic links) has random bytes of
its metadata damaged: the superblock's fields, the bitmaps, the inodes in
use, directory blocks and indirect blocks. A machine boots on each damaged
copy and one program walks the whole tree (every directory listed, every
entry lstat'ed, every regular file read, at most 400 KiB of it, every link
read and followed), then writes a little (creates, writes, truncates,
renames, unlinks). Any of it may fail, with a file-system error; nothing
may escape as another exception, panic the kernel, run forever, or write
past the end of the disk (a bytearray keeps its length, a host image file
its size). VM's sanity check passes after each case.

The CI run damages IMAGE_CASES images; ``make fuzz`` sets
MINIXVM_FUZZ_IMAGE_CASES for the long run, and MINIXVM_FUZZ_JOBS to spread
each batch of cases over that many processes. Every case comes from
(MINIXVM_FUZZ_SEED, its number): the seed is printed, and a failure names
its case and the bytes changed. The last batch prints the totals.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from campaign import count
from mfsimage import list_raw, metadata_spans, pattern, read_file, superblock

from minixvm import MinixError, System
from minixvm.commands.mkfs import make_image
from minixvm.errors import (
    EACCES,
    EEXIST,
    EFBIG,
    EINVAL,
    EIO,
    EISDIR,
    ELOOP,
    EMLINK,
    ENAMETOOLONG,
    ENOENT,
    ENOSPC,
    ENOTDIR,
    ENOTEMPTY,
    EPERM,
    EROFS,
    errname,
)
from minixvm.include.vfs import O_CREAT, O_TRUNC, O_WRONLY, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG
from minixvm.lib.c import Process

KIB = 1024
SEED = int(os.environ.get("MINIXVM_FUZZ_SEED", "20261202"))
IMAGE_CASES = int(os.environ.get("MINIXVM_FUZZ_IMAGE_CASES", "200"))
JOBS = int(os.environ.get("MINIXVM_FUZZ_JOBS", "1"))
BATCH = 100  # cases per test (each test is under pytest's timeout)
HOST_FILE_EVERY = 8  # every 8th case boots from a host image file instead of a bytearray
READ_CAP = 400 * KIB  # a damaged size can claim 2 GiB of holes
LINK_READ_CAP = 4 * KIB  # what is read through a symbolic link
MAX_DIRS = 40  # directories a walk lists (a damaged entry can make a loop)
MAX_ENTRIES = 200  # entries a walk looks at
MAX_DEPTH = 8
STEPS = 1_000_000  # scheduler steps a case may take: beyond, it is a livelock
SECONDS = 60.0  # and the time it may take

# A file-system error is a clean answer: the damage was seen. EEXIST,
# ENOTEMPTY and EMLINK are what a damaged directory or link count can
# make a create, rmdir or rename honestly say; EPERM an unlink of a file
# whose mode was damaged into a directory's (MINIX's code for that).
CLEAN = {EINVAL, EIO, ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG, EROFS, ENOSPC, EFBIG, EISDIR,
         EACCES, EEXIST, ENOTEMPTY, EMLINK, EPERM}

FILES: dict[str, Any] = {
    "/etc/motd": b"welcome\n",
    "/empty": b"",
    "/a/b/c/deep.txt": pattern(3000, 1),
    "/a/b/mid": pattern(20 * KIB, 2),  # a single-indirect block
    "/a/big": pattern(270 * KIB, 3),  # past the single-indirect zone (263 KiB): a double one
    "/a/link": (b"b/mid", S_IFLNK | 0o777),
    "/abs": (b"/a/b/c/deep.txt", S_IFLNK | 0o777),
    "/loop": (b"/loop", S_IFLNK | 0o777),
    **{f"/many/entry-{i:02}": pattern(100 + i, i) for i in range(40)},  # 3 directory blocks
}
KINDS = ["superblock", "bitmaps", "inodes", "directories", "indirect"]
SUPERBLOCK_ODDS = 0.25  # most superblock damage stops the mount: keep it to a quarter of cases
# Values a damaged 32-bit word (a zone, a size, an inode number) is set to.
EDGES = [0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x100, 0x3FF, 0x400, 0x1000, 0xFFFF, 0x10000,
         0x40000, 1 << 30, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]

NEW_DATA, PATCH_DATA = pattern(20 * KIB, 9), pattern(3 * KIB, 7)

T = TypeVar("T")


def base_image() -> bytearray:
    return make_image(1 << 20, files=FILES)


BASE = base_image()
SPANS = metadata_spans(BASE)


def damage(rng: random.Random, image: bytearray) -> list[tuple[int, int, int]]:
    """Damage ``image`` in place: a few edits in one to three kinds of
    metadata. The edits, as (offset, old byte, new byte)."""
    sb = superblock(image)
    edges = EDGES + [sb.ninodes, sb.ninodes + 1, sb.zones - 1, sb.zones, sb.zones + 1,
                     sb.firstdatazone - 1, sb.firstdatazone, len(image) // sb.block_size]
    changed: list[tuple[int, int, int]] = []

    def put(offset: int, data: bytes) -> None:
        for i, byte in enumerate(data):
            if image[offset + i] != byte:
                changed.append((offset + i, image[offset + i], byte))
                image[offset + i] = byte

    kinds = rng.sample(KINDS[1:], rng.randint(1, 3))
    if rng.random() < SUPERBLOCK_ODDS:
        kinds[rng.randrange(len(kinds))] = "superblock"
    for kind in kinds:
        for _ in range(rng.randint(1, 6)):
            start, end = rng.choice(SPANS[kind])
            how = rng.random()
            if how < 0.5:  # a bit flipped
                at = rng.randrange(start, end)
                put(at, bytes([image[at] ^ 1 << rng.randrange(8)]))
            elif how < 0.7:  # a byte set at random
                put(rng.randrange(start, end), bytes([rng.randrange(256)]))
            else:  # a word (aligned as the fields are) set to an edge value
                width = 2 if kind == "superblock" and rng.random() < 0.5 else 4
                at = start + rng.randrange(0, max(1, end - start - width + 1), 2)
                value = rng.choice(edges) if rng.random() < 0.8 else rng.getrandbits(32)
                put(at, (value % (1 << 8 * width)).to_bytes(width, "little"))
    return changed


@dataclass
class Walk:
    """What a program's use of a damaged file system came to."""

    errors: Counter[int] = field(default_factory=Counter)
    calls: int = 0
    entries: int = 0
    read: int = 0
    undecodable: int = 0


def use(p: Process, walk: Walk) -> None:
    """Walk the tree from the root, reading everything, then write a little."""

    def attempt(fn: Callable[[], T]) -> T | None:
        walk.calls += 1
        try:
            return fn()
        except MinixError as e:
            walk.errors[e.errno or 0] += 1
            return None

    def kind(path: str, follow: bool = False) -> int | None:
        st = attempt(lambda: p.stat(path) if follow else p.lstat(path))
        return None if st is None else st.st_mode & S_IFMT

    def read(path: str, cap: int = READ_CAP) -> None:
        data = attempt(lambda: read_file(p, path, cap))
        walk.read += len(data or b"")

    dirs, listed = [("/", 0)], 0
    while dirs and listed < MAX_DIRS:
        path, depth = dirs.pop()
        listed += 1
        for raw in (attempt(partial(list_raw, p, path)) or [])[:MAX_ENTRIES]:
            if raw in (b".", b"..") or walk.entries >= MAX_ENTRIES:
                continue
            walk.entries += 1
            try:
                name = raw.decode()
            except UnicodeDecodeError:
                walk.undecodable += 1
                continue
            child = path.rstrip("/") + "/" + name
            mode = kind(child)
            if mode == S_IFDIR and depth < MAX_DEPTH:
                dirs.append((child, depth + 1))
            elif mode == S_IFREG:  # only regular files: a device or a FIFO may block
                read(child)
            elif mode == S_IFLNK:
                try:
                    attempt(partial(p.readlink, child))
                except UnicodeDecodeError:
                    walk.undecodable += 1
                if kind(child, follow=True) == S_IFREG:
                    read(child, LINK_READ_CAP)  # the file itself is read where it lies

    def write_new() -> None:
        fd = p.open("/fuzz.new", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try:
            p.write(NEW_DATA, fd)
        finally:
            p.close(fd)

    def write_into(path: str, at: int) -> None:
        if kind(path) != S_IFREG:
            return
        fd = p.open(path, O_WRONLY)
        try:
            p.lseek(fd, at)
            p.write(PATCH_DATA, fd)
        finally:
            p.close(fd)

    attempt(write_new)
    attempt(lambda: write_into("/a/big", 266 * KIB))  # under the double-indirect block
    attempt(lambda: write_into("/a/b/mid", 10 * KIB))  # under the single-indirect block
    attempt(lambda: p.mkdir("/fuzz.d", 0o755))
    attempt(lambda: p.rename("/fuzz.new", "/fuzz.d/moved"))
    attempt(lambda: p.rename("/a/b/c/deep.txt", "/many/deep.txt"))
    if kind("/a/b/mid") == S_IFREG:
        attempt(lambda: p.truncate("/a/b/mid", 5000))  # frees the indirect block's zones
    attempt(lambda: p.unlink("/fuzz.d/moved"))
    attempt(lambda: p.unlink("/many/entry-07"))
    attempt(lambda: p.rmdir("/fuzz.d"))
    attempt(p.sync)


def run_case(number: int, tmp: Path) -> tuple[Walk, bool]:
    """Damage a copy of the image (case ``number``), boot on it, use it;
    (the walk, whether the root mounted). Fails on anything unclean."""
    rng = random.Random(f"{SEED}:{number}")
    image = bytearray(BASE)
    edits = damage(rng, image)
    where = f"image case {number} (seed {SEED}), bytes changed (offset, old, new): {edits}"
    host = number % HOST_FILE_EVERY == 0
    disk: bytearray | Path = image
    if host:
        disk = tmp / f"image-{number}"
        disk.write_bytes(image)
    walk = Walk()
    system = System.boot(ram="32M", disk=disk)
    try:
        mounted = "cannot mount" not in system.console.text

        def program(p: Process) -> int:
            use(p, walk)
            return 0

        handle = system.spawn(program, name="walker")
        steps, deadline = itertools.count(), time.monotonic() + SECONDS
        system.kernel.sched.run(lambda: handle.done or next(steps) > STEPS
                                or time.monotonic() > deadline)
        assert handle.done, f"{where}: no end after {STEPS} steps or {SECONDS} s"
        if handle.error is not None:
            raise AssertionError(f"{where}: {handle.error!r}") from handle.error
        assert handle.returncode == 0, where
        assert system.kernel.panicked is None, f"{where}: {system.kernel.panicked}"
        system.run_until_idle()
        system.vm_sanity_check()
    finally:
        system.close()
    assert system.kernel.panicked is None, f"{where}: at shutdown: {system.kernel.panicked}"
    unclean = set(walk.errors) - CLEAN
    assert not unclean, f"{where}: {sorted(errname(e) for e in unclean)}"
    if host:
        assert isinstance(disk, Path)
        assert disk.stat().st_size == len(BASE), f"{where}: the image file grew"
        disk.unlink()
    else:
        assert len(image) == len(BASE), f"{where}: the image grew"
    return walk, mounted


def test_the_base_image_is_whole() -> None:
    """Undamaged, the walk reads every file and every call succeeds but
    following the looping link."""
    walk, mounted = run_case_undamaged()
    assert mounted and walk.errors == Counter({ELOOP: 1}), walk.errors
    assert walk.entries >= len(FILES) + 5  # the directories /etc, /a, /a/b, /a/b/c, /many
    assert walk.read >= sum(len(v) for v in FILES.values() if isinstance(v, bytes))


def run_case_undamaged() -> tuple[Walk, bool]:
    walk = Walk()
    with System.boot(ram="32M", disk=bytearray(BASE)) as system:
        mounted = "cannot mount" not in system.console.text

        def program(p: Process) -> int:
            use(p, walk)
            return 0

        assert system.run(program) == 0
    return walk, mounted


def test_every_kind_of_metadata_has_bytes_to_damage() -> None:
    assert all(SPANS[k] for k in KINDS), {k: len(v) for k, v in SPANS.items()}
    assert len(SPANS["indirect"]) >= 3  # /a/big's double and single ones, /a/b/mid's
    assert len(SPANS["directories"]) >= 3 + 6


@dataclass
class Totals:
    cases: int = 0
    unmounted: int = 0
    calls: int = 0
    read: int = 0
    errors: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0

    def add(self, walk: Walk, mounted: bool) -> None:
        self.cases += 1
        self.unmounted += not mounted
        self.calls += walk.calls
        self.read += walk.read
        self.errors += walk.errors

    def add_totals(self, other: Totals) -> None:
        self.cases += other.cases
        self.unmounted += other.unmounted
        self.calls += other.calls
        self.read += other.read
        self.errors += other.errors
        self.seconds += other.seconds

    def __str__(self) -> str:
        errors = dict(sorted((errname(e), n) for e, n in self.errors.items()))
        return (f"{self.cases} images, {self.unmounted} not mounted, {self.calls} calls, "
                f"{self.read >> 10} KiB read, errors {errors}, {self.seconds:.1f} s")


ALL = Totals()


def run_cases(cases: range, tmp: Path) -> list[tuple[Walk, bool]]:
    """``run_case`` of each case, over JOBS processes if more than one."""
    if JOBS <= 1 or len(cases) < 2:
        return [run_case(n, tmp) for n in cases]
    with ProcessPoolExecutor(JOBS, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(run_case, cases, itertools.repeat(tmp),
                             chunksize=-(-len(cases) // (4 * JOBS))))


@pytest.mark.parametrize("batch", range(-(-IMAGE_CASES // BATCH)))
def test_damaged_images_give_errors_not_crashes(batch: int, tmp_path: Path) -> None:
    cases = range(batch * BATCH, min(IMAGE_CASES, (batch + 1) * BATCH))
    totals, started = Totals(), time.monotonic()
    for walk, mounted in run_cases(cases, tmp_path):
        totals.add(walk, mounted)
    totals.seconds = time.monotonic() - started
    ALL.add_totals(totals)
    count("image fuzz", images=totals.cases, not_mounted=totals.unmounted, calls=totals.calls)
    print(f"\nimage fuzz: seed {SEED}, cases {cases.start}-{cases.stop - 1} of {IMAGE_CASES}: "
          f"{totals}")
    if ALL.cases == IMAGE_CASES:
        print(f"image fuzz, all: seed {SEED}, {ALL}")
