"""Anonymous memory: demand-zero pages, shared copy-on-write after fork."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EFAULT, OK
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.memtype import MemType
from minixvm.servers.vm.pb import (
    PBSH_COW,
    PBSH_SMAP,
    PhysRegion,
    map_ph_writept,
    pb_link,
    pr_attach,
)
from minixvm.servers.vm.region import (
    VR_SHARED,
    VR_WRITABLE,
    Region,
    map_clone_ph_block,
    map_copy_block,
    map_demand_zero,
    phys_at,
    shrink_region,
    split_pages,
)
from minixvm.servers.vm.slab import use

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM


class Anon(MemType):
    name = "anon"
    exchangeable = True

    def pagefault(self, vm: VM, region: Region, offset: int, write: bool) -> int:
        pr = phys_at(region, offset)
        if pr is None:
            map_demand_zero(vm, region, offset)
            vm.stats.demand_zero += 1
        elif not write or self.writable(pr):
            map_ph_writept(vm, pr)
        elif pr.ro_map or pr.ph.share_flag == PBSH_SMAP:
            return -EFAULT  # a read-only grant mapping
        else:
            split_pages(vm, region, offset, offset + PAGE_SIZE)
            pr = phys_at(region, offset)
            assert pr is not None
            map_clone_ph_block(vm, pr)
        return OK

    def writable(self, pr: PhysRegion) -> bool:
        region = pr.parent
        if not region.flags & VR_WRITABLE or pr.ro_map:
            return False
        if region.flags & VR_SHARED or pr.ph.share_flag == PBSH_SMAP:
            return True
        return pr.ph.refcount == 1

    def fork_block(self, vm: VM, pr: PhysRegion, child: Region) -> None:
        pb = pr.ph
        private = not child.flags & VR_SHARED
        if pb.share_flag == PBSH_SMAP or (private and not vm.options.cow_fork):
            # Memory mapped through a grant is not shared with a child: it gets
            # a copy now (as does everything, if VM was booted without COW fork).
            for npr in map_copy_block(vm, pb, child, pr.offset):
                pr_attach(npr)
            return
        pb_link(vm, child, pr.offset, pb)
        if private:
            with use(pb):
                pb.share_flag = PBSH_COW

    def resize(self, vm: VM, region: Region, length: int) -> int:
        if length < region.length:
            shrink_region(vm, region, length)
        else:
            with use(region):
                region.length = length
        return OK


anon = Anon()
