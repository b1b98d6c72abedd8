"""Permissions (MINIX servers/mfs/protect.c): forbidden() and REQ_CHMOD."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from minixvm.errors import EACCES, EROFS, OK, RequestError
from minixvm.include.vfs import ALL_MODES, R_BIT, W_BIT, X_BIT
from minixvm.include.vfsif import ReqChmod
from minixvm.servers.mfs.inode import Inode, find_inode, touch

if TYPE_CHECKING:
    from minixvm.servers.mfs.main import MFS

SU_UID = 0


@dataclass
class Credentials:
    """Who the last lookup was for (MINIX caller_uid, caller_gid)."""

    uid: int = 0
    gid: int = 0


def forbidden(fs: MFS, ip: Inode, bits: int) -> None:
    """EACCES unless the caller of the last lookup may access ``ip`` with
    ``bits`` (R_BIT, W_BIT, X_BIT); EROFS to write on a read-only mount.
    The super-user may do anything but execute a file with no X bit."""
    mode = ip.d.mode
    if fs.caller.uid == SU_UID:
        allowed = R_BIT | W_BIT
        if ip.is_dir() or mode & 0o111:
            allowed |= X_BIT
    else:
        shift = 6 if fs.caller.uid == ip.d.uid else 3 if fs.caller.gid == ip.d.gid else 0
        allowed = mode >> shift & (R_BIT | W_BIT | X_BIT)
    if bits & ~allowed:
        raise RequestError(EACCES)
    if bits & W_BIT and fs.vol.readonly:
        raise RequestError(EROFS)


def do_chmod(fs: MFS, m: ReqChmod) -> ReqChmod:
    """REQ_CHMOD: new permission bits (VFS checked who may); the new mode."""
    ip = find_inode(fs, m.inode)
    ip.d.mode = ip.d.mode & ~ALL_MODES | m.mode & ALL_MODES
    touch(fs, ip, ctime=True)
    return ReqChmod(OK, res_mode=ip.d.mode)
