"""EXEC: a Python program image from PM's table, or a file by way of VFS.

A path in PM's module table is a Python program image (a text address
the System loaded; its "file" is its one data page, which holds its
name): PM reads the path and the initial stack frame from the caller and
loads the program through libexec with the default callbacks and its own
copymem (vircopy from PM's memory into the target). Any other path is a
file: PM forwards the call to VFS (VFS_PM_EXEC, by asynsend) and the
caller waits; VFS loads the file, tells PM of the new image (PM_NEWEXEC)
and answers (VFS_PM_EXEC_REPLY), and PM starts the program or reports
the error.

Everything that can fail because of the file fails before the point of
no return, and the caller gets the error with its old image; a failure
after it kills the process (SIGKILL), never the MINIX bug of returning
into an empty address space (reference A8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from minixvm.errors import (
    E2BIG,
    EDEADSRCDST,
    EINVAL,
    ENAMETOOLONG,
    ENOENT,
    EPERM,
    ESRCH,
    OK,
)
from minixvm.include.arch import DEFAULT_STACK_SIZE, PY_DATA_BASE
from minixvm.include.com import RS_PROC_NR, VFS_PROC_NR
from minixvm.include.ipc import Message
from minixvm.include.pm import (
    EXC_NM_RF_ALLOW_SETUID,
    EXEC_INFO,
    PATH_MAX,
    ExecRestart,
    PmExec,
    PmNewexec,
)
from minixvm.include.signal import SIGKILL, W_EXITCODE
from minixvm.include.vfs import VFS_PM_EXEC, VfsPmExec
from minixvm.lib.exec import (
    ARG_MAX,
    PROC_NAME_LEN,
    ExecInfo,
    exec_info_for,
    libexec_load,
    text_image,
)
from minixvm.servers.pm.forkexit import exit_proc, tell_vfs, vfs_done
from minixvm.servers.pm.mproc import PARTIAL_EXEC, SRV_NEW, MProc

if TYPE_CHECKING:
    from minixvm.servers.pm.main import PM

SUSPEND = None

@dataclass
class ModuleTable:
    """The Python program images PM execs itself: path -> text address."""

    modules: dict[str, int] = field(default_factory=dict)

    def __contains__(self, path: object) -> bool:
        return path in self.modules


def do_exec(pm: PM, mp: MProc, m: Message) -> Message | None:
    """EXEC: replace the caller's program by the one at ``path``; no reply on
    success. A system process's image is not PM's to replace."""
    if mp.system:
        return PmExec(-EPERM)
    req = PmExec.view(m.buf)
    r, path = fetch_path(pm, mp, req)
    if r != OK:
        return PmExec(r)
    text = pm.modules.modules.get(path)
    if text is None:
        r = tell_vfs(pm, VfsPmExec(VFS_PM_EXEC, endpoint=mp.endpoint, path=req.path,
                                   path_len=req.path_len, frame=req.frame,
                                   frame_len=req.frame_len, flags=req.flags))
        if r != OK:
            return PmExec(-ENOENT if r == -EDEADSRCDST else r)  # no VFS: no files
        mp.vfs_call = VFS_PM_EXEC
        return SUSPEND
    r, frame = fetch_frame(pm, mp, req)
    if r != OK:
        return PmExec(r)
    progname = path.rsplit("/", 1)[-1][: PROC_NAME_LEN - 1]
    data = progname.encode("latin-1") + b"\0"
    file_base = pm.scratch(len(data))
    pm.sys.mem_write(file_base, data)
    image = text_image(text, data)
    me = pm.sys.endpoint
    info = exec_info_for(pm.sys, mp.endpoint, progname, frame,
                         lambda i, off, v, n: pm.sys.sys_vircopy(me, file_base + off,
                                                                 i.proc_e, v, n))
    # A Python program's stack is only its libc's: it keeps the small one.
    info.stack_size = DEFAULT_STACK_SIZE
    r = libexec_load(info, image)
    if r == OK:
        r = copy_frame(pm, info)
    if r == OK:
        r = pm.sys.sys_exec(mp.endpoint, pc=info.pc, name=info.progname, sp=PY_DATA_BASE)
    if r != OK and not info.partial:
        return PmExec(r)
    if r != OK:
        exit_proc(pm, mp, W_EXITCODE(0, SIGKILL))
        return SUSPEND
    mp.name = info.progname
    # libc's break starts after the data page.
    mp.brk = max(seg.vaddr + seg.memsz for seg in image.segments)
    return SUSPEND


def fetch_path(pm: PM, mp: MProc, req: PmExec) -> tuple[int, str]:
    """(OK, the path) copied from the caller's memory, or (error, "")."""
    if req.path_len <= 0:
        return -EINVAL, ""
    if req.path_len > PATH_MAX:
        return -ENAMETOOLONG, ""
    buf = pm.scratch(req.path_len)
    r = pm.sys.sys_vircopy(mp.endpoint, req.path, pm.sys.endpoint, buf, req.path_len)
    if r != OK:
        return r, ""
    path = pm.sys.mem_read(buf, req.path_len)
    if path.find(0) != req.path_len - 1:  # one string, all of it
        return -EINVAL, ""
    return OK, path[:-1].decode("latin-1")


