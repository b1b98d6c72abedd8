"""STAT and RDLINK (MINIX servers/mfs/stadir.c, link.c's fs_rdlink)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EACCES, EIO, OK, RequestError
from minixvm.include.com import VFS_PROC_NR
from minixvm.include.mfs import NR_DZONES
from minixvm.include.stat import NO_DEV, STAT_LAYOUT, Stat
from minixvm.include.vfsif import ReqRdlink, ReqStat
from minixvm.servers.mfs.const import STAT_BUF
from minixvm.servers.mfs.inode import Inode, find_inode
from minixvm.servers.mfs.read import NO_BLOCK, read_map

if TYPE_CHECKING:
    from minixvm.servers.mfs.main import MFS

SECTOR = 512


def estimate_blocks(fs: MFS, ip: Inode) -> int:
    """st_blocks, in 512-byte units: the zones the size needs and the
    indirect zones that map them (holes are not looked for)."""
    zone_size = fs.vol.sb.zone_size
    n = fs.vol.nindirs
    zones = -(-ip.d.size // zone_size)
    blocks = zones
    if zones > NR_DZONES:
        blocks += 1
    if zones > NR_DZONES + n:
        blocks += 1 + -(-(zones - NR_DZONES - n) // n)
    return blocks * zone_size // SECTOR


def do_stat(fs: MFS, m: ReqStat) -> int:
    """REQ_STAT: the new struct stat into the grant."""
    ip = find_inode(fs, m.inode)
    d = ip.d
    st = Stat(st_dev=fs.vol.dev, st_ino=ip.num, st_mode=d.mode, st_nlink=d.nlinks,
              st_uid=d.uid & 0xFFFF, st_gid=d.gid,
              st_rdev=d.zones[0] if ip.is_special() else NO_DEV, st_size=d.size,
              st_atime=d.atime, st_mtime=d.mtime, st_ctime=d.ctime,
              st_blksize=fs.vol.block_size, st_blocks=estimate_blocks(fs, ip))
    fs.sys.mem_write(fs.scratch + STAT_BUF, st.pack())
    r = fs.sys.sys_safecopyto(VFS_PROC_NR, m.grant, 0, fs.scratch + STAT_BUF, STAT_LAYOUT.size)
    if r != OK:
        raise RequestError(-r)
    return OK


def do_rdlink(fs: MFS, m: ReqRdlink) -> ReqRdlink:
    """REQ_RDLINK: as much of a symlink's target as the buffer holds (no NUL)."""
    ip = find_inode(fs, m.inode)
    if not ip.is_lnk():
        raise RequestError(EACCES)
    if not 0 <= ip.d.size < fs.vol.block_size:
        raise RequestError(EIO)
    n = min(ip.d.size, m.mem_size)
    if n > 0:
        block = read_map(fs, ip, 0)
        if block == NO_BLOCK:
            raise RequestError(EIO)
        with fs.cache.block(block) as buf:
            r = fs.sys.sys_safecopyto(VFS_PROC_NR, m.grant, 0, buf.addr, n)
        if r != OK:
            raise RequestError(-r)
    return ReqRdlink(OK, nbytes=max(n, 0))
