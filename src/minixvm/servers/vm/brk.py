"""VM_BRK: move a process's break (MINIX break.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, ENOMEM, OK
from minixvm.include.arch import VM_DATATOP
from minixvm.include.vm import VmBrk
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.memtype.anon import anon
from minixvm.servers.vm.region import VR_WRITABLE, map_lookup, map_page_region

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM


def do_brk(vm: VM, m: VmBrk) -> int:
    """VM_BRK (from PM): the heap of ``m.endpoint``, which ends at ``m.old``,
    now ends at ``m.addr``.

    The region holding the old break grows up to the new one (ENOMEM if
    another region is in the way) or shrinks down to it. MINIX HEAD grows
    whatever region lies below the new break, which can be an mmap region;
    knowing the old break avoids that."""
    vmp = vm.client(m.endpoint)
    if vmp is None:
        return -EINVAL
    region = map_lookup(vmp, m.old - 1)
    v = -(-m.addr // PAGE_SIZE) * PAGE_SIZE
    if region is None or v <= region.vaddr or v > VM_DATATOP:
        return -ENOMEM
    if v == region.end:
        return OK
    if v < region.end:
        return region.memtype.resize(vm, region, v - region.vaddr)
    nxt = vmp.regions.next(region)
    if nxt is not None and nxt.vaddr < v:
        return -ENOMEM
    if region.memtype.resize(vm, region, v - region.vaddr) == OK:
        return OK
    extra = map_page_region(vm, vmp, region.end, 0, v - region.end, VR_WRITABLE, anon)
    return OK if extra is not None else -ENOMEM
