"""mkfs: the images make_image writes are MINIX v3 file systems laid out as
Linux's mkfs.minix -3 lays them out; fsck.minix accepts the 1 KiB ones, and
a small reader here walks every image back (directories, zones, indirect
blocks) to check each file's bytes, mode and links.
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from minixvm.commands.mkfs import (
    TIME,
    default_inodes,
    make_image,
    make_super,
    mark_clean,
    run,
    write_image,
)
from minixvm.include.mfs import (
    DIR_ENTRY_SIZE,
    INODE_SIZE,
    MFSFLAG_CLEAN,
    NR_DZONES,
    SUPER_OFFSET,
    ZONE_DOUBLE,
    ZONE_SINGLE,
    DiskInode,
    Superblock,
    bit_test,
    dir_entry_unpack,
    max_file_size,
)
from minixvm.include.vfs import S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG

FSCK = shutil.which("fsck.minix") or next(
    (p for p in ("/usr/sbin/fsck.minix", "/sbin/fsck.minix") if os.path.exists(p)), None)
MKFS = shutil.which("mkfs.minix") or next(
    (p for p in ("/usr/sbin/mkfs.minix", "/sbin/mkfs.minix") if os.path.exists(p)), None)
needs_fsck = pytest.mark.skipif(FSCK is None, reason="fsck.minix (util-linux) is not installed")
needs_mkfs = pytest.mark.skipif(MKFS is None, reason="mkfs.minix (util-linux) is not installed")

KIB, MIB = 1 << 10, 1 << 20


def pattern(n: int, seed: int) -> bytes:
    """``n`` bytes that differ from block to block and from file to file."""
    unit = random.Random(seed).randbytes(4093)  # a prime length: no two blocks alike
    return (unit * (n // len(unit) + 1))[:n]


# ---------------------------------------------------------------- a reader


@dataclass
class Image:
    """A read-only view of a MINIX v3 image, checking what it reads."""

    image: bytes | bytearray

    def __post_init__(self) -> None:
        self.raw = memoryview(self.image)
        self.sb = Superblock.unpack(bytes(self.raw[SUPER_OFFSET:SUPER_OFFSET + 64]))
        assert self.sb.problem() is None
        assert len(self.raw) == self.sb.zones * self.sb.block_size
        bs = self.sb.block_size
        self.imap = self.raw[2 * bs:(2 + self.sb.imap_blocks) * bs]
        zmap_at = (2 + self.sb.imap_blocks) * bs
        self.zmap = self.raw[zmap_at:zmap_at + self.sb.zmap_blocks * bs]

    def block(self, zone: int) -> memoryview:
        assert self.sb.firstdatazone <= zone < self.sb.zones, f"zone {zone} outside the data"
        assert bit_test(self.zmap, zone - self.sb.firstdatazone + 1), f"zone {zone} is free"
        bs = self.sb.block_size
        return self.raw[zone * bs:(zone + 1) * bs]

    def inode(self, ino: int) -> DiskInode:
        assert 1 <= ino <= self.sb.ninodes and bit_test(self.imap, ino), f"inode {ino} is free"
        at = self.sb.inode_table * self.sb.block_size + (ino - 1) * INODE_SIZE
        return DiskInode.unpack(self.raw, at)

    def indirect(self, zone: int) -> list[int]:
        return list(struct.unpack(f"<{self.sb.block_size // 4}I", self.block(zone)))

    def data_zones(self, inode: DiskInode) -> list[int]:
        """The zones of a file's data, in order (no holes are written by mkfs)."""
        zones = list(inode.zones[:NR_DZONES])
        if inode.zones[ZONE_SINGLE]:
            zones += self.indirect(inode.zones[ZONE_SINGLE])
        if inode.zones[ZONE_DOUBLE]:
            for single in self.indirect(inode.zones[ZONE_DOUBLE]):
                if single:
                    zones += self.indirect(single)
        return zones

    def read(self, ino: int) -> bytes:
        inode = self.inode(ino)
        bs = self.sb.block_size
        count = -(-inode.size // bs)
        zones = self.data_zones(inode)
        assert all(zones[:count]) and not any(zones[count:]), "holes or zones past the end"
        return b"".join(self.block(z) for z in zones[:count])[:inode.size]

    def entries(self, ino: int) -> dict[bytes, int]:
        inode = self.inode(ino)
        assert inode.mode & S_IFMT == S_IFDIR and inode.size % DIR_ENTRY_SIZE == 0
        data = self.read(ino)
        slots = [dir_entry_unpack(data, at) for at in range(0, len(data), DIR_ENTRY_SIZE)]
        found = {name: n for n, name in slots if n}
        assert len(found) == sum(1 for n, _ in slots if n), "a name twice"
        return found

    def lookup(self, path: str) -> int:
        ino = 1
        for name in path.strip("/").split("/"):
            if name:
                ino = self.entries(ino)[name.encode()]
        return ino

    def walk(self, ino: int = 1, path: str = "") -> dict[str, int]:
        """Every path under directory ``ino`` (not . and ..) to its inode."""
        found: dict[str, int] = {}
        for name, child in self.entries(ino).items():
            if name in (b".", b".."):
                continue
            sub = f"{path}/{name.decode()}"
            found[sub] = child
            if self.inode(child).mode & S_IFMT == S_IFDIR:
                found.update(self.walk(child, sub))
        return found

    def check_tree(self) -> None:
        """Links, '.' and '..' of every directory; every used inode reachable once."""
        paths = {"/": 1} | self.walk()
        parents = {1: 1}
        for path, ino in paths.items():
            if self.inode(ino).mode & S_IFMT != S_IFDIR:
                assert self.inode(ino).nlinks == 1
                continue
            entries = self.entries(ino)
            for child in entries.values():
                parents.setdefault(child, ino)
            subdirs = [c for n, c in entries.items() if n not in (b".", b"..")
                       and self.inode(c).mode & S_IFMT == S_IFDIR]
            assert entries[b"."] == ino and entries[b".."] == parents[ino], path
            assert self.inode(ino).nlinks == 2 + len(subdirs), path
        used = {n for n in range(1, self.sb.ninodes + 1) if bit_test(self.imap, n)}
        assert sorted(paths.values()) == sorted(used)


def fsck(path: Path) -> subprocess.CompletedProcess[str]:
    assert FSCK is not None
    return subprocess.run([FSCK, "-f", str(path)], capture_output=True, text=True, timeout=60)


def assert_fsck_clean(image: bytearray, tmp_path: Path) -> None:
    path = tmp_path / "fs.img"
    path.write_bytes(image)
    result = fsck(path)
    assert result.returncode == 0, result.stdout + result.stderr


def linux_image(tmp_path: Path, size: int) -> Path:
    assert MKFS is not None
    path = tmp_path / "linux.img"
    path.write_bytes(b"")
    os.truncate(path, size)
    subprocess.run([MKFS, "-3", str(path)], check=True, capture_output=True, timeout=60)
    return path


# ---------------------------------------------------------------- the base image


@pytest.mark.parametrize("block_size", [1024, 4096])
def test_base_image(block_size: int) -> None:
    img = Image(make_image(4 * MIB, block_size))
    sb = img.sb
    assert sb.flags == MFSFLAG_CLEAN and sb.block_size == block_size and sb.log_zone_size == 0
    assert sb.max_size == max_file_size(block_size)
    root = img.inode(1)
    assert root.mode == 0o040755 and root.nlinks == 4 and root.size == 4 * DIR_ENTRY_SIZE
    assert root.zones[0] == sb.firstdatazone
    assert (root.atime, root.mtime, root.ctime, root.uid, root.gid) == (TIME, TIME, TIME, 0, 0)
    assert set(img.entries(1)) == {b".", b"..", b"dev", b"tmp"}
    assert img.inode(img.lookup("/tmp")).mode == 0o041777
    assert img.inode(img.lookup("/dev")).mode == 0o040755
    devices = {"console": (S_IFCHR | 0o666, 0x400), "tty": (S_IFCHR | 0o666, 0x500),
               "mem": (S_IFCHR | 0o640, 0x101), "null": (S_IFCHR | 0o666, 0x103),
               "zero": (S_IFCHR | 0o666, 0x105), "ram": (S_IFBLK | 0o640, 0x100),
               "c0d0": (S_IFBLK | 0o640, 0x300)}
    for name, (mode, dev) in devices.items():
        node = img.inode(img.lookup(f"/dev/{name}"))
        assert (node.mode, node.zones[0], node.size, node.nlinks) == (mode, dev, 0, 1), name
        assert not any(node.zones[1:])
    assert set(img.walk()) == {"/dev", "/tmp"} | {f"/dev/{n}" for n in devices}
    img.check_tree()


@pytest.mark.parametrize("block_size", [1024, 4096])
def test_bitmaps(block_size: int) -> None:
    img = Image(make_image(3 * MIB + 5 * block_size, block_size))
    sb = img.sb
    used_inodes, used_zones = 10, 3  # root, /dev, 7 devices, /tmp; 3 directories' zones
    bits = sb.zones - sb.firstdatazone + 1
    assert bit_test(img.imap, 0) and bit_test(img.zmap, 0)
    assert all(bit_test(img.imap, n) for n in range(1, used_inodes + 1))
    assert not any(bit_test(img.imap, n) for n in range(used_inodes + 1, sb.ninodes + 1))
    assert all(bit_test(img.imap, n) for n in range(sb.ninodes + 1, len(img.imap) * 8))
    assert all(bit_test(img.zmap, n) for n in range(1, used_zones + 1))
    assert not any(bit_test(img.zmap, n) for n in range(used_zones + 1, bits))
    assert all(bit_test(img.zmap, n) for n in range(bits, len(img.zmap) * 8))


def test_superblock_in_block_0_with_4k_blocks() -> None:
    image = make_image(1 * MIB, 4096)
    sb = Image(image).sb  # read at byte 1024, inside block 0
    assert sb.zones == 256 and sb.inode_table == 2 + sb.imap_blocks + sb.zmap_blocks
    assert not any(image[4096:8192])  # block 1 is unused with 4 KiB blocks
    assert not any(image[:SUPER_OFFSET])


# ---------------------------------------------------------------- files


FILE_SIZES = {"/empty": 0, "/one": 1, "/bin/seven": 7 * KIB, "/bin/eight": 8 * KIB,
              "/bin/direct": NR_DZONES * KIB, "/bin/single": (NR_DZONES + 256) * KIB,
              "/lib/double": 300 * KIB, "/lib/big": 3 * MIB + 123}


def many_files() -> dict[str, bytes | tuple[bytes, int]]:
    files: dict[str, bytes | tuple[bytes, int]] = {
        path: pattern(size, seed) for seed, (path, size) in enumerate(FILE_SIZES.items())}
    files.update({f"/many/entry{i:03}": f"file {i}\n".encode() for i in range(300)})
    files["/a/b/c/d/e/deep"] = (b"deep\n", 0o644)
    files["/a/b/setuid"] = (b"#!/bin/sh\n", S_IFREG | 0o4755)
    files["/a/link"] = (b"b/c/d/e/deep", S_IFLNK | 0o777)
    files["/bin/abs"] = (b"/lib/big", S_IFLNK | 0o777)
    files["/dev/extra"] = b"in /dev"
    files["/tmp/" + "x" * 60] = b"a 60-byte name"
    return files


def check_files(img: Image, files: dict[str, bytes | tuple[bytes, int]]) -> None:
    for path, spec in files.items():
        data, mode = (spec, 0o100755) if isinstance(spec, bytes) else spec
        mode |= S_IFREG if not mode & S_IFMT else 0
        ino = img.lookup(path)
        assert img.read(ino) == data, path
        assert img.inode(ino).mode == mode, path


@needs_fsck
def test_files_pass_fsck(tmp_path: Path) -> None:
    files = many_files()
    image = make_image(8 * MIB, files=files)
    assert_fsck_clean(image, tmp_path)
    img = Image(image)
    check_files(img, files)
    img.check_tree()
    assert img.inode(img.lookup("/lib/double")).zones[ZONE_DOUBLE]
    assert not img.inode(img.lookup("/bin/single")).zones[ZONE_DOUBLE]
    assert img.inode(img.lookup("/bin/single")).zones[ZONE_SINGLE]
    assert img.inode(img.lookup("/many")).size == 302 * DIR_ENTRY_SIZE
    assert img.inode(img.lookup("/a")).nlinks == 3


def test_files_4k_blocks() -> None:
    files = many_files()
    files["/lib/double"] = pattern((NR_DZONES + 1024) * 4 * KIB + 1, 99)  # past single indirect
    img = Image(make_image(16 * MIB, 4096, files=files))
    check_files(img, files)
    img.check_tree()
    assert img.inode(img.lookup("/lib/double")).zones[ZONE_DOUBLE]


@needs_fsck
def test_largest_file(tmp_path: Path) -> None:
    """A file of the double-indirect limit (1 KiB blocks) fills every slot."""
    size = max_file_size(1024)
    data = pattern(size, 5)
    image = make_image(66 * MIB, files={"/huge": data})
    img = Image(image)
    assert img.read(img.lookup("/huge")) == data
    assert_fsck_clean(image, tmp_path)
    with pytest.raises(ValueError, match="larger than"):
        make_image(1 * MIB, files={"/huge": data + b"!"})


def test_from_dir(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    (tree / "prog").write_bytes(b"\x7fELF" + bytes(9000))
    (tree / "prog").chmod(0o750)
    (tree / "sub" / "notes").write_bytes(b"notes\n")
    (tree / "sub" / "notes").chmod(0o600)
    (tree / "sub").chmod(0o700)
    (tree / "sub" / "deeper" / "empty").write_bytes(b"")
    (tree / "sub" / "link").symlink_to("notes")
    (tree / "tmp").mkdir()  # merged with the image's /tmp, whose mode it takes
    (tree / "tmp").chmod(0o755)
    (tree / "tmp" / "t").write_bytes(b"t")
    try:
        image = make_image(2 * MIB, from_dir=tree, files={"/sub/extra": b"extra"})
    finally:
        (tree / "sub").chmod(0o755)
    img = Image(image)
    img.check_tree()
    prog = img.inode(img.lookup("/prog"))
    assert (prog.mode, img.read(img.lookup("/prog"))) == (S_IFREG | 0o750,
                                                           b"\x7fELF" + bytes(9000))
    assert img.inode(img.lookup("/sub")).mode == S_IFDIR | 0o700
    assert img.inode(img.lookup("/sub/notes")).mode == S_IFREG | 0o600
    link = img.lookup("/sub/link")
    assert img.inode(link).mode & S_IFMT == S_IFLNK and img.read(link) == b"notes"
    assert img.read(img.lookup("/sub/extra")) == b"extra"
    assert img.inode(img.lookup("/tmp")).mode == S_IFDIR | 0o755
    assert img.read(img.lookup("/tmp/t")) == b"t"
    assert img.lookup("/dev/null")


def test_from_dir_refuses_special_files(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ValueError, match="not a regular file, directory or symlink"):
        make_image(1 * MIB, from_dir=tmp_path)


def test_deterministic(tmp_path: Path) -> None:
    files: dict[str, bytes | tuple[bytes, int]] = {"/bin/a": pattern(5000, 1),
                                                   "/b/c": (b"c", 0o600)}
    (tmp_path / "x").write_bytes(b"x")
    first = make_image(1 * MIB, files=files, from_dir=tmp_path)
    time.sleep(0.01)
    (tmp_path / "x").touch()
    assert make_image(1 * MIB, files=dict(files), from_dir=tmp_path) == first
    assert make_image(1 * MIB, 4096, files=files) == make_image(1 * MIB, 4096, files=files)


def test_fast() -> None:
    start = time.perf_counter()
    make_image(8 * MIB, files={"/bin/a": pattern(2 * MIB, 1), "/bin/b": pattern(100 * KIB, 2),
                               "/etc/c": b"c"})
    assert time.perf_counter() - start < 0.5


# ---------------------------------------------------------------- layout against Linux


@needs_mkfs
@pytest.mark.parametrize("size", [32 * KIB, 64 * KIB, 200 * KIB, 1 * MIB, 4 * MIB, 17 * MIB,
                                  64 * MIB, 200 * MIB, 1 << 30, 3 << 30])
def test_layout_as_linux(tmp_path: Path, size: int) -> None:
    ours = make_super(size, 1024, None)
    with linux_image(tmp_path, size).open("rb") as f:  # a sparse file: read only the start
        linux = Superblock.unpack(f.read(2 * KIB)[SUPER_OFFSET:])
    assert (ours.ninodes, ours.imap_blocks, ours.zmap_blocks, ours.firstdatazone, ours.zones,
            ours.magic, ours.block_size) == (
        linux.ninodes, linux.imap_blocks, linux.zmap_blocks, linux.firstdatazone, linux.zones,
        linux.magic, linux.block_size)
    assert ours.firstdatazone_old == linux.firstdatazone_old
    assert (ours.flags, linux.flags) == (MFSFLAG_CLEAN, 0)
    if size <= 4 * MIB:
        assert make_image(size)[SUPER_OFFSET:SUPER_OFFSET + Superblock.STRUCT.size] == ours.pack()


def test_default_inodes() -> None:
    """mkfs.minix's ratios, measured: 4 MiB → 1376; 1 GiB → blocks/8; 3 GiB → blocks/16."""
    assert -(-default_inodes(4096) // 16) * 16 == 1376
    assert default_inodes(1 << 20) == (1 << 20) // 8
    assert default_inodes(3 << 20) == (3 << 20) // 16


def test_inodes_override() -> None:
    sb = Image(make_image(1 * MIB, inodes=100)).sb
    assert sb.ninodes == 112  # rounded up to fill the inode block
    sb = Image(make_image(4 * MIB, 4096, inodes=1000)).sb
    assert sb.ninodes == 1024
    with pytest.raises(ValueError, match="inodes"):
        make_image(1 * MIB, inodes=16, files={f"/f{i}": b"" for i in range(10)})
    with pytest.raises(ValueError, match="at least one"):
        make_image(1 * MIB, inodes=0)


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("size, block_size, match", [
    (4 * MIB + 1, 1024, "multiple"),
    (4 * MIB + 1024, 4096, "multiple"),
    (0, 1024, "multiple"),
    (-4096, 1024, "multiple"),
    (7 * KIB, 1024, "too small"),
    (16 * KIB, 4096, "too small"),
    (4 * MIB, 2048, "block size"),
    (4 * MIB, 512, "block size"),
])
def test_bad_sizes(size: int, block_size: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_image(size, block_size)


@pytest.mark.parametrize("files, match", [
    ({"/big": bytes(2 * MIB)}, "too small"),
    ({"relative": b""}, "not absolute"),
    ({"/": b""}, "bad image path"),
    ({"/a/../b": b""}, "bad image path"),
    ({"/" + "n" * 61: b""}, "name"),
    ({"/dev": b""}, "already"),
    ({"/a": b"", "/a/b": b""}, "not a directory"),
    ({"/dir": (b"", S_IFDIR | 0o755)}, "not a regular file or a symlink"),
])
def test_bad_files(files: dict[str, bytes | tuple[bytes, int]], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_image(1 * MIB, files=files)


def test_a_file_may_replace_a_file() -> None:
    img = Image(make_image(1 * MIB, files={"/dev/null": b"not a device"}))
    null = img.inode(img.lookup("/dev/null"))
    assert null.mode == S_IFREG | 0o755 and img.read(img.lookup("/dev/null")) == b"not a device"


# ---------------------------------------------------------------- mark_clean, write_image


@needs_mkfs
@needs_fsck
def test_mark_clean_linux_image(tmp_path: Path) -> None:
    path = linux_image(tmp_path, 4 * MIB)
    before = path.read_bytes()
    assert Superblock.unpack(before[SUPER_OFFSET:]).flags == 0
    mark_clean(path)
    after = path.read_bytes()
    assert Superblock.unpack(after[SUPER_OFFSET:]).flags == MFSFLAG_CLEAN
    assert [i for i in range(len(after)) if after[i] != before[i]] == [SUPER_OFFSET + 14]
    assert fsck(path).returncode == 0
    image = bytearray(before)
    mark_clean(image)
    assert image == after


def test_mark_clean_refuses_other_data(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a MINIX v3"):
        mark_clean(bytearray(4096))
    short = tmp_path / "short"
    short.write_bytes(bytes(1030))
    with pytest.raises(ValueError, match="too short"):
        mark_clean(short)


def test_write_image(tmp_path: Path) -> None:
    path = tmp_path / "w.img"
    write_image(path, 1 * MIB, 4096, files={"/f": b"f"})
    assert path.read_bytes() == make_image(1 * MIB, 4096, files={"/f": b"f"})


# ---------------------------------------------------------------- the command


@needs_fsck
def test_run(tmp_path: Path) -> None:
    path = tmp_path / "cmd.img"
    assert run([str(path), "4M"]) == 0
    assert path.read_bytes() == make_image(4 * MIB)
    assert fsck(path).returncode == 0


def test_run_from_dir_4k(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "hello").write_bytes(b"hello")
    path = tmp_path / "cmd.img"
    assert run([str(path), "2M", "--block-size", "4096", "--from", str(tree)]) == 0
    img = Image(path.read_bytes())
    assert img.sb.block_size == 4096 and img.sb.zones == 512
    assert img.read(img.lookup("/bin/hello")) == b"hello"


@pytest.mark.parametrize("args, match", [
    (["12Q"], "bad size"),
    (["1000"], "multiple"),
    (["7K"], "too small"),
])
def test_run_bad_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                       match: str) -> None:
    assert run([str(tmp_path / "x.img"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minixvm mkfs: ") and match in err and err.count("\n") == 1
    assert "Traceback" not in err
    assert not (tmp_path / "x.img").exists()


def test_run_unwritable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(tmp_path / "no" / "such" / "x.img"), "1M"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minixvm mkfs: ") and err.count("\n") == 1


def test_run_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minixvm mkfs: the following arguments are required") and \
        err.count("\n") == 1
    assert run(["x.img", "1M", "--block-size", "2048"]) == 2
