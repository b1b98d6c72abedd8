"""The i386 MMU: two-level page tables in RAM, a software TLB, A/D bits.

Page directories and page tables are real 32-bit entries stored in RAM.
``translate`` walks them exactly as the hardware would (CR0.WP set, so the
supervisor cannot write read-only pages either: that is what makes kernel
copies take copy-on-write faults). A software TLB per address space (keyed
by the page directory's physical address, i.e. CR3) sits in front of the
walk and is flushed only when the kernel is told to (VMCTL_FLUSHTLB,
VMCTL_SETADDRSPACE), as on the real machine: a page-table change that is
not followed by a flush is not seen.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from minixvm.machine.ram import RAM

PTE_P = 0x001
PTE_W = 0x002
PTE_U = 0x004
PTE_PWT = 0x008
PTE_PCD = 0x010
PTE_A = 0x020
PTE_D = 0x040
PTE_PS = 0x080
PTE_G = 0x100

I386_VM_ADDR_MASK = 0xFFFFF000
I386_BIG_PAGE_SIZE = 4 << 20
I386_BIG_ADDR_MASK = 0xFFC00000
I386_VM_DIR_ENTRIES = 1024
I386_VM_PT_ENTRIES = 1024
_STEPS = np.arange(I386_VM_PT_ENTRIES, dtype=np.uint32) << 12  # a run's frame offsets
_WORD = struct.Struct("=I")  # a word as numpy holds it


def pde_index(vaddr: int) -> int:
    return vaddr >> 22


def pte_index(vaddr: int) -> int:
    return (vaddr >> 12) & 0x3FF


def _one_run(entries: np.ndarray, flags: int) -> bool:
    """Whether the entries are alike but for their frames, have all of
    ``flags``, and map one physically contiguous run (compared as bytes:
    numpy's own comparisons cost more than the test for a page table's
    worth of entries)."""
    base = int(entries[0])
    return (base & flags == flags
            and (entries - _STEPS[: len(entries)]).tobytes() == _WORD.pack(base) * len(entries))


def _append(pieces: list[tuple[int, int]], addr: int, length: int) -> None:
    """Add a physical piece, merging it with the last one where they touch."""
    if pieces and pieces[-1][0] + pieces[-1][1] == addr:
        pieces[-1] = (pieces[-1][0], pieces[-1][1] + length)
    else:
        pieces.append((addr, length))


class PageFault(Exception):
    """A trap: the access at ``vaddr`` cannot be completed.

    ``present`` is False for a missing page and True for a protection
    violation (the i386 error code's P bit).
    """

    def __init__(self, vaddr: int, write: bool, user: bool, present: bool) -> None:
        self.vaddr = vaddr
        self.write = write
        self.user = user
        self.present = present
        kind = "protection" if present else "not-present"
        access = "write" if write else "read"
        mode = "user" if user else "supervisor"
        super().__init__(f"page fault at {vaddr:#010x}: {kind}, {mode} {access}")

    @property
    def errcode(self) -> int:
        """The i386 page-fault error code (P, W/R, U/S bits)."""
        return int(self.present) | int(self.write) << 1 | int(self.user) << 2


@dataclass(frozen=True)
class Mapping:
    """What the page tables say about one virtual page (for inspection)."""

    vaddr: int
    paddr: int
    writable: bool
    user: bool
    big: bool
    global_: bool
    accessed: bool
    dirty: bool


class MMU:
    """Address translation through page tables stored in ``ram``."""

    def __init__(self, ram: RAM) -> None:
        self.ram = ram
        # cr3 -> {virtual page number: (physical page base, write ok, user ok)}.
        # "write ok" also means D is already set, so a write hit needs no walk.
        self._tlb: dict[int, dict[int, tuple[int, bool, bool]]] = {}
        self.walks = 0
        # Page tables read as one array by translate_range (one per 4 MiB of a copy).
        self.table_walks = 0
        self.flushes = 0
        # Told of every flush (the CPU's own TLB follows the MMU's).
        self.flush_listeners: list[Callable[[int | None], None]] = []

    def translate(self, cr3: int, vaddr: int, write: bool = False, user: bool = True) -> int:
        """Physical address of ``vaddr`` in address space ``cr3``, or raise PageFault."""
        tlb = self._tlb.get(cr3)
        if tlb is not None:
            e = tlb.get(vaddr >> 12)
            if e is not None and (e[1] or not write) and (e[2] or not user):
                return e[0] | (vaddr & 0xFFF)
        return self._walk(cr3, vaddr, write, user)

    def _walk(self, cr3: int, vaddr: int, write: bool, user: bool) -> int:
        self.walks += 1
        ram = self.ram
        pde_addr = cr3 + (vaddr >> 22) * 4
        pde = ram.read_u32(pde_addr)
        if not pde & PTE_P:
            raise PageFault(vaddr, write, user, False)
        if pde & PTE_PS:
            entry, entry_addr = pde, pde_addr
            base = (pde & I386_BIG_ADDR_MASK) | (vaddr & 0x3FF000)
            flags = pde
        else:
            # The PDE has been used for the walk, whatever the PTE then says
            # (Intel SDM vol. 3A 4.8); the final entry's A/D bits are set
            # only by an access that does not fault.
            if not pde & PTE_A:
                ram.write_u32(pde_addr, pde | PTE_A)
            entry_addr = (pde & I386_VM_ADDR_MASK) + ((vaddr >> 12) & 0x3FF) * 4
            entry = ram.read_u32(entry_addr)
            if not entry & PTE_P:
                raise PageFault(vaddr, write, user, False)
            base = entry & I386_VM_ADDR_MASK
            flags = pde & entry
        if (write and not flags & PTE_W) or (user and not flags & PTE_U):
            raise PageFault(vaddr, write, user, True)
        new = entry | PTE_A | (PTE_D if write else 0)
        if new != entry:
            ram.write_u32(entry_addr, new)
        self._tlb.setdefault(cr3, {})[vaddr >> 12] = (
            base,
            bool(flags & PTE_W) and bool(new & PTE_D),
            bool(flags & PTE_U),
        )
        return base | (vaddr & 0xFFF)

    def translate_range(
        self, cr3: int, vaddr: int, n: int, write: bool, user: bool
    ) -> list[tuple[int, int]]:
        """Physical pieces (address, length) covering [vaddr, vaddr+n), merged where
        physically contiguous; raises PageFault at the first page that fails.

        A range within one page goes through the TLB like any access. A longer
        one (a kernel copy) is walked a page table at a time, as MINIX's kernel
        reaches process memory through page-directory entries of its own that
        it reloads for each copy: the tables' entries are read and checked as
        one array, and A (and D) set on the entries used."""
        if n <= 0:
            return []
        end = vaddr + n
        if (vaddr ^ (end - 1)) >> 12 == 0:
            return [(self.translate(cr3, vaddr, write, user), n)]
        pieces: list[tuple[int, int]] = []
        page = vaddr & ~0xFFF
        while page < end:
            stop = min(end, (page | 0x3FFFFF) + 1)
            self._table_pieces(cr3, page, stop, write, user, pieces, vaddr)
            page = stop
        head = vaddr & 0xFFF
        first_addr, first_len = pieces[0]
        pieces[0] = (first_addr + head, first_len - head)
        last_addr, last_len = pieces[-1]
        pieces[-1] = (last_addr, last_len - (-end & 0xFFF))
        return pieces

    def _table_pieces(self, cr3: int, page: int, stop: int, write: bool, user: bool,
                      pieces: list[tuple[int, int]], start: int) -> None:
        """Append the whole-page pieces of [page, stop), all under one PDE, to
        ``pieces`` (merging with the last one); a fault names ``start`` if it is
        in the first page of the whole range."""
        self.table_walks += 1
        ram = self.ram
        pde_addr = cr3 + (page >> 22) * 4
        pde = ram.read_u32(pde_addr)
        npages = (stop - page + 0xFFF) >> 12
        if not pde & PTE_P:
            raise PageFault(max(page, start), write, user, False)
        if pde & PTE_PS:
            if (write and not pde & PTE_W) or (user and not pde & PTE_U):
                raise PageFault(max(page, start), write, user, True)
            new = pde | PTE_A | (PTE_D if write else 0)
            if new != pde:
                ram.write_u32(pde_addr, new)
            _append(pieces, (pde & I386_BIG_ADDR_MASK) | (page & 0x3FF000), npages << 12)
            return
        if not pde & PTE_A:
            ram.write_u32(pde_addr, pde | PTE_A)
        first = ((pde & I386_VM_ADDR_MASK) >> 2) + ((page >> 12) & 0x3FF)
        entries = ram.array[first : first + npages]
        need = PTE_P | (PTE_W if write else 0) | (PTE_U if user else 0)
        used = PTE_A | (PTE_D if write else 0)
        # The common case first: one physical run, every entry allowed and
        # its A (and D) set by an earlier access.
        if pde & need == need and _one_run(entries, need | used):
            _append(pieces, int(entries[0]) & I386_VM_ADDR_MASK, npages << 12)
            return
        # Otherwise, runs: an entry whose frame does not follow the one
        # before it, or whose flags that matter differ, starts one, so a run
        # is allowed or not as a whole.
        runs = entries & (I386_VM_ADDR_MASK | need)
        runs -= _STEPS[:npages]
        starts = [0, *(np.flatnonzero(runs[1:] != runs[:-1]) + 1).tolist()]
        ok = 0 if pde & need != need else next(
            (s for s in starts if int(runs[s]) & need != need), npages)
        if ok:
            entries[:ok] |= used
            for a, b in itertools.pairwise([*(s for s in starts if s < ok), ok]):
                _append(pieces, int(entries[a]) & I386_VM_ADDR_MASK, (b - a) << 12)
        if ok < npages:
            addr = max(page + (ok << 12), start)
            raise PageFault(addr, write, user, bool(entries[ok] & PTE_P))

    def flush(self, cr3: int | None = None) -> None:
        """Forget cached translations: of one address space, or of all."""
        self.flushes += 1
        if cr3 is None:
            self._tlb.clear()
        else:
            self._tlb.pop(cr3, None)
        for listener in self.flush_listeners:
            listener(cr3)

    def lookup(self, cr3: int, vaddr: int) -> Mapping | None:
        """What the page tables map at ``vaddr`` (no TLB, no A/D side effects)."""
        pde = self.ram.read_u32(cr3 + (vaddr >> 22) * 4)
        if not pde & PTE_P:
            return None
        if pde & PTE_PS:
            entry, flags = pde, pde
            paddr = (pde & I386_BIG_ADDR_MASK) | (vaddr & 0x3FF000)
            big = True
        else:
            entry = self.ram.read_u32((pde & I386_VM_ADDR_MASK) + ((vaddr >> 12) & 0x3FF) * 4)
            if not entry & PTE_P:
                return None
            flags = pde & entry
            paddr = entry & I386_VM_ADDR_MASK
            big = False
        return Mapping(
            vaddr=vaddr & ~0xFFF,
            paddr=paddr,
            writable=bool(flags & PTE_W),
            user=bool(flags & PTE_U),
            big=big,
            global_=bool(entry & PTE_G),
            accessed=bool(entry & PTE_A),
            dirty=bool(entry & PTE_D),
        )

    def mappings(self, cr3: int) -> Iterator[Mapping]:
        """Every present mapping of an address space, ascending (big pages once)."""
        ram = self.ram
        for i in range(I386_VM_DIR_ENTRIES):
            pde = ram.read_u32(cr3 + i * 4)
            if not pde & PTE_P:
                continue
            if pde & PTE_PS:
                m = self.lookup(cr3, i << 22)
                assert m is not None
                yield m
                continue
            table = pde & I386_VM_ADDR_MASK
            for j in range(I386_VM_PT_ENTRIES):
                if ram.read_u32(table + j * 4) & PTE_P:
                    m = self.lookup(cr3, (i << 22) | (j << 12))
                    assert m is not None
                    yield m


