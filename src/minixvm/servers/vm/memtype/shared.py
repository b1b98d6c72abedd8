"""Shared memory (VM_REMAP): a window on another process's shared
anonymous region. A fault links the source's page; writes by either side
are seen by both."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minixvm.errors import EFAULT, OK
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.memtype import MemType
from minixvm.servers.vm.pagetable import pt_prepare
from minixvm.servers.vm.pb import PhysRegion, map_ph_writept, pb_link
from minixvm.servers.vm.region import (
    VR_SHARED,
    VR_WRITABLE,
    Region,
    map_lookup,
    map_pf,
    phys_at,
    split_phys_at,
)

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM


class Shared(MemType):
    """``param`` is (source endpoint, source address of this region's start)."""

    name = "shared"

    def source(self, vm: VM, region: Region, offset: int) -> tuple[Region, int] | None:
        """The source region and offset behind ``offset`` of ``region``."""
        ep, vaddr = region.param
        src_vmp = vm.proc(ep)
        src = map_lookup(src_vmp, vaddr + offset) if src_vmp else None
        if src is None or not src.flags & VR_SHARED or src.memtype is self:
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
        return bool(pr.parent.flags & VR_WRITABLE)

    def fork_block(self, vm: VM, pr: PhysRegion, child: Region) -> None:
        pb_link(vm, child, pr.offset, pr.ph)

    def split_param(self, param: Any, delta: int) -> Any:
        ep, vaddr = param
        return ep, vaddr + delta


shared = Shared()
