"""CHDIR and the stat calls (MINIX vfs/stadir.c).

STAT, FSTAT and LSTAT (and their pre-3.2.0 numbers 65, 66, 67): the FS
fills the caller's struct stat itself, through a magic grant. The old
PREV_* calls: the FS fills a new struct in VFS's memory, and VFS converts
it to the 36-byte minix_prev_stat and copies that out, refusing with
EOVERFLOW a value the old struct cannot hold (MINIX truncated it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import ENOTDIR, EOVERFLOW, MinixError, RequestError
from minixvm.include.com import NONE
from minixvm.include.grant import CPF_WRITE
from minixvm.include.ipc import Message
from minixvm.include.stat import STAT_LAYOUT, Stat
from minixvm.include.vfs import (
    LSTAT,
    LSTAT_O,
    PREV_FSTAT,
    PREV_LSTAT,
    PREV_STAT,
    X_BIT,
    VfsFstat,
    VfsName,
    VfsStat,
)
from minixvm.include.vfsif import PATH_NOFLAGS, PATH_RET_SYMLINK, ReqStat
from minixvm.servers.vfs.fproc import FProc
from minixvm.servers.vfs.path import fetch_name, lookup
from minixvm.servers.vfs.protect import forbidden
from minixvm.servers.vfs.request import call, check, grant_own, grant_user
from minixvm.servers.vfs.vnode import Vnode

if TYPE_CHECKING:
    from minixvm.servers.vfs.main import VFS

PREV_CALLS = (PREV_STAT, PREV_FSTAT, PREV_LSTAT)


def do_chdir(vfs: VFS, fp: FProc, m: Message) -> int:
    """CHDIR: a new working directory."""
    req = VfsName.view(m.buf)
    vp = lookup(vfs, fp, fetch_name(vfs, fp.endpoint, req.name, req.name_len, m))
    try:
        if not vp.is_dir():
            raise RequestError(ENOTDIR)
        forbidden(vfs, fp, vp, X_BIT)
    except RequestError:
        vfs.vnodes.put(vp)
        raise
    if fp.cwd is not None:
        vfs.vnodes.put(fp.cwd)
    fp.cwd = vp
    return 0


def do_stat(vfs: VFS, fp: FProc, m: Message) -> int:
    """STAT, LSTAT (a symlink itself), PREV_STAT, PREV_LSTAT, STAT_O, LSTAT_O."""
    req = VfsStat.view(m.buf)
    path = fetch_name(vfs, fp.endpoint, req.name, req.name_len)
    flags = PATH_RET_SYMLINK if m.m_type in (LSTAT, PREV_LSTAT, LSTAT_O) else PATH_NOFLAGS
    vp = lookup(vfs, fp, path, flags)
    try:
        return stat_to(vfs, fp, vp, req.buffer, m.m_type in PREV_CALLS)
    finally:
        vfs.vnodes.put(vp)


def do_fstat(vfs: VFS, fp: FProc, m: Message) -> int:
    """FSTAT, PREV_FSTAT, FSTAT_O."""
    req = VfsFstat.view(m.buf)
    return stat_to(vfs, fp, fp.filp(req.fd).vnode, req.buffer, m.m_type in PREV_CALLS)


def stat_to(vfs: VFS, fp: FProc, vp: Vnode, buffer: int, prev: bool) -> int:
    """``vp``'s struct stat (``prev``: minix_prev_stat) into the caller's
    ``buffer``."""
    if vp.fs_e == NONE:
        return copy_out(vfs, fp, buffer, node_stat(vp), prev)
    if not prev:
        with grant_user(vfs.sys, vp.fs_e, fp.endpoint, buffer, STAT_LAYOUT.size,
                        CPF_WRITE) as g:
            return check(call(vfs.sys, vp.fs_e, ReqStat(inode=vp.inode, grant=g)).m_type)
    with grant_own(vfs.sys, vp.fs_e, vfs.stat_buf, STAT_LAYOUT.size, CPF_WRITE) as g:
        check(call(vfs.sys, vp.fs_e, ReqStat(inode=vp.inode, grant=g)).m_type)
    return copy_out(vfs, fp, buffer, Stat.unpack(vfs.sys.mem_read(vfs.stat_buf,
                                                                  STAT_LAYOUT.size)), prev)


def copy_out(vfs: VFS, fp: FProc, buffer: int, st: Stat, prev: bool) -> int:
    """``st`` in the new or the old layout to the caller's ``buffer``."""
    try:
        data = st.pack_prev() if prev else st.pack()
    except MinixError:
        raise RequestError(EOVERFLOW) from None
    vfs.sys.mem_write(vfs.stat_buf, data)
    return check(vfs.sys.sys_vircopy(vfs.sys.endpoint, vfs.stat_buf, fp.endpoint, buffer,
                                     len(data)))


def node_stat(vp: Vnode) -> Stat:
    """What stat says of a node no FS holds (the console VFS opens when
    there is no root file system)."""
    return Stat(st_dev=0, st_ino=0, st_mode=vp.mode, st_nlink=1, st_uid=vp.uid,
                st_gid=vp.gid, st_rdev=vp.sdev, st_size=0, st_atime=0, st_mtime=0, st_ctime=0)
