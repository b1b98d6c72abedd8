"""Page faults and the kernel's memory requests (MINIX pagefaults.c).

A fault arrives as the kernel's VM_PAGEFAULT message, sent as from the
faulting process; the kernel's memory requests as a notification, after
which VM drains their queue with VMCTL_MEMREQ_GET. A fault with no region
behind it, any access to a PROT_NONE region or a write to a read-only
region kills the process with SIGSEGV, as does a fault VM cannot satisfy.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from minixvm.errors import EFAULT, EINVAL, ESRCH, OK, errname
from minixvm.include.com import (
    VMCTL_CLEAR_PAGEFAULT,
    VMCTL_MEMREQ_GET,
    VMCTL_MEMREQ_REPLY,
    VMPTYPE_CHECK,
    VMPTYPE_COWMAP,
    VMPTYPE_SMAP,
    VMPTYPE_SUNMAP,
    SysVmctl,
)
from minixvm.include.signal import SIGSEGV
from minixvm.include.vm import VmPagefault
from minixvm.servers.vm import grantmap
from minixvm.servers.vm.region import VR_WRITABLE, map_handle_memory, map_lookup, map_pf
from minixvm.servers.vm.slab import answer

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM

PFERR_PROT = 0x01
PFERR_WRITE = 0x02


def do_pagefaults(vm: VM, m: VmPagefault) -> None:
    """The kernel's message about a fault of ``m.m_source``."""
    vm.stats.pagefaults += 1
    handle_pagefault(vm, m.m_source, m.addr, bool(m.flags & PFERR_WRITE))


def handle_pagefault(vm: VM, ep: int, addr: int, write: bool) -> None:
    """Resolve one fault of ``ep`` at ``addr``, or kill the process."""
    vmp = vm.proc(ep)
    if vmp is None:
        return
    region = map_lookup(vmp, addr)
    if region is None:
        why = "no region"
    elif not region.accessible:
        why = "access to PROT_NONE region"
    elif write and not region.flags & VR_WRITABLE:
        why = "write to read-only region"
    else:
        r = answer(lambda: map_pf(vm, region, addr - region.vaddr, write))
        why = "" if r == OK else errname(r)
    if why:
        vm.stats.sigsegv += 1
        vm.sys.printf("VM: pagefault: SIGSEGV for %d: %s at %#x: %s\n", ep,
                      "write" if write else "read", addr, why)
        vm.sys.sys_kill(ep, SIGSEGV)
    vm.request_done()
    vm.sys.sys_vmctl(ep, VMCTL_CLEAR_PAGEFAULT)


def do_memory(vm: VM) -> None:
    """Serve every queued memory request of a suspended kernel call."""
    while True:
        m = cast(SysVmctl, vm.sys.sys_vmctl_get(VMCTL_MEMREQ_GET))
        if m.m_type == -ESRCH:
            return
        vm.stats.kernel_requests += 1
        r = answer(partial(handle_memreq, vm, m.m_type, m.mr_target, m.mr_addr, m.mr_length,
                           bool(m.mr_write), m.mr_ep2, m.mr_addr2))
        vm.request_done()
        vm.sys.sys_vmctl(m.mr_requestor, VMCTL_MEMREQ_REPLY, r)


def handle_memreq(vm: VM, req_type: int, target: int, addr: int, length: int, write: bool,
                  ep2: int, addr2: int) -> int:
    """One kernel request: OK or -errno (raises NoMemory)."""
    vmp = vm.proc(target)
    if vmp is None:
        return -EINVAL
    if req_type == VMPTYPE_CHECK:
        return map_handle_memory(vm, vmp, addr, length, write)
    src = vm.proc(ep2)
    if req_type == VMPTYPE_SUNMAP:
        return grantmap.map_sunmap(vm, vmp, addr, length)
    if src is None:
        return -EINVAL
    if req_type == VMPTYPE_COWMAP:
        return grantmap.map_cow_share(vm, vmp, addr, src, addr2, length)
    if req_type == VMPTYPE_SMAP:
        return grantmap.map_smap(vm, vmp, addr, src, addr2, length, write)
    return -EFAULT
