"""The CPU's cost: i386 programs on minixvm against bare Unicorn.

1. A register loop (userland/bin/loop: dec + jnz, 2 instructions an
   iteration) and a memory sweep within a resident working set
   (userland/bin/sweep: 64 KiB stored and loaded per pass), run as minixvm
   processes, against the same ELF run on a bare Unicorn in the same run:
   its segments mapped flat, no page tables, no kernel. Bare Unicorn is
   timed twice: unbounded, and with the instruction budget minixvm counts
   its quanta with (Unicorn's instruction counting is compiled into the
   translated code, so it costs the same whatever the quantum).
2. Demand-zero faults per second from an ELF program (test6's .bss and
   heap: every first touch of a page is a fault) against a Python program
   touching pages, and the host's own first touch.
"""

from __future__ import annotations

import io
import mmap
import time
from pathlib import Path

from elftools.elf.elffile import ELFFile
from unicorn import UC_ARCH_X86, UC_HOOK_INTR, UC_MODE_32, UC_PROT_ALL
from unicorn.unicorn_py3.unicorn import Uc
from unicorn.x86_const import UC_X86_REG_ESP

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
        eip = uc.reg_read(0x1A)  # UC_X86_REG_EIP
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


def best(fn: object, *args: object) -> float:
    return min(fn(*args) for _ in range(REPEATS))  # type: ignore[operator]


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


def demand_zero_line() -> str:
    """Demand-zero faults per second: ELF, Python program, host first touch."""
    pages = 2048
    with System.boot(ram="64M") as system:
        system.install("/bin/test6", (BIN / "test6").read_bytes())
        before = system.statistics().vm.demand_zero
        start = time.perf_counter()
        system.exec("/bin/test6", ["test6"])
        seconds = time.perf_counter() - start
        elf_faults = system.statistics().vm.demand_zero - before
    area = mmap.mmap(-1, pages * 4096)
    start = time.perf_counter()
    for addr in range(0, pages * 4096, 4096):
        area[addr] = 1
    host = pages / (time.perf_counter() - start)
    area.close()
    return (f"demand-zero faults from an ELF program: {elf_faults / seconds:,.0f}/s "
            f"({elf_faults} faults, exec to exit) vs {host:,.0f}/s host first touch")


if __name__ == "__main__":
    for text in main():
        print(text)
