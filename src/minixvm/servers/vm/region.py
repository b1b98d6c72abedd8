"""Virtual regions and the mapping code on them (MINIX region.c).

A Region is a page-aligned range of a process's address space with a
memory type; its phys_regions (an AVL tree keyed by offset, the seed's
"phys_ranges") say which physical blocks back which part. Nothing here
knows a memory type by name: behaviour that differs per type goes through
the region's ``memtype``.

Every operation that allocates does so before it changes anything, so a
failure (NoMemory) leaves the process as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minixvm.errors import EFAULT, OK
from minixvm.lib.avl import AVLTree, Search
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.alloc import PAF_CONTIG, PAF_LOWER1MB, PAF_LOWER16MB
from minixvm.servers.vm.pagetable import pt_clearmap, pt_prepare, pt_unprepare, pt_writemap
from minixvm.servers.vm.pb import (
    PhysBlock,
    PhysRegion,
    map_ph_writept,
    new_blocks,
    pb_split,
    pb_unlink,
    pb_unref,
    pr_attach,
)
from minixvm.servers.vm.slab import SlabObject, undo_on, use

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM
    from minixvm.servers.vm.memtype import MemType
    from minixvm.servers.vm.vmproc import VMProc

# Region flags.
VR_WRITABLE = 0x001
VR_PHYS64K = 0x004
VR_LOWER16MB = 0x008
VR_LOWER1MB = 0x010
VR_CONTIG = 0x020
VR_SHARED = 0x040
VR_UNINITIALIZED = 0x080
# minixvm's own: PROT_NONE, no access at all (nothing mapped present). A
# region without it is readable (i386 pages cannot be write- or exec-only).
VR_NOACCESS = 0x200


class Region(SlabObject):
    """A range of virtual memory of one process (MINIX vir_region)."""

    __slots__ = ("vaddr", "length", "flags", "parent", "memtype", "param", "phys", "id")
    SLAB_SIZE = 48

    def __init__(
        self, vaddr: int, length: int, flags: int, parent: VMProc, memtype: MemType,
        param: Any, rid: int,
    ) -> None:
        super().__init__()
        self.vaddr = vaddr
        self.length = length
        self.flags = flags
        self.parent = parent
        self.memtype = memtype
        self.param = param
        self.phys: AVLTree[PhysRegion] = AVLTree()
        self.id = rid

    @property
    def end(self) -> int:
        return self.vaddr + self.length

    @property
    def accessible(self) -> bool:
        """May its pages be mapped present at all (not PROT_NONE)?"""
        return not self.flags & VR_NOACCESS

    def __repr__(self) -> str:
        return f"<Region {self.memtype.name} {self.vaddr:#x}-{self.end:#x} flags={self.flags:#x}>"


def alloc_flags(region: Region) -> int:
    """Physical allocation constraints a region asks for."""
    flags = PAF_CONTIG if region.flags & VR_CONTIG else 0
    if region.flags & VR_LOWER16MB:
        flags |= PAF_LOWER16MB
    if region.flags & VR_LOWER1MB:
        flags |= PAF_LOWER1MB
    return flags


def exchangeable(region: Region) -> bool:
    """May a block of ``region`` be swapped for another block (a grant
    mapping, a yielded block)? Only private memory of a type whose blocks
    are interchangeable."""
    return region.memtype.exchangeable and not region.flags & VR_SHARED


# -- lookup -----------------------------------------------------------------------


def map_lookup(vmp: VMProc, addr: int) -> Region | None:
    """The region of ``vmp`` containing ``addr``."""
    return vmp.regions.lookup(addr)


def phys_at(region: Region, offset: int) -> PhysRegion | None:
    """The phys_region covering ``offset`` of ``region``."""
    hit = region.phys.search(offset, Search.LESS_EQUAL)
    if hit is None:
        return None
    pr = hit[1]
    return pr if offset < pr.end else None


def phys_in(region: Region, start: int, end: int) -> list[PhysRegion]:
    """The phys_regions intersecting offsets [start, end), ascending."""
    first = phys_at(region, start)
    result = [first] if first else []
    for off, pr in region.phys.items(start + 1 if first else start):
        if off >= end:
            break
        result.append(pr)
    return result


# -- creating regions and memory ---------------------------------------------------------


def map_page_region(
    vm: VM, vmp: VMProc, minv: int, maxv: int, length: int, flags: int, memtype: MemType,
    param: Any = None, prealloc: bool = False,
) -> Region | None:
    """Create a region of ``length`` bytes in [minv, maxv) (maxv 0: exactly at
    minv), optionally with all memory allocated now. None if no room; raises
    NoMemory if memory or bookkeeping runs out (nothing is left behind)."""
    start = vmp.find_slot(minv, maxv, length)
    if start is None:
        return None
    region = Region(start, length, flags, vmp, memtype, param, vm.new_region_id())
    vm.slab.alloc(region)
    vmp.regions.insert(region)
    if prealloc:
        with undo_on(lambda: map_free_region(vm, region)):
            map_new_physblock(vm, region, 0, length, clear=not flags & VR_UNINITIALIZED)
    return region


def map_new_physblock(
    vm: VM, region: Region, offset: int, length: int, clear: bool = True,
    phys: int | None = None,
) -> list[PhysRegion]:
    """Back [offset, offset+length) of ``region`` with new blocks: fresh memory
    (cleared unless told not to), or the given physical memory (never freed
    by us: a direct mapping). Raises NoMemory with nothing changed."""
    pt = region.parent.pt
    tables = pt_prepare(vm, pt, region.vaddr + offset, length)
    with undo_on(lambda: pt_unprepare(vm, pt, tables)):
        if phys is None:
            pieces = vm.alloc_mem(length, alloc_flags(region))
            with undo_on(lambda: vm.free_pieces(pieces)):
                prs = new_blocks(vm, region, offset, pieces, region.memtype)
        else:
            pieces = [(phys, length)]
            prs = new_blocks(vm, region, offset, pieces, region.memtype)
    if phys is None and clear:
        for addr, size in pieces:
            vm.clear_phys(addr, size)
    for pr in prs:
        pr_attach(pr)
        map_ph_writept(vm, pr)
    return prs


def map_demand_zero(vm: VM, region: Region, offset: int) -> None:
    """Back the missing page at ``offset`` with a cleared page (raises
    NoMemory with nothing changed): where it is free, the page physically
    after the one below it, so that pages touched in a row are one
    physically contiguous run, which then grows as one paged block (a copy
    or a fork of it is one step, not one per page)."""
    below = phys_at(region, offset - PAGE_SIZE) if offset else None
    if alloc_flags(region):
        map_new_physblock(vm, region, offset, PAGE_SIZE)
        return
    pt = region.parent.pt
    tables = pt_prepare(vm, pt, region.vaddr + offset, PAGE_SIZE)
    with undo_on(lambda: pt_unprepare(vm, pt, tables)):
        phys = vm.alloc_page_after(below.ph.phys + below.ph.length - PAGE_SIZE
                                   if below is not None else None)
        if below is not None and grows_into(below, phys):
            pr = below
        else:
            with undo_on(lambda: vm.free_mem(phys, PAGE_SIZE)):
                (pr,) = new_blocks(vm, region, offset, [(phys, PAGE_SIZE)], region.memtype,
                                   paged=True)
    vm.clear_phys(phys, PAGE_SIZE)
    if pr is below:
        with use(pr.ph):
            pr.ph.length += PAGE_SIZE
    else:
        pr_attach(pr)
    # A page that was not present is in no TLB: no flush is needed.
    pt_writemap(vm, pt, region.vaddr + offset, phys, PAGE_SIZE, region.memtype.writable(pr))


def grows_into(pr: PhysRegion, phys: int) -> bool:
    """May ``pr``'s block take in the page at ``phys`` as its next page? Only
    a run no one else sees, ending just below ``phys``."""
    pb = pr.ph
    return (pb.paged and pb.refcount == 1 and not pb.share_flag and not pr.ro_map
            and pb.phys + pb.length == phys)


def map_copy_block(vm: VM, pb: PhysBlock, region: Region, offset: int) -> list[PhysRegion]:
    """New memory holding a copy of ``pb``, as blocks (maybe several physical
    pieces) for ``offset`` of ``region``, not yet attached (raises NoMemory)."""
    pieces = vm.alloc_mem(pb.length, alloc_flags(region))
    with undo_on(lambda: vm.free_pieces(pieces)):
        new = new_blocks(vm, region, offset, pieces, region.memtype, pb.paged)
    src = pb.phys
    for addr, size in pieces:
        vm.copy_phys(addr, src, size)
        src += size
    return new


def map_clone_ph_block(vm: VM, pr: PhysRegion) -> list[PhysRegion]:
    """Give ``pr``'s region a private copy of its block (a copy-on-write break).

    The copy is made before the old block is let go, so running out of
    memory loses nothing (MINIX unreferenced first)."""
    region, offset, length = pr.parent, pr.offset, pr.ph.length
    new = map_copy_block(vm, pr.ph, region, offset)
    pb_unlink(vm, pr)
    vm.stats.cow_breaks += 1
    vm.trace("cow", region.parent.endpoint, f"{region.vaddr + offset:#010x}+{length:#x}")
    for npr in new:
        pr_attach(npr)
        map_ph_writept(vm, npr)
    return new


# -- faults and kernel requests ------------------------------------------------------------


def map_pf(vm: VM, region: Region, offset: int, write: bool) -> int:
    """Handle a fault at ``offset`` of ``region``: OK or -EFAULT (raises NoMemory)."""
    return region.memtype.pagefault(vm, region, offset - offset % PAGE_SIZE, write)


def access_ok(region: Region, write: bool) -> bool:
    """Does the region's protection allow a read, or a write if ``write``?"""
    return region.accessible and (not write or bool(region.flags & VR_WRITABLE))


