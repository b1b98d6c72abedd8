"""The CPU's cost: i386 programs on minixvm against bare Unicorn.

1. A register loop (userland/bin/loop: dec + jnz, 2 instructions an
   iteration) and a memory sweep within a resident working set
   (userland/bin/sweep: 64 KiB stored and loaded per pass), run as minixvm
   processes, against the same ELF run on a bare Unicorn in the same run:
   its segments mapped flat, no page tables, no kernel. Bare Unicorn is
   timed twice: unbounded, and with the instruction budget minixvm counts
   its quanta with (Unicorn's instruction counting is compiled into the
   translated code, so it costs the same whatever the quantum).
2. Demand-zero faults per second from an ELF program (userland/bin/touch:
   one store to each page of a fresh mmap) beside a Python program doing the
   same, and the host's own first touch.
(Exec of a 1 MiB program, one copy against two, is in bench_fs: the
program is a file.)
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

from elftools.elf.elffile import ELFFile
from unicorn import UC_ARCH_X86, UC_HOOK_INTR, UC_MODE_32, UC_PROT_ALL
from unicorn.unicorn_py3.unicorn import Uc
from unicorn.x86_const import UC_X86_REG_EIP, UC_X86_REG_ESP

from benchmarks.bench_foundation import best_rates, host_faults, simulated_faults
from minixvm import System
from minixvm.kernel.usermode import QUANTUM
from minixvm.machine.cpu import STOP_ADDR

BIN = Path(__file__).resolve().parent.parent / "userland" / "bin"
LOOP_ITERATIONS = 50_000_000
SWEEP_PASSES = 200
REPEATS = 3
STACK_TOP = 0x80000000


def bare_unicorn(path: Path, argv: list[str], budget: int = 0) -> float:
    """Seconds to run ``path`` to its first trap (its exit) on a bare Unicorn."""
    elf = ELFFile(io.BytesIO(path.read_bytes()))
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    for seg in elf.iter_segments():
        if seg["p_type"] != "PT_LOAD":
            continue
        start = seg["p_vaddr"] & ~0xFFF
        end = (seg["p_vaddr"] + seg["p_memsz"] + 0xFFF) & ~0xFFF
        uc.mem_map(start, end - start, UC_PROT_ALL)
        uc.mem_write(seg["p_vaddr"], seg.data()[: seg["p_filesz"]])
    uc.mem_map(STACK_TOP - 0x10000, 0x10000, UC_PROT_ALL)
    uc.mem_map(STOP_ADDR & ~0xFFF, 0x1000, UC_PROT_ALL)
    sp = STACK_TOP - 0x1000
    strings = b"".join(a.encode() + b"\0" for a in argv)
    addrs, at = [], sp + 4 * (len(argv) + 3)
    for a in argv:
        addrs.append(at)
        at += len(a) + 1
    frame = b"".join(v.to_bytes(4, "little") for v in [len(argv), *addrs, 0, 0]) + strings
    uc.mem_write(sp, frame)
    uc.reg_write(UC_X86_REG_ESP, sp)
    trapped: list[int] = []
    uc.hook_add(UC_HOOK_INTR, lambda u, intno, _: (trapped.append(intno), u.emu_stop()))
    start_time = time.perf_counter()
    eip = elf["e_entry"]
    while not trapped:
        uc.emu_start(eip, STOP_ADDR, count=budget)
        eip = uc.reg_read(UC_X86_REG_EIP)
    return time.perf_counter() - start_time


def minixvm_run(path: Path, argv: list[str]) -> float:
    """Seconds of the same program's run on minixvm, exec to exit."""
    with System.boot(ram="64M") as system:
        system.install(f"/bin/{path.name}", path.read_bytes())
        start = time.perf_counter()
        code = system.exec(f"/bin/{path.name}", argv)
        seconds = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"{path.name} exited with {code}")
    return seconds


def best(fn: Callable[..., float], *args: object) -> float:
    """The least of REPEATS timings ``fn(*args)`` measures itself."""
    return min(fn(*args) for _ in range(REPEATS))


def main() -> list[str]:
    lines = []
    for name, argv, instructions in (
        ("loop", ["loop", str(LOOP_ITERATIONS)], 2 * LOOP_ITERATIONS),
        ("sweep", ["sweep", str(SWEEP_PASSES)], None),
    ):
        path = BIN / name
        ours = best(minixvm_run, path, argv)
        bare = best(bare_unicorn, path, argv)
        counted = best(bare_unicorn, path, argv, QUANTUM)
        rate = f" ({instructions / ours / 1e6:,.0f} M instructions/s)" if instructions else ""
        lines.append(
            f"cpu {name:<6}: minixvm {ours:.3f} s{rate}, bare Unicorn {bare:.3f} s "
            f"({bare / ours:.0%} of bare), bare Unicorn counting {counted:.3f} s "
            f"({counted / ours:.0%} of counted bare)")
    lines.append(demand_zero_line())
    return lines


def exec_seconds(system: System, path: str, argv: list[str]) -> float:
    start = time.perf_counter()
    if system.exec(path, argv) != 0:
        raise RuntimeError(f"{path} failed")
    return time.perf_counter() - start


def demand_zero_line() -> str:
    """Demand-zero faults per second: an ELF program's first touches (the
    run of N pages less the run of one), a Python program's, the host's."""
    pages = 4096
    with System.boot(ram="64M") as system:
        system.install("/bin/touch", (BIN / "touch").read_bytes())
        exec_seconds(system, "/bin/touch", ["touch", "1"])  # the file's blocks into MFS's cache
        one = min(exec_seconds(system, "/bin/touch", ["touch", "1"]) for _ in range(REPEATS))
        before = system.statistics().vm.demand_zero
        full = exec_seconds(system, "/bin/touch", ["touch", str(pages)])
        faults = system.statistics().vm.demand_zero - before
    elf = (pages - 1) / (full - one)
    python, host = best_rates(simulated_faults, host_faults)
    return (f"demand-zero faults: ELF program {elf:,.0f}/s ({faults} faults), Python program "
            f"{python:,.0f}/s, host first touch {host:,.0f}/s (host/ELF {host / elf:.0f}x)")


if __name__ == "__main__":
    for text in main():
        print(text)
