"""Page tables: VM builds and edits every process's i386 page tables in RAM.

A page directory gets the kernel's PDEs (so the kernel is mapped, supervisor
only, in every address space) and the PDE of the shared table of page
directories, through which the kernel reaches any process's directory.
Page tables are allocated on demand, before any entry is written: a caller
first ``prepare``s a range (which can fail for lack of memory) and only
then changes anything, so a failure leaves nothing half done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from minixvm.include.arch import PAGEDIRS_PDE
from minixvm.machine.mmu import PTE_P, PTE_U, PTE_W
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.slab import undo_on

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM

PDE_FLAGS = PTE_P | PTE_W | PTE_U


class PageTable:
    """One address space: a page directory and its page tables."""

    __slots__ = ("dir", "tables")

    def __init__(self, directory: int) -> None:
        self.dir = directory
        self.tables: dict[int, int] = {}  # PDE index -> page table's physical address

    def pages(self) -> list[int]:
        """Every physical page this address space's tables occupy."""
        return [self.dir, *self.tables.values()]


def pt_new(vm: VM) -> PageTable:
    """A fresh address space holding only the kernel's mappings (raises NoMemory)."""
    directory = vm.alloc_own_page()
    pt = PageTable(directory)
    for index, value in vm.kinfo.kernel_pdes:
        vm.ram.write_u32(directory + index * 4, value)
    if vm.pagedirs_table:
        vm.ram.write_u32(directory + PAGEDIRS_PDE * 4, vm.pagedirs_table | PTE_P | PTE_W)
    return pt


def pt_prepare(vm: VM, pt: PageTable, vaddr: int, length: int) -> list[int]:
    """Allocate the page tables [vaddr, vaddr+length) needs; the PDE indices
    of the new ones. Raises NoMemory, keeping none of the new ones."""
    made: list[int] = []
    with undo_on(lambda: pt_unprepare(vm, pt, made)):
        for index in range(vaddr >> 22, ((vaddr + length - 1) >> 22) + 1):
            if index not in pt.tables:
                table = vm.alloc_own_page()
                pt.tables[index] = table
                vm.ram.write_u32(pt.dir + index * 4, table | PDE_FLAGS)
                made.append(index)
    return made


def pt_unprepare(vm: VM, pt: PageTable, indices: list[int]) -> None:
    """Give back page tables ``pt_prepare`` made, which map nothing yet."""
    for index in indices:
        vm.ram.write_u32(pt.dir + index * 4, 0)
        vm.free_own_page(pt.tables.pop(index))


def pt_writemap(vm: VM, pt: PageTable, vaddr: int, phys: int, length: int, writable: bool) -> None:
    """Map [vaddr, vaddr+length) to physical ``phys`` onwards, user-accessible:
    one array operation per page table. The page tables must exist (``pt_prepare``)."""
    entry = phys | PTE_P | PTE_U | (PTE_W if writable else 0)
    end = vaddr + length
    while vaddr < end:
        table = pt.tables[vaddr >> 22]
        first = (table >> 2) + ((vaddr >> 12) & 0x3FF)
        n = min((end - vaddr) >> 12, 1024 - ((vaddr >> 12) & 0x3FF))
        if n == 1:
            vm.ram.words[first] = entry
        else:
            vm.ram.array[first : first + n] = np.arange(entry, entry + (n << 12), PAGE_SIZE,
                                                        dtype=np.uint32)
        vm.stats.pt_runs += 1
        vaddr += n << 12
        entry += n << 12


def pt_clearmap(vm: VM, pt: PageTable, vaddr: int, length: int) -> None:
    """Make [vaddr, vaddr+length) not present (where a page table exists)."""
    end = vaddr + length
    while vaddr < end:
        n = min((end - vaddr) >> 12, 1024 - ((vaddr >> 12) & 0x3FF))
        table = pt.tables.get(vaddr >> 22)
        if table is not None:
            first = (table >> 2) + ((vaddr >> 12) & 0x3FF)
            vm.ram.array[first : first + n] = 0
            vm.stats.pt_runs += 1
        vaddr += n << 12


def pt_free(vm: VM, pt: PageTable) -> None:
    """Give back the directory and every page table."""
    for page in pt.pages():
        vm.free_own_page(page)
    pt.tables.clear()


def pt_bind(vm: VM, pt: PageTable | None, slot: int) -> None:
    """Point slot ``slot``'s entry of the table of page directories at ``pt``."""
    entry = vm.pagedirs_table + slot * 4
    vm.ram.write_u32(entry, pt.dir | PTE_P | PTE_W if pt else 0)
    vm.flush_self()

