"""Giving files zones (MINIX servers/mfs/write.c): write_map puts a zone
number in a file's slots, allocating the indirect zones on the way;
new_block gives a hole of a file a fresh, zeroed block.

A new zone is zeroed in the cache before anything points to it, and a
zone whose mapping fails (no space for an indirect zone) is freed again,
so running out of space leaves the file system as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EFBIG, RequestError
from minixvm.include.mfs import NO_ZONE, NR_DZONES, ZONE_DOUBLE, ZONE_SINGLE
from minixvm.servers.mfs.cache import NO_READ, Buf
from minixvm.servers.mfs.inode import Inode
from minixvm.servers.mfs.read import rd_indir
from minixvm.servers.mfs.super import alloc_zone, check_zone, free_zone

if TYPE_CHECKING:
    from minixvm.servers.mfs.main import MFS


def write_map(fs: MFS, ip: Inode, pos: int, zone: int) -> None:
    """Make ``zone`` the file's zone for byte ``pos`` (ENOSPC if an
    indirect zone is needed and there is none: nothing changed)."""
    sb = fs.vol.sb
    n = fs.vol.nindirs
    index = pos // sb.block_size >> sb.log_zone_size
    zones = ip.d.zones
    ip.dirty = True
    if index < NR_DZONES:
        zones[index] = zone
        return
    index -= NR_DZONES
    if index < n:
        single, _ = indirect(fs, ip, check_zone(fs, zones[ZONE_SINGLE]))
        zones[ZONE_SINGLE] = single
        wr_indir(fs, single, index, zone)
        return
    index -= n
    if index >= n * n:
        raise RequestError(EFBIG)
    double, fresh = indirect(fs, ip, check_zone(fs, zones[ZONE_DOUBLE]))
    try:
        single, new_single = indirect(fs, ip, rd_indir(fs, double, index // n))
    except RequestError:
        if fresh:
            free_zone(fs, double)
        raise
    zones[ZONE_DOUBLE] = double
    if new_single:
        wr_indir(fs, double, index // n, single)
    wr_indir(fs, single, index % n, zone)


def indirect(fs: MFS, ip: Inode, zone: int) -> tuple[int, bool]:
    """``zone``, or a new zeroed indirect zone if it is NO_ZONE: (zone, new)."""
    if zone != NO_ZONE:
        return zone, False
    zone = alloc_zone(fs, ip.zsearch or ip.d.zones[0])
    clear_zone(fs, zone)
    return zone, True


def wr_indir(fs: MFS, zone: int, index: int, value: int) -> None:
    """Set entry ``index`` of indirect zone ``zone``."""
    with fs.cache.block(zone << fs.vol.sb.log_zone_size) as buf:
        fs.cache.write(buf, index * 4, value.to_bytes(4, "little"))


def clear_zone(fs: MFS, zone: int) -> None:
    """Zero every block of ``zone`` (in the cache, dirty)."""
    scale = fs.vol.sb.log_zone_size
    for block in range(zone << scale, zone + 1 << scale):
        with fs.cache.block(block, NO_READ) as buf:
            fs.cache.zero(buf)


def new_block(fs: MFS, ip: Inode, pos: int) -> Buf:
    """A new zeroed block for byte ``pos`` of ``ip``, which lies in a hole:
    the buffer, held and dirty (ENOSPC, nothing changed, if there is none)."""
    sb = fs.vol.sb
    zone = alloc_zone(fs, ip.zsearch or ip.d.zones[0])
    try:
        clear_zone(fs, zone)
        write_map(fs, ip, pos, zone)
    except RequestError:
        free_zone(fs, zone)
        raise
    ip.zsearch = zone
    in_zone = pos // sb.block_size & (1 << sb.log_zone_size) - 1
    return fs.cache.get_block((zone << sb.log_zone_size) + in_zone)
