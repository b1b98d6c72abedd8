"""Exec from files: VFS as libexec's caller (MINIX 769af5727 vfs/exec.c).

PM forwards a user's EXEC of a file (VFS_PM_EXEC) and waits; VFS copies
the frame and the path from the user, finds the file, checks it and its
ELF headers, and loads it through libexec with the default callbacks of
``lib/exec.py`` and its own ``read_seg``: the FS reads each segment
straight into the new image, through a magic grant of the target's
memory (one copy; the seed's "no copy through VFS"). With
``exec_copies`` 2 (the old path, for the benchmark) each segment is read
into a VFS buffer and copied on into the target with SYS_VIRCOPY. Then
PM_NEWEXEC (PM records the new image; the one call on which VFS waits
for PM), the initial stack frame, the close-on-exec descriptors, and
VFS_PM_EXEC_REPLY by asynsend.

Everything that can fail because of the caller's arguments or the file
fails before libexec's point of no return, so the caller gets the error
with its old image; a failure after it (``partial``) makes PM kill the
process. A frame over ARG_MAX is E2BIG, as POSIX and PM's exec of
Python programs say (MINIX: ENOMEM); MINIX's ENOEXEC is kept for a file
that is not a regular file (POSIX: EACCES). Only static ELF programs
run: a "#!" script is ENOEXEC (MINIX ran its interpreter).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import E2BIG, EINVAL, EIO, ENOEXEC, OK, RequestError
from minixvm.include.arch import VM_STACKTOP
from minixvm.include.com import PM_PROC_NR
from minixvm.include.grant import CPF_WRITE
from minixvm.include.ipc import Message
from minixvm.include.pm import EXEC_INFO, PmNewexec
from minixvm.include.vfs import VFS_PM_EXEC_REPLY, X_BIT, VfsPmExec
from minixvm.include.vfsif import REQ_READ, ReqReadWrite
from minixvm.lib import exec as libexec
from minixvm.lib.elf import ElfError, ElfImage, elf_unpack
from minixvm.lib.exec import ARG_MAX, DEFAULT_STACK_LIMIT, PROC_NAME_LEN, ExecInfo, libexec_load
from minixvm.servers.vfs.fproc import FProc, close_fd
from minixvm.servers.vfs.path import fetch_name, lookup
from minixvm.servers.vfs.protect import forbidden
from minixvm.servers.vfs.request import call, check, grant_own, grant_user
from minixvm.servers.vfs.vnode import Vnode

if TYPE_CHECKING:
    from minixvm.servers.vfs.main import VFS

# How much of the file VFS reads to check it (MINIX's header buffer).
HEADER_MAX = 4096
# exec_copies 2: the piece of a segment that goes through VFS at a time.
COPY_CHUNK = 128 << 10
USER_TOP = VM_STACKTOP - DEFAULT_STACK_LIMIT


def pm_exec(vfs: VFS, m: Message) -> None:
    """VFS_PM_EXEC: load the program; answer PM (VFS_PM_EXEC_REPLY)."""
    req = VfsPmExec.view(m.buf)
    reply = VfsPmExec(VFS_PM_EXEC_REPLY, endpoint=req.endpoint, status=OK)
    try:
        info = exec_file(vfs, vfs.fproc(req.endpoint), req)
    except ExecFailed as e:
        reply.status, reply.partial = e.r, int(e.info.partial)
    except RequestError as e:
        reply.status = -e.errno
    else:
        reply.pc, reply.sp = info.pc, info.vsp
    vfs.reply_pm(reply)


class ExecFailed(Exception):
    """libexec or what follows it failed: ``r``, and how far it got."""

    def __init__(self, r: int, info: ExecInfo) -> None:
        super().__init__(r)
        self.r, self.info = r, info


def exec_file(vfs: VFS, fp: FProc, req: VfsPmExec) -> ExecInfo:
    """Replace ``fp``'s program by the file at ``req.path``: the loaded exec."""
    if req.frame_len > ARG_MAX:
        raise RequestError(E2BIG)
    if req.frame_len <= 0:
        raise RequestError(EINVAL)
    # The one buffer every step uses, big enough now: no step after the
    # point of no return may fail for want of it.
    copies = COPY_CHUNK if vfs.options.exec_copies == 2 else 0
    buf = vfs.scratch(max(req.frame_len, HEADER_MAX, copies))
    check(vfs.sys.sys_vircopy(fp.endpoint, req.frame, vfs.sys.endpoint, buf, req.frame_len))
    frame = vfs.sys.mem_read(buf, req.frame_len)
    path = fetch_name(vfs, fp.endpoint, req.path, req.path_len)
    vp = lookup(vfs, fp, path)
    try:
        image = check_file(vfs, fp, vp)
        progname = path.rsplit(b"/", 1)[-1][: PROC_NAME_LEN - 1].decode("latin-1")
        info = libexec.exec_info_for(
            vfs.sys, fp.endpoint, progname, frame,
            lambda i, off, vaddr, n: read_seg(vfs, vp, i, off, vaddr, n))
        r = libexec_load(info, image)
        if r == OK:
            r = newexec(vfs, fp, info, image)
        if r == OK:
            r = copy_frame(vfs, info)
        if r != OK:
            raise ExecFailed(r, info)
    finally:
        vfs.vnodes.put(vp)
    for fd in sorted(fp.cloexec):
        close_fd(vfs.vnodes, fp, fd)
    return info


