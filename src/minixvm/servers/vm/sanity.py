"""VM's full sanity check (MINIX sanitycheck.h, seed 32fbbd370).

Verifies every invariant VM relies on and raises AssertionError naming the
first one that is broken:

1. free memory, the pages of all blocks (each counted once), VM's own pages
   (page tables and slab), yielded blocks and the kernel are pairwise
   disjoint and together are all of RAM;
2. the free list is sorted, with no empty, overlapping or adjacent ranges;
3. every block's refcount == its sharer count == the times it is seen
   walking all regions;
4. every page-table entry points at its block, writable exactly when the
   memory type says so, and nothing else is mapped; the entries agree with
   the region's protection (no W bit in a read-only region, nothing
   present in a PROT_NONE one);
5. regions are page-aligned, non-overlapping and in tree order, each with
   an id of its own that the counter has issued;
6. the yielded-block order agrees with the per-process trees;
7. no slab object is left unlocked;
8. every block is right by its memory type's own rules (a live shared
   window maps its source's blocks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.include.arch import KERNEL_END, PAGEDIRS_PDE, USER_BASE, VM_DATATOP
from minixvm.machine.mmu import I386_VM_ADDR_MASK, PTE_P, PTE_U, PTE_W
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.pb import PhysBlock, PhysRegion
from minixvm.servers.vm.region import VR_NOACCESS, VR_WRITABLE

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM
    from minixvm.servers.vm.region import Region
    from minixvm.servers.vm.vmproc import VMProc

PTE_CHECK_MASK = I386_VM_ADDR_MASK | PTE_P | PTE_W | PTE_U


def fail(what: str) -> None:
    raise AssertionError(f"VM sanity check failed: {what}")


class PageMap:
    """Which use each physical page has; a page may have one use only."""

    def __init__(self, frames: int) -> None:
        self.marks = bytearray(frames)
        self.counts: dict[str, int] = {}

    def mark(self, phys: int, nbytes: int, what: str) -> None:
        first, n = phys // PAGE_SIZE, nbytes // PAGE_SIZE
        if phys % PAGE_SIZE or nbytes % PAGE_SIZE or n <= 0 or first + n > len(self.marks):
            fail(f"{what} range {phys:#x}+{nbytes:#x} is not whole pages inside RAM")
        if self.marks[first : first + n].count(0) != n:
            fail(f"{what} pages {phys:#x}+{nbytes:#x} are also used for something else")
        self.marks[first : first + n] = b"\1" * n
        self.counts[what] = self.counts.get(what, 0) + n


def vm_sanity_check(vm: VM) -> dict[str, int]:
    """Check everything; the page count of each use of memory."""
    vm.alloc.check()
    vm.slab.check()
    pages = PageMap(vm.ram.frames)
    pages.mark(0, KERNEL_END, "kernel")
    for page, n in vm.alloc.ranges():
        pages.mark(page * PAGE_SIZE, n * PAGE_SIZE, "free")
    for phys in vm.own_pages:
        pages.mark(phys, PAGE_SIZE, "vm")
    slab_pages = set(vm.slab.pages())
    if not slab_pages <= vm.own_pages:
        fail("a slab page is not one of VM's own pages")
    seen: dict[int, int] = {}
    blocks: dict[int, PhysBlock] = {}
    for vmp in vm.procs.values():
        check_proc(vm, vmp, seen, blocks)
    check_region_ids(vm)
    for key, pb in blocks.items():
        if not (pb.refcount == len(pb.sharers) == seen[key]):
            fail(f"{pb!r}: refcount {pb.refcount}, {len(pb.sharers)} sharers, seen {seen[key]}")
        if pb.memtype.owns_memory:
            pages.mark(pb.phys, pb.length, "blocks")
    check_yielded(vm, pages)
    if sum(pages.counts.values()) != vm.ram.frames:
        fail(f"memory accounted for {pages.counts} is not all {vm.ram.frames} frames")
    return pages.counts


def check_proc(vm: VM, vmp: VMProc, seen: dict[int, int], blocks: dict[int, PhysBlock]) -> None:
    """Regions, phys_regions and page tables of one process."""
    vmp.regions.check()
    check_pagedir(vm, vmp)
    mapped = 0
    for region in vmp.regions:
        if region.parent is not vmp or region.vaddr % PAGE_SIZE or region.length % PAGE_SIZE:
            fail(f"{vmp!r}: bad {region!r}")
        if region.vaddr < USER_BASE or region.end > VM_DATATOP:
            fail(f"{vmp!r}: {region!r} outside user space")
        if region.flags & VR_NOACCESS and region.flags & VR_WRITABLE:
            fail(f"{vmp!r}: {region!r} is both PROT_NONE and writable")
        region.phys.check()
        last_end = 0
        for offset, pr in region.phys.items():
            pb = pr.ph
            if pr.parent is not region or pr.offset != offset or offset < last_end:
                fail(f"{region!r}: bad or overlapping {pr!r}")
            if pr.end > region.length or pb.length <= 0 or pb.length % PAGE_SIZE:
                fail(f"{region!r}: {pr!r} does not fit")
            if pr not in pb.sharers:
                fail(f"{pr!r} missing from its block's sharers")
            last_end = pr.end
            key = id(pb)
            blocks[key] = pb
            seen[key] = seen.get(key, 0) + 1
            if region.accessible:
                check_ptes(vm, vmp, region.vaddr + offset, pr)
                mapped += pb.length // PAGE_SIZE
            else:
                check_not_present(vm, vmp, region.vaddr + offset, pr)
            if (problem := region.memtype.sanity_problem(vm, pr)) is not None:
                fail(problem)
    present = count_user_ptes(vm, vmp)
    if present != mapped:
        fail(f"{vmp!r}: {present} pages mapped in its page table, {mapped} in its regions")


def check_region_ids(vm: VM) -> None:
    """No two regions share an id, and none has one the counter has not issued
    (a shared window names its source by id)."""
    ids: dict[int, Region] = {}
    for vmp in vm.procs.values():
        for region in vmp.regions:
            if not 0 < region.id <= vm.last_region_id:
                fail(f"{region!r} of {vmp!r}: id {region.id} was never issued")
            if region.id in ids:
                fail(f"{region!r} of {vmp!r}: id {region.id} is {ids[region.id]!r}'s too")
            ids[region.id] = region


def pte(vm: VM, vmp: VMProc, vaddr: int) -> int:
    """The page-table entry for ``vaddr`` (0 where there is no page table)."""
    table = vmp.pt.tables.get(vaddr >> 22)
    return vm.ram.words[(table >> 2) + ((vaddr >> 12) & 0x3FF)] if table is not None else 0


def check_ptes(vm: VM, vmp: VMProc, vaddr: int, pr: PhysRegion) -> None:
    """The entries for ``pr`` point at its block, writable as the type says
    and never in a read-only region."""
    writable = pr.parent.memtype.writable(pr)
    read_only = not pr.parent.flags & VR_WRITABLE
    want = PTE_P | PTE_U | (PTE_W if writable else 0)
    for i in range(pr.ph.length // PAGE_SIZE):
        v = vaddr + i * PAGE_SIZE
        entry = pte(vm, vmp, v)
        if read_only and entry & PTE_W:
            fail(f"{vmp!r}: PTE for {v:#x} is writable in read-only {pr.parent!r}")
        if entry & PTE_CHECK_MASK != (pr.ph.phys + i * PAGE_SIZE) | want:
            fail(f"{vmp!r}: PTE for {v:#x} is {entry:#x}, expected "
                 f"{(pr.ph.phys + i * PAGE_SIZE) | want:#x} for {pr!r}")


def check_not_present(vm: VM, vmp: VMProc, vaddr: int, pr: PhysRegion) -> None:
    """A PROT_NONE region's block is mapped nowhere in the page table."""
    for i in range(pr.ph.length // PAGE_SIZE):
        v = vaddr + i * PAGE_SIZE
        if pte(vm, vmp, v) & PTE_P:
            fail(f"{vmp!r}: PTE for {v:#x} is present in PROT_NONE {pr.parent!r}")


def count_user_ptes(vm: VM, vmp: VMProc) -> int:
    words = vm.ram.words
    total = 0
    for table in vmp.pt.tables.values():
        first = table >> 2
        total += sum(1 for w in words[first : first + 1024] if w & PTE_P)
    return total


def check_pagedir(vm: VM, vmp: VMProc) -> None:
    """The kernel's PDEs and the table of page directories are in place."""
    ram = vm.ram
    for index, value in vm.kinfo.kernel_pdes:
        if ram.read_u32(vmp.pt.dir + index * 4) & ~0x60 != value & ~0x60:
            fail(f"{vmp!r}: kernel PDE {index} missing")
    if ram.read_u32(vmp.pt.dir + PAGEDIRS_PDE * 4) & I386_VM_ADDR_MASK != vm.pagedirs_table:
        fail(f"{vmp!r}: no page-directory table PDE")
    if ram.read_u32(vm.pagedirs_table + vmp.slot * 4) & I386_VM_ADDR_MASK != vmp.pt.dir:
        fail(f"{vmp!r}: slot entry in the page-directory table is wrong")
    for index, table in vmp.pt.tables.items():
        if ram.read_u32(vmp.pt.dir + index * 4) & I386_VM_ADDR_MASK != table:
            fail(f"{vmp!r}: PDE {index} does not point at its page table")
        if table not in vm.own_pages:
            fail(f"{vmp!r}: page table {table:#x} is not VM's")
    if vmp.pt.dir not in vm.own_pages:
        fail(f"{vmp!r}: page directory is not VM's")


def check_yielded(vm: VM, pages: PageMap) -> None:
    """Yielded blocks: one entry in the owner's tree and in the global order each."""
    count = 0
    for vmp in vm.procs.values():
        for block_id, yb in vmp.yielded.items():
            count += 1
            if yb.id != block_id or yb.owner is not vmp:
                fail(f"yielded block {block_id:#x} of {vmp!r} misfiled")
            if vm.lru.blocks.get((vmp.slot, block_id)) is not yb:
                fail(f"yielded block {block_id:#x} of {vmp!r} not in the LRU")
            if yb.pb.refcount or yb.pb.sharers:
                fail(f"yielded block {block_id:#x} still mapped")
            pages.mark(yb.pb.phys, yb.pb.length, "yielded")
    if count != len(vm.lru.blocks):
        fail("the LRU holds blocks no process owns")
