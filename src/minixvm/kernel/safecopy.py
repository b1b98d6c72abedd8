"""SYS_SAFECOPYFROM / SYS_SAFECOPYTO / SYS_VSAFECOPY: copies through grants.

Bytes move between the granter's and the caller's memory through both page
tables; a missing or copy-on-write page suspends the call for VM (vmcheck)
and it restarts. With the COW optimisation (a boot switch, on by default),
a copy of at least one page whose source and destination have the same
offset in their pages copies only the unaligned head and tail: VM shares
the whole pages in between copy-on-write (VMPTYPE_COWMAP).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EDOM, EINVAL, OK, RequestError
from minixvm.include.com import SELF, VMPTYPE_COWMAP, VSCP_VEC, SysSafecopy, SysVsafecopy
from minixvm.include.grant import CPF_READ, CPF_WRITE
from minixvm.kernel.exceptions import VMSuspend
from minixvm.kernel.grants import verify_grant
from minixvm.kernel.proc import Proc
from minixvm.machine.ram import PAGE_SIZE

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel

VSCP_MAX = 1024  # elements in one vector


def safecopy(
    k: Kernel, caller: Proc, granter_e: int, grant: int, offset: int, addr: int,
    nbytes: int, to_granter: bool,
) -> None:
    """Copy ``nbytes`` between ``caller``'s ``addr`` and the granted memory."""
    if nbytes == 0:
        raise RequestError(EDOM)
    access = CPF_WRITE if to_granter else CPF_READ
    g = verify_grant(k, granter_e, caller.endpoint, grant, nbytes, access, offset)
    if to_granter:
        src, src_addr, dst, dst_addr = caller, addr, g.granter, g.addr
    else:
        src, src_addr, dst, dst_addr = g.granter, g.addr, caller, addr
    if k.cow_safecopy and src is not dst:
        cow_copy(k, caller, src, src_addr, dst, dst_addr, nbytes)
    else:
        k.memory.copy(src, src_addr, dst, dst_addr, nbytes)


def cow_copy(
    k: Kernel, caller: Proc, src: Proc, src_addr: int, dst: Proc, dst_addr: int, n: int
) -> None:
    """Copy head and tail; share the whole pages between copy-on-write through VM."""
    head = -src_addr % PAGE_SIZE
    pages = (n - head) // PAGE_SIZE * PAGE_SIZE if n >= head else 0
    if src_addr % PAGE_SIZE != dst_addr % PAGE_SIZE or pages == 0:
        k.memory.copy(src, src_addr, dst, dst_addr, n)
        return
    tail = n - head - pages
    # Validate the whole range first so a bad address fails before anything moves.
    k.memory.pieces(src, src_addr, n, False)
    if head:
        k.memory.copy(src, src_addr, dst, dst_addr, head)
    if tail:
        k.memory.copy(src, src_addr + head + pages, dst, dst_addr + head + pages, tail)
    r = k.vmctl.memreq(
        caller,
        VMSuspend(VMPTYPE_COWMAP, dst.endpoint, dst_addr + head, pages, True,
                  ep2=src.endpoint, addr2=src_addr + head),
    )
    if r != OK:
        raise RequestError(-r)


def do_safecopy_from(k: Kernel, caller: Proc, m: SysSafecopy) -> int:
    """SYS_SAFECOPYFROM: granted memory -> caller (needs CPF_READ)."""
    safecopy(k, caller, m.granter, m.grant, m.offset, m.address, m.bytes, to_granter=False)
    return OK


def do_safecopy_to(k: Kernel, caller: Proc, m: SysSafecopy) -> int:
    """SYS_SAFECOPYTO: caller -> granted memory (needs CPF_WRITE)."""
    safecopy(k, caller, m.granter, m.grant, m.offset, m.address, m.bytes, to_granter=True)
    return OK


def do_vsafecopy(k: Kernel, caller: Proc, m: SysVsafecopy) -> int:
    """SYS_VSAFECOPY: a vector of safecopies, each with exactly one side SELF.

    Stops at the first failure; the elements before it stay done. Each
    element (a ``VSCP_VEC`` in the caller's memory at ``m.vec_addr``) is
    (src endpoint, dst endpoint, grant, offset, address, bytes).
    """
    if not 0 <= m.vec_size <= VSCP_MAX:
        raise RequestError(EINVAL)
    raw = k.memory.read(caller, m.vec_addr, m.vec_size * VSCP_VEC.size)
    vector = list(VSCP_VEC.iter_unpack(raw))
    for i, (src_e, dst_e, grant, offset, address, nbytes) in enumerate(vector):
        if (src_e == SELF) == (dst_e == SELF):
            raise RequestError(EINVAL)
        m.done = i
        to_granter = src_e == SELF
        granter = dst_e if to_granter else src_e
        safecopy(k, caller, granter, grant, offset, address, nbytes, to_granter)
    m.done = len(vector)
    return OK
