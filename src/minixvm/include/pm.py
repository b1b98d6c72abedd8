"""PM requests (MINIX 3.2 <minix/callnr.h>) and their message layouts.

The slots are libc's (``lib/libc/sys-minix``) and PM's ``param.h``. A
reply carries its result in ``m_type`` as MINIX's ``reply_res`` does: a
pid, OK, or a negative errno; anything more is in the reply fields
(``reply_res2`` = m2_i1, ``reply_ptr`` = m2_p1).
"""

from __future__ import annotations

import struct

from minixvm.include.ipc import (
    Message,
    layout,
    m1_i1,
    m1_i2,
    m1_i3,
    m1_p1,
    m1_p2,
    m2_i1,
    m2_i2,
    m2_p1,
    register_names,
)

PM_BASE = 0x000
PM_EXIT = PM_BASE + 1
PM_FORK = PM_BASE + 2
PM_WAIT = PM_BASE + 7
PM_WAITPID = PM_BASE + 11
PM_BRK = PM_BASE + 17
PM_GETPID = PM_BASE + 20
PM_KILL = PM_BASE + 37
PM_EXEC = PM_BASE + 59
PM_REBOOT = PM_BASE + 76

register_names(globals(), "PM_", PM_BASE + 1)


@layout(PM_EXIT)
class PmExit(Message):
    status = m1_i1  # the exit status (PM keeps its low 8 bits, as POSIX)


@layout(PM_FORK)
class PmFork(Message):
    """No request fields; the reply's m_type is the child's pid (0 in the child)."""

    # Parent's reply: the child's endpoint (init needs it to make a child a
    # service, as RS gets it from SRV_FORK).
    endpoint = m1_i1


@layout(PM_WAITPID, PM_WAIT)
class PmWaitpid(Message):
    """PM_WAIT has no request fields (any child, no options)."""

    pid = m1_i1  # -1: any child
    options = m1_i2  # WNOHANG, WUNTRACED
    status = m2_i1  # reply (the pid is m_type): the POSIX wait status


@layout(PM_BRK)
class PmBrk(Message):
    addr = m1_p1  # PMBRK_ADDR: the new break (PM knows the old one)
    brk = m2_p1  # reply (reply_ptr): the new break


@layout(PM_GETPID)
class PmGetpid(Message):
    """No request fields; the reply's m_type is the caller's pid."""

    ppid = m2_i1  # reply (reply_res2): the parent's pid


@layout(PM_KILL)
class PmKill(Message):
    pid = m1_i1
    sig = m1_i2  # 0: only check that the process exists


@layout(PM_REBOOT)
class PmReboot(Message):
    """REBOOT: VFS writes back and unmounts every file system; then the
    answer (the System ends the machine; PM does not)."""

    how = m1_i1  # RBT_HALT, RBT_REBOOT, ...


RBT_HALT = 0
RBT_REBOOT = 1


PATH_MAX = 255  # <limits.h>: the longest path, its NUL included


@layout(PM_EXEC)
class PmExec(Message):
    """EXEC (libc execve): the program at ``path`` replaces the caller's,
    starting on the initial stack ``frame`` (reference A7); both lie in the
    caller's memory. No reply on success."""

    path_len = m1_i1  # strlen(path) + 1
    frame_len = m1_i2
    flags = m1_i3  # PMEXEC_FLAGS: 0, no AuxInfo or name space in the frame
    path = m1_p1
    frame = m1_p2


# VFS (or RS) tells PM a new image is being loaded (MINIX EXEC_NEWMEM's old
# number): PM copies the caller's exec_info from ``info`` and answers with
# the frame's address (``frame``) and the flags it allows.
PM_NEWEXEC = 100
register_names(globals(), "PM_NEWEXEC", PM_NEWEXEC, 1)
EXC_NM_RF_ALLOW_SETUID = 2

# struct exec_info as the exec caller passes it to PM (the fields PM uses):
# proc_e, progname[16], frame_len, stack_high, new_uid, new_gid,
# allow_setuid, and (not MINIX's) the end of the highest loaded segment,
# libc's _end, where PM starts the break.
EXEC_INFO = struct.Struct("<i16sIIhhiI")


# RS's calls (MINIX SRV_FORK and EXEC_RESTART): a child of RS that does not
# run until RS has loaded its image and given it its privileges, and the
# start of the image RS loaded.
SRV_FORK = 101
EXEC_RESTART = 102
register_names(globals(), "SRV_FORK", SRV_FORK, 1)
register_names(globals(), "EXEC_RESTART", EXEC_RESTART, 1)


@layout(SRV_FORK)
class SrvFork(Message):
    """No request fields (RS's services run as root); the reply's m_type
    is the child's pid."""

    endpoint = m1_i1  # reply: the child's endpoint


@layout(EXEC_RESTART)
class ExecRestart(Message):
    endpoint = m1_i1  # EXC_RS_PROC
    result = m1_i2  # EXC_RS_RESULT: OK, or why loading failed (PM kills it)
    pc = m1_p1  # EXC_RS_PC
    sp = m1_p2  # the initial stack pointer (the frame's address)


@layout(PM_NEWEXEC)
class PmNewexec(Message):
    endpoint = m1_i1  # EXC_NM_PROC
    info = m1_p1  # EXC_NM_PTR: the exec_info, in the caller's memory
    # reply
    frame = m2_i1  # the initial stack frame's address (for ps)
    flags = m2_i2  # EXC_NM_RF_ALLOW_SETUID, or 0