def fetch_frame(pm: PM, mp: MProc, req: PmExec) -> tuple[int, bytes]:
    """(OK, the initial stack frame) copied from the caller, or (error, b"")."""
    if req.frame_len <= 0:
        return -EINVAL, b""
    if req.frame_len > ARG_MAX:
        return -E2BIG, b""
    buf = pm.scratch(req.frame_len)
    r = pm.sys.sys_vircopy(mp.endpoint, req.frame, pm.sys.endpoint, buf, req.frame_len)
    return (OK, pm.sys.mem_read(buf, req.frame_len)) if r == OK else (r, b"")


def copy_frame(pm: PM, info: ExecInfo) -> int:
    """The patched initial stack frame to its place below the stack top."""
    buf = pm.scratch(len(info.frame))
    pm.sys.mem_write(buf, info.frame)
    return pm.sys.sys_vircopy(pm.sys.endpoint, buf, info.proc_e, info.vsp, len(info.frame))


# -- a file, by way of VFS ------------------------------------------------------------


def do_newexec(pm: PM, mp: MProc, m: Message) -> Message:
    """PM_NEWEXEC (VFS, or RS for a service it starts): the process being
    exec'ed has a new image;
    PM takes its name, break and frame address from the exec_info in VFS's
    memory. From here on a failure kills it (PARTIAL_EXEC)."""
    if m.m_source not in (VFS_PROC_NR, RS_PROC_NR):
        return PmNewexec(-EPERM)
    req = PmNewexec.view(m.buf)
    rmp = pm.by_endpoint(req.endpoint)
    if rmp is None:
        return PmNewexec(-ESRCH)
    if m.m_source == VFS_PROC_NR and rmp.vfs_call != VFS_PM_EXEC:
        return PmNewexec(-EINVAL)  # VFS is not exec'ing it for PM
    if m.m_source == RS_PROC_NR and not rmp.flags & SRV_NEW:
        return PmNewexec(-EINVAL)  # not a service RS is starting
    buf = pm.scratch(EXEC_INFO.size)
    r = pm.sys.sys_vircopy(m.m_source, req.info, pm.sys.endpoint, buf, EXEC_INFO.size)
    if r != OK:
        return PmNewexec(r)
    proc_e, progname, frame_len, stack_high, _, _, allow_setuid, brk = EXEC_INFO.unpack(
        pm.sys.mem_read(buf, EXEC_INFO.size))
    if proc_e != rmp.endpoint or frame_len > stack_high:
        return PmNewexec(-EINVAL)
    rmp.name = progname.split(b"\0", 1)[0][: PROC_NAME_LEN - 1].decode("latin-1")
    rmp.brk = brk
    rmp.flags |= PARTIAL_EXEC
    # There is no tracing here, so setuid execution is always allowed; only
    # the bit is sent, never uninitialised flags (reference A8, bug 4).
    flags = EXC_NM_RF_ALLOW_SETUID if allow_setuid else 0
    return PmNewexec(OK, frame=stack_high - frame_len, flags=flags)


def exec_restart(pm: PM, m: Message) -> None:
    """VFS_PM_EXEC_REPLY: start the new program; or the caller gets the
    error, or dies if its old image is gone."""
    reply = VfsPmExec.view(m.buf)
    mp = pm.by_endpoint(reply.endpoint)
    if mp is None or mp.vfs_call != VFS_PM_EXEC:
        return  # not an exec PM asked for
    partial = bool(reply.partial or mp.flags & PARTIAL_EXEC)
    mp.flags &= ~PARTIAL_EXEC
    r = reply.status
    if r == OK:
        r = pm.sys.sys_exec(mp.endpoint, pc=reply.pc, name=mp.name, sp=reply.sp)
        partial = True  # the old image is gone whatever sys_exec says
    vfs_done(mp)
    if r != OK and partial:
        exit_proc(pm, mp, W_EXITCODE(0, SIGKILL))
    elif r != OK:
        pm.reply(mp, PmExec(r))
    pm.restart_sigs(mp)


def do_exec_restart(pm: PM, mp: MProc, m: Message) -> Message:
    """EXEC_RESTART (RS only): RS has loaded a new service's image: start it
    at ``pc`` with its frame at ``sp``, or (``result`` an error) kill it."""
    if mp.slot != RS_PROC_NR:
        return Message(-EPERM)
    req = ExecRestart.view(m.buf)
    rmp = pm.by_endpoint(req.endpoint)
    if rmp is None or not rmp.flags & SRV_NEW:
        return Message(-EINVAL)
    rmp.flags &= ~(SRV_NEW | PARTIAL_EXEC)
    r = req.result
    if r == OK:
        r = pm.sys.sys_exec(rmp.endpoint, pc=req.pc, name=rmp.name, sp=req.sp)
    if r != OK:
        exit_proc(pm, rmp, W_EXITCODE(0, SIGKILL))
    return Message(r)
