"""In-memory inodes (MINIX servers/mfs/inode.c): the table of inodes in
use, their reference counts, reading and writing them in the inode table,
allocating and freeing them, and REQ_PUTNODE.

An inode is in the table while something holds it: VFS (one reference per
LOOKUP, CREATE or READSUPER reply naming it, given back by REQ_PUTNODE) or
the request being served. At its last reference a changed inode is
written back; one with no links left (an unlinked file that was still
open) has its zones and its inode freed then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, EIO, ENOSPC, RequestError
from minixvm.include.mfs import INODE_SIZE, DiskInode
from minixvm.include.vfs import S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG
from minixvm.include.vfsif import ReqPutnode
from minixvm.servers.mfs.super import NO_BIT, alloc_bit, free_bit
from minixvm.servers.mfs.time import clock_time

if TYPE_CHECKING:
    from minixvm.servers.mfs.main import MFS


@dataclass(eq=False)
class Inode:
    """An inode in use."""

    num: int
    d: DiskInode
    count: int = 0
    dirty: bool = False
    mountpoint: bool = False  # a file system is mounted on it (VFS knows which)
    zsearch: int = 0  # where the file's last zone was allocated

    @property
    def kind(self) -> int:
        return self.d.mode & S_IFMT

    def is_dir(self) -> bool:
        return self.kind == S_IFDIR

    def is_reg(self) -> bool:
        return self.kind == S_IFREG

    def is_lnk(self) -> bool:
        return self.kind == S_IFLNK

    def is_special(self) -> bool:
        """A device file: its zone[0] is a device number, not a zone."""
        return self.kind in (S_IFCHR, S_IFBLK)

    def has_zones(self) -> bool:
        """Its zone slots address data (a file, a directory, a symlink)."""
        return self.kind in (S_IFREG, S_IFDIR, S_IFLNK)


def find_inode(fs: MFS, num: int) -> Inode:
    """An inode VFS holds (a request's REQ_INODE_NR); EINVAL if it holds no such inode."""
    ip = fs.inodes.get(num)
    if ip is None:
        raise RequestError(EINVAL)
    return ip


def get_inode(fs: MFS, num: int) -> Inode:
    """Inode ``num`` held once more, read from the disk if nobody holds it;
    EIO if the number is out of range, or the inode is not in use (a
    directory entry naming it is corrupt) or has a negative size."""
    ip = fs.inodes.get(num)
    if ip is not None:
        ip.count += 1
        return ip
    if not 0 < num <= fs.vol.sb.ninodes:
        raise RequestError(EIO)
    ip = Inode(num, rw_inode(fs, num))
    if ip.d.mode == 0 or ip.d.nlinks == 0 or ip.d.size < 0:
        raise RequestError(EIO)
    ip.count = 1
    fs.inodes[num] = ip
    return ip


def dup_inode(ip: Inode) -> Inode:
    ip.count += 1
    return ip


def put_inode(fs: MFS, ip: Inode | None) -> None:
    """Let go of ``ip``; the last reference writes it back, or frees an
    inode with no links left."""
    if ip is None:
        return
    ip.count -= 1
    if ip.count > 0:
        return
    del fs.inodes[ip.num]
    if fs.vol.readonly:
        return
    if ip.d.nlinks == 0:
        # Late import: truncation is link.py's, and link.py holds inodes.
        from minixvm.servers.mfs.link import free_zones

        if ip.has_zones():
            free_zones(fs, ip, 0)
        ip.d = DiskInode()
        rw_inode(fs, ip.num, ip.d)
        free_bit(fs, True, ip.num)
    elif ip.dirty:
        rw_inode(fs, ip.num, ip.d)


def rw_inode(fs: MFS, num: int, d: DiskInode | None = None) -> DiskInode:
    """Read inode ``num`` from the inode table, or write ``d`` there."""
    sb = fs.vol.sb
    block = sb.inode_table + (num - 1) // sb.inodes_per_block
    offset = (num - 1) % sb.inodes_per_block * INODE_SIZE
    with fs.cache.block(block) as buf:
        if d is None:
            return DiskInode.unpack(fs.cache.read(buf, offset, INODE_SIZE))
        fs.cache.write(buf, offset, d.pack())
        return d


def write_inode(fs: MFS, ip: Inode) -> None:
    """Write ``ip`` to its block in the cache now."""
    rw_inode(fs, ip.num, ip.d)
    ip.dirty = False


def alloc_inode(fs: MFS, mode: int, uid: int, gid: int) -> Inode:
    """A new inode (held, no links yet, written to its block); ENOSPC if
    there is no free one."""
    vol = fs.vol
    bit = alloc_bit(fs, True, vol.isearch)
    if bit == NO_BIT:
        fs.sys.printf("mfs: out of i-nodes on device 0x%x\n", vol.dev)
        raise RequestError(ENOSPC)
    vol.isearch = bit
    if bit in fs.inodes:
        # The bitmap said free an inode somebody holds: the map is corrupt.
        raise RequestError(EIO)
    now = clock_time(fs.sys)
    d = DiskInode(mode=mode, nlinks=0, uid=uid, gid=gid & 0xFFFF, atime=now, mtime=now,
                  ctime=now)
    ip = Inode(bit, d, count=1)
    fs.inodes[bit] = ip
    write_inode(fs, ip)
    return ip


def touch(fs: MFS, ip: Inode, atime: bool = False, mtime: bool = False,
          ctime: bool = False) -> None:
    """Stamp the named times of ``ip`` with now (MINIX's i_update)."""
    now = clock_time(fs.sys)
    if atime:
        ip.d.atime = now
    if mtime:
        ip.d.mtime = now
    if ctime:
        ip.d.ctime = now
    ip.dirty = True


def do_putnode(fs: MFS, m: ReqPutnode) -> int:
    """REQ_PUTNODE: VFS gives back ``count`` references to an inode."""
    ip = find_inode(fs, m.inode)
    if not 0 < m.count <= ip.count:
        raise RequestError(EINVAL)
    ip.count -= m.count - 1
    put_inode(fs, ip)
    return 0
