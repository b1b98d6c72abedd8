"""Process teardown: VM_WILLEXIT, VM_EXIT and VM_PROCCTL (MINIX exit.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, OK
from minixvm.include.com import VMCTL_SETADDRSPACE
from minixvm.include.vm import (
    VMPPARAM_CLEAR,
    VMPPARAM_HANDLEMEM,
    VMPPARAM_PROTECT,
    VmExit,
    VmProcctl,
    VmRsSetPriv,
)
from minixvm.servers.vm import yielded
from minixvm.servers.vm.acl import SERVICE_CALLS, acl_of_mask
from minixvm.servers.vm.pagetable import pt_bind, pt_free, pt_new
from minixvm.servers.vm.pb import map_ph_writept
from minixvm.servers.vm.region import VR_WRITABLE, map_free_proc, map_handle_memory, map_lookup
from minixvm.servers.vm.slab import use
from minixvm.servers.vm.vmproc import VMF_EXITING

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM
    from minixvm.servers.vm.vmproc import VMProc


def do_willexit(vm: VM, m: VmExit) -> int:
    """VM_WILLEXIT (from PM): the process is on its way out."""
    vmp = vm.client(m.endpoint)
    if vmp is None:
        return -EINVAL
    vmp.flags |= VMF_EXITING
    return OK


def do_exit(vm: VM, m: VmExit) -> int:
    """VM_EXIT (from PM, after VM_WILLEXIT): free everything the process had."""
    vmp = vm.client(m.endpoint)
    if vmp is None or not vmp.flags & VMF_EXITING:
        return -EINVAL
    clear_proc(vm, vmp)
    pt_bind(vm, None, vmp.slot)
    vm.sys.sys_vmctl(vmp.endpoint, VMCTL_SETADDRSPACE, 0)
    pt_free(vm, vmp.pt)
    del vm.procs[vmp.slot]
    vm.stats.exits += 1
    return OK


def clear_proc(vm: VM, vmp: VMProc) -> None:
    """Free every region and yielded block of a process."""
    map_free_proc(vm, vmp)
    yielded.free_yielded_proc(vm, vmp)
    vmp.region_top = 0


def do_procctl(vm: VM, m: VmProcctl) -> int:
    """VM_PROCCTL (exec callers): CLEAR a process for a new image (all memory
    freed, a fresh page table), HANDLEMEM: make a range of it present, or
    PROTECT: make a loaded segment read-only."""
    vmp = vm.client(m.who)
    if vmp is None:
        return -EINVAL
    if m.param == VMPPARAM_HANDLEMEM:
        if m.len < 0 or m.write not in (0, 1):
            return -EINVAL
        return map_handle_memory(vm, vmp, m.addr, m.len, bool(m.write))
    if m.param == VMPPARAM_PROTECT:
        return protect_region(vm, vmp, m.addr, m.len)
    if m.param != VMPPARAM_CLEAR:
        return -EINVAL
    pt = pt_new(vm)
    clear_proc(vm, vmp)
    old, vmp.pt = vmp.pt, pt
    pt_bind(vm, pt, vmp.slot)
    vm.sys.sys_vmctl(vmp.endpoint, VMCTL_SETADDRSPACE, pt.dir)
    pt_free(vm, old)
    return OK


def protect_region(vm: VM, vmp: VMProc, addr: int, length: int) -> int:
    """Make the region that is exactly [addr, addr+length) read-only, its
    page-table entries too (EINVAL for anything but one whole region)."""
    region = map_lookup(vmp, addr)
    if region is None or region.vaddr != addr or region.end != addr + length:
        return -EINVAL
    with use(region):
        region.flags &= ~VR_WRITABLE
    for pr in region.phys.values():
        map_ph_writept(vm, pr)
    return OK


def do_rs_set_priv(vm: VM, m: VmRsSetPriv) -> int:
    """VM_RS_SET_PRIV (RS): ``m.endpoint`` is a system process that may make
    the VM calls of the mask (none given: a service's default set)."""
    vmp = vm.client(m.endpoint)
    if vmp is None:
        return -EINVAL
    mask = m.calls_hi << 32 | m.calls_lo
    vmp.system = True
    vmp.acl = acl_of_mask(mask) if mask else SERVICE_CALLS
    return OK
