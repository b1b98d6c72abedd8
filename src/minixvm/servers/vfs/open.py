"""OPEN, CREAT, CLOSE, MKDIR and MKNOD (MINIX vfs/open.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EEXIST, EINVAL, EISDIR, ENOENT, ENXIO, RequestError
from minixvm.include.ipc import Message
from minixvm.include.vfs import (
    ALL_MODES,
    O_ACCMODE,
    O_APPEND,
    O_CREAT,
    O_EXCL,
    O_NONBLOCK,
    O_TRUNC,
    O_WRONLY,
    S_IFBLK,
    S_IFCHR,
    S_IFDIR,
    S_IFIFO,
    S_IFMT,
    S_IFREG,
    W_BIT,
    X_BIT,
    VfsClose,
    VfsMkdir,
    VfsName,
    VfsOpenCreat,
)
from minixvm.include.vfsif import (
    PATH_NOFLAGS,
    PATH_RET_SYMLINK,
    REQ_CREATE,
    REQ_MKDIR,
    REQ_MKNOD,
    ReqCreate,
    ReqFtrunc,
)
from minixvm.servers.vfs.dmap import dmap_of
from minixvm.servers.vfs.filedes import MODE_MAP, Filp
from minixvm.servers.vfs.fproc import FProc, close_fd
from minixvm.servers.vfs.path import fetch_name, last_dir, lookup
from minixvm.servers.vfs.protect import forbidden
from minixvm.servers.vfs.request import call, check, grant_name
from minixvm.servers.vfs.vnode import Vnode

if TYPE_CHECKING:
    from minixvm.servers.vfs.main import VFS

# The open flags a filp keeps (F_GETFL shows them).
FILP_FLAGS = O_ACCMODE | O_APPEND | O_NONBLOCK


def do_open(vfs: VFS, fp: FProc, m: Message) -> int:
    """OPEN: a new descriptor. libc sends the m1 form when O_CREAT is set."""
    req = VfsName.view(m.buf)
    if req.flags & O_CREAT:
        creat = VfsOpenCreat.view(m.buf)
        path = fetch_name(vfs, fp.endpoint, creat.name, creat.name_len)
        return common_open(vfs, fp, path, creat.flags, creat.mode)
    path = fetch_name(vfs, fp.endpoint, req.name, req.name_len, m)
    return common_open(vfs, fp, path, req.flags, 0)


def do_creat(vfs: VFS, fp: FProc, m: Message) -> int:
    """CREAT: open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)."""
    req = VfsName.view(m.buf)
    path = fetch_name(vfs, fp.endpoint, req.name, req.name_len, m)
    return common_open(vfs, fp, path, O_WRONLY | O_CREAT | O_TRUNC, req.mode)


def common_open(vfs: VFS, fp: FProc, path: bytes, flags: int, mode: int) -> int:
    """Open ``path`` with ``flags``: the descriptor."""
    bits = MODE_MAP[flags & O_ACCMODE]
    if not bits:
        raise RequestError(EINVAL)
    fd = fp.free_fd()
    created = False
    if flags & O_CREAT:
        vp, created = open_create(vfs, fp, path, flags, mode)
    else:
        vp = lookup(vfs, fp, path)
    try:
        if not created:
            open_existing(vfs, fp, vp, flags, bits)
    except RequestError:
        vfs.vnodes.put(vp)
        raise
    return fp.install(fd, Filp(vp, flags & FILP_FLAGS))


def open_create(vfs: VFS, fp: FProc, path: bytes, flags: int,
                mode: int) -> tuple[Vnode, bool]:
    """The file ``path`` names, made (a regular file) if it does not exist:
    (its vnode, whether it was made). O_EXCL: EEXIST if it exists, even
    as a symlink."""
    dir_vp, name = last_dir(vfs, fp, path)
    try:
        try:
            vp = lookup(vfs, fp, path, PATH_RET_SYMLINK if flags & O_EXCL else PATH_NOFLAGS)
        except RequestError as e:
            if e.errno != ENOENT:
                raise
        else:
            if flags & O_EXCL:
                vfs.vnodes.put(vp)
                raise RequestError(EEXIST)
            return vp, False
        return req_create(vfs, fp, dir_vp, name, S_IFREG | mode & ALL_MODES), True
    finally:
        vfs.vnodes.put(dir_vp)


def open_existing(vfs: VFS, fp: FProc, vp: Vnode, flags: int, bits: int) -> None:
    """Check an open of an existing file and do its O_TRUNC."""
    forbidden(vfs, fp, vp, bits)
    if vp.is_dir():
        if bits & W_BIT:
            raise RequestError(EISDIR)
    elif vp.is_reg():
        if flags & O_TRUNC and bits & W_BIT:
            truncate(vfs, vp, 0)
    elif not (vp.is_chr() or vp.is_blk()) or dmap_of(vp.sdev) is None:
        raise RequestError(ENXIO)


def truncate(vfs: VFS, vp: Vnode, length: int) -> None:
    """Make the regular file ``vp`` ``length`` bytes long."""
    check(call(vfs.sys, vp.fs_e, ReqFtrunc(inode=vp.inode, start=length, end=0)).m_type)
    vp.size = length


def req_create(vfs: VFS, fp: FProc, dir_vp: Vnode, name: bytes, mode: int) -> Vnode:
    """REQ_CREATE: a new regular file ``name`` in ``dir_vp``, opened (held)."""
    forbidden(vfs, fp, dir_vp, W_BIT | X_BIT)
    with grant_name(vfs, dir_vp.fs_e, name) as g:
        reply = call(vfs.sys, dir_vp.fs_e, ReqCreate(REQ_CREATE, inode=dir_vp.inode, grant=g,
                                                     path_len=len(name) + 1, mode=mode,
                                                     uid=fp.uid, gid=fp.gid))
    check(reply.m_type)
    return vfs.vnodes.found(dir_vp.fs_e, dir_vp.dev, reply.res_inode, reply.res_mode or mode,
                            reply.size, fp.uid, fp.gid, reply.res_dev)


def do_close(vfs: VFS, fp: FProc, m: Message) -> int:
    close_fd(vfs.vnodes, fp, VfsClose.view(m.buf).fd)
    return 0


def do_mkdir(vfs: VFS, fp: FProc, m: Message) -> int:
    """MKDIR: a new directory (with "." and "..")."""
    req = VfsMkdir.view(m.buf)
    path = fetch_name(vfs, fp.endpoint, req.name, req.name_len)
    return make_node(vfs, fp, path, REQ_MKDIR, S_IFDIR | req.mode & ALL_MODES, 0)


def do_mknod(vfs: VFS, fp: FProc, m: Message) -> int:
    """MKNOD: a special file (or a regular file or a FIFO's name)."""
    req = VfsMkdir.view(m.buf)
    if req.mode & S_IFMT not in (S_IFCHR, S_IFBLK, S_IFIFO, S_IFREG):
        raise RequestError(EINVAL)
    path = fetch_name(vfs, fp.endpoint, req.name, req.name_len)
    return make_node(vfs, fp, path, REQ_MKNOD, req.mode & (S_IFMT | ALL_MODES), req.dev)


def make_node(vfs: VFS, fp: FProc, path: bytes, request: int, mode: int, dev: int) -> int:
    """REQ_MKDIR or REQ_MKNOD of ``path``'s last component."""
    dir_vp, name = last_dir(vfs, fp, path)
    try:
        forbidden(vfs, fp, dir_vp, W_BIT | X_BIT)
        with grant_name(vfs, dir_vp.fs_e, name) as g:
            return check(call(vfs.sys, dir_vp.fs_e, ReqCreate(
                request, inode=dir_vp.inode, grant=g, path_len=len(name) + 1, mode=mode,
                uid=fp.uid, gid=fp.gid, dev=dev)).m_type)
    finally:
        vfs.vnodes.put(dir_vp)
