"""Physical blocks and the phys_regions that share them (MINIX pb.c).

A PhysBlock is a run of physical pages; every region page range that maps
it holds a PhysRegion linked into the block's sharer list, and the
block's refcount is the length of that list. When the last sharer goes the
block's memory type frees the memory; when only one is left, that one may
become writable again (the end of a copy-on-write or a grant mapping).

Pages a process touches one at a time are, as in MINIX at HEAD, blocks of
one page each. Held as one object per page they made fork and sharing cost
Python work per page, so a *paged* block stands for a run of such one-page
blocks that are physically contiguous and have the same sharers: it grows
by a page when the page after it is touched, and whatever would treat one
of its pages differently from the rest (a copy-on-write break, a yield, a
window onto one page) first splits that page off. A block made whole (a
preallocated or contiguous range, a yielded block's replacement) stays one
block, as MINIX's variable-sized blocks were.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from minixvm.servers.vm.pagetable import pt_clearmap, pt_writemap
from minixvm.servers.vm.slab import SlabObject, undo_on, use

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM
    from minixvm.servers.vm.memtype import MemType
    from minixvm.servers.vm.region import Region

# How a block with several sharers is shared.
PBSH_COW = 1  # copy-on-write: nobody may write, a write clones
PBSH_SMAP = 2  # mapped through a grant: writes are seen by every sharer


class PhysBlock(SlabObject):
    """Physical memory [phys, phys+length) and who maps it."""

    __slots__ = ("phys", "length", "refcount", "sharers", "share_flag", "memtype", "paged")
    SLAB_SIZE = 24

    def __init__(self, phys: int, length: int, memtype: MemType, paged: bool = False) -> None:
        super().__init__()
        self.phys = phys
        self.length = length
        self.refcount = 0
        self.sharers: list[PhysRegion] = []
        self.share_flag = 0
        self.memtype = memtype
        # A run of one-page blocks (see the module's comment), not one block.
        self.paged = paged

    def __repr__(self) -> str:
        run = " paged" if self.paged else ""
        return f"<PhysBlock {self.phys:#x}+{self.length:#x} ref={self.refcount}{run}>"


class PhysRegion(SlabObject):
    """One region's use of a block, at ``offset`` in the region."""

    __slots__ = ("ph", "parent", "offset", "ro_map")
    SLAB_SIZE = 24

    def __init__(self, ph: PhysBlock, parent: Region, offset: int, ro_map: bool) -> None:
        super().__init__()
        self.ph = ph
        self.parent = parent
        self.offset = offset
        # A read-only grant mapping (safemap without write): never writable here.
        self.ro_map = ro_map

    @property
    def end(self) -> int:
        return self.offset + self.ph.length

    def __repr__(self) -> str:
        return f"<PhysRegion +{self.offset:#x} {self.ph!r}>"


def pb_new(vm: VM, phys: int, length: int, memtype: MemType, paged: bool = False) -> PhysBlock:
    """A new block with no sharers yet (raises NoMemory)."""
    pb = PhysBlock(phys, length, memtype, paged)
    vm.slab.alloc(pb)
    return pb


def pb_link(vm: VM, region: Region, offset: int, pb: PhysBlock, ro_map: bool = False) -> PhysRegion:
    """Make ``region`` map ``pb`` at ``offset`` (raises NoMemory)."""
    pr = PhysRegion(pb, region, offset, ro_map)
    vm.slab.alloc(pr)
    pr_attach(pr)
    return pr


def pr_attach(pr: PhysRegion) -> None:
    """Link an allocated phys_region into its region and its block's sharers."""
    pb = pr.ph
    pr.parent.phys.insert(pr.offset, pr)
    with use(pb):
        pb.sharers.append(pr)
        pb.refcount += 1


def new_blocks(
    vm: VM, region: Region, offset: int, pieces: list[tuple[int, int]], memtype: MemType,
    paged: bool = False,
) -> list[PhysRegion]:
    """Blocks for physical ``pieces`` laid out from ``offset`` of ``region``,
    each with its (not yet attached) phys_region; raises NoMemory having
    allocated nothing."""
    made: list[PhysRegion] = []

    def free_made() -> None:
        for pr in made:
            vm.slab.free(pr.ph)
            vm.slab.free(pr)

    with undo_on(free_made):
        for addr, size in pieces:
            pb = pb_new(vm, addr, size, memtype, paged)
            pr = PhysRegion(pb, region, offset, False)
            with undo_on(partial(vm.slab.free, pb)):
                vm.slab.alloc(pr)
            made.append(pr)
            offset += size
    return made


def pb_unlink(vm: VM, pr: PhysRegion) -> None:
    """Take ``pr`` out of its region and drop its reference (``pb_unref``)."""
    pr.parent.phys.remove(pr.offset)
    pb_unref(vm, pr)


def pb_unref(vm: VM, pr: PhysRegion) -> None:
    """Drop ``pr``'s reference to its block (its region forgets it separately):
    the block is freed at refcount 0; a sole remaining sharer gets its
    mapping rewritten (it may be writable now)."""
    pb = pr.ph
    with use(pb):
        pb.sharers.remove(pr)
        pb.refcount -= 1
        if pb.refcount <= 1:
            pb.share_flag = 0
    vm.slab.free(pr)
    if pb.refcount == 0:
        pb.memtype.free_block(vm, pb)
        vm.slab.free(pb)
    elif pb.refcount == 1:
        map_ph_writept(vm, pb.sharers[0])


def pb_split(vm: VM, pb: PhysBlock, at: int) -> PhysBlock:
    """Cut ``pb`` at byte ``at``: it keeps the head; the returned block, the
    tail, is linked by every sharer at the matching offset (raises NoMemory
    before changing anything if the bookkeeping cannot be allocated)."""
    tail = pb_new(vm, pb.phys + at, pb.length - at, pb.memtype, pb.paged)
    made: list[PhysRegion] = []

    def free_made() -> None:
        for npr in made:
            vm.slab.free(npr)
        vm.slab.free(tail)

    with undo_on(free_made):
        for pr in pb.sharers:
            npr = PhysRegion(tail, pr.parent, pr.offset + at, pr.ro_map)
            vm.slab.alloc(npr)
            made.append(npr)
    with use(tail):
        tail.refcount = len(made)
        tail.sharers = made
        tail.share_flag = pb.share_flag
    with use(pb):
        pb.length = at
    for pr in made:
        pr.parent.phys.insert(pr.offset, pr)
    return tail


def map_ph_writept(vm: VM, pr: PhysRegion) -> None:
    """Write the page-table entries for ``pr``, writable as its memory type
    says; not present at all in a PROT_NONE region."""
    region = pr.parent
    vmp = region.parent
    if region.accessible:
        pt_writemap(vm, vmp.pt, region.vaddr + pr.offset, pr.ph.phys, pr.ph.length,
                    region.memtype.writable(pr))
    else:
        pt_clearmap(vm, vmp.pt, region.vaddr + pr.offset, pr.ph.length)
    vm.tlb_dirty(vmp)
