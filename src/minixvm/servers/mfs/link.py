"""Names and sizes (MINIX servers/mfs/link.c): LINK, UNLINK, RMDIR,
RENAME, FTRUNC, and freeing a file's zones.

Each request checks everything it can before it changes anything, so an
error leaves the file system as it was: RENAME makes the new name before
it removes the old one, and a directory moved elsewhere gets its ".."
pointed at its new parent. A directory may not move below itself (EINVAL);
the walk up that checks it gives up with EIO on a corrupt tree rather
than loop.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from minixvm.errors import (
    EBUSY,
    EEXIST,
    EFBIG,
    EINVAL,
    EIO,
    EISDIR,
    EMLINK,
    ENOENT,
    ENOTDIR,
    ENOTEMPTY,
    EPERM,
    OK,
    RequestError,
)
from minixvm.include.mfs import LINK_MAX, NO_ZONE, NR_DZONES, ZONE_DOUBLE, ZONE_SINGLE
from minixvm.include.vfsif import REQ_UNLINK, ROOT_INODE, ReqFtrunc, ReqLink, ReqRename, ReqUnlink
from minixvm.servers.mfs.const import NAME_BUF2
from minixvm.servers.mfs.inode import Inode, find_inode, get_inode, put_inode, touch
from minixvm.servers.mfs.path import (
    DOT,
    DOTDOT,
    advance,
    crosses_mount,
    delete,
    enter,
    fetch_name,
    is_empty,
    search,
    set_slot,
)
from minixvm.servers.mfs.read import NO_BLOCK, file_limit, read_map
from minixvm.servers.mfs.super import check_zone, free_zone

if TYPE_CHECKING:
    from minixvm.servers.mfs.main import MFS


# -- LINK, UNLINK, RMDIR --------------------------------------------------------------


def do_link(fs: MFS, m: ReqLink) -> int:
    """REQ_LINK: a new name for a file that is not a directory."""
    name = fetch_name(fs, m.grant, m.path_len)
    ip = find_inode(fs, m.inode)
    if ip.d.nlinks >= LINK_MAX:
        raise RequestError(EMLINK)
    if ip.is_dir():
        raise RequestError(EPERM)
    dirp = find_inode(fs, m.dir_ino)
    if dirp.d.nlinks == 0:
        raise RequestError(ENOENT)
    if search(fs, dirp, name) is not None:
        raise RequestError(EEXIST)
    enter(fs, dirp, name, ip.num)
    ip.d.nlinks += 1
    touch(fs, ip, ctime=True)
    return OK


def do_unlink(fs: MFS, m: ReqUnlink) -> int:
    """REQ_UNLINK (not of a directory: EPERM) and REQ_RMDIR (of an empty one).
    A file still open lives on until VFS puts its last reference."""
    name = fetch_name(fs, m.grant, m.path_len)
    dirp = find_inode(fs, m.inode)
    ip = advance(fs, dirp, name, check_perm=False)
    try:
        if crosses_mount(fs, dirp, ip, name):
            raise RequestError(EBUSY)
        if m.m_type == REQ_UNLINK:
            if ip.is_dir():
                raise RequestError(EPERM)
            unlink_file(fs, dirp, ip, name)
        else:
            remove_dir(fs, dirp, ip, name)
    finally:
        put_inode(fs, ip)
    return OK


def unlink_file(fs: MFS, dirp: Inode, ip: Inode, name: bytes) -> None:
    """Remove the name ``name`` of ``ip`` from ``dirp``."""
    delete(fs, dirp, name)
    ip.d.nlinks -= 1
    touch(fs, ip, ctime=True)


def remove_dir(fs: MFS, dirp: Inode, ip: Inode, name: bytes) -> None:
    """Remove the empty directory ``ip``, named ``name`` in ``dirp``."""
    if not ip.is_dir():
        raise RequestError(ENOTDIR)
    if not is_empty(fs, ip):
        raise RequestError(ENOTEMPTY)
    if name in (DOT, DOTDOT):
        raise RequestError(EINVAL)
    if ip.num == ROOT_INODE:
        raise RequestError(EBUSY)
    unlink_file(fs, dirp, ip, name)
    # Its "." and ".." go too, and with them a link each of it and of its parent.
    for dot in (DOT, DOTDOT):
        found = search(fs, ip, dot)
        if found is None:
            continue
        set_slot(fs, found[1], found[0], 0)
        target = ip if found[2] == ip.num else get_inode(fs, found[2])
        target.d.nlinks = max(target.d.nlinks - 1, 0)
        touch(fs, target, ctime=True)
        if target is not ip:
            put_inode(fs, target)


# -- RENAME ---------------------------------------------------------------------------


def do_rename(fs: MFS, m: ReqRename) -> int:
    """REQ_RENAME: ``old_name`` in ``old_dir`` becomes ``new_name`` in
    ``new_dir``, replacing what is there if that is of the same kind (an
    empty directory for a directory)."""
    old_name = fetch_name(fs, m.old_grant, m.old_len)
    new_name = fetch_name(fs, m.new_grant, m.new_len, NAME_BUF2)
    old_dirp = find_inode(fs, m.old_dir)
    new_dirp = find_inode(fs, m.new_dir)
    old_ip = advance(fs, old_dirp, old_name, check_perm=False)
    try:
        if crosses_mount(fs, old_dirp, old_ip, old_name):
            raise RequestError(EBUSY)
        is_dir = old_ip.is_dir()
        if is_dir and (old_name in (DOT, DOTDOT) or new_name in (DOT, DOTDOT)):
            raise RequestError(EINVAL)
        if new_dirp.d.nlinks == 0:
            raise RequestError(ENOENT)
        if not new_dirp.is_dir():
            raise RequestError(ENOTDIR)
        if is_dir and new_dirp is not old_dirp and is_below(fs, old_ip, new_dirp):
            raise RequestError(EINVAL)
        found = search(fs, new_dirp, new_name)
        new_ip = get_inode(fs, found[2]) if found is not None else None
        try:
            if new_ip is old_ip:
                return OK
            rename_checked(fs, old_dirp, old_ip, old_name, new_dirp, new_ip, new_name)
        finally:
            put_inode(fs, new_ip)
    finally:
        put_inode(fs, old_ip)
    return OK


def rename_checked(fs: MFS, old_dirp: Inode, old_ip: Inode, old_name: bytes, new_dirp: Inode,
                   new_ip: Inode | None, new_name: bytes) -> None:
    """The rest of RENAME, once both names are found."""
    is_dir = old_ip.is_dir()
    moves = is_dir and new_dirp is not old_dirp
    if new_ip is not None:
        if crosses_mount(fs, new_dirp, new_ip, new_name):
            raise RequestError(EBUSY)
        if is_dir and not new_ip.is_dir():
            raise RequestError(ENOTDIR)
        if not is_dir and new_ip.is_dir():
            raise RequestError(EISDIR)
        if is_dir:
            remove_dir(fs, new_dirp, new_ip, new_name)
        else:
            unlink_file(fs, new_dirp, new_ip, new_name)
    elif moves and new_dirp.d.nlinks >= LINK_MAX:
        raise RequestError(EMLINK)
    enter(fs, new_dirp, new_name, old_ip.num)
    delete(fs, old_dirp, old_name)
    touch(fs, old_ip, ctime=True)
    if moves:
        dotdot = search(fs, old_ip, DOTDOT)
        if dotdot is not None:
            set_slot(fs, dotdot[1], dotdot[0], new_dirp.num)
            old_dirp.d.nlinks -= 1
            new_dirp.d.nlinks += 1
            touch(fs, old_dirp, ctime=True)
            touch(fs, new_dirp, ctime=True)


def is_below(fs: MFS, top: Inode, dirp: Inode) -> bool:
    """Whether directory ``dirp`` is ``top`` or lies under it (walking "..")."""
    num = dirp.num
    for _ in range(fs.vol.sb.ninodes + 1):
        if num == top.num:
            return True
        if num == ROOT_INODE:
            return False
        ip = get_inode(fs, num)
        try:
            found = search(fs, ip, DOTDOT)
        finally:
            put_inode(fs, ip)
        if found is None:
            raise RequestError(EIO)
        num = found[2]
    raise RequestError(EIO)


# -- FTRUNC and freeing zones ---------------------------------------------------------


def do_ftrunc(fs: MFS, m: ReqFtrunc) -> int:
    """REQ_FTRUNC: end 0: the file becomes ``start`` bytes long; else the
    bytes [start, end) become a hole."""
    ip = find_inode(fs, m.inode)
    if not ip.is_reg():
        raise RequestError(EINVAL)
    if m.start_hi or m.end_hi or m.start < 0 or m.end < 0:
        raise RequestError(EINVAL)
    if m.end == 0:
        truncate_inode(fs, ip, m.start)
    else:
        freesp_inode(fs, ip, m.start, m.end)
    return OK


def truncate_inode(fs: MFS, ip: Inode, size: int) -> None:
    """Make ``ip`` ``size`` bytes long, freeing the zones past its end."""
    if size > file_limit(fs):
        raise RequestError(EFBIG)
    zone_size = fs.vol.sb.zone_size
    if size < ip.d.size:
        # What is left of the last zone past the end must read as zeros if
        # the file grows again.
        zero_range(fs, ip, size, min(-(-size // zone_size) * zone_size, ip.d.size))
        free_zones(fs, ip, -(-size // zone_size))
    ip.d.size = size
    touch(fs, ip, mtime=True, ctime=True)


def freesp_inode(fs: MFS, ip: Inode, start: int, end: int) -> None:
    """Make [start, end) of ``ip`` a hole (its whole zones freed)."""
    if start >= end:
        raise RequestError(EINVAL)
    end = min(end, ip.d.size)
    zone_size = fs.vol.sb.zone_size
    first, last = -(-start // zone_size), end // zone_size
    if first >= last:
        zero_range(fs, ip, start, end)
    else:
        zero_range(fs, ip, start, first * zone_size)
        zero_range(fs, ip, last * zone_size, end)
        free_zones(fs, ip, first, last)
    touch(fs, ip, mtime=True, ctime=True)


def zero_range(fs: MFS, ip: Inode, start: int, end: int) -> None:
    """Zero the bytes [start, end) of ``ip`` that lie in blocks it has."""
    bs = fs.vol.block_size
    pos = start
    while pos < end:
        chunk = min(end - pos, bs - pos % bs)
        block = read_map(fs, ip, pos)
        if block != NO_BLOCK:
            with fs.cache.block(block) as buf:
                fs.cache.zero(buf, pos % bs, chunk)
        pos += chunk


def free_zones(fs: MFS, ip: Inode, first: int, last: int | None = None) -> None:
    """Free the file's zones number ``first`` up to ``last`` (None: all the
    rest), and the indirect zones that are left empty."""
    n = fs.vol.nindirs
    zones = ip.d.zones
    for i in range(max(first, 0), NR_DZONES if last is None else min(last, NR_DZONES)):
        if zones[i] != NO_ZONE:
            free_zone(fs, zones[i])
            zones[i] = NO_ZONE
    for slot, base, level in ((ZONE_SINGLE, NR_DZONES, 1), (ZONE_DOUBLE, NR_DZONES + n, 2)):
        zone = check_zone(fs, zones[slot])
        sub_last = None if last is None else last - base
        if zone != NO_ZONE and free_tree(fs, zone, level, first - base, sub_last):
            free_zone(fs, zone)
            zones[slot] = NO_ZONE
    ip.dirty = True


def free_tree(fs: MFS, zone: int, level: int, first: int, last: int | None) -> bool:
    """Free what indirect zone ``zone`` (level 1: of data zones, 2: of
    single-indirect zones) holds for its zones ``first`` up to ``last``:
    whether it is empty now."""
    n = fs.vol.nindirs
    span = n ** (level - 1)  # data zones per entry
    if (last is not None and last <= 0) or first >= n * span:
        return False
    fmt = struct.Struct(f"<{n}I")
    block = zone << fs.vol.sb.log_zone_size
    with fs.cache.block(block) as buf:
        table = list(fmt.unpack(fs.cache.read(buf, 0, fmt.size)))
    changed = False
    for j, entry in enumerate(table):
        lo = j * span
        if entry == NO_ZONE or lo + span <= first or (last is not None and lo >= last):
            continue
        check_zone(fs, entry)
        if level == 1 or free_tree(fs, entry, level - 1, first - lo,
                                   None if last is None else last - lo):
            free_zone(fs, entry)
            table[j] = NO_ZONE
            changed = True
    if changed:
        with fs.cache.block(block) as buf:
            fs.cache.write(buf, 0, fmt.pack(*table))
    return not any(table)
