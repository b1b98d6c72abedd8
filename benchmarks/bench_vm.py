"""VM: region tree vs linked list, copy-on-write fork vs eager copy.

Every figure is a ratio of two costs measured in the same run:
* region lookup and mmap+munmap (slot search, insert, remove) on a region
  store holding 10, 1,000 and 100,000 regions, AVL tree vs the old linked
  list (seed e2e2570d9b1: the tree stays nearly flat, the list grows
  linearly); and mmap+munmap through VM in a process with that many regions;
* fork of a process with 64 MiB touched: copy-on-write vs copying at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from minixvm import System
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.regiontree import RegionList, RegionStore, RegionTree

P = PAGE_SIZE
BASE = 0x10000000


@dataclass
class Reg:
    vaddr: int
    length: int


def best(fn: Callable[[], object], repeat: int = 3) -> float:
    """The best of ``repeat`` timings of ``fn()``, in seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


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
    return lines


def vm_mmap_munmap(n: int, store: Callable[[], RegionStore]) -> float:
    """Microseconds per VM_MMAP+VM_MUNMAP pair in a process holding ``n`` regions."""
    result: dict[str, float] = {}

    def prog(p: Process) -> int:
        for _ in range(n):
            p.mmap(P)
        ops = 200

        def pairs() -> None:
            for _ in range(ops):
                p.munmap(p.mmap(P), P)

        result["us"] = best(pairs) / ops * 1e6
        return 0

    with System.boot(ram="64M", region_store=store) as system:
        system.run(prog)
    return result["us"]


def vm_regions() -> list[str]:
    lines = []
    for n in (10, 1_000):
        t, li = vm_mmap_munmap(n, RegionTree), vm_mmap_munmap(n, RegionList)
        lines.append(f"VM_MMAP+VM_MUNMAP   with {n:>7,} regions: tree {t:8.1f} us, "
                     f"list {li:10.1f} us per pair (list/tree {li / t:8.2f}x)")
    return lines


def fork_time(cow: bool, megabytes: int = 64) -> float:
    """Seconds for fork() of a process with ``megabytes`` of touched memory."""
    result: dict[str, float] = {}

    def prog(p: Process) -> int:
        size = megabytes << 20
        buf = p.mmap(size)
        p.mem[buf : buf + size] = bytes(range(256)) * (size // 256)
        t = time.perf_counter()
        pid = p.fork(lambda c: 0)
        result["s"] = time.perf_counter() - t
        p.waitpid(pid)
        return 0

    with System.boot(ram=f"{2 * megabytes + 64}M", cow_fork=cow) as system:
        system.run(prog)
    return result["s"]


def fork() -> list[str]:
    cow, eager = fork_time(True), fork_time(False)
    return [f"fork with 64 MiB touched: copy-on-write {cow * 1e3:8.1f} ms, "
            f"eager copy {eager * 1e3:8.1f} ms (eager/COW {eager / cow:.2f}x)"]


def main() -> list[str]:
    return region_stores() + vm_regions() + fork()


if __name__ == "__main__":
    print("\n".join(main()))
