"""Names and paths (MINIX servers/mfs/path.c): directory search and
REQ_LOOKUP.

A directory is a file of 64-byte slots (inode number, 60-byte name); a
slot with inode 0 is free. Directories have no holes; a slot naming an
inode out of range or with an empty name is corrupt (EIO).

LOOKUP walks the path VFS gave, from ``dir_ino``, component by
component, checking search permission for the caller. It stops, with
VFS going on: at a directory another file system is mounted on
(EENTERMOUNT, RES_OFFSET: how much of the path was used), at ".." of this
file system's root when it is not the root file system (ELEAVEMOUNT,
RES_OFFSET: where ".." begins), and at an absolute symlink (ESYMLINK: the
path buffer then holds the link's target and the rest of the path). A
relative symlink is spliced into the path and followed here. More than
SYMLOOP_MAX symlinks in one request: ELOOP. PATH_RET_SYMLINK: a symlink
that is the last component is the answer itself. ".." at the process's
root (``root_ino``) stays there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from minixvm.errors import (
    EFBIG,
    EINVAL,
    EIO,
    ELOOP,
    ENAMETOOLONG,
    ENOENT,
    ENOTDIR,
    OK,
    RequestError,
)
from minixvm.include.com import VFS_PROC_NR
from minixvm.include.mfs import DIR_ENTRY_SIZE, MFS_DIRSIZ, dir_entry_pack
from minixvm.include.vfs import PATH_MAX, X_BIT
from minixvm.include.vfsif import (
    EENTERMOUNT,
    ELEAVEMOUNT,
    ESYMLINK,
    PATH_RET_SYMLINK,
    ROOT_INODE,
    SYMLOOP_MAX,
    ReqLookup,
)
from minixvm.servers.mfs.const import NAME_BUF, PATH_BUF
from minixvm.servers.mfs.inode import (
    Inode,
    dup_inode,
    find_inode,
    get_inode,
    put_inode,
    touch,
    write_inode,
)
from minixvm.servers.mfs.protect import Credentials, forbidden
from minixvm.servers.mfs.read import NO_BLOCK, entries, file_limit, read_map
from minixvm.servers.mfs.write import new_block

if TYPE_CHECKING:
    from minixvm.servers.mfs.main import MFS

DOT, DOTDOT = b".", b".."


def copy_in(fs: MFS, grant: int, offset: int, length: int) -> bytes:
    """``length`` bytes of VFS's grant into our scratch at ``offset``; the copy's error."""
    r = fs.sys.sys_safecopyfrom(VFS_PROC_NR, grant, 0, fs.scratch + offset, length)
    if r != OK:
        raise RequestError(-r)
    return fs.sys.mem_read(fs.scratch + offset, length)


def fetch_name(fs: MFS, grant: int, length: int, offset: int = NAME_BUF) -> bytes:
    """The name (``length`` bytes with its NUL) VFS granted: ENAMETOOLONG
    over MFS_DIRSIZ, EINVAL for a name that is empty, not terminated or
    holds a slash."""
    if length > MFS_DIRSIZ + 1:
        raise RequestError(ENAMETOOLONG)
    if length < 2:
        raise RequestError(EINVAL)
    raw = copy_in(fs, grant, offset, length)
    name = raw[:-1]
    if raw[-1] != 0 or b"\0" in name or b"/" in name:
        raise RequestError(EINVAL)
    return name


# -- directories ----------------------------------------------------------------------


def search(fs: MFS, dirp: Inode, name: bytes) -> tuple[int, int, int] | None:
    """(position, block, inode) of the slot naming ``name`` in ``dirp``, or None."""
    if not dirp.is_dir():
        raise RequestError(ENOTDIR)
    for pos, block, ino, slot_name in entries(fs, dirp):
        if ino and slot_name == name:
            return pos, block, ino
    return None


def set_slot(fs: MFS, block: int, pos: int, ino: int, name: bytes | None = None) -> None:
    """Write slot ``pos`` of a directory (in ``block``): inode ``ino``, and
    ``name`` if given."""
    offset = pos % fs.vol.block_size
    with fs.cache.block(block) as buf:
        data = ino.to_bytes(4, "little") if name is None else dir_entry_pack(ino, name)
        fs.cache.write(buf, offset, data)


def enter(fs: MFS, dirp: Inode, name: bytes, ino: int) -> None:
    """A slot naming ``ino`` ``name`` in ``dirp``: the first free one, or a
    new one at the end (ENOSPC if no block can be had, nothing changed)."""
    if not dirp.is_dir():
        raise RequestError(ENOTDIR)
    free = next(((pos, block) for pos, block, e, _ in entries(fs, dirp) if not e), None)
    if free is not None:
        set_slot(fs, free[1], free[0], ino, name)
        touch(fs, dirp, mtime=True, ctime=True)
        return
    pos = dirp.d.size // DIR_ENTRY_SIZE * DIR_ENTRY_SIZE
    if pos + DIR_ENTRY_SIZE > file_limit(fs):
        raise RequestError(EFBIG)
    if pos % fs.vol.block_size:
        block = read_map(fs, dirp, pos)
        if block == NO_BLOCK:
            raise RequestError(EIO)
        set_slot(fs, block, pos, ino, name)
    else:
        buf = new_block(fs, dirp, pos)
        try:
            fs.cache.write(buf, 0, dir_entry_pack(ino, name))
        finally:
            fs.cache.put_block(buf)
    dirp.d.size = pos + DIR_ENTRY_SIZE
    touch(fs, dirp, mtime=True, ctime=True)
    write_inode(fs, dirp)


def delete(fs: MFS, dirp: Inode, name: bytes) -> int:
    """Free the slot naming ``name`` in ``dirp``: the inode it named (ENOENT: none)."""
    found = search(fs, dirp, name)
    if found is None:
        raise RequestError(ENOENT)
    pos, block, ino = found
    set_slot(fs, block, pos, 0)
    touch(fs, dirp, mtime=True, ctime=True)
    return ino


def is_empty(fs: MFS, dirp: Inode) -> bool:
    """Whether ``dirp`` names nothing but "." and ".."."""
    return all(not ino or name in (DOT, DOTDOT) for _, _, ino, name in entries(fs, dirp))


def advance(fs: MFS, dirp: Inode, name: bytes, check_perm: bool = True) -> Inode:
    """The inode ``name`` names in directory ``dirp`` (held); ENOENT if it
    names none, EACCES if the caller may not search ``dirp``."""
    if not dirp.is_dir():
        raise RequestError(ENOTDIR)
    if check_perm:
        forbidden(fs, dirp, X_BIT)
    found = search(fs, dirp, name)
    if found is None:
        raise RequestError(ENOENT)
    return get_inode(fs, found[2])


def crosses_mount(fs: MFS, dirp: Inode, ip: Inode, name: bytes) -> bool:
    """Whether ``name`` in ``dirp``, found to be ``ip``, leads to another
    file system: a mount point, or ".." of a mounted file system's root."""
    return ip.mountpoint or (name == DOTDOT and ip.num == ROOT_INODE == dirp.num
                             and not fs.vol.is_root)


