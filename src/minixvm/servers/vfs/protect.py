"""Permissions (MINIX vfs/protect.c): forbidden() and CHMOD."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EACCES, EROFS, RequestError
from minixvm.include.ipc import Message
from minixvm.include.vfs import ALL_MODES, S_IFMT, W_BIT, X_BIT, VfsName
from minixvm.include.vfsif import REQ_CHMOD, ReqChmod
from minixvm.servers.vfs.fproc import FProc
from minixvm.servers.vfs.path import fetch_name, lookup
from minixvm.servers.vfs.request import call, check
from minixvm.servers.vfs.vnode import Vnode

if TYPE_CHECKING:
    from minixvm.servers.vfs.main import VFS

SU_UID = 0


def forbidden(vfs: VFS, fp: FProc, vp: Vnode, bits: int) -> None:
    """EACCES unless ``fp`` may access ``vp`` with ``bits`` (R_BIT, W_BIT,
    X_BIT); EROFS to write a file or directory of a read-only mount. The
    super-user may do anything but execute a file with no X bit at all."""
    mode = vp.mode
    if fp.uid == SU_UID:
        allowed = bits
        if bits & X_BIT and not vp.is_dir() and not mode & 0o111:
            allowed = bits & ~X_BIT
    else:
        shift = 6 if fp.uid == vp.uid else 3 if fp.gid == vp.gid else 0
        allowed = mode >> shift & 0o7
    if bits & ~allowed:
        raise RequestError(EACCES)
    if bits & W_BIT and (vp.is_reg() or vp.is_dir() or vp.is_lnk()) and vfs.read_only(vp):
        raise RequestError(EROFS)


def do_chmod(vfs: VFS, fp: FProc, m: Message) -> int:
    """CHMOD: the permission bits of a file (the owner or the super-user)."""
    req = VfsName.view(m.buf)
    vp = lookup(vfs, fp, fetch_name(vfs, fp.endpoint, req.name, req.name_len, m))
    try:
        if fp.uid not in (SU_UID, vp.uid):
            raise RequestError(EACCES)
        if vfs.read_only(vp):
            raise RequestError(EROFS)
        mode = req.mode & ALL_MODES
        check(call(vfs.sys, vp.fs_e, ReqChmod(REQ_CHMOD, inode=vp.inode, mode=mode)).m_type)
        vp.mode = vp.mode & S_IFMT | mode
        return 0
    finally:
        vfs.vnodes.put(vp)
