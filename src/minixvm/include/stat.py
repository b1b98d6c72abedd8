"""struct stat, byte-exact: the new NetBSD layout of MINIX 3.2 (ef0a26508,
100 bytes on i386) and the old 36-byte ``struct minix_prev_stat`` of the
PREV_* calls; and struct dirent as GETDENTS returns it.

``Stat`` is the values; ``pack()`` gives the new layout, ``pack_prev()``
the old one, refusing (EOVERFLOW) a value the old one cannot hold where
MINIX's VFS truncated silently.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from minixvm.errors import EOVERFLOW, MinixError

# dev u32, mode u32, ino u64, nlink u32, uid u32, gid u32, rdev u32,
# atime/mtime/ctime/birthtime (sec i32, nsec i32), size i64, blocks i64,
# blksize u32, flags u32, gen u32, spare[2] u32.
STAT_LAYOUT = struct.Struct("<IIQIIII8iqqIII2I")
assert STAT_LAYOUT.size == 100
# dev i16, (pad), ino u32, mode u16, nlink i16, uid i16, gid i16, rdev i16,
# (pad), size i32, atime i32, mtime i32, ctime i32.
PREV_STAT_LAYOUT = struct.Struct("<h2xIHhhhh2xiiii")
assert PREV_STAT_LAYOUT.size == 36

# Offsets of the new layout's fields (the reference's table, section D).
STAT_OFFSETS = {
    "st_dev": 0, "st_mode": 4, "st_ino": 8, "st_nlink": 16, "st_uid": 20, "st_gid": 24,
    "st_rdev": 28, "st_atime": 32, "st_atimensec": 36, "st_mtime": 40, "st_mtimensec": 44,
    "st_ctime": 48, "st_ctimensec": 52, "st_birthtime": 56, "st_birthtimensec": 60,
    "st_size": 64, "st_blocks": 72, "st_blksize": 80, "st_flags": 84, "st_gen": 88,
    "st_spare": 92,
}
PREV_STAT_OFFSETS = {
    "st_dev": 0, "st_ino": 4, "st_mode": 8, "st_nlink": 10, "st_uid": 12, "st_gid": 14,
    "st_rdev": 16, "st_size": 20, "st_atime": 24, "st_mtime": 28, "st_ctime": 32,
}
NO_DEV = 0


@dataclass(frozen=True)
class Stat:
    """What stat says of a file."""

    st_dev: int
    st_ino: int
    st_mode: int
    st_nlink: int
    st_uid: int
    st_gid: int
    st_rdev: int
    st_size: int
    st_atime: int
    st_mtime: int
    st_ctime: int
    st_blksize: int = 0
    st_blocks: int = 0

    def pack(self) -> bytes:
        """The 100-byte NetBSD struct stat (nanoseconds, birth time, flags 0)."""
        return STAT_LAYOUT.pack(self.st_dev, self.st_mode, self.st_ino, self.st_nlink,
                                self.st_uid, self.st_gid, self.st_rdev, self.st_atime, 0,
                                self.st_mtime, 0, self.st_ctime, 0, 0, 0, self.st_size,
                                self.st_blocks, self.st_blksize, 0, 0, 0, 0)

    @classmethod
    def unpack(cls, data: bytes) -> Stat:
        (dev, mode, ino, nlink, uid, gid, rdev, atime, _, mtime, _, ctime, _, _, _, size,
         blocks, blksize, *_) = STAT_LAYOUT.unpack(data[: STAT_LAYOUT.size])
        return cls(dev, ino, mode, nlink, uid, gid, rdev, size, atime, mtime, ctime, blksize,
                   blocks)

    def pack_prev(self) -> bytes:
        """The 36-byte minix_prev_stat; EOVERFLOW if a value does not fit."""
        fields = {
            "st_dev": (self.st_dev, -(1 << 15), 1 << 15),
            "st_ino": (self.st_ino, 0, 1 << 32),
            "st_mode": (self.st_mode, 0, 1 << 16),
            "st_nlink": (self.st_nlink, 0, 1 << 15),
            "st_uid": (self.st_uid, 0, 1 << 15),
            "st_gid": (self.st_gid, 0, 1 << 15),
            "st_rdev": (self.st_rdev, -(1 << 15), 1 << 15),
            "st_size": (self.st_size, -(1 << 31), 1 << 31),
        }
        for name, (value, lo, hi) in fields.items():
            if not lo <= value < hi:
                raise MinixError(EOVERFLOW, f"{name} {value} does not fit minix_prev_stat")
        return PREV_STAT_LAYOUT.pack(self.st_dev, self.st_ino, self.st_mode, self.st_nlink,
                                     self.st_uid, self.st_gid, self.st_rdev, self.st_size,
                                     self.st_atime, self.st_mtime, self.st_ctime)


# struct dirent of MINIX 3.2 (<sys/dirent.h> before the NetBSD one): d_ino
# u32, d_off i32 (the directory position after this entry), d_reclen u16,
# d_name NUL-terminated; each record padded to 4 bytes.
DIRENT_HEADER = struct.Struct("<IiH")


def dirent_pack(ino: int, next_pos: int, name: bytes) -> bytes:
    """One directory record."""
    size = DIRENT_HEADER.size + len(name) + 1
    reclen = (size + 3) & ~3
    return DIRENT_HEADER.pack(ino, next_pos, reclen) + name + bytes(reclen - size + 1)


def dirent_unpack(data: bytes) -> list[tuple[int, int, bytes]]:
    """The (ino, next position, name) records of a GETDENTS buffer."""
    out, off = [], 0
    while off + DIRENT_HEADER.size <= len(data):
        ino, pos, reclen = DIRENT_HEADER.unpack_from(data, off)
        if reclen < DIRENT_HEADER.size:
            break
        name = data[off + DIRENT_HEADER.size : off + reclen].split(b"\0", 1)[0]
        out.append((ino, pos, name))
        off += reclen
    return out
