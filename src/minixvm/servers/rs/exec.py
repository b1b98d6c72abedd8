"""RS as exec caller (MINIX rs/exec.c): a service's image is loaded from
RS's own memory through libexec.

RS keeps the image (a Python program's data page, or the ELF file) in a
buffer of its own; libexec's copymem is a vircopy from there into the new
process. PM learns of the new image (PM_NEWEXEC) and starts it when RS
says so (EXEC_RESTART). A service gets no environment, as in MINIX.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import ENOEXEC, OK
from minixvm.include.arch import DEFAULT_STACK_SIZE, PY_DATA_BASE, VM_STACKTOP
from minixvm.include.com import PM_PROC_NR
from minixvm.include.pm import EXEC_INFO, EXEC_RESTART, PmNewexec
from minixvm.lib.elf import ElfError, ElfImage, elf_unpack
from minixvm.lib.exec import (
    DEFAULT_STACK_LIMIT,
    PROC_NAME_LEN,
    ExecInfo,
    build_frame,
    exec_info_for,
    libexec_load,
    text_image,
)
from minixvm.servers.rs.service import ServiceImage

if TYPE_CHECKING:
    from minixvm.servers.rs.main import RS


def srv_execve(rs: RS, endpoint: int, image: ServiceImage) -> int:
    """Load ``image`` into the new process ``endpoint`` (RS's child, not yet
    running) and have PM start it; OK or an error (PM has killed it)."""
    progname = image.name[: PROC_NAME_LEN - 1]
    data = image.elf or progname.encode("latin-1") + b"\0"
    buf = rs.scratch(len(data))
    r, elf, info = (OK if buf >= 0 else buf), None, None
    if r == OK:
        rs.sys.mem_write(buf, data)
    try:
        elf = (elf_unpack(data, VM_STACKTOP - DEFAULT_STACK_LIMIT) if image.elf
               else text_image(image.text, data))
    except ElfError:
        r = -ENOEXEC
    if r == OK and elf is not None:
        info = exec_info_for(rs.sys, endpoint, progname, build_frame([progname], []),
                             lambda i, off, v, n: copymem(rs, buf, len(data), i, off, v, n))
        if not image.elf:
            info.stack_size = DEFAULT_STACK_SIZE  # a Python program's stack is its libc's
        r = load(rs, info, elf)
    sp = PY_DATA_BASE if not image.elf else info.vsp if info else 0
    pc = info.pc if info else 0
    reply = rs.sys.taskcall(PM_PROC_NR, EXEC_RESTART, endpoint=endpoint, result=r, pc=pc, sp=sp)
    return r if r != OK else int(reply.m_type)


def copymem(rs: RS, buf: int, size: int, info: ExecInfo, off: int, vaddr: int, n: int) -> int:
    """libexec's copymem (MINIX read_seg): from the image in RS's memory."""
    if off + n > size:
        return -ENOEXEC
    return rs.sys.sys_vircopy(rs.sys.endpoint, buf + off, info.proc_e, vaddr, n)


def load(rs: RS, info: ExecInfo, elf: ElfImage) -> int:
    """libexec, then PM_NEWEXEC, then the frame: OK or the first error."""
    r = libexec_load(info, elf)
    if r == OK:
        brk = max(seg.vaddr + seg.memsz for seg in elf.segments)
        rs.sys.mem_write(rs.info_buf, EXEC_INFO.pack(
            info.proc_e, info.progname.encode("latin-1")[: PROC_NAME_LEN - 1],
            len(info.frame), info.stack_high, 0, 0, 0, brk))
        r, reply = rs.sys.sendrec(PM_PROC_NR, PmNewexec(endpoint=info.proc_e, info=rs.info_buf))
        r = r if r != OK or reply is None else int(reply.m_type)
    if r == OK:
        # The frame goes beside the exec_info: the image buffer is in use.
        frame = rs.info_buf + EXEC_INFO.size
        rs.sys.mem_write(frame, info.frame)
        r = rs.sys.sys_vircopy(rs.sys.endpoint, frame, info.proc_e, info.vsp, len(info.frame))
    return r

