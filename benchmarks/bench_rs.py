"""Driver recovery: from the disk driver's death to the first request its
replacement serves, in simulated time (the kernel's ticks, the same every
run) and host time, against a request to a live driver measured in the
same run.

A reader asks MFS for a block it does not have (a small cache and no VM
cache), so the request goes to the driver; the driver is killed just
before. RS restarts it at once (a first crash has no backoff), DS names the
new endpoint, MFS reopens the device and reissues the request.
"""

from __future__ import annotations

import time

from benchmarks.timing import record
from minixvm import System
from minixvm.include.com import SYSTEM_HZ
from minixvm.lib.c import Process
from minixvm.servers.mfs.main import MfsOptions

KIB = 1024
ROUNDS = 5


def read_at(offset: int):
    """A program that reads 1 KiB of /bin/big at ``offset``."""

    def body(p: Process) -> int:
        fd = p.open("/bin/big")
        p.lseek(fd, offset)
        n = len(p.read(fd, KIB))
        p.close(fd)
        return 0 if n == KIB else 1

    return body


def one_recovery(system: System, offset: int) -> tuple[int, float]:
    """Kill the driver, then read: (ticks from its death to the first request
    the new driver served, host seconds from the kill to the read's end)."""
    disk = system.service("disk")
    old_driver = system.disk_driver
    start = time.perf_counter()
    system.kill_service("disk")
    died = disk.crashes[-1].tick if disk.crashes else system.kernel.clock.ticks
    handle = system.spawn(read_at(offset), name="reader")
    system.run_until(lambda: system.disk_driver is not old_driver
                     and system.disk_driver is not None and system.disk_driver.transfers > 0)
    served = system.kernel.clock.ticks
    assert system.wait(handle) == 0
    return served - died, time.perf_counter() - start


def live_read(system: System, offset: int) -> float:
    start = time.perf_counter()
    assert system.run(read_at(offset), name="reader") == 0
    return time.perf_counter() - start


def main() -> list[str]:
    ticks, recover, live = [], [], []
    for r in range(ROUNDS):
        # A fresh system each round: every death is a first crash (no backoff).
        with System.boot(ram="32M", mfs=MfsOptions(cache_blocks=16, vm_cache=False)) as system:
            live.append(live_read(system, 64 * KIB * r))
            t, host = one_recovery(system, 64 * KIB * r + 32 * KIB)
            ticks.append(t)
            recover.append(host)
    t, host, base = min(ticks), min(recover), min(live)
    record("rs.recovery_ticks", t, "ticks", higher_is_better=False)
    record("rs.recovery_ms", host * 1000, "ms", baseline=base * 1000, higher_is_better=False)
    return [
        f"driver death to first request served by its replacement: {t} ticks "
        f"({t * 1000 / SYSTEM_HZ:.0f} ms simulated at {SYSTEM_HZ} ticks/s), "
        f"{host * 1000:.2f} ms host (kill, restart, reissued read)",
        f"  baseline: the same read from a live driver {base * 1000:.2f} ms host "
        f"({host / base:.1f}x)",
    ]


if __name__ == "__main__":
    for text in main():
        print(text)
