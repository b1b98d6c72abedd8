"""SYS_SAFEMAP / SYS_SAFEREVMAP / SYS_SAFEUNMAP: sharing memory through grants.

The kernel checks the grant and records every mapping; VM does the work
(VMPTYPE_SMAP maps the granter's pages into the grantee, VMPTYPE_SUNMAP
gives the grantee a private copy of what it sees). Each record keeps the
whole chain of grants, so revoking any grant of an indirect chain, or the
exit of any process on it, ends the mapping (MINIX could not do either).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from minixvm.errors import EBUSY, EFAULT, EINVAL, OK, RequestError
from minixvm.include.com import (
    VMPTYPE_SMAP,
    VMPTYPE_SUNMAP,
    SysSafemap,
    SysSaferevmap,
    SysSafeunmap,
)
from minixvm.include.grant import CPF_MAP, CPF_READ, CPF_WRITE
from minixvm.kernel.exceptions import VMSuspend
from minixvm.kernel.grants import verify_grant
from minixvm.kernel.proc import Proc
from minixvm.machine.ram import PAGE_SIZE

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel

NR_MAP_ENTRIES = 32


@dataclass(frozen=True)
class SafeMapping:
    """One grant mapping (MINIX map_info_s), plus the chain that allowed it."""

    grantor: int  # endpoint whose memory is mapped
    grantor_addr: int
    grantee: int
    grantee_addr: int
    bytes: int
    writable: bool
    chain: tuple[tuple[int, int], ...]  # (granter endpoint, grant id)

    def involves(self, endpoint: int) -> bool:
        return endpoint == self.grantor or any(e == endpoint for e, _ in self.chain)


class SafeMaps:
    """The kernel's table of grant mappings."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.entries: list[SafeMapping] = []

    def unmap(self, caller: Proc, rec: SafeMapping) -> int:
        """Give the grantee a private copy of ``rec`` and forget it; VM's result."""
        self.entries.remove(rec)
        if self.k.procs.isokendpt(rec.grantee) is None:
            return OK
        return self.k.vmctl.memreq(
            caller,
            VMSuspend(VMPTYPE_SUNMAP, rec.grantee, rec.grantee_addr, rec.bytes, rec.writable),
        )

    def forget_process(self, p: Proc) -> None:
        """``p`` is going away: its mappings of others end, others' mappings of it are revoked."""
        for rec in [r for r in self.entries if r.grantee == p.endpoint]:
            self.entries.remove(rec)
        caller = self.k.sched.current
        for rec in [r for r in self.entries if r.involves(p.endpoint)]:
            if caller is None:
                self.entries.remove(rec)
            else:
                self.unmap(caller, rec)


def _check_pages(*values: int) -> None:
    if any(v % PAGE_SIZE for v in values):
        raise RequestError(EINVAL)


def do_safemap(k: Kernel, caller: Proc, m: SysSafemap) -> int:
    """SYS_SAFEMAP: map ``m.bytes`` of a grant at the caller's ``m.address``."""
    access = CPF_MAP | CPF_READ | (CPF_WRITE if m.writable else 0)
    if m.bytes <= 0:
        raise RequestError(EINVAL)
    _check_pages(m.address, m.bytes, m.offset)
    g = verify_grant(k, m.granter, caller.endpoint, m.grant, m.bytes, access, m.offset)
    _check_pages(g.addr)
    if g.granter is caller:
        raise RequestError(EINVAL)
    if len(k.safemaps.entries) >= NR_MAP_ENTRIES:
        raise RequestError(EBUSY)
    r = k.vmctl.memreq(
        caller,
        VMSuspend(VMPTYPE_SMAP, caller.endpoint, m.address, m.bytes, bool(m.writable),
                  ep2=g.granter.endpoint, addr2=g.addr),
    )
    if r != OK:
        return r
    k.safemaps.entries.append(
        SafeMapping(g.granter.endpoint, g.addr, caller.endpoint, m.address, m.bytes,
                    bool(m.writable), g.chain)
    )
    return OK


def do_saferevmap(k: Kernel, caller: Proc, m: SysSaferevmap) -> int:
    """SYS_SAFEREVMAP: end every mapping made through the caller's grant
    ``m.grant`` (if ``m.flag`` is 0) or of the caller's memory at ``m.address``
    (if ``m.flag`` is 1); each grantee keeps a private snapshot."""
    me = caller.endpoint
    if m.flag:
        hits = [r for r in k.safemaps.entries
                if r.grantor == me and r.grantor_addr <= m.address < r.grantor_addr + r.bytes]
    else:
        hits = [r for r in k.safemaps.entries if (me, m.grant) in r.chain]
    result = OK
    for rec in hits:
        r = k.safemaps.unmap(caller, rec)
        result = result or r
    return result


def do_safeunmap(k: Kernel, caller: Proc, m: SysSafeunmap) -> int:
    """SYS_SAFEUNMAP: the grantee ends its mapping at ``m.address`` (private copy kept)."""
    hits = [r for r in k.safemaps.entries
            if r.grantee == caller.endpoint and r.grantee_addr == m.address]
    if not hits:
        raise RequestError(EFAULT)
    result = OK
    for rec in hits:
        r = k.safemaps.unmap(caller, rec)
        result = result or r
    return result
