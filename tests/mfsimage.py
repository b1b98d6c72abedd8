"""Images for the MFS tests: Linux's mkfs.minix and fsck.minix as oracles
(1 KiB blocks), reading or patching an image's inodes and directories
from the host (to corrupt one on purpose), the byte ranges of an image's
metadata by kind (to damage at random), and reading files and directories
from a program without trusting what they hold.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from minixvm.commands.mkfs import mark_clean
from minixvm.include.mfs import (
    DIR_ENTRY_SIZE,
    INODE_SIZE,
    NR_DZONES,
    SUPER_OFFSET,
    ZONE_DOUBLE,
    ZONE_NUM_SIZE,
    ZONE_SINGLE,
    DiskInode,
    Superblock,
    bit_test,
    dir_entry_unpack,
)
from minixvm.include.vfs import S_IFDIR, S_IFMT
from minixvm.include.vfsif import ROOT_INODE
from minixvm.lib.c import Process

KIB = 1024


def linux_image(size: int, clean: bool = True, inodes: int | None = None) -> bytearray:
    """A fresh image of ``size`` bytes made by Linux's ``mkfs.minix -3``
    (flags 0: ``clean`` sets MFSFLAG_CLEAN, as mkfs leaves it unset)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "image"
        path.write_bytes(bytes(size))
        args = ["mkfs.minix", "-3"] + (["-i", str(inodes)] if inodes else []) + [str(path)]
        subprocess.run(args, check=True, capture_output=True)
        image = bytearray(path.read_bytes())
    if clean:
        mark_clean(image)
    return image


def fsck(image: bytes | bytearray) -> tuple[int, str]:
    """``fsck.minix -f`` of ``image``: (exit status, what it said)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "image"
        path.write_bytes(bytes(image))
        done = subprocess.run(["fsck.minix", "-f", str(path)], capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def superblock(image: bytes | bytearray) -> Superblock:
    return Superblock.unpack(bytes(image[SUPER_OFFSET : SUPER_OFFSET + 1024]))


def inode_offset(image: bytes | bytearray, num: int) -> int:
    sb = superblock(image)
    return sb.inode_table * sb.block_size + (num - 1) * INODE_SIZE


def read_inode(image: bytes | bytearray, num: int) -> DiskInode:
    return DiskInode.unpack(bytes(image), inode_offset(image, num))


def write_inode(image: bytearray, num: int, d: DiskInode) -> None:
    off = inode_offset(image, num)
    image[off : off + INODE_SIZE] = d.pack()


def lookup(image: bytes | bytearray, path: str) -> int:
    """The inode number of ``path`` (directories read through their direct zones)."""
    sb = superblock(image)
    num = ROOT_INODE
    for name in filter(None, path.split("/")):
        d = read_inode(image, num)
        found = None
        for pos in range(0, d.size, DIR_ENTRY_SIZE):
            zone = d.zones[pos // sb.block_size]
            ino, entry = dir_entry_unpack(bytes(image), zone * sb.block_size
                                          + pos % sb.block_size)
            if ino and entry == name.encode():
                found = ino
        if found is None:
            raise FileNotFoundError(path)
        num = found
    return num


# -- what a program reads --------------------------------------------------------------


def pattern(n: int, seed: int = 0) -> bytes:
    """``n`` bytes that differ from block to block."""
    return bytes((i * 7 + i // 1024 + seed) & 0xFF for i in range(n))


def read_file(p: Process, path: str, limit: int = 1 << 30) -> bytes:
    """The contents of ``path`` (at most about ``limit`` bytes)."""
    fd = p.open(path)
    out = b""
    while len(out) < limit and (chunk := p.read(fd, 64 * KIB)):
        out += chunk
    p.close(fd)
    return out


def list_raw(p: Process, path: str) -> list[bytes]:
    """The names in directory ``path`` as bytes (damaged ones need not be UTF-8)."""
    fd = p.open(path)
    names: list[bytes] = []
    try:
        while records := p.getdents(fd):
            names += [name for _, _, name in records]
    finally:
        p.close(fd)
    return names


# -- where the metadata lies -----------------------------------------------------------

Span = tuple[int, int]  # [start, end) byte offsets in an image


def indirect_entries(image: bytes | bytearray, block: int, block_size: int) -> list[int]:
    """The zone numbers in indirect block ``block``, up to its last one in use."""
    raw = bytes(image[block * block_size : (block + 1) * block_size])
    zones = [int.from_bytes(raw[i : i + ZONE_NUM_SIZE], "little")
             for i in range(0, len(raw), ZONE_NUM_SIZE)]
    while zones and not zones[-1]:
        zones.pop()
    return zones


def metadata_spans(image: bytes | bytearray) -> dict[str, list[Span]]:
    """The bytes of an intact image's metadata in use, by kind: "superblock"
    (its fields), "bitmaps" (the bits of inodes and zones), "inodes" (the
    table's slots in use), "directories" (their blocks, up to each
    directory's size) and "indirect" (the zone numbers in use in single and
    double indirect blocks). Zones are taken as one block each."""
    sb = superblock(image)
    bs = sb.block_size
    imap = bytes(image[2 * bs : (2 + sb.imap_blocks) * bs])
    used = [n for n in range(1, sb.ninodes + 1) if bit_test(imap, n)]
    zmap_start = (2 + sb.imap_blocks) * bs
    spans: dict[str, list[Span]] = {
        "superblock": [(SUPER_OFFSET, SUPER_OFFSET + Superblock.STRUCT.size)],
        "bitmaps": [(2 * bs, 2 * bs + (sb.ninodes + 8) // 8),
                    (zmap_start, zmap_start + (sb.zones - sb.firstdatazone + 8) // 8)],
        "inodes": [(inode_offset(image, n), inode_offset(image, n) + INODE_SIZE)
                   for n in used],
        "directories": [],
        "indirect": [],
    }
    per_block = bs // ZONE_NUM_SIZE
    for n in used:
        d = read_inode(image, n)
        data = list(d.zones[:NR_DZONES])
        indirect = []
        if d.zones[ZONE_SINGLE]:
            indirect.append(d.zones[ZONE_SINGLE])
            data += indirect_entries(image, d.zones[ZONE_SINGLE], bs)
        if d.zones[ZONE_DOUBLE]:
            indirect.append(d.zones[ZONE_DOUBLE])
            for single in indirect_entries(image, d.zones[ZONE_DOUBLE], bs):
                if single:
                    indirect.append(single)
                    data += indirect_entries(image, single, bs)
        for block in indirect:
            count = len(indirect_entries(image, block, bs)) or per_block
            spans["indirect"].append((block * bs, block * bs + count * ZONE_NUM_SIZE))
        if d.mode & S_IFMT == S_IFDIR:
            for i, zone in enumerate(data):
                length = min(bs, d.size - i * bs)
                if zone and length > 0:
                    spans["directories"].append((zone * bs, zone * bs + length))
    return spans
