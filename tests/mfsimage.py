"""Images for the MFS tests: Linux's mkfs.minix and fsck.minix as oracles
(1 KiB blocks), and reading or patching an image's inodes and directories
from the host (to corrupt one on purpose).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from minixvm.commands.mkfs import mark_clean
from minixvm.include.mfs import (
    DIR_ENTRY_SIZE,
    INODE_SIZE,
    SUPER_OFFSET,
    DiskInode,
    Superblock,
    dir_entry_unpack,
)
from minixvm.include.vfsif import ROOT_INODE


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
