"""The superblock and the bitmaps (MINIX servers/mfs/super.c).

The superblock is read at mount and checked as MINIX's read_super does
(EINVAL for one MFS cannot use); it is written back only to change its
clean flag. The inode bitmap has a bit per inode (bit 0, inode 0, always
set); the zone bitmap a bit per data zone, bit b for zone
firstdatazone - 1 + b (bit 0 always set). Bits are allocated by a search
from a hint below which every bit is known to be in use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, EIO, ENOSPC, RequestError
from minixvm.include.mfs import NO_ZONE, START_BLOCK, SUPER_OFFSET, Superblock
from minixvm.lib.bdev import BdevDriver
from minixvm.servers.mfs.const import SUPER_BUF

if TYPE_CHECKING:
    from minixvm.servers.mfs.main import MFS, Volume

SUPER_SIZE = 1024  # the bytes MFS reads and writes back (two sectors)
NO_BIT = -1


def read_super(fs: MFS, driver: BdevDriver, minor: int) -> tuple[Superblock, bytes]:
    """The superblock of the device and its raw bytes; EINVAL if it is not
    a MINIX v3 file system MFS can mount, or is larger than the device."""
    buf = fs.scratch + SUPER_BUF
    if driver.read(minor, SUPER_OFFSET, buf, SUPER_SIZE) != SUPER_SIZE:
        raise RequestError(EINVAL)
    raw = fs.sys.mem_read(buf, SUPER_SIZE)
    sb = Superblock.unpack(raw)
    problem = sb.problem() or layout_problem(sb)
    if problem is None:
        size = driver.size(minor)
        if size >= 0 and sb.blocks * sb.block_size > size:
            problem = f"{sb.blocks} blocks on a device of {size} bytes"
    if problem is not None:
        fs.sys.printf("mfs: cannot mount: %s\n", problem)
        raise RequestError(EINVAL)
    return sb, raw


def layout_problem(sb: Superblock) -> str | None:
    """What read_super does not check but MFS relies on: the inode table
    ends before the data zones."""
    if (sb.inode_table + sb.inode_blocks) > sb.firstdatazone << sb.log_zone_size:
        return "the inode table overlaps the data zones"
    return None


def write_super(fs: MFS) -> None:
    """Write the superblock's fields back (the clean flag changed); EIO if the disk fails."""
    vol = fs.vol
    packed = vol.sb.pack()
    raw = packed + vol.super_raw[len(packed):]
    buf = fs.scratch + SUPER_BUF
    fs.sys.mem_write(buf, raw)
    if vol.driver.write(vol.dev & 0xFF, SUPER_OFFSET, buf, SUPER_SIZE) != SUPER_SIZE:
        raise RequestError(EIO)
    vol.super_raw = raw
    fs.stats.disk_writes += 1


def _map(vol: Volume, imap: bool) -> tuple[int, int, int]:
    """(first block, blocks, usable bits) of the inode or zone bitmap."""
    sb = vol.sb
    if imap:
        return START_BLOCK, sb.imap_blocks, sb.ninodes + 1
    return START_BLOCK + sb.imap_blocks, sb.zmap_blocks, sb.zones - (sb.firstdatazone - 1)


def alloc_bit(fs: MFS, imap: bool, origin: int) -> int:
    """Set the first clear bit at or after ``origin`` (wrapping round) of a
    bitmap: its number, or NO_BIT if the map is full."""
    vol = fs.vol
    first, nblocks, nbits = _map(vol, imap)
    per_block = vol.block_size * 8
    if not 0 <= origin < nbits:
        origin = 0
    start = origin // per_block
    for i in range(nblocks + 1):
        block = (start + i) % nblocks
        base = block * per_block
        if base >= nbits:
            continue
        low = origin - base if i == 0 else 0
        with fs.cache.block(first + block) as buf:
            word = int.from_bytes(fs.cache.read(buf, 0, vol.block_size), "little")
            free = ~word & ((1 << per_block) - 1) & ~((1 << low) - 1)
            if not free:
                continue
            bit = (free & -free).bit_length() - 1
            if base + bit >= nbits:
                continue
            byte = bit >> 3
            old = fs.cache.read(buf, byte, 1)[0]
            fs.cache.write(buf, byte, bytes([old | 1 << (bit & 7)]))
            return base + bit
    return NO_BIT


def free_bit(fs: MFS, imap: bool, bit: int) -> None:
    """Clear ``bit`` of a bitmap; EIO if it is outside the map or already clear."""
    vol = fs.vol
    first, _, nbits = _map(vol, imap)
    if not 0 < bit < nbits:
        raise RequestError(EIO)
    per_block = vol.block_size * 8
    with fs.cache.block(first + bit // per_block) as buf:
        byte = bit % per_block >> 3
        old = fs.cache.read(buf, byte, 1)[0]
        if not old & 1 << (bit & 7):
            raise RequestError(EIO)
        fs.cache.write(buf, byte, bytes([old & ~(1 << (bit & 7)) & 0xFF]))
    if imap:
        vol.isearch = min(vol.isearch, bit)
    else:
        vol.zsearch = min(vol.zsearch, bit)


def alloc_zone(fs: MFS, near: int) -> int:
    """A free zone, preferably at or after ``near``; ENOSPC if there is none."""
    vol = fs.vol
    sb = vol.sb
    origin = vol.zsearch if near <= sb.firstdatazone else near - (sb.firstdatazone - 1)
    bit = alloc_bit(fs, False, origin)
    if bit == NO_BIT:
        fs.sys.printf("mfs: no space on device 0x%x\n", vol.dev)
        raise RequestError(ENOSPC)
    if near <= sb.firstdatazone:
        vol.zsearch = bit
    return sb.firstdatazone - 1 + bit


def free_zone(fs: MFS, zone: int) -> None:
    """Return ``zone`` to the free zones."""
    check_zone(fs, zone)
    if zone != NO_ZONE:
        free_bit(fs, False, zone - (fs.vol.sb.firstdatazone - 1))


def check_zone(fs: MFS, zone: int) -> int:
    """``zone``, a zone number read from the disk: NO_ZONE or a data zone, else EIO."""
    sb = fs.vol.sb
    if zone != NO_ZONE and not sb.firstdatazone <= zone < sb.zones:
        raise RequestError(EIO)
    return zone

