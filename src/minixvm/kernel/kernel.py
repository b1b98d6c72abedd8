"""The microkernel: process table, scheduler, IPC, kernel calls, boot.

The kernel owns the machine (RAM, MMU) but no memory policy: it builds the
first page tables at boot, and after that asks VM for everything.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from minixvm.errors import KernelPanic
from minixvm.include import arch
from minixvm.include.com import CLOCK, NR_PROCS
from minixvm.include.kinfo import BootInfo, KernelInfo
from minixvm.kernel.calls import KernelCalls
from minixvm.kernel.clock import Clock
from minixvm.kernel.ipc import IPC
from minixvm.kernel.memory import KernelMemory
from minixvm.kernel.proc import (
    ALL_TRAPS,
    RTS_PROC_STOP,
    SYS_PROC,
    TASK_Q,
    Context,
    Priv,
    Proc,
    ProcTable,
)
from minixvm.kernel.safemap import SafeMaps
from minixvm.kernel.sched import Scheduler
from minixvm.kernel.trace import Trace
from minixvm.kernel.trap import Entry
from minixvm.kernel.usermode import user_mode
from minixvm.kernel.vmctl import VMCtl
from minixvm.kernel.watchdog import Watchdog
from minixvm.machine.cpu import CPU
from minixvm.machine.mmu import MMU, PTE_G, PTE_P, PTE_PS, PTE_U, PTE_W
from minixvm.machine.ram import PAGE_SIZE, RAM

# Python texts are numbered like addresses in an area no process maps.
TEXT_BASE = 0x1000
TEXT_ALIGN = 0x10

TASK_NAMES = {-5: "asyncm", -4: "idle", -3: "clock", -2: "system", -1: "kernel"}


@dataclass(frozen=True)
class BootProc:
    """One entry of the boot image (MINIX kernel/table.c)."""

    nr: int
    name: str
    entry: Entry
    priority: int
    calls: frozenset[int]
    traps: frozenset[int] = ALL_TRAPS
    flags: int = SYS_PROC


class Kernel:
    """The kernel of one simulated machine."""

    def __init__(
        self,
        ram: RAM,
        console: Callable[[str], None],
        trace: Trace | None = None,
        nr_procs: int = NR_PROCS,
    ) -> None:
        self.ram = ram
        self.mmu = MMU(ram)
        self.console = console
        self.trace = trace or Trace()
        self.trace.kernel = self
        self.procs = ProcTable(nr_procs)
        self.clock = Clock(self._alarm)
        # Should idle time pass to the next alarm (someone waits for it)?
        # The System says, from what RS has pending; by default time stands.
        self.idle_waits: Callable[[], bool] = lambda: False
        self.sched = Scheduler(self)
        self.ipc = IPC(self)
        self.memory = KernelMemory(self)
        self.vmctl = VMCtl(self)
        self.calls = KernelCalls(self)
        self.watchdog = Watchdog(self)
        self.safemaps = SafeMaps(self)
        self.cow_safecopy = True
        self.panicked: str | None = None
        self.boot_pagedir = 0
        self.kinfo: KernelInfo | None = None
        # Python program texts loaded into the machine, by the address that
        # SYS_EXEC names as the program counter (as boot modules are loaded).
        self.texts: dict[int, Entry] = {}
        self.user_mode = user_mode(self)
        self._cpu: CPU | None = None
        for nr, name in TASK_NAMES.items():
            t = self.procs.slot(nr)
            t.name, t.endpoint, t.rts_flags, t.priority = name, nr, RTS_PROC_STOP, TASK_Q
            t.priv = Priv(flags=SYS_PROC, traps=ALL_TRAPS)

    # -- boot -----------------------------------------------------------------

    def boot(self, image: list[BootProc]) -> None:
        """Build the kernel's page tables and start the boot processes."""
        kernel_pdes = self._map_kernel()
        chunks: list[tuple[int, int]] = []
        base = arch.BOOT_AREA
        boot_procs = []
        size = (arch.BOOT_IMAGE_PAGES + arch.BOOT_PREALLOC_PAGES) * PAGE_SIZE
        for entry in image:
            if base + size > arch.BOOT_AREA_END:
                raise ValueError("boot image does not fit in the boot area")
            p = self.procs.slot(entry.nr)
            p.name, p.endpoint, p.priority = entry.name, entry.nr, entry.priority
            p.priv = Priv(flags=entry.flags, traps=entry.traps, calls=entry.calls)
            # Its static data: the image page, after the name.
            p.context = Context(entry=entry.entry, data_base=base)
            p.cr3 = self.boot_pagedir
            self.ram.zero(base, size)
            self.ram.write(base, entry.name.encode() + b"\0")
            image_bytes = arch.BOOT_IMAGE_PAGES * PAGE_SIZE
            boot_procs.append(BootInfo(p.nr, p.name, base, image_bytes, size, p.is_system))
            p.rts_flags = 0
            self.sched.queues[p.priority].append(p)
            base += size
        chunks.append((base, self.ram.size - base))
        self.kinfo = KernelInfo(
            ram_size=self.ram.size,
            nr_procs=self.procs.nr_procs,
            trace=self.trace.enabled,
            kernel_pdes=tuple(kernel_pdes),
            free_chunks=tuple(chunks),
            boot_procs=tuple(boot_procs),
        )

    def _map_kernel(self) -> list[tuple[int, int]]:
        """Identity-map the kernel (supervisor only, global) and the boot area.

        The first pages stay unmapped and the text is read-only; the kernel's
        upper 4 MiB is one big page. Returns the PDEs every address space gets.
        """
        pagedir = self.boot_pagedir = arch.KERNEL_DATA
        table = pagedir + PAGE_SIZE
        self.ram.zero(pagedir, 2 * PAGE_SIZE)
        for addr in range(arch.KERNEL_TEXT, arch.BIG_PAGE, PAGE_SIZE):
            w = PTE_W if addr >= arch.KERNEL_DATA else 0
            self.ram.write_u32(table + (addr >> 12) * 4, addr | PTE_P | w | PTE_G)
        pdes = [
            (0, table | PTE_P | PTE_W),
            (1, arch.BIG_PAGE | PTE_P | PTE_W | PTE_PS | PTE_G),
        ]
        for index, value in pdes:
            self.ram.write_u32(pagedir + index * 4, value)
        boot = arch.BOOT_AREA
        self.ram.write_u32(
            pagedir + (boot >> 22) * 4, boot | PTE_P | PTE_W | PTE_U | PTE_PS | PTE_G
        )
        return pdes

    @property
    def cpu(self) -> CPU:
        """The machine's CPU (made when the first i386 program runs)."""
        if self._cpu is None:
            self._cpu = CPU(self.ram, self.mmu)
        return self._cpu

    def _alarm(self, endpoint: int) -> None:
        """An alarm went off: CLOCK notifies its owner."""
        self.ipc.mini_notify(self.procs.slot(CLOCK), endpoint)

    def close(self) -> None:
        """Stop every process and let go of RAM."""
        self.sched.close()
        if self._cpu is not None:
            self._cpu.close()
            self._cpu = None

    def load_text(self, entry: Entry) -> int:
        """Load a Python program text; the address SYS_EXEC starts it at."""
        address = TEXT_BASE + len(self.texts) * TEXT_ALIGN
        self.texts[address] = entry
        return address

    # -- diagnostics ------------------------------------------------------------

    def printf(self, fmt: str, *args: Any) -> None:
        """Kernel console output (MINIX kprintf)."""
        self.console(fmt % args if args else fmt)

    def panic(self, fmt: str, *args: Any) -> NoReturn:
        """Stop the system: print ``kernel panic: ...`` and a stack trace."""
        msg = fmt % args if args else fmt
        if self.panicked is None:
            self.panicked = msg
            self.printf("kernel panic: %s\n", msg)
            frames = traceback.extract_stack()[:-1]
            self.printf("kernel stacktrace: %s\n", " ".join(f.name for f in frames[-8:]))
        raise KernelPanic(msg)

    def crashed(self, p: Proc, error: BaseException) -> None:
        """Process ``p``'s code raised ``error`` (a bug in it): say who and why.
        The system cannot go on without a server, so one stops it."""
        where = traceback.extract_tb(error.__traceback__)[-1]
        why = f"{type(error).__name__}: {error} at {where.filename}:{where.lineno}"
        if p.is_system:
            self.panic("%s(%d) crashed: %s", p.name, p.endpoint, why)
        self.printf("%s(%d): crashed: %s\n", p.name, p.endpoint, why)

    def blocked_summary(self) -> str:
        """Who waits for what (for a halted system's error message)."""
        users = [p for p in self.procs.live() if p.nr >= 0]
        return ", ".join(f"{p.name}({p.endpoint}) {p.flags_text()}" for p in users)



