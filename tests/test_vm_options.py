"""VM's boot options: the old linked-list region store and eager fork behave
exactly like the defaults; only their cost differs."""

from __future__ import annotations

from minixvm import System
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE
from minixvm.programs.demo import DEMO
from minixvm.servers.vm.regiontree import RegionList

P = PAGE_SIZE


def workload(p: Process) -> int:
    regions = [p.mmap((i % 3 + 1) * P) for i in range(12)]
    for i, a in enumerate(regions):
        p.mem[a] = i
    for a in regions[::3]:
        p.munmap(a, P)
    pid = p.fork(lambda c: sum(c.mem[a] for a in regions[1::3]))
    _, status = p.waitpid(pid)
    return status >> 8


def traced(**options: object) -> tuple[int, list[str]]:
    with System.boot(ram="32M", trace=True, sanity_checks=True, **options) as s:
        code = s.run(workload)
        for prog in DEMO:
            s.run(prog)
        return code, s.kernel.trace.lines


def test_linked_list_store_is_equivalent_to_the_tree() -> None:
    tree = traced()
    listed = traced(region_store=RegionList)
    assert tree[0] == sum(range(1, 12, 3))
    assert listed == tree, "same messages, faults and page tables with either store"


def test_eager_fork_copies_at_once_with_the_same_results() -> None:
    def prog(p: Process) -> int:
        a = p.mmap(8 * P)
        p.mem[a : a + 8 * P] = b"p" * 8 * P

        def child(c: Process) -> int:
            c.mem[a] = ord("c")
            return c.mem[a + P]

        pid = p.fork(child)
        _, status = p.waitpid(pid)
        return status >> 8 if p.mem[a] == ord("p") else 0

    for cow in (True, False):
        with System.boot(ram="32M", sanity_checks=True, cow_fork=cow) as s:
            assert s.run(prog) == ord("p")
            breaks = s.statistics().vm.cow_breaks
            assert (breaks > 0) == cow, "without COW fork nothing is shared, nothing breaks"