def check_file(vfs: VFS, fp: FProc, vp: Vnode) -> ElfImage:
    """What to load of ``vp``, after MINIX's checks: a regular file
    (ENOEXEC), executable (EACCES), whose headers lib/elf.py accepts
    (ENOEXEC)."""
    if not vp.is_reg():
        raise RequestError(ENOEXEC)
    forbidden(vfs, fp, vp, X_BIT)
    n = min(vp.size, HEADER_MAX)
    buf = vfs.scratch(n)
    with grant_own(vfs.sys, vp.fs_e, buf, n, CPF_WRITE) as g:
        reply = call(vfs.sys, vp.fs_e, ReqReadWrite(REQ_READ, inode=vp.inode, grant=g, pos=0,
                                                    nbytes=n))
    check(reply.m_type)
    try:
        return elf_unpack(vfs.sys.mem_read(buf, reply.nbytes), USER_TOP, vp.size)
    except ElfError:
        raise RequestError(ENOEXEC) from None


def read_seg(vfs: VFS, vp: Vnode, info: ExecInfo, off: int, vaddr: int, n: int) -> int:
    """libexec's copymem: ``n`` bytes of the file from ``off`` to ``vaddr``
    in the new image; a short read is an error (EIO), as is a segment past
    the end of the file."""
    if off + n > vp.size:
        return -EIO
    if vfs.options.exec_copies == 2:
        return read_seg_copy(vfs, vp, info, off, vaddr, n)
    try:
        with grant_user(vfs.sys, vp.fs_e, info.proc_e, vaddr, n, CPF_WRITE) as g:
            reply = call(vfs.sys, vp.fs_e, ReqReadWrite(REQ_READ, inode=vp.inode, grant=g,
                                                        pos=off, nbytes=n))
    except RequestError as e:
        return -e.errno
    if reply.m_type < 0:
        return int(reply.m_type)
    vfs.stats.exec_read += reply.nbytes
    return OK if reply.nbytes == n else -EIO


def read_seg_copy(vfs: VFS, vp: Vnode, info: ExecInfo, off: int, vaddr: int, n: int) -> int:
    """read_seg's old path: through a VFS buffer, a piece at a time."""
    buf = vfs.scratch(min(n, COPY_CHUNK))
    done = 0
    while done < n:
        k = min(COPY_CHUNK, n - done)
        with grant_own(vfs.sys, vp.fs_e, buf, k, CPF_WRITE) as g:
            reply = call(vfs.sys, vp.fs_e, ReqReadWrite(REQ_READ, inode=vp.inode, grant=g,
                                                        pos=off + done, nbytes=k))
        if reply.m_type < 0:
            return int(reply.m_type)
        vfs.stats.exec_read += reply.nbytes
        if reply.nbytes != k:
            return -EIO
        r = vfs.sys.sys_vircopy(vfs.sys.endpoint, buf, info.proc_e, vaddr + done, k)
        if r != OK:
            return r
        vfs.stats.exec_copied += k
        done += k
    return OK


def newexec(vfs: VFS, fp: FProc, info: ExecInfo, image: ElfImage) -> int:
    """PM_NEWEXEC: PM takes the new image's name, frame and break (from an
    exec_info in VFS's memory); PM's answer."""
    brk = max(seg.vaddr + seg.memsz for seg in image.segments)
    vfs.sys.mem_write(vfs.info_buf, EXEC_INFO.pack(
        info.proc_e, info.progname.encode("latin-1")[: PROC_NAME_LEN - 1], len(info.frame),
        info.stack_high, fp.uid, fp.gid, 0, brk))
    return call(vfs.sys, PM_PROC_NR, PmNewexec(endpoint=info.proc_e,
                                               info=vfs.info_buf)).m_type


def copy_frame(vfs: VFS, info: ExecInfo) -> int:
    """The patched initial stack frame to its place below the stack top."""
    buf = vfs.scratch(len(info.frame))
    vfs.sys.mem_write(buf, info.frame)
    return vfs.sys.sys_vircopy(vfs.sys.endpoint, buf, info.proc_e, info.vsp, len(info.frame))
