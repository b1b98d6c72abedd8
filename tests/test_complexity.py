"""Complexity, counted in operations (never timed): a fork's page-table work
grows with the page tables it fills, not with the pages, and its bookkeeping
with the physically contiguous runs, not with the pages; a contiguous
safecopy moves each physically contiguous run with one slice."""

from __future__ import annotations

from minixvm import System
from minixvm.include.grant import CPF_READ
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE
from minixvm.observe import maps
from minixvm.servers.vm.region import map_lookup

P = PAGE_SIZE
ENTRIES = 1024  # page-table entries per page table


def touch_pages(p: Process, pages: int) -> int:
    """Map ``pages`` pages and touch them one by one, in a row; where they are."""
    buf = p.mmap(pages * P)
    for addr in range(buf, buf + pages * P, P):
        p.mem[addr] = 1
    return buf


def fork_pt_runs(pages: int) -> int:
    """Page-table runs VM writes or clears for one fork of a process that has
    touched ``pages`` pages in a row."""
    counts: dict[str, int] = {}
    with System.boot(ram="96M") as system:
        vm = system.vm
        assert vm is not None

        def prog(p: Process) -> int:
            touch_pages(p, pages)
            before = vm.stats.pt_runs

            def child(c: Process) -> int:
                counts["runs"] = vm.stats.pt_runs - before  # the fork done, nothing else
                return 0

            p.waitpid(p.fork(child))
            return 0

        assert system.run(prog) == 0
    return counts["runs"]


def test_fork_page_table_work_grows_with_page_tables_not_pages() -> None:
    small, large = fork_pt_runs(1024), fork_pt_runs(8192)
    # 7,168 more pages are 7 more page tables (in each of parent and child):
    # a few runs more per table at most, nowhere near one per page.
    assert large - small <= 4 * (8192 - 1024) // ENTRIES + 8


def test_fork_shares_a_run_of_touched_pages_as_one_block_shown_page_by_page() -> None:
    pages = 4096
    seen: dict[str, object] = {}
    with System.boot(ram="64M") as system:
        vm = system.vm
        assert vm is not None

        def prog(p: Process) -> int:
            buf = touch_pages(p, pages)

            def child(c: Process) -> int:
                region = map_lookup(vm.proc(c.endpoint), buf)
                assert region is not None
                seen["records"] = len(region.phys)
                c.mem[buf + 100 * P] = 2  # a copy-on-write break of one page
                seen["after"] = len(region.phys)
                entry = next(e for e in maps(system, c.getpid()) if e.start == buf)
                seen["blocks"] = [(b.vaddr - buf, b.length, b.refcount) for b in entry.blocks]
                return 0

            p.waitpid(p.fork(child))
            assert p.mem[buf + 100 * P] == 1
            return 0

        assert system.run(prog) == 0
    # Pages touched in a row are physically contiguous but for the page table
    # allocated as each 4 MiB begins: a record per page table, not per page.
    assert isinstance(seen["records"], int) and seen["records"] <= pages // ENTRIES + 2
    # The break splits off the written page alone: two more records at most.
    assert isinstance(seen["after"], int) and seen["after"] <= seen["records"] + 2
    # What a user sees is still MINIX's one block per touched page, each
    # shared by parent and child but the one the child wrote.
    assert seen["blocks"] == [(n * P, P, 1 if n == 100 else 2) for n in range(pages)]


def test_contiguous_one_mib_safecopy_is_one_slice_per_page_table() -> None:
    size = 1 << 20
    shared: dict[str, int] = {}
    with System.boot(ram="64M") as system:
        kernel = system.kernel

        def grantor(p: Process) -> int:
            buf = p.mmap(size)
            p.mem[buf : buf + size] = bytes(range(256)) * (size // 256)
            shared["grant"] = p.sys.grants.cpf_grant_direct(shared["requestor"], buf, size,
                                                           CPF_READ)
            shared["granter"] = p.endpoint
            p.sys.receive()
            return 0

        def requestor(p: Process) -> int:
            shared["requestor"] = p.endpoint
            while "grant" not in shared:
                p.sched_yield()
            buf = p.mmap(size)
            p.mem[buf : buf + size] = bytes(size)
            slices, tables = kernel.memory.slices, kernel.mmu.table_walks
            p.sys.sys_safecopyfrom(shared["granter"], shared["grant"], 0, buf, size)
            shared["slices"] = kernel.memory.slices - slices
            shared["tables"] = kernel.mmu.table_walks - tables
            assert p.mem[buf + 1000] == 1000 % 256
            p.sys.notify(shared["granter"])
            return 0

        r = system.spawn(requestor, name="requestor", service=True)
        kernel.sched.run(lambda: "requestor" in shared)
        g = system.spawn(grantor, name="grantor", service=True)
        system.wait(r)
        system.wait(g)
    # 256 pages on each side span at most two page tables each.
    assert shared["tables"] <= 4
    assert shared["slices"] <= 2 * shared["tables"]


def test_a_demand_zero_fault_is_two_switches_and_two_kernel_calls() -> None:
    pages = 200
    seen: dict[str, int] = {}
    with System.boot(ram="64M") as system:
        kernel, vm = system.kernel, system.vm
        assert vm is not None

        def prog(p: Process) -> int:
            buf = p.mmap(pages * P)
            p.mem[buf] = 1  # the first page, and the page table it needs
            calls, switches = sum(kernel.calls.counts.values()), kernel.sched.switches
            faults = vm.stats.demand_zero
            for addr in range(buf + P, buf + pages * P, P):
                p.mem[addr] = 1
            seen["faults"] = vm.stats.demand_zero - faults
            seen["calls"] = sum(kernel.calls.counts.values()) - calls
            seen["switches"] = kernel.sched.switches - switches
            region = map_lookup(vm.proc(p.endpoint), buf)
            assert region is not None
            seen["records"] = len(region.phys)
            return 0

        assert system.run(prog) == 0
    faults = pages - 1
    assert seen["faults"] == faults
    # As MINIX 3.3: the kernel's VM_PAGEFAULT message to VM, VM's SYS_MEMSET
    # of the new page and its VMCTL_CLEAR_PAGEFAULT, and back.
    assert seen["calls"] == 2 * faults
    assert seen["switches"] == 2 * faults
    # The pages, touched in a row, grow one block (two, if a page table was
    # allocated between them), not one record each.
    assert seen["records"] <= 2
