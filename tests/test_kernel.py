"""The kernel on a booted system: its mappings, boot-time takeover by VM,
faults and signals, copy-on-write, and the clock."""

from __future__ import annotations

import pytest

from minixvm import System
from minixvm.errors import EPERM
from minixvm.include import arch
from minixvm.include.arch import PAGEDIRS_BASE, PAGEDIRS_PDE
from minixvm.include.com import SELF, SYS_TIMES, VM_PROC_NR
from minixvm.include.signal import SIGSEGV, WEXITSTATUS, WIFEXITED
from minixvm.kernel.proc import Proc
from minixvm.lib.c import Process
from minixvm.machine.mmu import PTE_P, PTE_U, PageFault
from minixvm.machine.ram import PAGE_SIZE

P = PAGE_SIZE


def processes(system: System) -> list[Proc]:
    """Every live process with a slot of its own (not the kernel tasks)."""
    return [p for p in system.kernel.procs.live() if p.nr >= 0]


def check_kernel_mapped(system: System, cr3: int, what: str) -> None:
    """The kernel's mappings, as every address space must have them."""
    mmu = system.kernel.mmu
    for addr in (0, P, arch.KERNEL_TEXT - P):
        assert mmu.lookup(cr3, addr) is None, f"{what}: first pages mapped at {addr:#x}"
    for addr in (arch.KERNEL_TEXT, arch.KERNEL_TEXT + 5 * P, arch.KERNEL_DATA - P):
        m = mmu.lookup(cr3, addr)
        assert m is not None, f"{what}: kernel text not mapped at {addr:#x}"
        assert (m.paddr, m.writable, m.user, m.global_, m.big) == (
            addr, False, False, True, False), f"{what}: kernel text {m}"
    for addr in (arch.KERNEL_DATA, arch.BIG_PAGE - P):
        m = mmu.lookup(cr3, addr)
        assert m is not None and (m.paddr, m.writable, m.user, m.global_) == (
            addr, True, False, True), f"{what}: kernel data {m}"
    for addr in (arch.BIG_PAGE, arch.KERNEL_END - P):
        m = mmu.lookup(cr3, addr)
        assert m is not None, f"{what}: upper kernel area not mapped"
        assert (m.paddr, m.big, m.global_, m.user, m.writable) == (
            addr, True, True, False, True), f"{what}: upper kernel area {m}"
    # Translation agrees: the supervisor may read text, nobody may write it,
    # and user mode may touch none of it.
    assert mmu.translate(cr3, arch.KERNEL_TEXT + 4, write=False, user=False) == (
        arch.KERNEL_TEXT + 4)
    for addr, write, user in [
        (arch.KERNEL_TEXT, True, False),
        (arch.KERNEL_TEXT, False, True),
        (arch.KERNEL_DATA, False, True),
        (arch.BIG_PAGE, True, True),
    ]:
        with pytest.raises(PageFault) as info:
            mmu.translate(cr3, addr, write=write, user=user)
        assert info.value.present, f"{what}: {addr:#x} should be a protection fault"


def check_pagedirs(system: System, p: Proc) -> None:
    """``p``'s directory has the table of page directories, supervisor only,
    and through it the kernel finds every process's directory."""
    k = system.kernel
    pde = k.ram.read_u32(p.cr3 + PAGEDIRS_PDE * 4)
    assert pde & PTE_P and not pde & PTE_U, f"{p}: PAGEDIRS PDE {pde:#x}"
    assert k.memory.pagedir(p) == p.cr3
    for q in processes(system):
        window = PAGEDIRS_BASE + q.nr * P
        assert k.mmu.translate(p.cr3, window, write=False, user=False) == q.cr3


def test_kernel_is_mapped_in_every_address_space(system: System) -> None:
    check_kernel_mapped(system, system.kernel.boot_pagedir, "boot directory")
    seen: list[str] = []

    def prog(p: Process) -> int:
        # While this program runs it has its own directory (and a forked
        # child of it too): check every process now.
        buf = p.mmap(P)
        p.mem[buf] = 1
        for q in processes(system):
            check_kernel_mapped(system, q.cr3, q.name)
            check_pagedirs(system, q)
            seen.append(q.name)
        return 0

    assert system.run(prog) == 0
    assert {"pm", "vm", "memory", "tty", "init", "prog"} <= set(seen)
    crs = [q.cr3 for q in processes(system)]
    assert len(set(crs)) == len(crs), "two processes share a page directory"


def test_every_process_directory_is_found_through_pagedirs(system: System) -> None:
    k = system.kernel
    assert k.memory.pagedirs_cr3 == k.procs.slot(VM_PROC_NR).cr3  # VM's own space
    assert k.memory.pagedirs_base == PAGEDIRS_PDE << 22
    for p in processes(system):
        check_pagedirs(system, p)


