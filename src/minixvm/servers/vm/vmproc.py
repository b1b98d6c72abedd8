"""VM's view of one process slot (MINIX struct vmproc)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.servers.vm.pagetable import PageTable
from minixvm.servers.vm.regiontree import RegionStore

if TYPE_CHECKING:
    from minixvm.servers.vm.region import Region
    from minixvm.servers.vm.yielded import YieldedBlock

VMF_INUSE = 0x01
VMF_EXITING = 0x02


class VMProc:
    """A process's address space: page table, regions, yielded blocks, rights."""

    def __init__(self, slot: int, endpoint: int, pt: PageTable, acl: frozenset[int],
                 regions: RegionStore[Region]) -> None:
        self.slot = slot
        self.endpoint = endpoint
        self.flags = VMF_INUSE
        self.pt = pt
        self.regions = regions
        self.acl = acl
        # Where the last region was placed: the next search starts below it.
        self.region_top = 0
        self.yielded: dict[int, YieldedBlock] = {}
        # May map arbitrary physical memory (VM_MAP_PHYS): drivers only.
        self.map_phys_ok = False
        # A system process (server or driver) may name other processes in requests.
        self.system = False

    def find_slot(self, minv: int, maxv: int, length: int) -> int | None:
        """Where a new region of ``length`` bytes goes in [minv, maxv), top down,
        trying below the last placed region first (MINIX region_find_slot)."""
        hint = self.region_top
        if maxv and minv <= hint < maxv:
            start = self.regions.find_slot_range(minv, hint, length)
            if start is not None:
                self.region_top = start + length
                return start
        start = self.regions.find_slot_range(minv, maxv, length)
        if start is not None:
            self.region_top = start + length
        return start

    def __repr__(self) -> str:
        return f"<VMProc {self.endpoint} regions={len(self.regions)}>"
