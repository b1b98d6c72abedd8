"""Making files (MINIX servers/mfs/open.c): CREATE, MKDIR, MKNOD, SLINK.

A new inode is written before the directory entry naming it is made (an
inode without a name is the better crash); if the entry, the new
directory's "." and "..", or a symlink's block cannot be made, the name
and the inode go again (ENOSPC, nothing left allocated).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EEXIST, EINVAL, EMLINK, ENAMETOOLONG, ENOENT, ENOTDIR, OK, RequestError
from minixvm.include.mfs import LINK_MAX
from minixvm.include.vfs import (
    ALL_MODES,
    S_IFBLK,
    S_IFCHR,
    S_IFDIR,
    S_IFIFO,
    S_IFLNK,
    S_IFMT,
    S_IFREG,
)
from minixvm.include.vfsif import ReqCreate, ReqSlink
from minixvm.servers.mfs.const import BULK_BUF
from minixvm.servers.mfs.inode import Inode, alloc_inode, find_inode, put_inode, touch, write_inode
from minixvm.servers.mfs.path import DOT, DOTDOT, copy_in, delete, enter, fetch_name, search
from minixvm.servers.mfs.write import new_block

if TYPE_CHECKING:
    from minixvm.servers.mfs.main import MFS

RWX_MODES = 0o777


def new_node(fs: MFS, dirp: Inode, name: bytes, mode: int, uid: int, gid: int,
             zone0: int = 0) -> Inode:
    """A new inode of ``mode`` named ``name`` in ``dirp`` (held, one link);
    EEXIST if the name is taken."""
    if dirp.d.nlinks == 0:
        raise RequestError(ENOENT)
    if not dirp.is_dir():
        raise RequestError(ENOTDIR)
    if search(fs, dirp, name) is not None:
        raise RequestError(EEXIST)
    if mode & S_IFMT == S_IFDIR and dirp.d.nlinks >= LINK_MAX:
        raise RequestError(EMLINK)
    ip = alloc_inode(fs, mode, uid, gid)
    ip.d.nlinks = 1
    ip.d.zones[0] = zone0
    write_inode(fs, ip)
    try:
        enter(fs, dirp, name, ip.num)
    except RequestError:
        ip.d.nlinks = 0
        put_inode(fs, ip)
        raise
    return ip


def unmake(fs: MFS, dirp: Inode, name: bytes, ip: Inode) -> None:
    """Take back a new node whose making failed half-way (the caller still
    puts ``ip``, which frees it)."""
    delete(fs, dirp, name)
    ip.d.nlinks = 0


def do_create(fs: MFS, m: ReqCreate) -> ReqCreate:
    """REQ_CREATE: a new regular file, held for VFS (it is being opened)."""
    if m.mode & S_IFMT not in (0, S_IFREG):
        raise RequestError(EINVAL)
    _, _, ip = make(fs, m, S_IFREG | m.mode & ALL_MODES)
    return ReqCreate(OK, res_inode=ip.num, res_mode=ip.d.mode, size=0, res_dev=0)


def do_mknod(fs: MFS, m: ReqCreate) -> int:
    """REQ_MKNOD: a special file (its device number in zone 0), a FIFO or a
    regular file."""
    kind = m.mode & S_IFMT
    if kind not in (S_IFCHR, S_IFBLK, S_IFIFO, S_IFREG):
        raise RequestError(EINVAL)
    dev = m.dev if kind in (S_IFCHR, S_IFBLK) else 0
    put_inode(fs, make(fs, m, kind | m.mode & ALL_MODES, dev & 0xFFFFFFFF)[2])
    return OK


def do_mkdir(fs: MFS, m: ReqCreate) -> int:
    """REQ_MKDIR: a new directory with "." and ".."."""
    dirp, name, ip = make(fs, m, S_IFDIR | m.mode & ALL_MODES)
    try:
        try:
            enter(fs, ip, DOT, ip.num)
            enter(fs, ip, DOTDOT, dirp.num)
        except RequestError:
            unmake(fs, dirp, name, ip)
            raise
        ip.d.nlinks += 1  # its "."
        dirp.d.nlinks += 1  # its ".."
        touch(fs, ip, ctime=True)
        touch(fs, dirp, ctime=True)
    finally:
        put_inode(fs, ip)
    return OK


def make(fs: MFS, m: ReqCreate, mode: int, zone0: int = 0) -> tuple[Inode, bytes, Inode]:
    """(directory, name, new node (held)) of a CREATE, MKDIR or MKNOD request."""
    name = fetch_name(fs, m.grant, m.path_len)
    dirp = find_inode(fs, m.inode)
    return dirp, name, new_node(fs, dirp, name, mode, m.uid, m.gid, zone0)


def do_slink(fs: MFS, m: ReqSlink) -> int:
    """REQ_SLINK: a symlink whose target is the ``mem_size`` bytes granted
    (ENAMETOOLONG if they do not fit a block or hold a NUL)."""
    name = fetch_name(fs, m.grant, m.path_len)
    dirp = find_inode(fs, m.inode)
    if not 0 < m.mem_size < fs.vol.block_size:
        raise RequestError(ENAMETOOLONG if m.mem_size > 0 else EINVAL)
    target = copy_in(fs, m.target_grant, BULK_BUF, m.mem_size)
    if b"\0" in target:
        raise RequestError(ENAMETOOLONG)
    ip = new_node(fs, dirp, name, S_IFLNK | RWX_MODES, m.uid, m.gid)
    try:
        try:
            buf = new_block(fs, ip, 0)
        except RequestError:
            unmake(fs, dirp, name, ip)
            raise
        try:
            fs.cache.write(buf, 0, target)
        finally:
            fs.cache.put_block(buf)
        ip.d.size = len(target)
        ip.dirty = True
    finally:
        put_inode(fs, ip)
    return OK

