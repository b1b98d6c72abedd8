"""The CPU on its own: i386 code through minixvm's page tables.

Hand-assembled code runs on a machine with page tables built by the test,
so nothing but the CPU, the MMU and RAM is involved.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from minixvm.machine.cpu import CPU, IPC_VECTOR, Registers
from minixvm.machine.mmu import MMU, PTE_A, PTE_D, PTE_P, PTE_U, PTE_W
from minixvm.machine.ram import RAM

DIR = 0x100000
TABLE = 0x101000
CODE = 0x08048000
DATA = 0x08049000
ELSEWHERE = 0x40000000
RWU = PTE_P | PTE_W | PTE_U

MOV_EAX, MOV_EBX, MOV_ECX, MOV_EDI = 0xB8, 0xBB, 0xB9, 0xBF
INT_21 = bytes([0xCD, 0x21])
SPIN = bytes([0xEB, 0xFE])  # jmp .
UD2 = bytes([0x0F, 0x0B])


def mov(op: int, value: int) -> bytes:
    return bytes([op]) + value.to_bytes(4, "little")


def store_edi(value: int) -> bytes:
    """movl $value, (%edi)"""
    return bytes([0xC7, 0x07]) + value.to_bytes(4, "little")


LOAD_EDI_TO_EBX = bytes([0x8B, 0x1F])  # mov (%edi), %ebx


class Machine:
    """RAM, MMU and CPU, and one address space with code at CODE."""

    def __init__(self) -> None:
        self.ram = RAM("16M")
        self.mmu = MMU(self.ram)
        self.cpu = CPU(self.ram, self.mmu)
        self.next_frame = 0x200000
        self.ram.write_u32(DIR + (CODE >> 22) * 4, TABLE | RWU)

    def map(self, vaddr: int, flags: int = RWU) -> int:
        """Map a fresh frame at ``vaddr``; its physical address."""
        frame = self.next_frame
        self.next_frame += 0x1000
        self.ram.write_u32(self.pte_addr(vaddr), frame | flags)
        return frame

    def pte_addr(self, vaddr: int) -> int:
        table = self.ram.read_u32(DIR + (vaddr >> 22) * 4) & ~0xFFF
        return table + ((vaddr >> 12) & 0x3FF) * 4

    def pte(self, vaddr: int) -> int:
        return self.ram.read_u32(self.pte_addr(vaddr))

    def load(self, code: bytes) -> Registers:
        self.ram.write(self.map(CODE, PTE_P | PTE_U), code)
        return Registers(eip=CODE)

    def close(self) -> None:
        self.cpu.close()
        self.ram.close()


@pytest.fixture
def machine() -> Iterator[Machine]:
    m = Machine()
    yield m
    m.close()


def test_a_trap_stops_right_after_int_0x21_with_the_registers_of_the_call(
    machine: Machine,
) -> None:
    regs = machine.load(mov(MOV_EAX, 8) + mov(MOV_EBX, 0x1234) + mov(MOV_ECX, 3) + INT_21
                        + mov(MOV_EBX, 0xBAD) + SPIN)
    stop = machine.cpu.run(regs, DIR, 1000)
    assert stop.vector == IPC_VECTOR and stop.fault is None
    assert (regs.eax, regs.ebx, regs.ecx) == (8, 0x1234, 3)
    assert regs.eip == CODE + 17  # the instruction after the trap has not run


def test_a_store_to_a_missing_page_faults_and_the_instruction_runs_again(
    machine: Machine,
) -> None:
    regs = machine.load(mov(MOV_EDI, ELSEWHERE) + store_edi(7) + LOAD_EDI_TO_EBX + INT_21)
    stop = machine.cpu.run(regs, DIR, 1000)
    assert stop.fault is not None
    assert (stop.fault.vaddr, stop.fault.write, stop.fault.present) == (ELSEWHERE, True, False)
    assert regs.eip == CODE + 5  # at the faulting store
    machine.ram.write_u32(DIR + (ELSEWHERE >> 22) * 4, 0x102000 | RWU)
    frame = machine.map(ELSEWHERE)
    machine.mmu.flush(DIR)
    stop = machine.cpu.run(regs, DIR, 1000)
    assert stop.vector == IPC_VECTOR and regs.ebx == 7
    assert machine.ram.read_u32(frame) == 7


def test_a_store_to_a_read_only_page_is_a_protection_fault(machine: Machine) -> None:
    machine.map(DATA, PTE_P | PTE_U)
    regs = machine.load(mov(MOV_EDI, DATA) + LOAD_EDI_TO_EBX + store_edi(1) + INT_21)
    stop = machine.cpu.run(regs, DIR, 1000)
    assert stop.fault is not None and stop.fault.present and stop.fault.write
    assert regs.eip == CODE + 7  # the load went through, the store faulted


def test_user_code_cannot_touch_a_supervisor_page(machine: Machine) -> None:
    machine.map(DATA, PTE_P | PTE_W)
    regs = machine.load(mov(MOV_EDI, DATA) + LOAD_EDI_TO_EBX + INT_21)
    stop = machine.cpu.run(regs, DIR, 1000)
    assert stop.fault is not None and stop.fault.present and stop.fault.user


def test_a_read_sets_accessed_and_the_first_write_then_sets_dirty(machine: Machine) -> None:
    machine.map(DATA)
    regs = machine.load(mov(MOV_EDI, DATA) + LOAD_EDI_TO_EBX + INT_21 + store_edi(5) + INT_21)
    machine.cpu.run(regs, DIR, 1000)
    assert machine.pte(DATA) & (PTE_A | PTE_D) == PTE_A
    machine.cpu.run(regs, DIR, 1000)
    assert machine.pte(DATA) & (PTE_A | PTE_D) == PTE_A | PTE_D


def test_the_cpu_sees_a_remapped_page_only_after_the_kernel_flushes(machine: Machine) -> None:
    first = machine.map(DATA)
    machine.ram.write_u32(first, 1)
    regs = machine.load(mov(MOV_EDI, DATA) + LOAD_EDI_TO_EBX + INT_21 + LOAD_EDI_TO_EBX
                        + INT_21 + LOAD_EDI_TO_EBX + INT_21)
    machine.cpu.run(regs, DIR, 1000)
    assert regs.ebx == 1
    second = machine.map(DATA)  # a new frame, no flush: the stale one is still used
    machine.ram.write_u32(second, 2)
    machine.cpu.run(regs, DIR, 1000)
    assert regs.ebx == 1
    machine.mmu.flush(DIR)
    machine.cpu.run(regs, DIR, 1000)
    assert regs.ebx == 2


def test_another_address_space_is_a_tlb_flush(machine: Machine) -> None:
    machine.map(DATA)
    regs = machine.load(mov(MOV_EDI, DATA) + LOAD_EDI_TO_EBX + INT_21)
    flushes = machine.cpu.tlb_flushes
    machine.cpu.run(regs, DIR, 1000)
    machine.cpu.run(Registers(eip=CODE), DIR, 1000)
    assert machine.cpu.tlb_flushes == flushes + 1  # DIR loaded once, not per run
    machine.cpu.run(Registers(eip=CODE), DIR + 0x10000, 1000)  # another CR3
    assert machine.cpu.tlb_flushes == flushes + 2


def test_the_budget_ends_a_run_that_never_traps(machine: Machine) -> None:
    regs = machine.load(SPIN)
    stop = machine.cpu.run(regs, DIR, 10_000)
    assert (stop.vector, stop.fault, stop.exception) == (None, None, None)
    assert stop.instructions == 10_000 and regs.eip == CODE


@pytest.mark.parametrize(("code", "vector"), [
    (UD2, 6),
    (mov(MOV_ECX, 0) + bytes([0x31, 0xD2, 0xF7, 0xF1]), 0),  # xor %edx,%edx; div %ecx
    (bytes([0xCD, 0x80]), 0x80),  # int $0x80: not MINIX's trap
    (bytes([0xCC]), 3),  # int3
])
def test_other_exceptions_stop_the_cpu_with_their_vector(
    machine: Machine, code: bytes, vector: int
) -> None:
    regs = machine.load(code + SPIN)
    stop = machine.cpu.run(regs, DIR, 1000)
    assert stop.exception == vector and stop.vector is None


def test_a_jump_to_the_stop_address_traps_instead_of_running_kernel_memory(
    machine: Machine,
) -> None:
    regs = machine.load(mov(MOV_EAX, 0xFFFFFFF8) + bytes([0xFF, 0xE0]))  # jmp *%eax
    stop = machine.cpu.run(regs, DIR, 1000)
    assert stop.exception == 3  # int3 fills the stop page