def page_ok(region: Region, offset: int, write: bool) -> bool:
    """Is the page at ``offset`` present, and writable if ``write``?"""
    pr = phys_at(region, offset)
    return pr is not None and (not write or region.memtype.writable(pr))


def map_handle_memory(vm: VM, vmp: VMProc, addr: int, length: int, write: bool) -> int:
    """Make every page of [addr, addr+length) present (and writable if
    ``write``), faulting in and breaking copy-on-write as needed. EFAULT if
    any of it is outside a region, PROT_NONE or not writable; OK if nothing had to be
    done (MINIX 2010 said EFAULT then). Raises NoMemory, what was faulted in
    by then staying in."""
    if length <= 0:
        return OK
    end = addr + length
    page = addr - addr % PAGE_SIZE
    while page < end:
        region = map_lookup(vmp, page)
        if region is None or not access_ok(region, write):
            return -EFAULT
        stop = min(end, region.end)
        while page < stop:
            offset = page - region.vaddr
            pr = phys_at(region, offset)
            if pr is not None and (not write or region.memtype.writable(pr)):
                page = region.vaddr + pr.end  # the whole block is fine as it is
                continue
            r = map_pf(vm, region, offset, write)
            if r != OK:
                return r
            page += PAGE_SIZE
    return OK


