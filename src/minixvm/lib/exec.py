"""libexec: loading a program image through the exec caller's callbacks.

The exec caller (VFS for files, PM for Python program images and boot
modules; VFS and RS in MINIX) owns the sequence and supplies every
operation on the target as a callback (MINIX 3.2's ``struct exec_info``,
769af5727; ``exec_info_for`` gives the default ones); VM knows nothing of
exec. ``libexec_load`` checks everything that can fail because of the
file or the frame first, then passes the point of no return (clearproc:
the old image is gone), loads every segment and reserves the stack. A
Python program is loaded the same way: its "file" is its one data page.

The initial stack frame is built by the exec'ing program's libc with
offsets from the frame's start (``build_frame``); libexec turns them into
addresses where the frame lands (``libexec_patch_ptr``, reference A7).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from minixvm.errors import E2BIG, EINVAL, ENOMEM, OK, MinixError
from minixvm.include.arch import PY_DATA_BASE, VM_STACKTOP
from minixvm.include.vm import (
    MAP_ANON,
    MAP_FIXED,
    MAP_PREALLOC,
    MAP_THIRDPARTY,
    MAP_UNINITIALIZED,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    VM_MMAP,
    VM_PROCCTL,
    VMPPARAM_CLEAR,
    VMPPARAM_PROTECT,
)
from minixvm.lib.elf import PF_R, PF_W, ElfImage, Segment, round_page, trunc_page
from minixvm.machine.ram import PAGE_SIZE

if TYPE_CHECKING:
    from minixvm.lib.sys import SysLib

DEFAULT_STACK_LIMIT = 64 << 20  # <minix/sys_config.h>
ARG_MAX = 262144  # <sys/syslimits.h>: the largest initial stack frame
PROC_NAME_LEN = 16
WORD = struct.Struct("<I")


@dataclass
class ExecInfo:
    """One exec (MINIX struct exec_info): set by the caller, results set by libexec."""

    proc_e: int  # the process being exec'ed
    progname: str
    frame: bytes  # the initial stack frame; offsets in, addresses after loading
    clearproc: Callable[[ExecInfo], int]  # wipe the target's address space
    allocmem_prealloc: Callable[[ExecInfo, int, int], int]  # (vaddr, len): memory now
    allocmem_ondemand: Callable[[ExecInfo, int, int], int]  # (vaddr, len): demand-zero
    copymem: Callable[[ExecInfo, int, int, int], int]  # (file offset, vaddr, len)
    clearmem: Callable[[ExecInfo, int, int], int]  # (vaddr, len): zero it
    # (vaddr, len): take write permission away (a segment without PF_W, once
    # loaded). Not MINIX's: its 2012 libexec left every segment writable.
    protect: Callable[[ExecInfo, int, int], int]
    stack_size: int = DEFAULT_STACK_LIMIT
    # Results.
    load_base: int = 0  # the lowest page loaded
    pc: int = 0
    stack_high: int = VM_STACKTOP
    # The point of no return is passed: after a failure now the process
    # has no image to go back to, and the caller must kill it.
    partial: bool = False

    @property
    def user_top(self) -> int:
        """Where the stack area begins: every segment must end below it."""
        return self.stack_high - round_page(self.stack_size)

    @property
    def vsp(self) -> int:
        """The initial stack pointer: the frame's address."""
        return self.stack_high - len(self.frame)


def exec_info_for(sys: SysLib, proc_e: int, progname: str, frame: bytes,
                  copymem: Callable[[ExecInfo, int, int, int], int]) -> ExecInfo:
    """The exec of ``proc_e`` by the exec caller ``sys``, with libexec's
    default callbacks (VM_PROCCTL, third-party VM_MMAP, SYS_MEMSET) and the
    caller's own ``copymem``, which knows where the file is."""
    return ExecInfo(
        proc_e=proc_e,
        progname=progname,
        frame=frame,
        clearproc=lambda i: sys.vm_call(VM_PROCCTL, who=i.proc_e, param=VMPPARAM_CLEAR).m_type,
        allocmem_prealloc=lambda i, v, n: _mmap_for(sys, i.proc_e, v, n,
                                                    MAP_PREALLOC | MAP_UNINITIALIZED),
        allocmem_ondemand=lambda i, v, n: _mmap_for(sys, i.proc_e, v, n, 0),
        copymem=copymem,
        clearmem=lambda i, v, n: sys.sys_memset(0, v, n, process=i.proc_e),
        protect=lambda i, v, n: sys.vm_call(VM_PROCCTL, who=i.proc_e, param=VMPPARAM_PROTECT,
                                            addr=v, len=n).m_type,
    )


