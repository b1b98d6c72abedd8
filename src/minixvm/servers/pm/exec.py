"""exec of Python program images (PM is their exec caller).

A Python program has no ELF file: its image is a text the System loaded
into the kernel under an image number, plus a one-page data segment
holding its name. PM loads it through libexec with its own callbacks,
exactly as VFS does for ELF binaries: clear the process, third-party mmap
its memory, copy the data in, then tell the kernel where it starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, ENOENT, ENOMEM, EPERM, OK
from minixvm.include.arch import DEFAULT_STACK_SIZE, PY_DATA_BASE, VM_STACKTOP
from minixvm.include.ipc import Message
from minixvm.include.pm import PmExec
from minixvm.include.signal import SIGKILL, W_EXITCODE
from minixvm.include.vm import (
    MAP_ANON,
    MAP_FIXED,
    MAP_PREALLOC,
    MAP_PRIVATE,
    MAP_THIRDPARTY,
    PROT_READ,
    PROT_WRITE,
    VM_MMAP,
    VM_PROCCTL,
    VMPPARAM_CLEAR,
)
from minixvm.lib.exec import ExecInfo, Segment, libexec_load
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.pm.forkexit import exit_proc
from minixvm.servers.pm.mproc import MProc
from minixvm.servers.pm.reply import answer

if TYPE_CHECKING:
    from minixvm.servers.pm.main import PM

SUSPEND = None


def do_exec(pm: PM, mp: MProc, m: Message) -> Message | None:
    """PM_EXEC: replace the caller's program by Python image ``image``, named
    ``name``. On success there is no reply: the process starts the new
    program. A system process's image is not PM's to replace."""
    req = PmExec.view(m.buf)
    name = req.name
    if req.image not in pm.images:
        return answer(PmExec, -ENOENT)
    if not name:
        return answer(PmExec, -EINVAL)
    if mp.system:
        return answer(PmExec, -EPERM)
    info = ExecInfo(
        proc_e=mp.endpoint,
        name=name,
        segments=[Segment(PY_DATA_BASE, PAGE_SIZE, name.encode("latin-1") + b"\0")],
        pc=req.image,
        stack_top=VM_STACKTOP,
        stack_size=DEFAULT_STACK_SIZE,
        clearproc=lambda i: _clearproc(pm, i),
        allocmem_ondemand=lambda i, v, n, w: _mmap(pm, i, v, n, w, 0),
        allocmem_prealloc=lambda i, v, n, w: _mmap(pm, i, v, n, w, MAP_PREALLOC),
        copymem=lambda i, v, data: _copymem(pm, i, v, data),
    )
    # Past this point there is no way back: the old image is gone.
    if libexec_load(info) != OK or pm.sys.sys_exec(mp.endpoint, pc=info.pc, name=name,
                                                     sp=PY_DATA_BASE) != OK:
        exit_proc(pm, mp, W_EXITCODE(0, SIGKILL))
        return SUSPEND
    mp.name = name
    return SUSPEND


def _clearproc(pm: PM, info: ExecInfo) -> int:
    return pm.sys.vm_call(VM_PROCCTL, who=info.proc_e, param=VMPPARAM_CLEAR).m_type


def _mmap(pm: PM, info: ExecInfo, vaddr: int, length: int, writable: bool, extra: int) -> int:
    prot = PROT_READ | (PROT_WRITE if writable else 0)
    flags = MAP_ANON | MAP_PRIVATE | MAP_FIXED | MAP_THIRDPARTY | extra
    reply = pm.sys.vm_call(VM_MMAP, addr=vaddr, len=length, prot=prot, flags=flags, fd=-1,
                           offset=0, forwhom=info.proc_e)
    return reply.m_type if reply.m_type != OK or reply.retaddr == vaddr else -ENOMEM


def _copymem(pm: PM, info: ExecInfo, vaddr: int, data: bytes) -> int:
    """Copy image bytes into the target: from PM's own memory, with vircopy."""
    buf = pm.scratch(len(data))
    pm.sys.mem_write(buf, data)
    return pm.sys.sys_vircopy(pm.sys.endpoint, buf, info.proc_e, vaddr, len(data))
