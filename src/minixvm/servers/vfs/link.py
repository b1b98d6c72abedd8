"""UNLINK, RMDIR, RENAME, LINK, SYMLINK, RDLNK, TRUNCATE and FTRUNCATE
(MINIX vfs/link.c). The FS checks what only it knows (a directory's
emptiness, what a name is); VFS finds the directories and refuses what
crosses file systems (EXDEV).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EBADF, EINVAL, EISDIR, ENOENT, EXDEV, RequestError
from minixvm.include.grant import CPF_READ, CPF_WRITE
from minixvm.include.ipc import Message
from minixvm.include.vfs import (
    RMDIR,
    W_BIT,
    X_BIT,
    VfsName,
    VfsReadlink,
    VfsTruncate,
    VfsTwoNames,
)
from minixvm.include.vfsif import (
    PATH_RET_SYMLINK,
    REQ_RMDIR,
    REQ_UNLINK,
    ReqLink,
    ReqRdlink,
    ReqRename,
    ReqSlink,
    ReqUnlink,
)
from minixvm.servers.vfs.fproc import FProc
from minixvm.servers.vfs.open import truncate
from minixvm.servers.vfs.path import fetch_name, last_dir, lookup
from minixvm.servers.vfs.protect import forbidden
from minixvm.servers.vfs.request import call, check, grant_name, grant_own, grant_user
from minixvm.servers.vfs.vnode import Vnode

if TYPE_CHECKING:
    from minixvm.servers.vfs.main import VFS


def do_unlink(vfs: VFS, fp: FProc, m: Message) -> int:
    """UNLINK (not a directory) or RMDIR (an empty directory). An open
    file's inode lives on until its last close."""
    req = VfsName.view(m.buf)
    path = fetch_name(vfs, fp.endpoint, req.name, req.name_len, m)
    dir_vp, name = last_dir(vfs, fp, path)
    try:
        forbidden(vfs, fp, dir_vp, W_BIT | X_BIT)
        with grant_name(vfs, dir_vp.fs_e, name) as g:
            return check(call(vfs.sys, dir_vp.fs_e, ReqUnlink(
                REQ_RMDIR if m.m_type == RMDIR else REQ_UNLINK, inode=dir_vp.inode, grant=g,
                path_len=len(name) + 1)).m_type)
    finally:
        vfs.vnodes.put(dir_vp)


def do_rename(vfs: VFS, fp: FProc, m: Message) -> int:
    """RENAME name1 to name2, in one file system."""
    req = VfsTwoNames.view(m.buf)
    old_path = fetch_name(vfs, fp.endpoint, req.name1, req.name1_len)
    new_path = fetch_name(vfs, fp.endpoint, req.name2, req.name2_len)
    old_dir, old_name = last_dir(vfs, fp, old_path)
    try:
        new_dir, new_name = last_dir(vfs, fp, new_path)
        try:
            if new_dir.fs_e != old_dir.fs_e:
                raise RequestError(EXDEV)
            forbidden(vfs, fp, old_dir, W_BIT | X_BIT)
            forbidden(vfs, fp, new_dir, W_BIT | X_BIT)
            fs_e = old_dir.fs_e
            with grant_name(vfs, fs_e, old_name) as og, \
                    grant_name(vfs, fs_e, new_name, second=True) as ng:
                return check(call(vfs.sys, fs_e, ReqRename(
                    old_grant=og, new_grant=ng, old_dir=old_dir.inode, new_dir=new_dir.inode,
                    old_len=len(old_name) + 1, new_len=len(new_name) + 1)).m_type)
        finally:
            vfs.vnodes.put(new_dir)
    finally:
        vfs.vnodes.put(old_dir)