def test_boot_processes_leave_the_boot_directory_and_free_their_preallocation(
    system: System,
) -> None:
    k = system.kernel
    assert system.vm is not None
    free = list(system.vm.alloc.ranges())

    def is_free(page: int) -> bool:
        return any(start <= page < start + n for start, n in free)

    assert k.kinfo is not None
    boot = k.kinfo.boot_procs
    assert {"pm", "memory", "tty", "vm", "init"} <= {b.name for b in boot}
    for b in boot:
        p = k.procs.slot(b.slot)
        assert p.cr3 not in (0, k.boot_pagedir), f"{b.name} still on the boot directory"
        # Its image stays where it was loaded, at the same address, and holds its name.
        m = k.mmu.lookup(p.cr3, b.base)
        assert m is not None and m.paddr == b.base and m.user and not m.global_
        assert k.ram.read(m.paddr, len(b.name) + 1) == b.name.encode() + b"\0"
        # The preallocated heap and stack are free memory, mapped nowhere.
        for page in range((b.base + b.image) // P, (b.base + b.size) // P):
            assert is_free(page), f"{b.name}: frame {page:#x} was not given back"
        assert k.mmu.lookup(p.cr3, b.base + b.image) is None
        assert not is_free(b.base // P)
        # The boot area's global user mapping is gone from its space: another
        # boot process's memory is out of reach (its own memory may lie at
        # the same virtual address).
        for other in boot:
            if other is not b:
                mapping = k.mmu.lookup(p.cr3, other.base)
                assert mapping is None or mapping.paddr != other.base


@pytest.mark.parametrize(
    ("addr", "write"),
    [
        (arch.KERNEL_TEXT, False),
        (arch.KERNEL_TEXT, True),
        (arch.KERNEL_DATA + 0x100, False),
        (arch.BIG_PAGE + 0x1234, False),
        (PAGEDIRS_BASE, False),  # the page directories are not the program's business
        (0, False),
    ],
    ids=["text-read", "text-write", "data-read", "upper-read", "pagedirs-read", "null"],
)
def test_user_access_to_kernel_memory_is_sigsegv(
    system: System, addr: int, write: bool
) -> None:
    reached: list[str] = []

    def snoop(p: Process) -> int:
        if write:
            p.mem[addr] = 0x90
        else:
            p.mem[addr]
        reached.append("after")  # never: the access kills it
        return 0

    before = system.statistics().vm.sigsegv
    mapped = system.kernel.mmu.lookup(system.kernel.boot_pagedir, addr)
    text = system.ram.read(mapped.paddr, 16) if mapped else b""
    assert system.run(snoop) == -SIGSEGV
    assert reached == []
    assert (system.ram.read(mapped.paddr, 16) if mapped else b"") == text  # not written
    assert system.statistics().vm.sigsegv == before + 1
    assert "SIGSEGV" in system.console.text
    system.vm_sanity_check()

    def fine(p: Process) -> int:
        buf = p.mmap(2 * P)
        p.mem[buf : buf + 5] = b"after"
        return 3 if p.mem[buf : buf + 5] == b"after" else 1

    assert system.run(fine) == 3


def test_wild_access_kills_only_the_program(system: System) -> None:
    def wild(p: Process) -> int:
        buf = p.mmap(P)
        p.mem[buf] = 1
        p.mem[buf + 64 * P] = 1  # past the end of its mapping
        return 0

    def wild_read(p: Process) -> int:
        return p.mem[0x40000000]

    assert system.run(lambda p: 0) == 0  # PM's first exec sets up a buffer it keeps
    before = system.statistics()
    assert system.run(wild) == -SIGSEGV
    assert system.run(wild_read) == -SIGSEGV
    after = system.statistics()
    assert after.vm.sigsegv == before.vm.sigsegv + 2
    assert after.processes == before.processes  # both are gone
    assert after.frames_free == before.frames_free  # and so is their memory
    system.vm_sanity_check()
    assert system.run(lambda p: 5) == 5


@pytest.mark.parametrize("npages", [1, 3, 17])
def test_first_touch_is_a_demand_zero_fault_and_reads_zeros(system: System, npages: int) -> None:
    def dirty(p: Process) -> int:
        # Leave garbage in frames that the next program's pages may get.
        buf = p.mmap(npages * P)
        p.mem[buf : buf + npages * P] = b"\xa5" * (npages * P)
        return 0

    assert system.run(dirty) == 0
    counts: list[int] = []
    contents: list[bytes] = []

    def demand_zero() -> int:
        return system.statistics().vm.demand_zero

    def touch(p: Process) -> int:
        buf = p.mmap(npages * P)
        counts.append(demand_zero())
        for i in range(npages):
            contents.append(p.mem[buf + i * P : buf + (i + 1) * P])  # first touch: a read
        counts.append(demand_zero())
        for i in range(npages):
            p.mem[buf + i * P + 7] = 0x5A  # not a first touch any more
            contents.append(p.mem[buf + i * P : buf + i * P + 8])
        counts.append(demand_zero())
        return 0

    faults = system.statistics().page_faults
    assert system.run(touch) == 0
    assert counts[1] - counts[0] == npages
    assert counts[2] == counts[1]
    assert contents[:npages] == [bytes(P)] * npages
    assert contents[npages:] == [bytes(7) + b"\x5a"] * npages
    assert system.statistics().page_faults >= faults + npages


def test_a_write_first_touch_is_one_demand_zero_fault_per_page(system: System) -> None:
    counts: list[int] = []

    def touch(p: Process) -> int:
        buf = p.mmap(8 * P)
        counts.append(system.statistics().vm.demand_zero)
        p.mem[buf + P - 2 : buf + 3 * P + 2] = b"\x01" * (2 * P + 4)  # pages 0..3
        counts.append(system.statistics().vm.demand_zero)
        return 0

    assert system.run(touch) == 0
    assert counts[1] - counts[0] == 4


def test_fork_is_copy_on_write(system: System) -> None:
    assert system.vm is not None
    vm = system.vm
    go = []  # the parent's "you may look now" to its child (test-only, outside the machine)
    seen: dict[str, bytes] = {}
    breaks: list[int] = []
    forks: list[int] = []

    def prog(p: Process) -> int:
        buf = p.mmap(2 * P)
        p.mem[buf : buf + 6] = b"parent"
        p.mem[buf + P : buf + P + 6] = b"shared"
        breaks.append(vm.stats.cow_breaks)
        forks.append(vm.stats.forks)

        def child(c: Process) -> int:
            while not go:
                c.sched_yield()
            seen["child page 1"] = c.mem[buf + P : buf + P + 6]
            seen["child page 0 before"] = c.mem[buf : buf + 6]
            c.mem[buf : buf + 6] = b"child!"
            seen["child page 0 after"] = c.mem[buf : buf + 6]
            return 0

        pid = p.fork(child)
        p.mem[buf + P : buf + P + 6] = b"PARENT"  # the child must not see this
        go.append(True)
        _, status = p.waitpid(pid)
        seen["parent page 0"] = p.mem[buf : buf + 6]
        seen["parent page 1"] = p.mem[buf + P : buf + P + 6]
        breaks.append(vm.stats.cow_breaks)
        forks.append(vm.stats.forks)
        return WEXITSTATUS(status) if WIFEXITED(status) else 99

    assert system.run(prog) == 0
    assert seen == {
        "child page 1": b"shared",
        "child page 0 before": b"parent",
        "child page 0 after": b"child!",
        "parent page 0": b"parent",
        "parent page 1": b"PARENT",
    }
    assert breaks[1] - breaks[0] == 2  # one write on each side of the fork
    assert forks[1] == forks[0] + 1


def test_fork_shares_pages_until_written(system: System) -> None:
    """Right after fork, parent and child map the same frames read-only."""
    k = system.kernel
    frames: dict[str, tuple] = {}

    def prog(p: Process) -> int:
        buf = p.mmap(P)
        p.mem[buf] = 7
        parent = k.procs.isokendpt(p.endpoint)

        def child(c: Process) -> int:
            me = k.procs.isokendpt(c.endpoint)
            frames["child"] = _frame(k, me, buf)
            frames["parent"] = _frame(k, parent, buf)
            c.mem[buf] = 8
            frames["child after write"] = _frame(k, me, buf)
            return c.mem[buf]

        pid = p.fork(child)
        _, status = p.waitpid(pid)
        frames["parent at the end"] = _frame(k, parent, buf)
        return WEXITSTATUS(status) + p.mem[buf]

    assert system.run(prog) == 8 + 7
    assert frames["child"][0] == frames["parent"][0]
    assert not frames["child"][1] and not frames["parent"][1]  # both read-only
    assert frames["child after write"][0] != frames["parent"][0]
    assert frames["child after write"][1]
    assert frames["parent at the end"][0] == frames["parent"][0]


def _frame(k, p: Proc, vaddr: int) -> tuple[int, bool]:
    m = k.mmu.lookup(p.cr3, vaddr)
    assert m is not None
    return m.paddr, m.writable


def test_clock_and_times_move(system: System) -> None:
    samples: list[tuple[int, int, int]] = []

    def service(p: Process) -> int:
        samples.append(p.sys.sys_times())
        for _ in range(5):
            p.sys.sys_whoami()  # kernel calls: system time
        p.sched_yield()  # another dispatch: user time and uptime
        samples.append(p.sys.sys_times())
        return 0

    ticks = system.statistics().ticks
    assert system.run(service, service=True) == 0
    (u0, s0, up0), (u1, s1, up1) = samples
    assert s1 >= s0 + 6  # five whoami and the second times
    assert u1 > u0
    assert up1 > up0
    assert system.statistics().ticks > ticks


def test_times_of_another_process(system: System) -> None:
    k = system.kernel
    got: list[tuple[int, int, int]] = []

    def service(p: Process) -> int:
        pm = k.procs.slot(0)
        got.append(p.sys.sys_times(pm.endpoint))
        got.append((pm.user_time, pm.sys_time, k.clock.ticks))
        return 0

    assert system.run(service, service=True) == 0
    assert got[0] == got[1]
    assert got[0][0] > 0 and got[0][1] > 0


def test_user_program_may_not_make_kernel_calls(system: System) -> None:
    results: list[int] = []

    def prog(p: Process) -> int:
        results.append(p.sys.kernel_call(SYS_TIMES, endpoint=SELF).m_type)
        return 0

    assert system.run(prog) == 0
    assert results == [-EPERM]

