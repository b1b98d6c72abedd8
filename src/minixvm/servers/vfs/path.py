"""Path names (MINIX vfs/path.c and utility.c's fetch_name): fetching a
name from the caller and walking it across file systems.

The walk itself is the FS's: VFS hands it the path (in VFS's buffer) and
the directory to start from, and the FS answers with the inode found or
with where VFS must go on. ESYMLINK: an absolute symlink rewrote the
path, restart at the process's root. EENTERMOUNT: the walk reached a
directory another FS is mounted on, go on in that FS's root with what is
left. ELEAVEMOUNT: ".." at an FS's root, go on from the directory the FS
is mounted on. Each FS reply says how many symlinks it followed; more
than SYMLOOP_MAX in all is ELOOP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, EIO, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, OK, RequestError
from minixvm.include.grant import CPF_READ, CPF_WRITE
from minixvm.include.ipc import Message
from minixvm.include.vfs import M3_STRING, PATH_MAX, VfsName
from minixvm.include.vfsif import (
    EENTERMOUNT,
    ELEAVEMOUNT,
    ESYMLINK,
    PATH_NOFLAGS,
    SYMLOOP_MAX,
    ReqLookup,
)
from minixvm.servers.vfs.fproc import FProc
from minixvm.servers.vfs.request import call, check, grant_own
from minixvm.servers.vfs.vnode import Vnode, VnodeTable

if TYPE_CHECKING:
    from minixvm.servers.vfs.main import VFS

_INLINE = VfsName.name_copy.offset


def fetch_name(vfs: VFS, who: int, addr: int, length: int, m: Message | None = None) -> bytes:
    """The name of ``length`` bytes (its NUL included) at ``addr`` in
    ``who``'s memory, or in message ``m`` itself (m3_ca1) when it fits
    there, as libc puts it: the bytes up to the first NUL. EINVAL for a
    length below 1, ENAMETOOLONG over PATH_MAX or without the NUL at its
    end, the copy's error (EFAULT) for a bad address."""
    if length <= 0:
        raise RequestError(EINVAL)
    if length > PATH_MAX:
        raise RequestError(ENAMETOOLONG)
    if m is not None and length <= M3_STRING:
        raw = bytes(m.buf[_INLINE : _INLINE + length])
    else:
        check(vfs.sys.sys_vircopy(who, addr, vfs.sys.endpoint, vfs.path_buf, length))
        raw = vfs.sys.mem_read(vfs.path_buf, length)
    if raw[-1] != 0:
        raise RequestError(ENAMETOOLONG)
    return raw.split(b"\0", 1)[0]


def lookup(vfs: VFS, fp: FProc, path: bytes, flags: int = PATH_NOFLAGS) -> Vnode:
    """The vnode ``path`` names (held: the caller puts it). ``flags``
    PATH_RET_SYMLINK: a symlink at the end is itself the answer."""
    start = start_dir(fp, path)
    return walk(vfs, fp, start, path.lstrip(b"/"), flags)


def last_dir(vfs: VFS, fp: FProc, path: bytes) -> tuple[Vnode, bytes]:
    """The directory holding ``path``'s last component (held) and that
    component's name; trailing slashes do not count. ENOTDIR if the
    directory part is not a directory."""
    start = start_dir(fp, path)
    head, _, name = path.rstrip(b"/").rpartition(b"/")
    if not name:
        name = b"."  # the path is "/" (or "///")
    dir_vp = walk(vfs, fp, start, head.lstrip(b"/"), PATH_NOFLAGS)
    if not dir_vp.is_dir():
        vfs.vnodes.put(dir_vp)
        raise RequestError(ENOTDIR)
    return dir_vp, name


def start_dir(fp: FProc, path: bytes) -> Vnode:
    """Where a walk of ``path`` begins: the root for an absolute path, the
    working directory otherwise. ENOENT for an empty path or when there is
    no root file system."""
    if not path or fp.root is None or fp.cwd is None:
        raise RequestError(ENOENT)
    return fp.root if path.startswith(b"/") else fp.cwd


