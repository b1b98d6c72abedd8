"""The yielded-block cache (MINIX f78d8e74f): memory a process lends VM.

A process (MFS, for its buffer cache) yields a block of its memory under a
64-bit id and gets fresh pages in its place; VM keeps the old pages as long
as memory allows, and the process can ask for them back by id. Ids are per
process; VM forgets blocks oldest first (one global order) when an
allocation would otherwise fail. A get of a forgotten block says ESRCH.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, ESRCH, OK
from minixvm.include.vm import (
    VM_BLOCKID_NONE,
    VmForgetblock,
    VmForgetblocks,
    VmYieldblockgetblock,
    make64,
)
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.pagetable import pt_prepare
from minixvm.servers.vm.pb import PhysBlock, PhysRegion, map_ph_writept, pr_attach
from minixvm.servers.vm.region import (
    exchangeable,
    map_lookup,
    map_new_physblock,
    phys_at,
    split_pages,
    split_phys_at,
    unmap_phys,
)
from minixvm.servers.vm.slab import SlabObject, undo_on, use

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM
    from minixvm.servers.vm.vmproc import VMProc


class YieldedBlock(SlabObject):
    """A block VM keeps for a process, under the process's id."""

    __slots__ = ("id", "owner", "pb")
    SLAB_SIZE = 48

    def __init__(self, block_id: int, owner: VMProc, pb: PhysBlock) -> None:
        super().__init__()
        self.id = block_id
        self.owner = owner
        self.pb = pb


class YieldedLRU:
    """Every yielded block, oldest first."""

    def __init__(self) -> None:
        self.blocks: OrderedDict[tuple[int, int], YieldedBlock] = OrderedDict()

    def add(self, yb: YieldedBlock) -> None:
        self.blocks[(yb.owner.slot, yb.id)] = yb

    def remove(self, yb: YieldedBlock) -> None:
        del self.blocks[(yb.owner.slot, yb.id)]

    def oldest(self) -> YieldedBlock | None:
        return next(iter(self.blocks.values()), None)


def do_yieldblockgetblock(vm: VM, m: VmYieldblockgetblock) -> int:
    """VM_YIELDBLOCKGETBLOCK: yield the block at m.vaddr under the yield id
    (if not NONE) and/or get the block of the get id back at the same place.
    The result is the get's: OK, or ESRCH (also when no get was asked, as in
    MINIX: MFS only looks for OK). A yield VM cannot take is not done."""
    vmp = vm.caller(m)
    if m.vaddr % PAGE_SIZE or m.len <= 0 or m.len % PAGE_SIZE:
        return -EINVAL
    yield_id = make64(m.yieldid_hi, m.yieldid_lo)
    get_id = make64(m.getid_hi, m.getid_lo)
    if yield_id != VM_BLOCKID_NONE:
        yieldblock(vm, vmp, yield_id, m.vaddr, m.len)
    if get_id == VM_BLOCKID_NONE:
        return -ESRCH
    return getblock(vm, vmp, get_id, m.vaddr, m.len)


def yieldblock(vm: VM, vmp: VMProc, block_id: int, vaddr: int, length: int) -> int:
    """Keep the block at ``vaddr`` under ``block_id``; fresh pages replace it
    (raises NoMemory with the block left where it was)."""
    if block_id in vmp.yielded:
        return -EINVAL
    region = map_lookup(vmp, vaddr)
    pr = phys_at(region, vaddr - region.vaddr) if region else None
    if region is not None and pr is not None and pr.ph.paged and length == PAGE_SIZE:
        # A page of a run is a one-page block of its own (see pb.py).
        split_pages(vm, region, vaddr - region.vaddr, vaddr - region.vaddr + PAGE_SIZE)
        pr = phys_at(region, vaddr - region.vaddr)
    if (
        region is None
        or pr is None
        or not exchangeable(region)
        or pr.offset != vaddr - region.vaddr
        or pr.ph.length != length
        or (pr.ph.paged and length != PAGE_SIZE)
        or pr.ph.refcount != 1
    ):
        return -EINVAL
    pb = pr.ph
    yb = YieldedBlock(block_id, vmp, pb)
    vm.slab.alloc(yb)
    # Take the block out of the region without freeing it, then put new
    # memory there; if there is none, the block goes back as it was.
    _detach(pr, pb)

    def put_back() -> None:
        pr_attach(pr)
        vm.slab.free(yb)

    with undo_on(put_back):
        map_new_physblock(vm, region, pr.offset, length)
    vm.slab.free(pr)
    vmp.yielded[block_id] = yb
    vm.lru.add(yb)
    vm.stats.yields += 1
    return OK


def _detach(pr: PhysRegion, pb: PhysBlock) -> None:
    pr.parent.phys.remove(pr.offset)
    with use(pb):
        pb.sharers.clear()
        pb.refcount = 0


def getblock(vm: VM, vmp: VMProc, block_id: int, vaddr: int, length: int) -> int:
    """Put yielded block ``block_id`` back at ``vaddr``, replacing what is
    there (raises NoMemory having changed nothing visible)."""
    yb = vmp.yielded.get(block_id)
    if yb is None or yb.pb.length != length:
        vm.stats.cache_misses += 1
        return -ESRCH
    region = map_lookup(vmp, vaddr)
    offset = vaddr - region.vaddr if region else 0
    if region is None or offset + length > region.length or not exchangeable(region):
        return -EINVAL
    split_phys_at(vm, region, offset)
    split_phys_at(vm, region, offset + length)
    pt_prepare(vm, vmp.pt, vaddr, length)
    pr = PhysRegion(yb.pb, region, offset, False)
    vm.slab.alloc(pr)
    unmap_phys(vm, region, offset, offset + length)
    pr_attach(pr)
    map_ph_writept(vm, pr)
    del vmp.yielded[block_id]
    vm.lru.remove(yb)
    vm.slab.free(yb)
    vm.stats.cache_hits += 1
    return OK


def forget(vm: VM, yb: YieldedBlock) -> int:
    """Drop a yielded block and free its memory; the pages freed."""
    del yb.owner.yielded[yb.id]
    vm.lru.remove(yb)
    pages = yb.pb.length // PAGE_SIZE
    yb.pb.memtype.free_block(vm, yb.pb)
    vm.slab.free(yb.pb)
    vm.slab.free(yb)
    return pages


def do_forgetblock(vm: VM, m: VmForgetblock) -> int:
    """VM_FORGETBLOCK: drop the caller's block if VM still has it (always OK)."""
    vmp = vm.caller(m)
    yb = vmp.yielded.get(make64(m.id_hi, m.id_lo))
    if yb is not None:
        forget(vm, yb)
    return OK


def do_forgetblocks(vm: VM, m: VmForgetblocks) -> int:
    """VM_FORGETBLOCKS: drop all of the caller's blocks."""
    free_yielded_proc(vm, vm.caller(m))
    return OK


def free_yielded_proc(vm: VM, vmp: VMProc) -> None:
    """Drop every block of a process (exit, exec)."""
    for yb in list(vmp.yielded.values()):
        forget(vm, yb)


def free_yielded(vm: VM, pages_wanted: int) -> int:
    """Memory pressure: forget blocks, oldest first, until ``pages_wanted``
    pages are free again or none is left; the pages freed."""
    freed = 0
    while freed < pages_wanted and (yb := vm.lru.oldest()) is not None:
        freed += forget(vm, yb)
        vm.stats.cache_forgotten += 1
    return freed