def do_link(vfs: VFS, fp: FProc, m: Message) -> int:
    """LINK: name2, a new name for the file name1 names."""
    req = VfsTwoNames.view(m.buf)
    vp = lookup(vfs, fp, fetch_name(vfs, fp.endpoint, req.name1, req.name1_len))
    try:
        dir_vp, name = last_dir(vfs, fp, fetch_name(vfs, fp.endpoint, req.name2,
                                                    req.name2_len))
        try:
            if dir_vp.fs_e != vp.fs_e:
                raise RequestError(EXDEV)
            forbidden(vfs, fp, dir_vp, W_BIT | X_BIT)
            with grant_name(vfs, vp.fs_e, name) as g:
                return check(call(vfs.sys, vp.fs_e, ReqLink(
                    inode=vp.inode, grant=g, dir_ino=dir_vp.inode,
                    path_len=len(name) + 1)).m_type)
        finally:
            vfs.vnodes.put(dir_vp)
    finally:
        vfs.vnodes.put(vp)


def do_symlink(vfs: VFS, fp: FProc, m: Message) -> int:
    """SYMLINK: name2, a new symlink whose contents are name1."""
    req = VfsTwoNames.view(m.buf)
    target = fetch_name(vfs, fp.endpoint, req.name1, req.name1_len)
    if not target:
        raise RequestError(ENOENT)
    path = fetch_name(vfs, fp.endpoint, req.name2, req.name2_len)
    dir_vp, name = last_dir(vfs, fp, path)
    try:
        forbidden(vfs, fp, dir_vp, W_BIT | X_BIT)
        fs_e = dir_vp.fs_e
        vfs.sys.mem_write(vfs.path_buf2, target)
        with grant_name(vfs, fs_e, name) as g, \
                grant_own(vfs.sys, fs_e, vfs.path_buf2, len(target), CPF_READ) as tg:
            return check(call(vfs.sys, fs_e, ReqSlink(
                inode=dir_vp.inode, grant=g, target_grant=tg, mem_size=len(target),
                path_len=len(name) + 1, uid=fp.uid, gid=fp.gid)).m_type)
    finally:
        vfs.vnodes.put(dir_vp)


def do_rdlink(vfs: VFS, fp: FProc, m: Message) -> int:
    """RDLNK (readlink): a symlink's contents into the caller's buffer (no
    NUL added); the bytes copied."""
    req = VfsReadlink.view(m.buf)
    if req.bufsize < 0:
        raise RequestError(EINVAL)
    path = fetch_name(vfs, fp.endpoint, req.name, req.name_len)
    vp = lookup(vfs, fp, path, PATH_RET_SYMLINK)
    try:
        if not vp.is_lnk():
            raise RequestError(EINVAL)
        with grant_user(vfs.sys, vp.fs_e, fp.endpoint, req.buffer, req.bufsize,
                        CPF_WRITE) as g:
            reply = call(vfs.sys, vp.fs_e, ReqRdlink(inode=vp.inode, grant=g,
                                                     mem_size=req.bufsize))
        check(reply.m_type)
        return int(reply.nbytes)
    finally:
        vfs.vnodes.put(vp)


def do_truncate(vfs: VFS, fp: FProc, m: Message) -> int:
    """TRUNCATE: a file named by path gets ``length`` bytes."""
    req = VfsTruncate.view(m.buf)
    vp = lookup(vfs, fp, fetch_name(vfs, fp.endpoint, req.name, req.name_len))
    try:
        forbidden(vfs, fp, vp, W_BIT)
        truncate_vnode(vfs, vp, req.length)
    finally:
        vfs.vnodes.put(vp)
    return 0


def do_ftruncate(vfs: VFS, fp: FProc, m: Message) -> int:
    """FTRUNCATE: an open file (open for writing) gets ``length`` bytes."""
    req = VfsTruncate.view(m.buf)
    f = fp.filp(req.fd)
    if not f.writable():
        raise RequestError(EBADF)
    truncate_vnode(vfs, f.vnode, req.length)
    return 0


def truncate_vnode(vfs: VFS, vp: Vnode, length: int) -> None:
    """Cut or extend (with a hole) the regular file ``vp``."""
    if vp.is_dir():
        raise RequestError(EISDIR)
    if length < 0 or not vp.is_reg():
        raise RequestError(EINVAL)
    truncate(vfs, vp, length)
