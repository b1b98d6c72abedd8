"""libexec: loading a new program image through the caller's callbacks.

The exec caller (PM for Python programs here; VFS and RS in MINIX) owns the
whole sequence; VM knows nothing of exec. First the target is cleared, then
every segment gets memory (third-party mmap) and its contents, then a stack
is reserved below the stack top (seed 040362e37, 769af5727).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from minixvm.errors import ENOMEM, OK
from minixvm.machine.ram import PAGE_SIZE


@dataclass(frozen=True)
class Segment:
    """A loadable piece of the image: memsz bytes at vaddr, the first
    ``len(data)`` of them from the image, the rest zero."""

    vaddr: int
    memsz: int
    data: bytes = b""
    writable: bool = True


@dataclass
class ExecInfo:
    """What to load, where, and how (MINIX struct exec_info)."""

    proc_e: int
    name: str
    segments: list[Segment]
    pc: int  # where it starts (for a Python program: its image number)
    stack_top: int
    stack_size: int
    # The caller's ways of doing things to the target.
    clearproc: Callable[[ExecInfo], int]
    allocmem_ondemand: Callable[[ExecInfo, int, int, bool], int]
    allocmem_prealloc: Callable[[ExecInfo, int, int, bool], int]
    copymem: Callable[[ExecInfo, int, bytes], int]


def trunc_page(v: int) -> int:
    return v - v % PAGE_SIZE


def round_page(v: int) -> int:
    return -(-v // PAGE_SIZE) * PAGE_SIZE


def libexec_load(info: ExecInfo) -> int:
    """Build the new image in ``info.proc_e``: OK, or an error after which the
    process has been cleared (it cannot go back to the old image)."""
    r = info.clearproc(info)
    if r != OK:
        return r
    for seg in info.segments:
        if seg.memsz <= 0:
            continue
        start, end = trunc_page(seg.vaddr), round_page(seg.vaddr + seg.memsz)
        alloc = info.allocmem_prealloc if seg.data else info.allocmem_ondemand
        if alloc(info, start, end - start, seg.writable) != OK:
            info.clearproc(info)
            return -ENOMEM
        if seg.data and info.copymem(info, seg.vaddr, seg.data) != OK:
            info.clearproc(info)
            return -ENOMEM
    stack_base = info.stack_top - info.stack_size
    if info.allocmem_ondemand(info, stack_base, info.stack_size, True) != OK:
        info.clearproc(info)
        return -ENOMEM
    return OK
