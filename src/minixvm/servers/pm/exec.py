"""exec of Python program images (PM is their exec caller).

A Python program has no ELF file: its image is a callable in the program
table PM was booted with, plus a one-page data segment holding its name.
PM loads it through libexec with its own callbacks, exactly as VFS does for
ELF binaries: clear the process, third-party mmap its memory, copy the
data in, then tell the kernel where it starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import ENOENT, ENOMEM, OK
from minixvm.include.arch import DEFAULT_STACK_SIZE, PY_DATA_BASE, VM_STACKTOP
from minixvm.include.ipc import Message
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

if TYPE_CHECKING:
    from minixvm.servers.pm.main import PM

SUSPEND = None


def do_exec(pm: PM, mp: MProc, m: Message) -> int | None:
    """PM_EXEC: replace the caller's program by Python image ``m.image``.
    On success there is no reply: the process starts the new program."""
    program = pm.programs.get(m.image)
    if program is None:
        return -ENOENT
    name = str(m.name)[:15]
    info = ExecInfo(
        proc_e=mp.endpoint,
        name=name,
        segments=[Segment(PY_DATA_BASE, PAGE_SIZE, name.encode() + b"\0")],
        entry=program,
        stack_top=VM_STACKTOP,
        stack_size=DEFAULT_STACK_SIZE,
        clearproc=lambda i: _clearproc(pm, i),
        allocmem_ondemand=lambda i, v, n, w: _mmap(pm, i, v, n, w, 0),
        allocmem_prealloc=lambda i, v, n, w: _mmap(pm, i, v, n, w, MAP_PREALLOC),
        copymem=lambda i, v, data: _copymem(pm, i, v, data),
    )
    r = libexec_load(info)
    if r != OK:
        # Past the point of no return: the old image is gone.
        exit_proc(pm, mp, W_EXITCODE(0, SIGKILL))
        return SUSPEND
    pm.sys.sys_exec(mp.endpoint, pm.start_program(program), name)
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