# -- lookup ---------------------------------------------------------------------------


@dataclass
class Walk:
    """Where a lookup ended."""

    r: int  # OK, EENTERMOUNT, ELEAVEMOUNT, ESYMLINK
    ip: Inode | None  # OK: the inode found (held)
    inode: int  # EENTERMOUNT: the mount point
    offset: int
    symloop: int
    path: bytes  # the path as it stands (symlinks spliced in)


def parse_path(fs: MFS, dir_ino: int, root_ino: int, flags: int, path: bytes) -> Walk:
    """Walk ``path`` from inode ``dir_ino`` (MINIX parse_path)."""
    start = find_inode(fs, dir_ino)
    if start.d.nlinks == 0:
        raise RequestError(ENOENT)
    rip = dup_inode(start)
    # Coming back from the file system mounted on rip: only ".." may follow.
    leaving_mount = rip.mountpoint
    cp = symloop = 0
    try:
        while True:
            if cp >= len(path):
                if rip.mountpoint and not leaving_mount:
                    return Walk(EENTERMOUNT, None, rip.num, cp, symloop, path)
                return Walk(OK, dup_inode(rip), rip.num, cp, symloop, path)
            while path[cp : cp + 1] == b"/":
                cp += 1
            end = path.find(b"/", cp)
            next_cp = len(path) if end < 0 else end
            name = path[cp:next_cp] or DOT
            if len(name) > MFS_DIRSIZ:
                raise RequestError(ENAMETOOLONG)
            if name == DOTDOT:
                forbidden(fs, rip, X_BIT)
                if rip.num == root_ino:
                    cp = next_cp
                    continue
                if rip.num == ROOT_INODE and not fs.vol.is_root:
                    return Walk(ELEAVEMOUNT, None, 0, cp, symloop, path)
            if rip.mountpoint and not leaving_mount:
                return Walk(EENTERMOUNT, None, rip.num, cp, symloop, path)
            nxt = advance(fs, rip, DOTDOT if leaving_mount else name)
            leaving_mount = False
            if not nxt.is_lnk():
                old, rip = rip, nxt
                put_inode(fs, old)
                cp = next_cp
                continue
            # A symlink: splice its target in and go on from this directory.
            try:
                if next_cp >= len(path) and flags & PATH_RET_SYMLINK:
                    return Walk(OK, dup_inode(nxt), nxt.num, next_cp, symloop, path)
                path = ltraverse(fs, nxt, path[next_cp:])
            finally:
                put_inode(fs, nxt)
            cp = 0
            symloop += 1
            if symloop > SYMLOOP_MAX:
                raise RequestError(ELOOP)
            if path.startswith(b"/"):
                return Walk(ESYMLINK, None, 0, 0, symloop, path)
    finally:
        put_inode(fs, rip)


