"""The foundation's cost: page faults, IPC round trips and kernel calls,
simulated vs host.

1. Page faults per second: a program on a booted system maps N pages and
   touches each once (N demand-zero faults, each a trap, the kernel's
   VM_PAGEFAULT message to VM, VM's two kernel calls and the resume),
   against the host's own first touch of the pages of a fresh anonymous
   ``mmap.mmap`` (one byte written per page, so each is a real host page
   fault).
2. IPC round trips per second: a client service's ``sendrec`` of a 36-byte
   message to a server service that replies, against a Python function call
   that takes and returns the same 36-byte message.
3. Kernel calls per second: a service's SYS_TIMES, against the same
   function call.
4. The floor under a demand-zero fault: what MINIX's protocol for one costs
   here before VM does any work (a message to VM and back, as a round trip;
   SYS_MEMSET to clear the page and VMCTL_CLEAR_PAGEFAULT), against the
   host's first touch.

Every baseline is measured in the same run, so the ratio is what counts.
"""

from __future__ import annotations

import mmap
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.timing import record
from minixvm import System
from minixvm.errors import OK
from minixvm.include.com import ANY
from minixvm.include.ipc import Message, layout, m1_i1
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE

FAULT_PAGES = 2048  # 8 MiB of first touches in the simulated system
HOST_FAULT_PAGES = 32768  # 128 MiB on the host: its faults are fast
ROUND_TRIPS = 10_000
KERNEL_CALLS = 20_000
HOST_CALLS = 300_000
REPEATS = 3  # best of: the least disturbed run

REQUEST = 0x7000
REPLY = 0x7001


@layout(REQUEST, REPLY)
class Counter(Message):
    value = m1_i1


@dataclass(frozen=True)
class Figure:
    """One measured rate and its host baseline."""

    what: str
    simulated: float
    host: float
    host_unit: str = ""

    @property
    def ratio(self) -> float:
        return self.host / self.simulated

    def line(self) -> str:
        host = f"{self.host:,.0f}/s host{self.host_unit}"
        return (f"{self.what}: {self.simulated:,.0f}/s simulated vs {host} "
                f"(ratio 1:{self.ratio:,.0f})")


def best_rates(simulated: Callable[[], tuple[int, float]],
               host: Callable[[], tuple[int, float]]) -> tuple[float, float]:
    """Highest events/second of each over REPEATS runs of both, taken in
    turn (each -> (events, seconds)), so that a noisy moment of the
    machine falls on both sides rather than on one."""
    sim_rates, host_rates = [], []
    for _ in range(REPEATS):
        for measure, rates in ((simulated, sim_rates), (host, host_rates)):
            events, seconds = measure()
            rates.append(events / seconds)
    return max(sim_rates), max(host_rates)


# --- page faults ---------------------------------------------------------------


def simulated_faults(npages: int = FAULT_PAGES) -> tuple[int, float]:
    """(demand-zero faults taken, seconds) for touching ``npages`` fresh pages."""
    result: dict[str, float] = {}
    with System.boot(ram="64M") as system:
        vm = system.vm
        assert vm is not None

        def toucher(p: Process) -> int:
            buf = p.mmap(npages * PAGE_SIZE)
            faults = vm.stats.demand_zero
            mem = p.mem
            start = time.perf_counter()
            for addr in range(buf, buf + npages * PAGE_SIZE, PAGE_SIZE):
                mem[addr] = 1
            result["seconds"] = time.perf_counter() - start
            result["faults"] = vm.stats.demand_zero - faults
            return 0

        if system.run(toucher) != 0:
            raise RuntimeError("the page-fault program failed")
    if result["faults"] != npages:
        raise RuntimeError(f"expected {npages} demand-zero faults, saw {result['faults']}")
    return int(result["faults"]), result["seconds"]


