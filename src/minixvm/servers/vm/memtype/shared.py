"""Shared memory (VM_REMAP): a window on another process's shared
anonymous region. A fault links the source's page; writes by either side
are seen by both.

A window names its source by identity, as MINIX's param.shared does: the
source process, the source address of the window's start, and the source
region's id. Region ids are never reused, so once that region is gone (or
cut: the part above a cut is a new region), whatever is now at the address
is not the source and the window is stale there. A stale window keeps the
pages it already has (it holds references to their blocks, as in MINIX);
a page it never had is SIGSEGV, as MINIX's getsrc failing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from minixvm.errors import EFAULT, OK
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.memtype import MemType
from minixvm.servers.vm.pagetable import pt_prepare
from minixvm.servers.vm.pb import PhysRegion, map_ph_writept, pb_link
from minixvm.servers.vm.region import (
    VR_WRITABLE,
    Region,
    map_lookup,
    map_pf,
    phys_at,
    split_phys_at,
)

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM


class ShmSource(NamedTuple):
    """What a window is a view of (MINIX param.shared)."""

    ep: int  # the source process
    vaddr: int  # the source address of the window's start
    id: int  # the source region's id


class Shared(MemType):
    """``param`` is the window's ShmSource."""

    name = "shared"

    def source(self, vm: VM, region: Region, offset: int) -> tuple[Region, int] | None:
        """The source region and offset behind ``offset`` of ``region``; None
        where the window is stale (MINIX getsrc)."""
        ep, vaddr, rid = region.param
        src_vmp = vm.proc(ep)
        src = map_lookup(src_vmp, vaddr + offset) if src_vmp else None
        # The id alone says it is the region the window was made on: a new
        # region at the same address has another.
        if src is None or src.id != rid:
            return None
        return src, vaddr + offset - src.vaddr

    def pagefault(self, vm: VM, region: Region, offset: int, write: bool) -> int:
        pr = phys_at(region, offset)
        if pr is not None:
            map_ph_writept(vm, pr)
            return OK
        found = self.source(vm, region, offset)
        if found is None:
            return -EFAULT
        src, soff = found
        if phys_at(src, soff) is None and (r := map_pf(vm, src, soff, False)) != OK:
            return r
        # Share exactly this page: cut the source's block around it.
        split_phys_at(vm, src, soff)
        split_phys_at(vm, src, soff + PAGE_SIZE)
        spr = phys_at(src, soff)
        assert spr is not None
        pt_prepare(vm, region.parent.pt, region.vaddr + offset, PAGE_SIZE)
        map_ph_writept(vm, pb_link(vm, region, offset, spr.ph))
        return OK

    def writable(self, pr: PhysRegion) -> bool:
        # The source is not consulted: a page the window holds is its own
        # reference, writable whether or not the source still exists.
        return bool(pr.parent.flags & VR_WRITABLE)

    def fork_block(self, vm: VM, pr: PhysRegion, child: Region) -> None:
        pb_link(vm, child, pr.offset, pr.ph)

    def split_param(self, param: Any, delta: int) -> Any:
        """The upper part of a cut window is a view of the same region."""
        ep, vaddr, rid = param
        return ShmSource(ep, vaddr + delta, rid)

    def sanity_problem(self, vm: VM, pr: PhysRegion) -> str | None:
        """A page of a live window is the source's block at the same place;
        a stale window's pages are only its own."""
        found = self.source(vm, pr.parent, pr.offset)
        if found is None:
            return None
        src, soff = found
        spr = phys_at(src, soff)
        if spr is None or spr.ph is not pr.ph or spr.offset != soff:
            return f"{pr!r} is not {src!r}'s block at {soff:#x}"
        return None


shared = Shared()
