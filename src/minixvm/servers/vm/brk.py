"""VM_BRK: move a process's break (MINIX break.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, ENOMEM, OK
from minixvm.include.arch import VM_DATATOP
from minixvm.include.ipc import Message
from minixvm.lib.avl import Search
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.memtype.anon import anon
from minixvm.servers.vm.region import VR_WRITABLE, map_page_region
from minixvm.servers.vm.slab import NoMemory

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM


def do_brk(vm: VM, m: Message) -> int:
    """VM_BRK (from PM): the heap of ``m.endpoint`` ends at ``m.addr`` now.

    The region just below the new break grows up to it (ENOMEM if another
    region is in the way), or shrinks down to it."""
    vmp = vm.proc(m.endpoint)
    if vmp is None:
        return -EINVAL
    v = -(-m.addr // PAGE_SIZE) * PAGE_SIZE
    if v > VM_DATATOP:
        return -ENOMEM
    region = vmp.regions.search(v, Search.LESS)
    if region is None:
        return -ENOMEM
    if v == region.end:
        return OK
    try:
        if v < region.end:
            return region.memtype.resize(vm, region, v - region.vaddr)
        nxt = vmp.regions.next(region)
        if nxt is not None and nxt.vaddr < v:
            return -ENOMEM
        if region.memtype.resize(vm, region, v - region.vaddr) == OK:
            return OK
        extra = map_page_region(vm, vmp, region.end, 0, v - region.end, VR_WRITABLE, anon)
    except NoMemory:
        return -ENOMEM
    return OK if extra is not None else -ENOMEM
