"""Grants: MINIX's test/safeperf, and safecopy bandwidth.

* safeperf: a requestor takes 1..50 pages from a grantor, either with
  safecopy or with safemap (then safeunmap), touching one byte per page,
  with the copy-on-write optimisation on and off; microseconds per page.
* bandwidth: safecopy of 4 KiB .. 16 MiB between two processes, against a
  host memoryview copy of the same size (the physical limit).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.timing import best, record
from minixvm import System
from minixvm.include.grant import CPF_MAP, CPF_READ, CPF_WRITE
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE

P = PAGE_SIZE
PERF_PAGES = (1, 2, 5, 10, 20, 50)
PERF_ROUNDS = 20
SIZES = [4 << 10, 64 << 10, 1 << 20, 4 << 20, 16 << 20]
REPEAT = 20  # copies timed per size, the least taken, for the simulation and the host alike


def safeperf() -> list[str]:
    lines = []
    for cow in (True, False):
        for pages in PERF_PAGES:
            copy_us = perf_one(pages, cow, mapping=False)
            map_us = perf_one(pages, cow, mapping=True)
            cow_text = "on" if cow else "off"
            record(f"safeperf {pages} pages COW {cow_text} safecopy", copy_us, "us/page",
                   higher_is_better=False)
            record(f"safeperf {pages} pages COW {cow_text} safemap", map_us, "us/page",
                   baseline=copy_us, higher_is_better=False)
            lines.append(f"safeperf {pages:>2} pages, COW {'on ' if cow else 'off'}: safecopy "
                         f"{copy_us:7.1f} us/page, safemap {map_us:7.1f} us/page "
                         f"(safemap/safecopy {map_us / copy_us:5.2f}x)")
    return lines


def perf_one(pages: int, cow: bool, mapping: bool) -> float:
    def requestor(p: Process, granter: int, grant: int, buf: int) -> float:
        t = time.perf_counter()
        for _ in range(PERF_ROUNDS):
            if mapping:
                p.sys.sys_safemap(granter, grant, 0, buf, pages * P, True)
            else:
                p.sys.sys_safecopyfrom(granter, grant, 0, buf, pages * P)
            for i in range(pages):
                p.mem[buf + i * P] = 1
            if mapping:
                p.sys.sys_safeunmap(buf)
        return (time.perf_counter() - t) / (PERF_ROUNDS * pages) * 1e6

    return float(run_pair(pages, cow, requestor))


def run_pair(pages: int, cow: bool, requestor: Callable[[Process, int, int, int], object],
             ram: str = "128M") -> object:
    """Boot, have a grantor grant ``pages`` touched pages to a requestor service,
    and run ``requestor(proc, grantor endpoint, grant id, own buffer)``."""
    shared: dict[str, object] = {}

    def grantor(p: Process) -> int:
        buf = p.mmap(pages * P)
        p.mem[buf : buf + pages * P] = bytes(range(256)) * (pages * P // 256)
        shared["grant"] = p.sys.grants.cpf_grant_direct(
            shared["requestor"], buf, pages * P, CPF_READ | CPF_WRITE | CPF_MAP)
        shared["granter"] = p.endpoint
        p.sys.receive()
        return 0

    def req(p: Process) -> int:
        shared["requestor"] = p.endpoint
        while "grant" not in shared:
            p.sched_yield()
        buf = p.mmap(pages * P)
        p.mem[buf : buf + pages * P] = bytes(pages * P)
        shared["result"] = requestor(p, shared["granter"], shared["grant"], buf)
        p.sys.notify(shared["granter"])
        return 0

    with System.boot(ram=ram, cow_safecopy=cow) as system:
        r = system.spawn(req, name="requestor", service=True)
        system.kernel.sched.run(lambda: "requestor" in shared)
        g = system.spawn(grantor, name="grantor", service=True)
        system.wait(r)
        system.wait(g)
    return shared["result"]


def bandwidth() -> list[str]:
    lines = []
    cow_faster: list[tuple[int, bool]] = []
    for size in SIZES:
        pages = size // P

        def requestor(p: Process, granter: int, grant: int, buf: int, n: int = size) -> float:
            return best(lambda: p.sys.sys_safecopyfrom(granter, grant, 0, buf, n), REPEAT)

        sim = {cow: float(run_pair(pages, cow, requestor, ram="96M")) for cow in (False, True)}
        host = best(host_copy(size), REPEAT)
        mb = size / (1 << 20)
        lines.append(f"safecopy {size >> 10:>6} KiB: copy {mb / sim[False]:8.0f} MiB/s, "
                     f"COW {mb / sim[True]:8.0f} MiB/s, host memoryview {mb / host:8.0f} MiB/s "
                     f"(host/copy {sim[False] / host:6.1f}x)")
        record(f"safecopy {size >> 10} KiB copy", mb / sim[False], "MiB/s", mb / host)
        record(f"safecopy {size >> 10} KiB COW", mb / sim[True], "MiB/s", mb / sim[False])
        cow_faster.append((size, sim[True] < sim[False]))
    return lines + [crossover(cow_faster)]


def crossover(cow_faster: list[tuple[int, bool]]) -> str:
    """The line naming the smallest size from which COW safecopy beats copying."""
    sizes = [size for i, (size, _) in enumerate(cow_faster)
             if all(faster for _, faster in cow_faster[i:])]
    if not sizes:
        record("safecopy COW crossover", 0, "KiB")
        return f"safecopy COW crossover: COW slower than copy up to {SIZES[-1] >> 10} KiB"
    record("safecopy COW crossover", sizes[0] >> 10, "KiB", higher_is_better=False)
    return f"safecopy COW crossover: COW faster than copy from {sizes[0] >> 10} KiB up"


def host_copy(size: int) -> Callable[[], None]:
    """A copy of ``size`` bytes between two host buffers, memoryview to memoryview."""
    src, dst = memoryview(bytearray(size)), memoryview(bytearray(size))

    def copy() -> None:
        dst[:] = src

    return copy


def main() -> list[str]:
    return safeperf() + bandwidth()


if __name__ == "__main__":
    print("\n".join(main()))
