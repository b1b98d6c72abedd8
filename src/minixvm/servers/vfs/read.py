"""READ, WRITE, LSEEK and GETDENTS (MINIX vfs/read.c, write.c, misc.c's lseek).

A regular file's data goes between the FS and the user's buffer directly:
VFS makes a magic grant of the buffer to the FS (REQ_READ, REQ_WRITE),
and a copy error fails the whole request (MINIX test 44: a read whose
buffer ends in unmapped memory is EFAULT, not a short count). Character
devices go to their driver the same way; block devices through a VFS
buffer (device.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EBADF, EFBIG, EINVAL, EISDIR, EOVERFLOW, OK, RequestError
from minixvm.include.grant import CPF_READ, CPF_WRITE
from minixvm.include.ipc import Message
from minixvm.include.vfs import (
    O_APPEND,
    SEEK_CUR,
    SEEK_END,
    SEEK_SET,
    WRITE,
    VfsGetdents,
    VfsLseek,
    VfsReadWrite,
)
from minixvm.include.vfsif import REQ_READ, REQ_WRITE, ReqGetdents, ReqReadWrite
from minixvm.servers.vfs.device import block_io, char_io
from minixvm.servers.vfs.fproc import FProc
from minixvm.servers.vfs.request import call, check, grant_user
from minixvm.servers.vfs.vnode import Vnode

if TYPE_CHECKING:
    from minixvm.servers.vfs.main import VFS

# Positions are 32-bit (the messages' _HI halves are zero).
MAX_POS = (1 << 31) - 1


def do_read_write(vfs: VFS, fp: FProc, m: Message) -> int:
    """READ or WRITE: the bytes moved, at the filp's position (O_APPEND on
    a regular file: its end), which moves on by as many."""
    req = VfsReadWrite.view(m.buf)
    write = m.m_type == WRITE
    f = fp.filp(req.fd)
    if not (f.writable() if write else f.readable()):
        raise RequestError(EBADF)
    if req.nbytes < 0:
        raise RequestError(EINVAL)
    vp = f.vnode
    if vp.is_dir():
        raise RequestError(EISDIR)
    if not (vp.is_reg() or vp.is_chr() or vp.is_blk()):
        raise RequestError(EINVAL)
    pos = vp.size if write and f.flags & O_APPEND and vp.is_reg() else f.pos
    nbytes = room(pos, req.nbytes, write)
    if nbytes == 0:
        return 0
    if vp.is_chr():
        r = check(char_io(vfs.sys, vp.sdev, write, fp.endpoint, req.buffer, nbytes, pos))
    elif vp.is_blk():
        r = check(block_io(vfs, vp.sdev, write, fp.endpoint, req.buffer, nbytes, pos))
    else:
        r = req_readwrite(vfs, vp, write, fp.endpoint, req.buffer, pos, nbytes).nbytes
        if write:
            vp.size = max(vp.size, pos + r)
    f.pos = pos + r
    return int(r)


def room(pos: int, nbytes: int, write: bool) -> int:
    """How many of ``nbytes`` may move at ``pos``, below the largest
    position; EFBIG for a write that cannot move any."""
    if pos + nbytes <= MAX_POS:
        return nbytes
    if write and pos >= MAX_POS:
        raise RequestError(EFBIG)
    return MAX_POS - pos


def req_readwrite(vfs: VFS, vp: Vnode, write: bool, who: int, addr: int, pos: int,
                  nbytes: int) -> Message:
    """REQ_READ or REQ_WRITE between ``vp`` at ``pos`` and ``who``'s memory
    at ``addr``: the FS's reply (an error fails the request)."""
    access = CPF_READ if write else CPF_WRITE
    with grant_user(vfs.sys, vp.fs_e, who, addr, nbytes, access) as g:
        reply = call(vfs.sys, vp.fs_e, ReqReadWrite(REQ_WRITE if write else REQ_READ,
                                                    inode=vp.inode, grant=g, pos=pos,
                                                    nbytes=nbytes))
    check(reply.m_type)
    return reply


def do_lseek(vfs: VFS, fp: FProc, m: Message) -> Message:
    """LSEEK: the new position, in ``offset``. Devices may seek (only pipes
    cannot, in MINIX, and there are none)."""
    req = VfsLseek.view(m.buf)
    f = fp.filp(req.fd)
    bases = {SEEK_SET: 0, SEEK_CUR: f.pos, SEEK_END: f.vnode.size}
    if req.whence not in bases:
        raise RequestError(EINVAL)
    pos = bases[req.whence] + req.offset
    if pos < 0:
        raise RequestError(EINVAL)
    if pos > MAX_POS:
        raise RequestError(EOVERFLOW)
    f.pos = pos
    return VfsLseek(OK, offset=pos)


def do_getdents(vfs: VFS, fp: FProc, m: Message) -> int:
    """GETDENTS: directory records from the filp's position into the
    caller's buffer; the bytes filled (0 at the end)."""
    req = VfsGetdents.view(m.buf)
    f = fp.filp(req.fd)
    if not f.readable() or not f.vnode.is_dir():
        raise RequestError(EBADF)
    if req.nbytes < 0:
        raise RequestError(EINVAL)
    vp = f.vnode
    with grant_user(vfs.sys, vp.fs_e, fp.endpoint, req.buffer, req.nbytes, CPF_WRITE) as g:
        reply = call(vfs.sys, vp.fs_e, ReqGetdents(inode=vp.inode, grant=g, pos=f.pos,
                                                   mem_size=req.nbytes))
    check(reply.m_type)
    f.pos = reply.pos
    return int(reply.nbytes)