def walk(vfs: VFS, fp: FProc, dir_vp: Vnode, rest: bytes, flags: int) -> Vnode:
    """Resolve ``rest`` (no leading slash) from ``dir_vp``, FS by FS."""
    assert fp.root is not None
    symloop = 0
    while rest:
        reply = req_lookup(vfs, fp, dir_vp, rest, flags)
        r = reply.m_type
        if r == OK:
            return enter(vfs.vnodes, vfs.vnodes.found(
                dir_vp.fs_e, dir_vp.dev, reply.inode, reply.mode, reply.size, reply.res_uid,
                reply.res_gid, reply.dev))
        if r not in (ESYMLINK, EENTERMOUNT, ELEAVEMOUNT):
            raise RequestError(-r)
        symloop += reply.symloop
        if symloop > SYMLOOP_MAX:
            raise RequestError(ELOOP)
        # The FS leaves in the buffer the path as it stands now.
        path = vfs.sys.mem_read(vfs.path_buf, PATH_MAX).split(b"\0", 1)[0]
        if r == ESYMLINK:
            dir_vp, rest = fp.root, path.lstrip(b"/")
        elif r == EENTERMOUNT:
            dir_vp = mounted_root(vfs, dir_vp, reply.inode)
            rest = path[reply.offset :].lstrip(b"/")
        else:
            dir_vp, rest = leave_mount(vfs, dir_vp, path[reply.offset :])
    return VnodeTable.dup(dir_vp)


def req_lookup(vfs: VFS, fp: FProc, dir_vp: Vnode, rest: bytes, flags: int) -> Message:
    """One REQ_LOOKUP of ``rest`` from ``dir_vp`` in its FS."""
    assert fp.root is not None
    if len(rest) >= PATH_MAX:
        raise RequestError(ENAMETOOLONG)
    vfs.sys.mem_write(vfs.path_buf, rest + b"\0")
    root_ino = fp.root.inode if fp.root.fs_e == dir_vp.fs_e else 0
    with grant_own(vfs.sys, dir_vp.fs_e, vfs.path_buf, PATH_MAX, CPF_READ | CPF_WRITE) as g:
        return call(vfs.sys, dir_vp.fs_e, ReqLookup(
            grant=g, path_len=len(rest) + 1, path_size=PATH_MAX, dir_ino=dir_vp.inode,
            root_ino=root_ino, flags=flags, uid=fp.uid, gid=fp.gid))


def enter(vnodes: VnodeTable, vp: Vnode) -> Vnode:
    """``vp``, or the root of the FS mounted on it."""
    if vp.mounted is None:
        return vp
    root = VnodeTable.dup(vp.mounted.root)
    vnodes.put(vp)
    return root


def mounted_root(vfs: VFS, fs_dir: Vnode, inode: int) -> Vnode:
    """The root of the FS mounted on ``inode`` of ``fs_dir``'s FS (EIO if
    the FS names a mount point VFS has not made)."""
    vp = vfs.vnodes.nodes.get((fs_dir.fs_e, inode))
    if vp is None or vp.mounted is None:
        raise RequestError(EIO)
    return vp.mounted.root


def leave_mount(vfs: VFS, fs_dir: Vnode, rest: bytes) -> tuple[Vnode, bytes]:
    """Where ``rest`` (starting with "..") goes on from the root of
    ``fs_dir``'s FS: ".." again from the directory that FS is mounted on;
    the root FS's root is its own parent."""
    vmnt = vfs.vmnt_of(fs_dir.fs_e)
    if vmnt is None:
        raise RequestError(EIO)
    if vmnt.mounted_on is None:
        return vmnt.root, rest[2:].lstrip(b"/")
    return vmnt.mounted_on, rest
