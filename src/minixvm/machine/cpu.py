"""The machine's i386 CPU, on Unicorn.

There is one CPU, as there is one machine: the kernel loads a process's
registers and address space into it, runs it until something needs the
kernel, and saves the registers back. Every memory access goes through
minixvm's own page tables in RAM: Unicorn runs with a virtual TLB
(``UC_TLB_VIRTUAL``) and asks ``_fill`` for each page it has no
translation for; ``_fill`` walks the tables with the MMU, as a user-mode
access, so a missing or read-only page is the same page fault a Python
program takes (the faulting instruction then runs again). Unicorn's TLB is
flushed exactly when the kernel flushes the MMU's TLB of the loaded address
space, or loads another one (a CR3 write).

Chosen over real i386 paging inside Unicorn (``UC_TLB_CPU``): that path
delivers a second page fault as a double fault (unicorn#1883) unless a
build-dependent byte of the CPU state is patched, and needs descriptor
tables and a supervisor stub; the TLB-fill hook costs a few microseconds per
translation, which a resident working set pays once per quantum at most.

Not modelled: the FPU and SSE state (the programs are built without
floating point), segmentation (flat segments), and privilege rings: code
runs at Unicorn's CPL 0, but every access it makes is checked as a user
access by the page tables, and a privileged instruction stops it
(``Exit.exception``).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, fields, replace

from unicorn import (
    UC_ARCH_X86,
    UC_HOOK_INTR,
    UC_HOOK_TLB_FILL,
    UC_MEM_FETCH,
    UC_MEM_WRITE,
    UC_MODE_32,
    UC_PROT_ALL,
    UC_PROT_EXEC,
    UC_PROT_READ,
    UC_PROT_WRITE,
    UC_TLB_VIRTUAL,
)
from unicorn.unicorn_const import UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH, UC_ERR_OK
from unicorn.unicorn_py3.unicorn import Uc, UcError
from unicorn.x86_const import (
    UC_X86_REG_EAX,
    UC_X86_REG_EBP,
    UC_X86_REG_EBX,
    UC_X86_REG_ECX,
    UC_X86_REG_EDI,
    UC_X86_REG_EDX,
    UC_X86_REG_EFLAGS,
    UC_X86_REG_EIP,
    UC_X86_REG_ESI,
    UC_X86_REG_ESP,
)

from minixvm.machine.mmu import MMU, PageFault
from minixvm.machine.ram import PAGE_SIZE, RAM

# Unicorn stops at this address. It looks the address up when it starts, so
# its page is answered with the stop page: physical page 0, which the
# kernel never maps, filled with int3 (a program that jumps there traps).
STOP_ADDR = 0xFFFFFFF0
STOP_PAGE = STOP_ADDR >> 12
INT3 = 0xCC
IPC_VECTOR = 0x21  # int $0x21: MINIX's IPCVEC
UD_VECTOR = 6

_REGS = (UC_X86_REG_EAX, UC_X86_REG_EBX, UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_ESI,
         UC_X86_REG_EDI, UC_X86_REG_EBP, UC_X86_REG_ESP, UC_X86_REG_EIP, UC_X86_REG_EFLAGS)
EFLAGS_IF = 0x200


@dataclass
class Registers:
    """A process's integer registers (what the kernel saves on a switch)."""

    eax: int = 0
    ebx: int = 0
    ecx: int = 0
    edx: int = 0
    esi: int = 0
    edi: int = 0
    ebp: int = 0
    esp: int = 0
    eip: int = 0
    eflags: int = EFLAGS_IF | 0x2

    def copy(self) -> Registers:
        return replace(self)


_NAMES = tuple(f.name for f in fields(Registers))


class _RegisterFile:
    """Unicorn's registers moved in one C call each way (uc_reg_write_batch,
    uc_reg_read_batch) through arrays made once: the binding's own batch
    calls pick a ctypes class per register on every call, some 40 us a
    switch, more than the rest of a page fault's kernel work. The arrays go
    to the binding's thin wrappers of those two C calls (``_do_reg_*``),
    which is why pyproject pins unicorn below 2.2."""

    def __init__(self, uc: Uc) -> None:
        count = len(_REGS)
        self._uc = uc
        self._count = ctypes.c_int(count)
        self._ids = (ctypes.c_int * count)(*_REGS)
        self._values = (ctypes.c_uint32 * count)()
        base, size = ctypes.addressof(self._values), ctypes.sizeof(ctypes.c_uint32)
        self._pointers = (ctypes.c_void_p * count)(*(base + i * size for i in range(count)))

    def load(self, regs: Registers) -> None:
        """Put ``regs`` in the CPU."""
        self._values[:] = [getattr(regs, n) & 0xFFFFFFFF for n in _NAMES]
        self._check(self._uc._do_reg_write_batch(self._ids, self._pointers, self._count))

    def save(self, regs: Registers) -> None:
        """Take the CPU's registers into ``regs``."""
        self._check(self._uc._do_reg_read_batch(self._ids, self._pointers, self._count))
        for name, value in zip(_NAMES, self._values, strict=True):
            setattr(regs, name, value)

    @staticmethod
    def _check(status: int) -> None:
        if status != UC_ERR_OK:
            raise UcError(status)