def phys_addr(vmp: VMProc, vaddr: int) -> int | None:
    """The physical address behind ``vaddr`` of ``vmp``, if it is present."""
    region = map_lookup(vmp, vaddr)
    pr = phys_at(region, vaddr - region.vaddr) if region else None
    if region is None or pr is None:
        return None
    return pr.ph.phys + (vaddr - region.vaddr - pr.offset)


def map_copy_into(vm: VM, dst: VMProc, addr: int, src_phys: int, length: int) -> int:
    """Copy physical memory into ``dst``'s virtual range, making it present
    and private first: OK or -errno (raises NoMemory)."""
    r = map_handle_memory(vm, dst, addr, length, True)
    if r != OK:
        return r
    done = 0
    while done < length:
        chunk = min(length - done, PAGE_SIZE - (addr + done) % PAGE_SIZE)
        dst_phys = phys_addr(dst, addr + done)
        if dst_phys is None:
            vm.panic("%#x of %d not present after map_handle_memory", addr + done, dst.endpoint)
        vm.copy_phys(dst_phys, src_phys + done, chunk)
        done += chunk
    return OK


# -- page tables ------------------------------------------------------------------------


def map_writept(vm: VM, vmp: VMProc) -> None:
    """Rewrite every page-table entry of ``vmp`` from its regions: blocks
    that follow each other virtually and physically, equally writable, are
    written as one run."""
    pt = vmp.pt
    for region in vmp.regions:
        if not region.accessible:
            pt_clearmap(vm, pt, region.vaddr, region.length)
            continue
        writable = region.memtype.writable
        run: list[int] = []  # offset, physical address, length, writable
        for pr in region.phys.values():
            pb, w = pr.ph, int(writable(pr))
            if run and run[0] + run[2] == pr.offset and run[1] + run[2] == pb.phys and run[3] == w:
                run[2] += pb.length
                continue
            if run:
                pt_writemap(vm, pt, region.vaddr + run[0], run[1], run[2], bool(run[3]))
            run = [pr.offset, pb.phys, pb.length, w]
        if run:
            pt_writemap(vm, pt, region.vaddr + run[0], run[1], run[2], bool(run[3]))
    vm.tlb_dirty(vmp)


# -- splitting, shrinking, freeing -------------------------------------------------------


def split_phys_at(vm: VM, region: Region, offset: int) -> None:
    """Make sure no block of ``region`` straddles ``offset`` (raises NoMemory)."""
    pr = phys_at(region, offset)
    if pr is not None and pr.offset != offset:
        pb_split(vm, pr.ph, offset - pr.offset)


