"""The MINIX v3 file system as it lies on disk (MINIX servers/mfs super.h,
inode.h, mfsdir.h, const.h): the superblock, 64-byte inodes, 64-byte
directory entries and the bitmaps. MFS and mkfs both read and write the
format through this module; all of it is little-endian.

A disk is cut into blocks of ``block_size`` bytes (1 KiB or 4 KiB): the
boot block, the superblock at byte 1024 (in block 1 with 1 KiB blocks,
in block 0 with 4 KiB ones), the inode bitmap from block START_BLOCK,
the zone bitmap, the inode table, then the data zones from
``firstdatazone``. A zone is 2**log_zone_size blocks; zone 0 is a hole.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, fields

SUPER_OFFSET = 1024  # the superblock's byte offset, whatever the block size
SUPER_V3 = 0x4D5A
MFSFLAG_CLEAN = 0x0001  # unmounted cleanly (MINIX's s_flags; Linux's s_pad1)
MFSFLAG_MANDATORY_MASK = 0xFF00  # flags an FS must understand to mount
START_BLOCK = 2  # the first inode-bitmap block
MIN_BLOCK_SIZE = 1024
MAX_BLOCK_SIZE = 4096
MAX_LOG_ZONE_SIZE = 4  # read_super accepts at most 16 blocks per zone

INODE_SIZE = 64
NR_DZONES = 7  # direct zones in an inode
ZONE_SINGLE = 7  # the single-indirect zone's slot
ZONE_DOUBLE = 8  # the double-indirect zone's slot
NR_TZONES = 10  # zone slots (the last is unused by MINIX; Linux's triple indirect)
ZONE_NUM_SIZE = 4  # bytes per zone number in an indirect block
NO_ZONE = 0
NO_INODE = 0

DIR_ENTRY_SIZE = 64
MFS_DIRSIZ = 60  # the longest name; a 60-byte name has no NUL

LINK_MAX = 0x7FFF  # an inode's links (i16 in MINIX's struct)


@dataclass
class Superblock:
    """The on-disk superblock (the fields up to s_disk_version)."""

    ninodes: int  # usable inodes: bit 0 of the inode bitmap is never one
    imap_blocks: int
    zmap_blocks: int
    firstdatazone_old: int  # 0: computed (the 16-bit field may not hold it)
    log_zone_size: int
    flags: int
    max_size: int
    zones: int
    block_size: int
    magic: int = SUPER_V3
    nzones: int = 0  # V1 only
    pad2: int = 0
    disk_version: int = 0

    # ninodes nzones imap zmap firstdatazone log_zone flags max_size zones magic pad2 bsize ver
    STRUCT = struct.Struct("<IHHHHHHiIHHHB")

    @classmethod
    def unpack(cls, raw: bytes) -> Superblock:
        """The superblock in ``raw``, the bytes at SUPER_OFFSET."""
        (ninodes, nzones, imap, zmap, fdz, log_zone, flags, max_size, zones, magic, pad2,
         block_size, version) = cls.STRUCT.unpack_from(raw)
        return cls(ninodes, imap, zmap, fdz, log_zone, flags, max_size, zones, block_size,
                   magic, nzones, pad2, version)

    def pack(self) -> bytes:
        return self.STRUCT.pack(self.ninodes, self.nzones, self.imap_blocks, self.zmap_blocks,
                                self.firstdatazone_old, self.log_zone_size, self.flags,
                                self.max_size, self.zones, self.magic, self.pad2,
                                self.block_size, self.disk_version)

    @property
    def inodes_per_block(self) -> int:
        return self.block_size // INODE_SIZE

    @property
    def inode_blocks(self) -> int:
        return -(-self.ninodes // self.inodes_per_block)

    @property
    def inode_table(self) -> int:
        """The first block of the inode table."""
        return START_BLOCK + self.imap_blocks + self.zmap_blocks

    @property
    def firstdatazone(self) -> int:
        if self.firstdatazone_old:
            return self.firstdatazone_old
        blocks = self.inode_table + self.inode_blocks
        zone_blocks = 1 << self.log_zone_size
        return -(-blocks // zone_blocks)

    @property
    def zone_size(self) -> int:
        """Bytes per zone."""
        return self.block_size << self.log_zone_size

    @property
    def blocks(self) -> int:
        """Blocks on the file system."""
        return self.zones << self.log_zone_size

    def problem(self) -> str | None:
        """Why MFS's read_super refuses this superblock, or None."""
        if self.magic != SUPER_V3:
            return f"magic {self.magic:#x} is not MINIX v3's {SUPER_V3:#x}"
        if not MIN_BLOCK_SIZE <= self.block_size <= MAX_BLOCK_SIZE or self.block_size % 512:
            return f"block size {self.block_size}"
        if self.block_size % INODE_SIZE:
            return f"block size {self.block_size} is not a multiple of the inode size"
        if self.imap_blocks < 1 or self.zmap_blocks < 1 or self.ninodes < 1 or self.zones < 1:
            return "empty bitmaps, inodes or zones"
        if self.log_zone_size > MAX_LOG_ZONE_SIZE:
            return f"log zone size {self.log_zone_size}"
        if not 4 < self.firstdatazone < self.zones:
            return f"first data zone {self.firstdatazone} of {self.zones}"
        if self.flags & MFSFLAG_MANDATORY_MASK:
            return f"unknown mandatory flags {self.flags & MFSFLAG_MANDATORY_MASK:#x}"
        if self.imap_blocks * self.block_size * 8 < self.ninodes + 1:
            return "the inode bitmap is too small for the inodes"
        if self.zmap_blocks * self.block_size * 8 < self.zones - self.firstdatazone + 1:
            return "the zone bitmap is too small for the zones"
        return None


