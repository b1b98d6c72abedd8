"""VM_INFO: statistics, a process's memory usage, its regions (MINIX utility.c).

The answer goes into the caller's buffer (VMI_PTR), where MINIX's VM puts
it with sys_datacopy: VM writes it into its own scratch page, makes the
buffer present and writable (a bad buffer is EFAULT) and copies it there
physically, as it copies pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EFAULT, EINVAL, OK
from minixvm.include.com import SELF
from minixvm.include.vm import (
    MAP_SHARED,
    MAX_VRI_COUNT,
    VMIW_REGION,
    VMIW_STATS,
    VMIW_USAGE,
    VmInfo,
    VMRegionInfo,
    VMStatsInfo,
    VMUsageInfo,
)
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.mprotect import region_prot
from minixvm.servers.vm.pb import PBSH_SMAP
from minixvm.servers.vm.region import VR_SHARED, map_copy_into

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM
    from minixvm.servers.vm.vmproc import VMProc


def do_info(vm: VM, m: VmInfo) -> int:
    """VM_INFO: copy the ``m.what`` answer to ``m.ptr``. For VMIW_REGION,
    m.count (at most MAX_VRI_COUNT) regions from m.next on; the count
    copied and where to go on come back in m.count and m.next."""
    if m.what == VMIW_STATS:
        return copy_out(vm, m, stats_info(vm).pack())
    if m.what not in (VMIW_USAGE, VMIW_REGION):
        return -EINVAL
    vmp = vm.caller(m) if m.endpoint == SELF else vm.proc(m.endpoint)
    if vmp is None:
        return -EINVAL
    if m.what == VMIW_USAGE:
        return copy_out(vm, m, usage_info(vmp).pack())
    if m.count <= 0:
        return -EINVAL
    regions = region_info(vmp, m.next, min(m.count, MAX_VRI_COUNT))
    r = copy_out(vm, m, b"".join(ri.pack() for ri in regions))
    if r == OK:
        m.count = len(regions)
        m.next = regions[-1].addr + regions[-1].length if regions else 0
    return r


def copy_out(vm: VM, m: VmInfo, data: bytes) -> int:
    """Copy ``data`` to the caller's buffer at ``m.ptr``: OK or -EFAULT."""
    if not data:
        return OK
    vm.sys.mem_write(vm.scratch, data)
    r = map_copy_into(vm, vm.caller(m), m.ptr, vm.scratch_phys, len(data))
    return OK if r == OK else -EFAULT


def stats_info(vm: VM) -> VMStatsInfo:
    return VMStatsInfo(
        pagesize=PAGE_SIZE,
        total_pages=vm.ram.frames,
        free_pages=vm.alloc.free_pages,
        largest_pages=vm.alloc.largest(),
        yielded_blocks=len(vm.lru.blocks),
        vm_own_pages=len(vm.own_pages),
    )


def usage_info(vmp: VMProc) -> VMUsageInfo:
    total = common = shared = 0
    for region in vmp.regions:
        for pr in region.phys.values():
            total += pr.ph.length
            if pr.ph.refcount > 1:
                common += pr.ph.length
                if region.flags & VR_SHARED or pr.ph.share_flag == PBSH_SMAP:
                    shared += pr.ph.length
    return VMUsageInfo(total, common, shared)


def region_info(vmp: VMProc, start: int, count: int) -> list[VMRegionInfo]:
    """Up to ``count`` regions of ``vmp`` starting at ``start`` or above."""
    result = []
    for region in vmp.regions:
        if region.vaddr < start:
            continue
        prot = region_prot(region)
        flags = MAP_SHARED if region.flags & VR_SHARED else 0
        result.append(VMRegionInfo(region.vaddr, region.length, prot, flags,
                                   region.memtype.name))
        if len(result) == count:
            break
    return result
