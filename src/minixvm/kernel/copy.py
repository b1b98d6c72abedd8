"""Copy kernel calls: SYS_VIRCOPY, SYS_PHYSCOPY, SYS_MEMSET, SYS_UMAP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EDOM, EFAULT, EINVAL, OK, RequestError
from minixvm.include.com import NONE, SELF, SysCopy, SysMemset, SysUmap
from minixvm.kernel.proc import Proc

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel


def endpoint_proc(k: Kernel, caller: Proc, e: int) -> Proc:
    """The live process for endpoint ``e`` (SELF is the caller), else EINVAL."""
    if e == SELF:
        return caller
    p = k.procs.isokendpt(e)
    if p is None:
        raise RequestError(EINVAL)
    return p


def check_phys(k: Kernel, addr: int, n: int) -> None:
    """EFAULT unless [addr, addr+n) lies in RAM."""
    if addr < 0 or n < 0 or addr + n > k.ram.size:
        raise RequestError(EFAULT)


def do_vircopy(k: Kernel, caller: Proc, m: SysCopy) -> int:
    """SYS_VIRCOPY: copy between the virtual memory of two processes."""
    if m.bytes <= 0:
        raise RequestError(EDOM)
    src = endpoint_proc(k, caller, m.src_ep)
    dst = endpoint_proc(k, caller, m.dst_ep)
    k.memory.copy(src, m.src_addr, dst, m.dst_addr, m.bytes)
    return OK


def do_physcopy(k: Kernel, caller: Proc, m: SysCopy) -> int:
    """SYS_PHYSCOPY: copy physical memory."""
    check_phys(k, m.src_addr, m.bytes)
    check_phys(k, m.dst_addr, m.bytes)
    k.ram.copy(m.dst_addr, m.src_addr, m.bytes)
    return OK


def do_memset(k: Kernel, caller: Proc, m: SysMemset) -> int:
    """SYS_MEMSET: fill physical memory (``m.process`` NONE) or a process's
    virtual memory (libexec's clearmem, 769af5727) with a byte."""
    if m.process == NONE:
        check_phys(k, m.addr, m.bytes)
        k.ram.fill(m.addr, m.bytes, m.pattern & 0xFF)
        return OK
    if m.bytes < 0:
        raise RequestError(EINVAL)
    p = endpoint_proc(k, caller, m.process)
    pieces = k.memory.pieces(p, m.addr, m.bytes, write=True)
    for addr, n in pieces:
        k.ram.fill(addr, n, m.pattern & 0xFF)
    return OK


def do_umap(k: Kernel, caller: Proc, m: SysUmap) -> int:
    """SYS_UMAP: physical address of a present, physically contiguous virtual range."""
    p = endpoint_proc(k, caller, m.endpoint)
    pieces = k.memory.pieces(p, m.addr, max(m.bytes, 1), write=False)
    if len(pieces) != 1:
        raise RequestError(EFAULT)
    m.phys = pieces[0][0]
    return OK
