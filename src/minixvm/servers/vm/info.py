"""VM_INFO: statistics, a process's memory usage, its regions (MINIX utility.c).

The answers travel in the reply message's fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, OK
from minixvm.include.com import SELF
from minixvm.include.ipc import Message
from minixvm.include.vm import (
    MAP_SHARED,
    PROT_READ,
    PROT_WRITE,
    VMIW_REGION,
    VMIW_STATS,
    VMIW_USAGE,
)
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.pb import PBSH_SMAP
from minixvm.servers.vm.region import VR_SHARED, VR_WRITABLE

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM
    from minixvm.servers.vm.vmproc import VMProc

MAX_VRI_COUNT = 64


@dataclass(frozen=True)
class VMStatsInfo:
    """VMIW_STATS (struct vm_stats_info)."""

    pagesize: int
    total_pages: int
    free_pages: int
    largest_pages: int
    yielded_blocks: int
    vm_own_pages: int


@dataclass(frozen=True)
class VMUsageInfo:
    """VMIW_USAGE (struct vm_usage_info): bytes present, common (refcount > 1)
    and shared (common and not copy-on-write)."""

    total: int
    common: int
    shared: int


@dataclass(frozen=True)
class VMRegionInfo:
    """One entry of VMIW_REGION (struct vm_region_info)."""

    addr: int
    length: int
    prot: int
    flags: int
    memtype: str


def do_info(vm: VM, m: Message) -> int:
    """VM_INFO: m.info out, per m.what."""
    if m.what == VMIW_STATS:
        m.info = stats_info(vm)
        return OK
    vmp = vm.proc(m.m_source if getattr(m, "endpoint", SELF) == SELF else m.endpoint)
    if vmp is None:
        return -EINVAL
    if m.what == VMIW_USAGE:
        m.info = usage_info(vmp)
    elif m.what == VMIW_REGION:
        m.info = region_info(vmp, getattr(m, "next", 0))
        m.next = m.info[-1].addr + m.info[-1].length if m.info else 0
    else:
        return -EINVAL
    return OK


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


def region_info(vmp: VMProc, start: int) -> tuple[VMRegionInfo, ...]:
    result = []
    for region in vmp.regions:
        if region.vaddr < start:
            continue
        prot = PROT_READ | (PROT_WRITE if region.flags & VR_WRITABLE else 0)
        flags = MAP_SHARED if region.flags & VR_SHARED else 0
        result.append(VMRegionInfo(region.vaddr, region.length, prot, flags,
                                   region.memtype.name))
        if len(result) == MAX_VRI_COUNT:
            break
    return tuple(result)
