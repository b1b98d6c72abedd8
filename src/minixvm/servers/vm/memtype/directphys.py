"""Direct physical mappings (VR_DIRECT): a fixed range of physical memory,
never allocated or freed by VM, always writable, shared as is on fork."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minixvm.errors import OK
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.memtype import MemType
from minixvm.servers.vm.pb import PhysBlock, PhysRegion, map_ph_writept, pb_link
from minixvm.servers.vm.region import VR_WRITABLE, Region, map_new_physblock, phys_at

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM


class DirectPhys(MemType):
    """``param`` is the physical address the region starts at."""

    name = "directphys"
    owns_memory = False

    def pagefault(self, vm: VM, region: Region, offset: int, write: bool) -> int:
        pr = phys_at(region, offset)
        if pr is None:
            map_new_physblock(vm, region, offset, PAGE_SIZE, phys=region.param + offset)
        else:
            map_ph_writept(vm, pr)
        return OK

    def writable(self, pr: PhysRegion) -> bool:
        return bool(pr.parent.flags & VR_WRITABLE)

    def free_block(self, vm: VM, pb: PhysBlock) -> None:
        """Not VM's memory: nothing to give back."""

    def fork_block(self, vm: VM, pr: PhysRegion, child: Region) -> None:
        pb_link(vm, child, pr.offset, pr.ph)

    def split_param(self, param: Any, delta: int) -> Any:
        return param + delta


directphys = DirectPhys()