def _mmap_for(sys: SysLib, target: int, vaddr: int, length: int, extra: int) -> int:
    """Third-party VM_MMAP of [vaddr, vaddr+length) in ``target``."""
    reply = sys.vm_call(VM_MMAP, addr=vaddr, len=length, prot=PROT_READ | PROT_WRITE | PROT_EXEC,
                        flags=MAP_ANON | MAP_FIXED | MAP_THIRDPARTY | extra, fd=-1, offset=0,
                        forwhom=target)
    return reply.m_type if reply.m_type != OK or reply.retaddr == vaddr else -ENOMEM


def text_image(text: int, data: bytes) -> ElfImage:
    """A Python program as libexec loads it: its text address (loaded into
    the machine by the System) and one data page at PY_DATA_BASE whose
    contents, ``data`` (its name), are its file."""
    return ElfImage(text, (Segment(PY_DATA_BASE, PAGE_SIZE, 0, len(data), PF_R | PF_W),))


def libexec_load(info: ExecInfo, image: ElfImage) -> int:
    """Load ``image`` into ``info.proc_e``: OK, or an error; if
    ``info.partial`` is false the process still has its old image."""
    r, frame = libexec_patch_ptr(info.frame, info.vsp)
    if r != OK:
        return r
    if len(frame) > info.stack_high - info.user_top:
        return -E2BIG  # it would not fit on the stack
    info.frame = frame
    info.partial = True
    r = info.clearproc(info)
    for seg in image.segments:
        if r == OK:
            r = load_segment(info, seg)
    if r == OK:
        r = info.allocmem_ondemand(info, info.user_top, info.stack_high - info.user_top)
    if r == OK:
        info.pc = image.entry
        info.load_base = min(trunc_page(seg.vaddr) for seg in image.segments)
    return r


def load_segment(info: ExecInfo, seg: Segment) -> int:
    """Memory for the segment's pages, its file bytes, zeros around them
    (prealloc'ed memory may hold old contents: MAP_UNINITIALIZED). The pages
    of a writable segment past its file bytes (its .bss) are demand-zero,
    where MINIX 3.2 preallocated and cleared them."""
    start, end = trunc_page(seg.vaddr), round_page(seg.vaddr + seg.memsz)
    tail = seg.vaddr + seg.filesz
    loaded = round_page(tail) if seg.flags & PF_W else end
    r = OK
    if loaded > start:
        r = info.allocmem_prealloc(info, start, loaded - start)
    if r == OK and seg.filesz:
        r = info.copymem(info, seg.offset, seg.vaddr, seg.filesz)
    if r == OK and seg.vaddr > start and loaded > start:
        r = info.clearmem(info, start, seg.vaddr - start)
    if r == OK and loaded > tail:
        r = info.clearmem(info, tail, loaded - tail)
    if r == OK and end > loaded:
        r = info.allocmem_ondemand(info, loaded, end - loaded)
    if r == OK and not seg.flags & PF_W:
        r = info.protect(info, start, end - start)
    return r


# -- the initial stack frame ----------------------------------------------------------


def build_frame(argv: Sequence[str], envp: Sequence[str]) -> bytes:
    """The frame libc's execve builds: argc, the argv offsets, NULL, the envp
    offsets, NULL, the strings, zero padding to 4 bytes."""
    strings = [s.encode() + b"\0" for s in (*argv, *envp)]
    if any(b"\0" in s[:-1] for s in strings):
        raise MinixError(EINVAL, "execve: an argument holds a NUL")
    offset = WORD.size * (len(argv) + len(envp) + 3)
    words = [len(argv)]
    for i, s in enumerate(strings):
        if i == len(argv):
            words.append(0)
        words.append(offset)
        offset += len(s)
    if not envp:
        words.append(0)
    words.append(0)
    body = b"".join(strings)
    return struct.pack(f"<{len(words)}I", *words) + body + bytes(-len(body) % 4)


def libexec_patch_ptr(frame: bytes, vsp: int) -> tuple[int, bytes]:
    """(OK, ``frame`` with its argv and envp offsets made addresses at
    ``vsp``), or (error, b""): too big (E2BIG), or not a frame (EINVAL:
    misaligned, an offset outside it, argc wrong, no second NULL)."""
    if len(frame) > ARG_MAX:
        return -E2BIG, b""
    if len(frame) < 3 * WORD.size or len(frame) % WORD.size:
        return -EINVAL, b""
    words = list(struct.unpack(f"<{len(frame) // WORD.size}I", frame))
    nulls, i = 0, 1
    while nulls < 2:
        if i == len(words):
            return -EINVAL, b""
        if words[i] == 0:
            nulls += 1
            if nulls == 1 and i - 1 != words[0]:
                return -EINVAL, b""
        elif words[i] >= len(frame):
            return -EINVAL, b""
        else:
            words[i] += vsp
        i += 1
    return OK, struct.pack(f"<{len(words)}I", *words)