def split_pages(vm: VM, region: Region, start: int, end: int) -> None:
    """Make the pages of [start, end) that are in paged blocks blocks of their
    own at both edges, as one-page blocks would be (raises NoMemory, which
    leaves at most one edge split: nothing visible)."""
    for edge in (start, end):
        pr = phys_at(region, edge)
        if pr is not None and pr.ph.paged and pr.offset != edge:
            pb_split(vm, pr.ph, edge - pr.offset)


def unmap_phys(vm: VM, region: Region, start: int, end: int) -> None:
    """Drop the blocks of offsets [start, end) (block edges must line up there)."""
    for pr in phys_in(region, start, end):
        pb_unlink(vm, pr)
    vmp = region.parent
    pt_clearmap(vm, vmp.pt, region.vaddr + start, end - start)
    vm.tlb_dirty(vmp)


def map_free_region(vm: VM, region: Region) -> None:
    """Remove a whole region and its memory."""
    for pr in region.phys.values():
        pb_unref(vm, pr)
    vmp = region.parent
    pt_clearmap(vm, vmp.pt, region.vaddr, region.length)
    vm.tlb_dirty(vmp)
    vmp.regions.remove(region)
    vm.slab.free(region)


def shrink_region(vm: VM, region: Region, keep: int) -> None:
    """Drop everything from offset ``keep`` to the region's end."""
    split_phys_at(vm, region, keep)
    unmap_phys(vm, region, keep, region.length)
    with use(region):
        region.length = keep


def lowshrink_region(vm: VM, region: Region, cut: int) -> None:
    """Drop the first ``cut`` bytes; the region then starts ``cut`` later."""
    split_phys_at(vm, region, cut)
    unmap_phys(vm, region, 0, cut)
    vmp = region.parent
    vmp.regions.remove(region)
    moved = [(off - cut, pr) for off, pr in region.phys.items()]
    for _, pr in moved:
        with use(pr):
            pr.offset -= cut
    with use(region):
        region.vaddr += cut
        region.length -= cut
        region.param = region.memtype.split_param(region.param, cut)
        region.phys = AVLTree.from_sorted(moved)
    vmp.regions.insert(region)


def split_region(vm: VM, region: Region, at: int) -> Region:
    """Cut ``region`` at offset ``at``; the returned new region is the upper part."""
    split_phys_at(vm, region, at)
    vmp = region.parent
    upper = Region(region.vaddr + at, region.length - at, region.flags, vmp, region.memtype,
                   region.memtype.split_param(region.param, at), vm.new_region_id())
    moving = list(region.phys.items(at))
    upper.phys = AVLTree.from_sorted((off - at, pr) for off, pr in moving)
    vm.slab.alloc(upper)
    for off, pr in moving:
        region.phys.remove(off)
        with use(pr):
            pr.parent = upper
            pr.offset = off - at
    with use(region):
        region.length = at
    vmp.regions.insert(upper)
    return upper


def map_unmap_range(vm: VM, vmp: VMProc, addr: int, length: int) -> None:
    """Unmap [addr, addr+length) (page aligned) from whatever regions are
    there: whole regions go, others shrink or split (raises NoMemory, at
    worst leaving some blocks split, which changes nothing visible)."""
    end = addr + length
    for region in vmp.regions.overlapping(addr, end):
        if addr > region.vaddr and end < region.end:
            split_region(vm, region, end - region.vaddr)
            shrink_region(vm, region, addr - region.vaddr)
        elif addr > region.vaddr:
            shrink_region(vm, region, addr - region.vaddr)
        elif end < region.end:
            lowshrink_region(vm, region, end - region.vaddr)
        else:
            map_free_region(vm, region)


def map_free_proc(vm: VM, vmp: VMProc) -> None:
    """Free every region of a process."""
    for region in list(vmp.regions):
        map_free_region(vm, region)


# -- fork -----------------------------------------------------------------------------------


def map_proc_copy(vm: VM, dst: VMProc, src: VMProc) -> None:
    """Give ``dst`` a copy of every region of ``src``, sharing memory as each
    memory type says (anonymous memory copy-on-write); then both page tables
    are rewritten. Raises NoMemory (the caller frees ``dst``)."""
    for region in src.regions:
        copy = Region(region.vaddr, region.length, region.flags, dst, region.memtype,
                      region.param, vm.new_region_id())
        vm.slab.alloc(copy)
        dst.regions.insert(copy)
        for pr in list(region.phys.values()):
            pt_prepare(vm, dst.pt, region.vaddr + pr.offset, pr.ph.length)
            region.memtype.fork_block(vm, pr, copy)
    map_writept(vm, src)
    map_writept(vm, dst)
