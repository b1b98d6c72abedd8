"""The VM server: boot-time takeover, the request loop, and shared helpers.

VM receives requests from processes (VM_MMAP, VM_FORK, ...), the
kernel's VM_PAGEFAULT messages and its notifications of memory requests
of kernel calls. After each request it flushes the TLBs of the address
spaces it changed and, with sanity checking on, verifies every invariant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, cast

from minixvm.errors import ENOSYS, OK
from minixvm.include import vm as vmc
from minixvm.include.arch import PAGEDIRS_PDE, VM_MMAPBASE, VM_MMAPTOP
from minixvm.include.com import (
    _ENDPOINT_P,
    NOTIFY_MESSAGE,
    SELF,
    SYSTEM,
    VM_PROC_NR,
    VMCTL_FLUSHTLB,
    VMCTL_I386_PAGEDIRS,
    VMCTL_SETADDRSPACE,
)
from minixvm.include.ipc import Message
from minixvm.include.kinfo import BootInfo, KernelInfo
from minixvm.include.vm import VM_PAGEFAULT, VmPagefault
from minixvm.lib.sys import SysLib
from minixvm.machine.ram import PAGE_SIZE, RAM
from minixvm.servers.vm import (
    brk,
    exit,
    fork,
    info,
    mmap,
    mprotect,
    pagefaults,
    sanity,
    yielded,
)
from minixvm.servers.vm.acl import MAP_PHYS_SLOTS, boot_acl
from minixvm.servers.vm.alloc import PageAllocator
from minixvm.servers.vm.memtype.anon import anon
from minixvm.servers.vm.pagetable import PageTable, pt_bind, pt_new
from minixvm.servers.vm.region import (
    VR_WRITABLE,
    map_new_physblock,
    map_page_region,
    phys_addr,
)
from minixvm.servers.vm.regiontree import RegionStore, RegionTree
from minixvm.servers.vm.slab import NoMemory, Slab, answer
from minixvm.servers.vm.vmproc import VMProc

# A handler gets the request in its layout; it answers OK or -errno, or
# raises NoMemory having changed nothing (the dispatcher answers ENOMEM).
Handler = Callable[["VM", Any], int]

CALLS: dict[int, Handler] = {
    vmc.VM_EXIT: exit.do_exit,
    vmc.VM_WILLEXIT: exit.do_willexit,
    vmc.VM_PROCCTL: exit.do_procctl,
    vmc.VM_FORK: fork.do_fork,
    vmc.VM_BRK: brk.do_brk,
    vmc.VM_MMAP: mmap.do_mmap,
    vmc.VM_MUNMAP: mmap.do_munmap,
    vmc.VM_MUNMAP_TEXT: mmap.do_munmap,
    vmc.VM_MPROTECT: mprotect.do_mprotect,
    vmc.VM_MAP_PHYS: mmap.do_map_phys,
    vmc.VM_UNMAP_PHYS: mmap.do_unmap_phys,
    vmc.VM_REMAP: mmap.do_remap,
    vmc.VM_SHM_UNMAP: mmap.do_shm_unmap,
    vmc.VM_GETPHYS: mmap.do_get_phys,
    vmc.VM_GETREF: mmap.do_get_refcount,
    vmc.VM_INFO: info.do_info,
    vmc.VM_RS_SET_PRIV: exit.do_rs_set_priv,
    vmc.VM_YIELDBLOCKGETBLOCK: yielded.do_yieldblockgetblock,
    vmc.VM_FORGETBLOCK: yielded.do_forgetblock,
    vmc.VM_FORGETBLOCKS: yielded.do_forgetblocks,
}


@dataclass(frozen=True)
class VMOptions:
    """How VM is set up at boot."""

    sanity_checks: bool = False
    # Fork shares anonymous memory copy-on-write; False copies it at once
    # (the baseline of the fork benchmark).
    cow_fork: bool = True
    # The regions of a process: the AVL tree, or the old linked list
    # (RegionList, for the benchmark and the equivalence test).
    region_store: Callable[[], RegionStore] = RegionTree


@dataclass
class VMStats:
    """Counters VM keeps while it runs."""

    requests: int = 0
    pagefaults: int = 0
    demand_zero: int = 0
    cow_breaks: int = 0
    kernel_requests: int = 0
    sigsegv: int = 0
    forks: int = 0
    exits: int = 0
    yields: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    cache_forgotten: int = 0
    sanity_checks: int = 0
    allocations: int = 0  # requests for physical memory (blocks, page tables, slab pages)
    pt_runs: int = 0  # page-table entries written or cleared as one run (at most a table each)


class VM:
    """The memory manager."""

    kinfo: KernelInfo  # from the kernel, at init

    def __init__(self, sys: SysLib, ram: RAM, options: VMOptions | None = None) -> None:
        self.sys = sys
        self.ram = ram
        self.options = options or VMOptions()
        self.sanity_checks = self.options.sanity_checks
        self.stats = VMStats()
        # Fault injection: asked with each allocation's number (from 1);
        # True makes that allocation fail as if memory were full.
        self.fail_alloc: Callable[[int], bool] | None = None
        self.procs: dict[int, VMProc] = {}
        self.own_pages: set[int] = set()
        self.pagedirs_table = 0
        # A page of VM's own (virtual, physical) memory that answers bigger
        # than a message (VM_INFO) are copied out of.
        self.scratch = self.scratch_phys = 0
        self._region_ids = 0
        self._dirty: dict[int, VMProc] = {}
        self.alloc = PageAllocator(reclaim=lambda pages: yielded.free_yielded(self, pages))
        self.slab = Slab(self.alloc_own_page, self.free_own_page)
        self.slab.checking = self.sanity_checks
        self.lru = yielded.YieldedLRU()

    # -- the server -------------------------------------------------------------

    def main(self) -> None:
        """Take over memory management, then serve requests forever."""
        self.init()
        while True:
            r, m = self.sys.receive()
            if r != OK or m is None:
                continue
            # Each fault and memory request is a request of its own
            # (request_done after each, before the process resumes); a
            # VM_PAGEFAULT not from the kernel is a call VM does not know.
            if m.m_type == VM_PAGEFAULT and self.sys.from_kernel:
                pagefaults.do_pagefaults(self, cast(VmPagefault, m))
                continue
            if m.m_type == NOTIFY_MESSAGE and m.m_source == SYSTEM:
                pagefaults.do_memory(self)
                continue
            m.m_type = self.dispatch(m)
            self.request_done()
            # Nonblocking: a sender not waiting for the answer (a notification
            # from anyone else, a plain send) cannot hold VM up.
            self.sys.sendnb(m.m_source, m)

    def dispatch(self, m: Message) -> int:
        """Check the caller's rights and run the request's handler: OK or
        -errno. A request VM does not know, or one outside the caller's
        rights, is ENOSYS; running out of memory is ENOMEM (handlers change
        nothing before they have all they need, or undo it)."""
        self.stats.requests += 1
        handler = CALLS.get(m.m_type)
        caller = self.proc(m.m_source)
        if handler is None or caller is None or m.m_type not in caller.acl:
            return -ENOSYS
        return answer(lambda: handler(self, m))

    def request_done(self) -> None:
        """Make page-table changes visible, and check everything if asked to."""
        for vmp in self._dirty.values():
            self.sys.sys_vmctl(vmp.endpoint, VMCTL_FLUSHTLB)
        self._dirty.clear()
        if self.sanity_checks:
            self.stats.sanity_checks += 1
            try:
                sanity.vm_sanity_check(self)
            except AssertionError as e:
                self.panic("%s", e)

    # -- boot ---------------------------------------------------------------------

    def init(self) -> None:
        """Get memory from the kernel and give every boot process (VM too) its
        own address space, freeing the heap and stack they were preallocated."""
        kinfo = self.kinfo = self.sys.sys_getkinfo()
        for base, size in kinfo.free_chunks:
            self.alloc.add_free(base // PAGE_SIZE, size // PAGE_SIZE)
        self.pagedirs_table = self.alloc_own_page()
        for b in sorted(kinfo.boot_procs, key=lambda b: b.slot != VM_PROC_NR):
            self.take_over(b)
        self.scratch, self.scratch_phys = self.own_page()
        self.sys.sys_vmctl(SELF, VMCTL_I386_PAGEDIRS, PAGEDIRS_PDE)
        self.request_done()

    def take_over(self, b: BootInfo) -> None:
        """Give a boot process a page table of its own: its image stays where
        it is, mapped at the same address; its preallocated heap and stack go
        back to free memory."""
        vmp = self.new_proc(b.slot, b.slot, pt_new(self), boot_acl(b.slot, b.system))
        vmp.map_phys_ok = b.slot in MAP_PHYS_SLOTS
        vmp.system = b.system
        self.procs[b.slot] = vmp
        region = map_page_region(self, vmp, b.base, 0, b.image, VR_WRITABLE, anon)
        if region is None:
            self.panic("no room for the image of boot process %d", b.slot)
        map_new_physblock(self, region, 0, b.image, phys=b.base)
        self.free_mem(b.base + b.image, b.size - b.image)
        pt_bind(self, vmp.pt, b.slot)
        self.sys.sys_vmctl(vmp.endpoint, VMCTL_SETADDRSPACE, vmp.pt.dir)

    def own_page(self) -> tuple[int, int]:
        """A page, present and writable, in VM's own address space: its
        virtual and physical address."""
        vmp = self.procs[VM_PROC_NR]
        region = map_page_region(self, vmp, VM_MMAPBASE, VM_MMAPTOP, PAGE_SIZE, VR_WRITABLE,
                                 anon, prealloc=True)
        phys = phys_addr(vmp, region.vaddr) if region else None
        if region is None or phys is None:
            self.panic("no page for VM's own address space")
        return region.vaddr, phys

    # -- processes ------------------------------------------------------------------

    def new_proc(self, slot: int, endpoint: int, pt: PageTable, acl: frozenset[int]) -> VMProc:
        """A VMProc with an empty region store of the configured kind."""
        return VMProc(slot, endpoint, pt, acl, self.options.region_store())

    def proc(self, endpoint: int) -> VMProc | None:
        """The live VMProc for an endpoint."""
        vmp = self.procs.get(_ENDPOINT_P(endpoint))
        return vmp if vmp is not None and vmp.endpoint == endpoint else None

    def caller(self, m: Message) -> VMProc:
        """The process that sent request ``m`` (dispatch made sure VM knows it)."""
        vmp = self.proc(m.m_source)
        if vmp is None:
            self.panic("request from unknown endpoint %d", m.m_source)
        return vmp

    def client(self, endpoint: int) -> VMProc | None:
        """The live process ``endpoint`` names, unless it is VM itself (whose
        memory no request may take away or replace)."""
        vmp = self.proc(endpoint)
        return vmp if vmp is not None and vmp.slot != VM_PROC_NR else None

    def new_region_id(self) -> int:
        """An id no region has had before (MINIX region_new's counter; a
        Python int does not wrap, so it never comes round again)."""
        self._region_ids += 1
        return self._region_ids

    @property
    def last_region_id(self) -> int:
        return self._region_ids

    def tlb_dirty(self, vmp: VMProc) -> None:
        """``vmp``'s page table changed: flush its TLB before it runs again."""
        self._dirty[vmp.slot] = vmp

    def flush_self(self) -> None:
        """VM's own view (the table of page directories) changed."""
        self.sys.sys_vmctl(SELF, VMCTL_FLUSHTLB)

    def panic(self, fmt: str, *args: object) -> NoReturn:
        """VM's own invariant is broken: stop the system (for VM, panic aborts
        it; should it come back, VM stops here all the same)."""
        self.sys.panic(fmt, *args)
        raise AssertionError(fmt % args)

    def trace(self, kind: str, endpoint: int, text: str) -> None:
        """A line in the system trace about process ``endpoint`` (the kernel
        keeps the trace: a kernel call, made only when the kernel said at
        boot that it traces)."""
        if self.kinfo.trace:
            self.sys.trace(kind, endpoint, text)

    # -- physical memory --------------------------------------------------------------

    def failing(self) -> bool:
        """Count an allocation; should it fail (``fail_alloc``, fault injection)?"""
        self.stats.allocations += 1
        return self.fail_alloc is not None and self.fail_alloc(self.stats.allocations)

    def alloc_mem(self, nbytes: int, flags: int = 0) -> list[tuple[int, int]]:
        """Physical memory for ``nbytes``, as (address, size) pieces (raises NoMemory)."""
        if self.failing():
            raise NoMemory()
        pieces = self.alloc.alloc_mem_in_list(nbytes // PAGE_SIZE, flags)
        if pieces is None:
            raise NoMemory()
        return [(page * PAGE_SIZE, n * PAGE_SIZE) for page, n in pieces]

    def alloc_page_after(self, prev: int | None) -> int:
        """One page of memory, the one after physical page ``prev`` if that is
        free (raises NoMemory)."""
        if self.failing():
            raise NoMemory()
        page = self.alloc.alloc_page_after(None if prev is None else prev // PAGE_SIZE)
        if page is None:
            raise NoMemory()
        return page * PAGE_SIZE

    def free_mem(self, phys: int, nbytes: int) -> None:
        self.alloc.free_mem(phys // PAGE_SIZE, nbytes // PAGE_SIZE)

    def free_pieces(self, pieces: list[tuple[int, int]]) -> None:
        for addr, size in pieces:
            self.free_mem(addr, size)

    def alloc_own_page(self) -> int:
        """A cleared page for VM's own use: page tables (raises NoMemory)."""
        page = None if self.failing() else self.alloc.alloc_mem(1)
        if page is None:
            raise NoMemory()
        phys = page * PAGE_SIZE
        # VM's own pages are in its address space, as its page tables are
        # (it writes their entries directly): no kernel call to clear one.
        self.ram.zero(phys, PAGE_SIZE)
        self.own_pages.add(phys)
        return phys

    def free_own_page(self, phys: int) -> None:
        self.own_pages.discard(phys)
        self.free_mem(phys, PAGE_SIZE)

    def clear_phys(self, phys: int, nbytes: int) -> None:
        self.sys.sys_memset(0, phys, nbytes)

    def copy_phys(self, dst: int, src: int, nbytes: int) -> None:
        self.sys.sys_physcopy(src, dst, nbytes)