@dataclass
class DiskInode:
    """A 64-byte V2/V3 inode."""

    mode: int = 0
    nlinks: int = 0
    uid: int = 0
    gid: int = 0
    size: int = 0
    atime: int = 0
    mtime: int = 0
    ctime: int = 0
    zones: list[int] = field(default_factory=lambda: [NO_ZONE] * NR_TZONES)

    STRUCT = struct.Struct(f"<HHhHiiii{NR_TZONES}I")

    @classmethod
    def unpack(cls, raw: bytes | memoryview, offset: int = 0) -> DiskInode:
        mode, nlinks, uid, gid, size, atime, mtime, ctime, *zones = cls.STRUCT.unpack_from(
            raw, offset)
        return cls(mode, nlinks, uid, gid, size, atime, mtime, ctime, zones)

    def pack(self) -> bytes:
        return self.STRUCT.pack(self.mode, self.nlinks, self.uid, self.gid, self.size,
                                self.atime, self.mtime, self.ctime, *self.zones)

    def copy(self) -> DiskInode:
        return DiskInode(**{f.name: getattr(self, f.name) for f in fields(self)
                            if f.name != "zones"}, zones=list(self.zones))


DIR_ENTRY = struct.Struct(f"<I{MFS_DIRSIZ}s")
assert DiskInode.STRUCT.size == INODE_SIZE and DIR_ENTRY.size == DIR_ENTRY_SIZE


def dir_entry_pack(inode: int, name: bytes) -> bytes:
    """A directory slot naming ``inode`` (at most MFS_DIRSIZ bytes)."""
    if not 0 < len(name) <= MFS_DIRSIZ or b"\0" in name or b"/" in name:
        raise ValueError(f"bad directory entry name {name!r}")
    return DIR_ENTRY.pack(inode, name)


def dir_entry_unpack(raw: bytes | memoryview, offset: int = 0) -> tuple[int, bytes]:
    """(inode, name) of the slot at ``offset``; inode NO_INODE is a free slot."""
    inode, name = DIR_ENTRY.unpack_from(raw, offset)
    return inode, name.split(b"\0", 1)[0]


# Bitmaps are 32-bit little-endian chunks, least significant bit first:
# bit n is bit n % 8 of byte n // 8.


def bit_test(bitmap: bytes | bytearray | memoryview, n: int) -> bool:
    return bool(bitmap[n >> 3] & (1 << (n & 7)))


def bit_set(bitmap: bytearray | memoryview, n: int, on: bool = True) -> None:
    if on:
        bitmap[n >> 3] |= 1 << (n & 7)
    else:
        bitmap[n >> 3] &= ~(1 << (n & 7)) & 0xFF


def max_file_size(block_size: int, log_zone_size: int = 0) -> int:
    """The largest file the zone slots can address (MFS caps it at the i32 size)."""
    per_indirect = block_size // ZONE_NUM_SIZE
    zones = NR_DZONES + per_indirect + per_indirect * per_indirect
    return min(zones * (block_size << log_zone_size), 0x7FFFFFFF)