@dataclass(frozen=True)
class Exit:
    """Why the CPU gave control back: a trap (``vector``), a page fault
    (``fault``), some other exception (``exception``: the i386 vector), or
    the instruction budget ran out (none of them)."""

    vector: int | None = None
    fault: PageFault | None = None
    exception: int | None = None
    instructions: int = 0


class CPU:
    """One i386 CPU running user code through the MMU's page tables."""

    def __init__(self, ram: RAM, mmu: MMU) -> None:
        self.ram = ram
        self.mmu = mmu
        self.cr3 = 0
        self.fills = 0
        self.tlb_flushes = 0
        self.code_flushes = 0
        self._event: Exit | None = None
        # The stop page: nothing but int3.
        ram.fill(0, PAGE_SIZE, INT3)
        self._ptr = ctypes.c_char.from_buffer(ram.mv)
        uc = self.uc = Uc(UC_ARCH_X86, UC_MODE_32)
        uc.mem_map_ptr(0, ram.size, UC_PROT_ALL, ctypes.addressof(self._ptr))
        uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
        uc.hook_add(UC_HOOK_TLB_FILL, self._fill)
        uc.hook_add(UC_HOOK_INTR, self._interrupt)
        self._registers = _RegisterFile(uc)
        mmu.flush_listeners.append(self._mmu_flushed)

    def run(self, regs: Registers, cr3: int, budget: int) -> Exit:
        """Run the code ``regs`` describe in address space ``cr3`` for at most
        ``budget`` instructions; ``regs`` is updated in place."""
        uc = self.uc
        if cr3 != self.cr3:
            self.cr3 = cr3
            self.flush_tlb()
        self._registers.load(regs)
        self._event = None
        try:
            uc.emu_start(regs.eip, STOP_ADDR, count=budget)
        except UcError:
            # A fault _fill refused; anything else is an instruction Unicorn
            # cannot run (#UD).
            if self._event is None:
                self._event = Exit(exception=UD_VECTOR)
        self._registers.save(regs)
        return self._event or Exit(instructions=budget)

    def flush_tlb(self) -> None:
        """Forget every translation Unicorn holds (its TLB; its code cache is
        looked up by physical address and stays)."""
        self.tlb_flushes += 1
        self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    def flush_code(self) -> None:
        """Forget all translated code. Unicorn notices only its own stores to
        code; the kernel's copies into RAM (a new program's text landing on
        frames that held another's) it cannot see, so the kernel calls this
        whenever it starts a new program."""
        self.code_flushes += 1
        self.uc.ctl_flush_tb()

    def close(self) -> None:
        """Let go of RAM (the RAM buffer cannot be released while mapped here)."""
        self.mmu.flush_listeners.remove(self._mmu_flushed)
        del self._registers
        del self.uc
        del self._ptr

    # -- Unicorn's callbacks --------------------------------------------------------

    def _fill(self, uc: Uc, vaddr: int, access: int, entry: object, _: object) -> bool:
        """Unicorn needs the translation of ``vaddr``'s page: walk the page
        tables as the MMU does (setting A, and D on a write), or fault."""
        self.fills += 1
        write = access == UC_MEM_WRITE
        if vaddr >> 12 == STOP_PAGE and access == UC_MEM_FETCH:
            paddr, perms = 0, UC_PROT_READ | UC_PROT_EXEC
        else:
            try:
                paddr = self.mmu.translate(self.cr3, vaddr & ~0xFFF, write, True)
            except PageFault as fault:
                self._event = Exit(fault=PageFault(vaddr, write, True, fault.present))
                return False
            # Writable only once written: a later store walks again and sets D.
            perms = UC_PROT_READ | UC_PROT_EXEC | (UC_PROT_WRITE if write else 0)
        entry.paddr = paddr  # type: ignore[attr-defined]
        entry.perms = perms  # type: ignore[attr-defined]
        return True

    def _interrupt(self, uc: Uc, intno: int, _: object) -> None:
        """A trap or an exception: stop, the kernel decides."""
        if intno == IPC_VECTOR:
            self._event = Exit(vector=intno)
        else:
            self._event = Exit(exception=intno)
        uc.emu_stop()

    def _mmu_flushed(self, cr3: int | None) -> None:
        if cr3 is None or cr3 == self.cr3:
            self.flush_tlb()
