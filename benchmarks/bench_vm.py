"""VM: region tree vs linked list, copy-on-write fork vs eager copy.

Every figure is a ratio of two costs measured in the same run:
* region lookup and mmap+munmap (slot search, insert, remove) on a region
  store holding 10, 1,000 and 100,000 regions, AVL tree vs the old linked
  list (seed e2e2570d9b1: the tree stays nearly flat, the list grows
  linearly); and mmap+munmap through VM in a process with that many regions;
* fork of a process with 64 MiB touched: copy-on-write vs copying at once.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.bench_foundation import best_rates, host_faults, simulated_faults
from benchmarks.timing import best, record
from minixvm import System
from minixvm.include.vm import MAP_ANON, MAP_FIXED, MAP_PRIVATE
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.regiontree import RegionList, RegionStore, RegionTree

P = PAGE_SIZE
BASE = 0x10000000
FAULTS = 300
PAIRS = 200
FORKS = 5


@dataclass
class Reg:
    vaddr: int
    length: int


def filled(store: RegionStore, n: int) -> RegionStore:
    """``n`` one-page regions with one-page gaps, inserted top down as mmap places them."""
    for i in reversed(range(n)):
        store.insert(Reg(BASE + 2 * i * P, P))
    return store


def store_costs(store: RegionStore, n: int, ops: int) -> tuple[float, float]:
    """(lookup, mmap+munmap) cost per operation in microseconds."""
    rng = random.Random(n)
    addrs = [BASE + 2 * rng.randrange(n) * P + 7 for _ in range(ops)]

    def lookups() -> None:
        for a in addrs:
            store.lookup(a)

    def mmap_munmap() -> None:
        for _ in range(ops):
            start = store.find_slot_range(BASE, BASE + 2 * n * P, P)
            assert start is not None
            region = Reg(start, P)
            store.insert(region)
            store.remove(region)

    return best(lookups) / ops * 1e6, best(mmap_munmap) / ops * 1e6


def region_stores() -> list[str]:
    lines = []
    for n in (10, 1_000, 100_000):
        tree = store_costs(filled(RegionTree(), n), n, 2_000)
        listed = store_costs(filled(RegionList(), n), n, 2_000 if n <= 1_000 else 20)
        for what, t, li in (("lookup", tree[0], listed[0]), ("mmap+munmap", tree[1], listed[1])):
            lines.append(f"region {what:<11} with {n:>7,} regions: tree {t:8.2f} us, "
                         f"list {li:10.2f} us per op (list/tree {li / t:8.1f}x)")
            record(f"region {what} with {n} regions, tree", t, "us", li, higher_is_better=False)
    return lines


def vm_costs(n: int, store: Callable[[], RegionStore]) -> tuple[float, float]:
    """Microseconds per page fault on a random one of ``n`` regions, and per
    VM_MMAP+VM_MUNMAP pair, in a process holding ``n`` regions."""
    result: dict[str, float] = {}

    def prog(p: Process) -> int:
        regions = [p.mmap(P) for _ in range(n)]
        rng = random.Random(n)
        touch = [regions[rng.randrange(n)] for _ in range(FAULTS)]
        t = time.perf_counter()
        for a in touch:
            p.mem[a] = 1
            p.munmap(a, P)
            p.mmap(P, flags=MAP_PRIVATE | MAP_ANON | MAP_FIXED, addr=a)
        result["fault"] = (time.perf_counter() - t) / FAULTS * 1e6
        result["pair"] = best(lambda: [p.munmap(p.mmap(P), P) for _ in range(PAIRS)]) / PAIRS * 1e6
        return 0

    with System.boot(ram="64M", region_store=store) as system:
        system.run(prog)
    return result["fault"], result["pair"]


def vm_regions() -> list[str]:
    lines = []
    for n in (10, 1_000, 4_000):
        tree, listed = vm_costs(n, RegionTree), vm_costs(n, RegionList)
        record(f"VM fault+munmap+mmap(FIXED) with {n} regions, tree", tree[0], "us", listed[0],
               higher_is_better=False)
        lines.append(f"VM fault+munmap+mmap(FIXED) on a random one of {n:>5,} regions: tree "
                     f"{tree[0]:7.1f} us, list {listed[0]:7.1f} us (list/tree "
                     f"{listed[0] / tree[0]:5.2f}x)")
        lines.append(f"VM_MMAP+VM_MUNMAP with {n:>5,} regions: tree {tree[1]:7.1f} us, list "
                     f"{listed[1]:7.1f} us (list/tree {listed[1] / tree[1]:5.2f}x)")
    return lines


def demand_zero() -> list[str]:
    sim, host = best_rates(simulated_faults, host_faults)
    record("demand-zero faults", sim, "/s", host)
    return [f"demand-zero faults: {sim:,.0f}/s simulated vs {host:,.0f}/s host first touch "
            f"(host/simulated {host / sim:,.0f}x)"]


def fork_time(cow: bool, megabytes: int = 64) -> float:
    """Seconds for fork() of a process with ``megabytes`` of touched memory
    (the least of FORKS forks, each child exiting at once, as the host's is
    timed)."""
    times: list[float] = []

    def prog(p: Process) -> int:
        size = megabytes << 20
        buf = p.mmap(size)
        p.mem[buf : buf + size] = bytes(range(256)) * (size // 256)
        for _ in range(FORKS):
            t = time.perf_counter()
            pid = p.fork(lambda c: 0)
            times.append(time.perf_counter() - t)
            p.waitpid(pid)
        return 0

    with System.boot(ram=f"{2 * megabytes + 64}M", cow_fork=cow) as system:
        system.run(prog)
    return min(times)


def host_fork_time(megabytes: int = 64) -> float:
    """Seconds for the host's os.fork() of this process with ``megabytes`` more
    touched (the parent's side: until fork returns)."""
    if not hasattr(os, "fork"):
        return float("nan")
    touched = bytearray(megabytes << 20)
    touched[:: 4096] = b"\1" * len(touched[:: 4096])

    def once() -> None:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)

    t = best(once, 5)
    del touched
    return t


def fork() -> list[str]:
    cow, eager, host = fork_time(True), fork_time(False), host_fork_time()
    record("fork with 64 MiB touched, copy-on-write", cow * 1e3, "ms", eager * 1e3,
           higher_is_better=False)
    record("fork with 64 MiB touched, against host os.fork()", cow * 1e3, "ms", host * 1e3,
           higher_is_better=False)
    return [f"fork with 64 MiB touched: copy-on-write {cow * 1e3:8.1f} ms, "
            f"eager copy {eager * 1e3:8.1f} ms (eager/COW {eager / cow:.2f}x)",
            f"host os.fork() with 64 MiB touched: {host * 1e3:8.2f} ms (COW fork/host "
            f"{cow / host:,.2f}x)"]


def main() -> list[str]:
    return region_stores() + vm_regions() + fork() + demand_zero()


if __name__ == "__main__":
    print("\n".join(main()))
