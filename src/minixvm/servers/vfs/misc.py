"""DUP, FCNTL and SYNC (MINIX vfs/misc.c and filedes.c's dup)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EBADF, EINVAL, RequestError
from minixvm.include.ipc import Message
from minixvm.include.vfs import (
    DUP_MASK,
    F_DUPFD,
    F_GETFD,
    F_GETFL,
    F_SETFD,
    F_SETFL,
    FD_CLOEXEC,
    O_APPEND,
    O_NONBLOCK,
    OPEN_MAX,
    VfsDup,
    VfsFcntl,
)
from minixvm.include.vfsif import REQ_SYNC, ReqNoArgs
from minixvm.servers.vfs.fproc import FProc, close_fd
from minixvm.servers.vfs.request import call

if TYPE_CHECKING:
    from minixvm.servers.vfs.main import VFS

# What F_SETFL may change.
SETFL_FLAGS = O_APPEND | O_NONBLOCK


def do_dup(vfs: VFS, fp: FProc, m: Message) -> int:
    """DUP: the lowest free descriptor for the same open file; with
    DUP_MASK in ``fd``, dup2: descriptor ``fd2`` (closed first if open)."""
    req = VfsDup.view(m.buf)
    if not req.fd & DUP_MASK:
        fp.filp(req.fd)
        return dup_to(fp, req.fd, fp.free_fd())
    fd = req.fd & ~DUP_MASK
    f = fp.filp(fd)
    if not 0 <= req.fd2 < OPEN_MAX:
        raise RequestError(EBADF)
    if req.fd2 == fd:
        return fd
    if fp.fds[req.fd2] is not None:
        close_fd(vfs.vnodes, fp, req.fd2)
    f.count += 1
    return fp.install(req.fd2, f)


def dup_to(fp: FProc, fd: int, new_fd: int) -> int:
    """Make free ``new_fd`` a copy of ``fd`` (FD_CLOEXEC clear)."""
    f = fp.filp(fd)
    f.count += 1
    return fp.install(new_fd, f)


def do_fcntl(vfs: VFS, fp: FProc, m: Message) -> int:
    """FCNTL: F_DUPFD (the lowest free descriptor >= arg), F_GETFD/F_SETFD
    (FD_CLOEXEC), F_GETFL/F_SETFL (O_APPEND and O_NONBLOCK may change)."""
    req = VfsFcntl.view(m.buf)
    f = fp.filp(req.fd)
    if req.cmd == F_DUPFD:
        if not 0 <= req.arg < OPEN_MAX:
            raise RequestError(EINVAL)
        return dup_to(fp, req.fd, fp.free_fd(req.arg))
    if req.cmd == F_GETFD:
        return FD_CLOEXEC if req.fd in fp.cloexec else 0
    if req.cmd == F_SETFD:
        if req.arg & FD_CLOEXEC:
            fp.cloexec.add(req.fd)
        else:
            fp.cloexec.discard(req.fd)
        return 0
    if req.cmd == F_GETFL:
        return f.flags
    if req.cmd == F_SETFL:
        f.flags = f.flags & ~SETFL_FLAGS | req.arg & SETFL_FLAGS
        return 0
    raise RequestError(EINVAL)


def do_sync(vfs: VFS, fp: FProc, m: Message) -> int:
    """SYNC: every mounted file system writes back what it has changed."""
    for vmnt in vfs.mounts:
        call(vfs.sys, vmnt.fs_e, ReqNoArgs(REQ_SYNC))
    return 0