def ltraverse(fs: MFS, ip: Inode, suffix: bytes) -> bytes:
    """The path that symlink ``ip``'s target followed by ``suffix`` make."""
    size = ip.d.size
    if size <= 0:
        raise RequestError(ENOENT)
    if size >= fs.vol.block_size:
        raise RequestError(EIO)
    block = read_map(fs, ip, 0)
    if block == NO_BLOCK:
        raise RequestError(EIO)
    with fs.cache.block(block) as buf:
        target = fs.cache.read(buf, 0, size).split(b"\0", 1)[0]
    path = target + suffix
    if len(path) >= PATH_MAX:
        raise RequestError(ENAMETOOLONG)
    return path


def do_lookup(fs: MFS, m: ReqLookup) -> ReqLookup:
    """REQ_LOOKUP."""
    if m.path_len > min(m.path_size, PATH_MAX):
        raise RequestError(ENAMETOOLONG)
    if m.path_len < 1:
        raise RequestError(EINVAL)
    raw = copy_in(fs, m.grant, PATH_BUF, m.path_len)
    if raw[-1] != 0:
        raise RequestError(EINVAL)
    fs.caller = Credentials(m.uid, m.gid)
    w = parse_path(fs, m.dir_ino, m.root_ino, m.flags, raw.split(b"\0", 1)[0])
    if w.ip is None:
        # VFS goes on with the path as it now stands.
        data = w.path + b"\0"
        if len(data) > min(m.path_size, PATH_MAX):
            raise RequestError(ENAMETOOLONG)
        fs.sys.mem_write(fs.scratch + PATH_BUF, data)
        r = fs.sys.sys_safecopyto(VFS_PROC_NR, m.grant, 0, fs.scratch + PATH_BUF, len(data))
        if r != OK:
            raise RequestError(-r)
        return ReqLookup(w.r, inode=w.inode, offset=w.offset, symloop=w.symloop)
    ip = w.ip
    d = ip.d
    return ReqLookup(OK, inode=ip.num, mode=d.mode, size=d.size,
                     dev=d.zones[0] if ip.is_special() else 0, symloop=w.symloop,
                     res_uid=d.uid, res_gid=d.gid)