def host_faults(npages: int = HOST_FAULT_PAGES) -> tuple[int, float]:
    """(pages first-touched, seconds) in a fresh anonymous host mapping."""
    area = mmap.mmap(-1, npages * PAGE_SIZE)
    try:
        start = time.perf_counter()
        for addr in range(0, npages * PAGE_SIZE, PAGE_SIZE):
            area[addr] = 1
        seconds = time.perf_counter() - start
    finally:
        area.close()
    return npages, seconds


# --- IPC round trips -------------------------------------------------------------


def simulated_round_trips(n: int = ROUND_TRIPS) -> tuple[int, float]:
    """(sendrec round trips, seconds) between two services."""
    server_ep: list[int] = []
    result: dict[str, float] = {}
    with System.boot(ram="32M") as system:

        def server(p: Process) -> int:
            server_ep.append(p.endpoint)
            sys = p.sys
            while True:
                r, m = sys.receive(ANY)
                if r == OK and m is not None and m.m_type == REQUEST:
                    sys.send(m.m_source, Message(REPLY, value=m.value + 1))

        def client(p: Process) -> int:
            sys, dst = p.sys, server_ep[0]
            value = 0
            start = time.perf_counter()
            for _ in range(n):
                r, reply = sys.sendrec(dst, Message(REQUEST, value=value))
                if r != OK:
                    return 1
                value = reply.value
            result["seconds"] = time.perf_counter() - start
            result["value"] = value
            return 0

        system.spawn(server, service=True)
        system.run_until_idle()  # the server is waiting for requests
        if not server_ep or system.run(client, service=True) != 0:
            raise RuntimeError("the IPC benchmark's client failed")
    if result["value"] != n:
        raise RuntimeError(f"expected {n} replies, counted {result['value']}")
    return n, result["seconds"]


def simulated_kernel_calls(n: int = KERNEL_CALLS) -> tuple[int, float]:
    """(SYS_TIMES kernel calls, seconds) of a service."""
    result: dict[str, float] = {}

    def caller(p: Process) -> int:
        sys = p.sys
        start = time.perf_counter()
        for _ in range(n):
            sys.sys_times()
        result["seconds"] = time.perf_counter() - start
        return 0

    with System.boot(ram="32M") as system:
        if system.run(caller, service=True) != 0:
            raise RuntimeError("the kernel-call benchmark failed")
    return n, result["seconds"]


def host_round_trips(n: int = HOST_CALLS) -> tuple[int, float]:
    """(function calls and returns, seconds) in the host."""

    def server(m: Message) -> Message:
        return Message(REPLY, value=m.value + 1)

    value = 0
    start = time.perf_counter()
    for _ in range(n):
        value = server(Message(REQUEST, value=value)).value
    seconds = time.perf_counter() - start
    assert value == n
    return n, seconds


# --- the figures -------------------------------------------------------------------


def figures() -> list[Figure]:
    return [
        Figure("page faults", *best_rates(simulated_faults, host_faults)),
        Figure("IPC round trips", *best_rates(simulated_round_trips, host_round_trips),
               " function calls"),
        Figure("kernel calls", *best_rates(simulated_kernel_calls, host_round_trips),
               " function calls"),
    ]


def fault_floor(faults: Figure, ipc: Figure, kcalls: Figure) -> str:
    """The line for the cost of a demand-zero fault's protocol alone."""
    floor = 1e6 / ipc.simulated + 2e6 / kcalls.simulated
    host, fault = 1e6 / faults.host, 1e6 / faults.simulated
    record("demand-zero fault protocol floor", floor, "us", host, higher_is_better=False)
    return (f"demand-zero fault protocol floor: {floor:.1f} us (an IPC round trip and two "
            f"kernel calls), a whole fault {fault:.1f} us, host first touch {host:.1f} us "
            f"(floor/host {floor / host:.1f}x)")


def main() -> list[str]:
    faults, ipc, kcalls = found = figures()
    for figure in found:
        record(f"{figure.what} per second", figure.simulated, "/s", figure.host)
    return [*(figure.line() for figure in found), fault_floor(faults, ipc, kcalls)]


if __name__ == "__main__":
    for text in main():
        print(text)
