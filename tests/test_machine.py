"""Tests for the simulated machine: physical memory (RAM) and the i386 MMU.

The page tables here are built by hand in RAM, entry by entry, the way the
kernel and VM build them, so every test checks what the hardware would do
with real PDEs and PTEs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minixvm.machine.mmu import (
    MMU,
    PTE_A,
    PTE_D,
    PTE_G,
    PTE_P,
    PTE_PS,
    PTE_U,
    PTE_W,
    Mapping,
    PageFault,
)
from minixvm.machine.ram import MAX_RAM, MIN_RAM, PAGE_SIZE, RAM, parse_size

P = PAGE_SIZE
MiB = 1 << 20
BIG = 4 * MiB
RW_USER = PTE_P | PTE_W | PTE_U


@pytest.fixture
def ram() -> Iterator[RAM]:
    r = RAM("16M")
    yield r
    r.close()


# --- RAM: sizes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("64M", 64 * MiB),
        ("1G", 1 << 30),
        ("512K", 512 << 10),
        ("3G", 3 << 30),
        ("16m", 16 * MiB),
        ("64MiB", 64 * MiB),
        ("64MB", 64 * MiB),
        (" 32M ", 32 * MiB),
        ("65536", 65536),
        (4096, 4096),
    ],
)
def test_parse_size_understands_units(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "M", "64X", "1.5G", "-16M", "64 M B", "sixty", "0x100000"])
def test_parse_size_rejects_garbage_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"bad size .*expected a number with K, M or G"):
        parse_size(text)


def test_ram_of_a_bad_size_string_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="bad size '64X'"):
        RAM("64X")


@pytest.mark.parametrize("size", ["8M", "16380K", "4G", str(MAX_RAM + P), "0"])
def test_ram_out_of_range_is_refused(size: str) -> None:
    with pytest.raises(ValueError, match=r"out of range: 16 MiB to 3 GiB"):
        RAM(size)


def test_ram_size_not_a_whole_number_of_frames_is_refused() -> None:
    with pytest.raises(ValueError, match="not a multiple of the 4096-byte frame"):
        RAM(MIN_RAM + 1)


@pytest.mark.parametrize("size", ["16M", "3G", MIN_RAM, MAX_RAM])
def test_ram_limits_are_inclusive(size: str | int) -> None:
    r = RAM(size)
    try:
        assert r.size == parse_size(size)
        assert r.frames == r.size // P
        # A large RAM costs nothing until touched, and the last byte is usable.
        r.write(r.size - 1, b"\x7f")
        assert r.read(r.size - 1, 1) == b"\x7f"
    finally:
        r.close()


# --- RAM: bytes -----------------------------------------------------------------


def test_fresh_ram_reads_as_zeros(ram: RAM) -> None:
    assert ram.read(0, 3 * P) == bytes(3 * P)
    assert ram.read(ram.size - P, P) == bytes(P)


def test_write_then_read(ram: RAM) -> None:
    ram.write(0x1234, b"hello, minix")
    assert ram.read(0x1234, 12) == b"hello, minix"
    assert ram.read(0x1233, 14) == b"\0hello, minix\0"
    ram.write(0x2000, bytearray(b"ba"))
    ram.write(0x2002, memoryview(b"cd"))
    assert ram.read(0x2000, 4) == b"bacd"


def test_access_outside_ram_is_an_index_error(ram: RAM) -> None:
    with pytest.raises(IndexError, match="outside RAM"):
        ram.read(ram.size - 2, 3)
    with pytest.raises(IndexError):
        ram.write(ram.size, b"x")
    with pytest.raises(IndexError):
        ram.read(-1, 1)
    with pytest.raises(IndexError):
        ram.fill(ram.size - 10, 11, 0xAA)
    with pytest.raises(IndexError):
        ram.copy(ram.size - 4, 0, 5)
    with pytest.raises(IndexError):
        ram.copy(0, ram.size - 4, 5)
    assert ram.read(ram.size - 16, 16) == bytes(16)  # nothing was half-done


def test_zero_and_fill_touch_exactly_their_range(ram: RAM) -> None:
    ram.fill(0x10000, 3 * MiB + 5, 0xA5)  # more than one internal chunk
    assert ram.read(0x10000, 16) == b"\xa5" * 16
    assert ram.read(0x10000 + 3 * MiB - 8, 13) == b"\xa5" * 13
    assert ram.read(0x10000 + 3 * MiB + 5, 4) == bytes(4)
    assert ram.read(0xFFFC, 4) == bytes(4)
    ram.zero(0x10001, 2 * MiB + 1)
    assert ram.read(0x10000, 3) == b"\xa5\0\0"
    assert ram.read(0x10000 + 2 * MiB, 4) == b"\0\0\xa5\xa5"
    ram.fill(0x500, 0, 0xFF)
    assert ram.read(0x500, 1) == b"\0"


def test_copy_without_overlap(ram: RAM) -> None:
    data = bytes(range(256)) * 20
    ram.write(0x1000, data)
    ram.copy(0x9000, 0x1000, len(data))
    assert ram.read(0x9000, len(data)) == data
    assert ram.read(0x1000, len(data)) == data


@pytest.mark.parametrize("shift", [1, 7, P - 1, P, -1, -7, -P])
def test_overlapping_copy_behaves_like_memmove(ram: RAM, shift: int) -> None:
    data = bytes((i * 7 + 3) % 251 for i in range(3 * P))
    ram.write(0x20000, data)
    expect = bytearray(ram.read(0x1F000, 6 * P))
    lo = 0x20000 - 0x1F000
    expect[lo + shift : lo + shift + len(data)] = data
    ram.copy(0x20000 + shift, 0x20000, len(data))
    assert ram.read(0x1F000, 6 * P) == bytes(expect)


def test_u32_words_are_little_endian(ram: RAM) -> None:
    ram.write_u32(0x400, 0x11223344)
    assert ram.read(0x400, 4) == b"\x44\x33\x22\x11"
    ram.write(0x408, b"\xef\xbe\xad\xde")
    assert ram.read_u32(0x408) == 0xDEADBEEF
    ram.write_u32(0x404, 0xFFFFFFFF)
    assert ram.read(0x400, 12) == b"\x44\x33\x22\x11\xff\xff\xff\xff\xef\xbe\xad\xde"


_WINDOW = 2 * P


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("write"), st.integers(0, _WINDOW - 1),
                      st.binary(min_size=1, max_size=300)),
            st.tuples(st.just("fill"), st.integers(0, _WINDOW - 1), st.integers(0, 600),
                      st.integers(0, 255)),
            st.tuples(st.just("copy"), st.integers(0, _WINDOW - 1), st.integers(0, _WINDOW - 1),
                      st.integers(0, 900)),
        ),
        max_size=25,
    )
)
def test_ram_agrees_with_a_bytearray(ops: list[tuple]) -> None:
    """Any sequence of write/fill/copy does to RAM what slices do to a bytearray."""
    r = RAM("16M")
    base = 5 * MiB + 17  # unaligned on purpose
    model = bytearray(_WINDOW)
    try:
        for op in ops:
            if op[0] == "write":
                _, off, data = op
                data = data[: _WINDOW - off]
                r.write(base + off, data)
                model[off : off + len(data)] = data
            elif op[0] == "fill":
                _, off, n, byte = op
                n = min(n, _WINDOW - off)
                r.fill(base + off, n, byte)
                model[off : off + n] = bytes([byte]) * n
            else:
                _, dst, src, n = op
                n = min(n, _WINDOW - dst, _WINDOW - src)
                r.copy(base + dst, base + src, n)
                model[dst : dst + n] = bytes(model[src : src + n])
        assert r.read(base, _WINDOW) == bytes(model)
    finally:
        r.close()


# --- MMU: page tables built by hand ---------------------------------------------------


class Tables:
    """An address space written entry by entry into RAM."""

    def __init__(self, ram: RAM, directory: int = 0x100000) -> None:
        self.ram = ram
        self.cr3 = directory
        self._next_table = directory + P
        ram.zero(directory, P)

    def pde(self, vaddr: int) -> int:
        return self.ram.read_u32(self.cr3 + (vaddr >> 22) * 4)

    def pte_addr(self, vaddr: int) -> int:
        return (self.pde(vaddr) & 0xFFFFF000) + ((vaddr >> 12) & 0x3FF) * 4

    def pte(self, vaddr: int) -> int:
        return self.ram.read_u32(self.pte_addr(vaddr))

    def table(self, vaddr: int, pde_flags: int = RW_USER) -> int:
        """Make sure a page table covers ``vaddr``; its physical address."""
        pde = self.pde(vaddr)
        if pde & PTE_P:
            return pde & 0xFFFFF000
        table, self._next_table = self._next_table, self._next_table + P
        self.ram.zero(table, P)
        self.ram.write_u32(self.cr3 + (vaddr >> 22) * 4, table | pde_flags)
        return table

    def map(self, vaddr: int, paddr: int, flags: int = RW_USER, pde_flags: int = RW_USER) -> None:
        table = self.table(vaddr, pde_flags)
        self.ram.write_u32(table + ((vaddr >> 12) & 0x3FF) * 4, paddr | flags)

    def map_big(self, vaddr: int, paddr: int, flags: int = RW_USER) -> None:
        self.ram.write_u32(self.cr3 + (vaddr >> 22) * 4, paddr | flags | PTE_PS)

    def unmap(self, vaddr: int) -> None:
        self.ram.write_u32(self.pte_addr(vaddr), 0)


@pytest.fixture
def space(ram: RAM) -> Tables:
    return Tables(ram)


@pytest.fixture
def mmu(ram: RAM) -> MMU:
    return MMU(ram)


def fault_of(mmu: MMU, cr3: int, vaddr: int, write: bool, user: bool) -> PageFault:
    with pytest.raises(PageFault) as info:
        mmu.translate(cr3, vaddr, write=write, user=user)
    return info.value


def test_translate_4k_page(space: Tables, mmu: MMU) -> None:
    space.map(0x00401000, 0x00800000)
    space.map(0x00402000, 0x00123000)
    assert mmu.translate(space.cr3, 0x00401234) == 0x00800234
    assert mmu.translate(space.cr3, 0x00401FFF, write=True) == 0x00800FFF
    assert mmu.translate(space.cr3, 0x00402000, user=False) == 0x00123000
    assert mmu.translate(space.cr3, 0x00402ABC) == 0x00123ABC


def test_translate_4m_page(space: Tables, mmu: MMU) -> None:
    space.map_big(0x00800000, 0x00C00000)
    assert mmu.translate(space.cr3, 0x00800000) == 0x00C00000
    assert mmu.translate(space.cr3, 0x00812345, write=True) == 0x00C12345
    assert mmu.translate(space.cr3, 0x00BFFFFF) == 0x00FFFFFF
    with pytest.raises(PageFault):
        mmu.translate(space.cr3, 0x00C00000)


def test_missing_pde_is_a_not_present_fault(space: Tables, mmu: MMU) -> None:
    fault = fault_of(mmu, space.cr3, 0x12345678, write=True, user=True)
    assert (fault.vaddr, fault.present, fault.write, fault.user) == (0x12345678, False, True, True)
    assert "not-present" in str(fault) and "0x12345678" in str(fault)


def test_missing_pte_is_a_not_present_fault(space: Tables, mmu: MMU) -> None:
    space.map(0x00401000, 0x00800000)
    fault = fault_of(mmu, space.cr3, 0x00402010, write=False, user=True)
    assert (fault.vaddr, fault.present, fault.write) == (0x00402010, False, False)
    # A PTE with everything but P set is still not present.
    space.map(0x00403000, 0x00900000, PTE_W | PTE_U)
    assert not fault_of(mmu, space.cr3, 0x00403000, write=False, user=True).present


@pytest.mark.parametrize("user", [True, False], ids=["user", "supervisor"])
def test_write_to_read_only_page_is_a_protection_fault(
    space: Tables, mmu: MMU, user: bool
) -> None:
    space.map(0x00401000, 0x00800000, PTE_P | PTE_U)
    assert mmu.translate(space.cr3, 0x00401010, write=False, user=user) == 0x00800010
    fault = fault_of(mmu, space.cr3, 0x00401010, write=True, user=user)
    assert fault.present and fault.write and fault.user == user
    assert "protection" in str(fault)


@pytest.mark.parametrize("user", [True, False], ids=["user", "supervisor"])
def test_read_only_pde_makes_the_whole_table_read_only(
    space: Tables, mmu: MMU, user: bool
) -> None:
    space.map(0x00401000, 0x00800000, RW_USER, pde_flags=PTE_P | PTE_U)
    assert fault_of(mmu, space.cr3, 0x00401000, write=True, user=user).present


def test_write_to_read_only_big_page_faults_for_the_supervisor_too(
    space: Tables, mmu: MMU
) -> None:
    space.map_big(0x00400000, 0x00800000, PTE_P)
    assert mmu.translate(space.cr3, 0x00400004, user=False) == 0x00800004
    assert fault_of(mmu, space.cr3, 0x00400004, write=True, user=False).present


def test_user_access_to_supervisor_page_is_a_protection_fault(space: Tables, mmu: MMU) -> None:
    space.map(0x00401000, 0x00800000, PTE_P | PTE_W)  # no U in the PTE
    space.map(0x00801000, 0x00900000, RW_USER, pde_flags=PTE_P | PTE_W)  # no U in the PDE
    space.map_big(0x00C00000, 0x00C00000, PTE_P | PTE_W)
    for vaddr in (0x00401000, 0x00801000, 0x00C00000):
        assert mmu.translate(space.cr3, vaddr, write=True, user=False) >= 0
        for write in (False, True):
            fault = fault_of(mmu, space.cr3, vaddr, write=write, user=True)
            assert fault.present and fault.user


@pytest.mark.parametrize(
    ("present", "write", "user", "errcode"),
    [
        (False, False, False, 0),
        (True, False, False, 1),
        (False, True, False, 2),
        (True, True, False, 3),
        (False, False, True, 4),
        (True, False, True, 5),
        (False, True, True, 6),
        (True, True, True, 7),
    ],
)
def test_errcode_bits(present: bool, write: bool, user: bool, errcode: int) -> None:
    assert PageFault(0x1000, write, user, present).errcode == errcode


def test_real_faults_carry_the_i386_errcode(space: Tables, mmu: MMU) -> None:
    space.map(0x00401000, 0x00800000, PTE_P | PTE_U)
    assert fault_of(mmu, space.cr3, 0x00401000, write=True, user=True).errcode == 0b111
    assert fault_of(mmu, space.cr3, 0x00402000, write=True, user=True).errcode == 0b110
    assert fault_of(mmu, space.cr3, 0x00402000, write=False, user=False).errcode == 0b000
    assert fault_of(mmu, space.cr3, 0x00401000, write=True, user=False).errcode == 0b011


def test_accessed_set_on_read_dirty_only_on_write(space: Tables, mmu: MMU) -> None:
    space.map(0x00401000, 0x00800000)
    space.map(0x00402000, 0x00801000)
    assert not space.pde(0x00401000) & PTE_A
    assert not space.pte(0x00401000) & (PTE_A | PTE_D)
    mmu.translate(space.cr3, 0x00401000, write=False)
    assert space.pte(0x00401000) & (PTE_A | PTE_D) == PTE_A
    assert space.pde(0x00401000) & PTE_A
    assert not space.pte(0x00402000) & PTE_A  # only the page touched
    mmu.translate(space.cr3, 0x00402000, write=True)
    assert space.pte(0x00402000) & (PTE_A | PTE_D) == PTE_A | PTE_D
    # The address bits and the permission bits are left alone.
    assert space.pte(0x00402000) & ~(PTE_A | PTE_D) == 0x00801000 | RW_USER


def test_first_write_after_a_cached_read_still_sets_dirty(space: Tables, mmu: MMU) -> None:
    space.map(0x00401000, 0x00800000)
    mmu.translate(space.cr3, 0x00401000, write=False)
    mmu.translate(space.cr3, 0x00401008, write=False)  # a TLB hit
    assert not space.pte(0x00401000) & PTE_D
    assert mmu.translate(space.cr3, 0x00401010, write=True) == 0x00800010
    assert space.pte(0x00401000) & PTE_D


def test_big_page_gets_accessed_and_dirty_in_its_pde(space: Tables, mmu: MMU) -> None:
    space.map_big(0x00800000, 0x00C00000)
    mmu.translate(space.cr3, 0x00900000)
    assert space.pde(0x00800000) & (PTE_A | PTE_D) == PTE_A
    mmu.translate(space.cr3, 0x00A00000, write=True)
    assert space.pde(0x00800000) & (PTE_A | PTE_D) == PTE_A | PTE_D


def test_a_fault_sets_no_accessed_bit_in_the_final_entry(space: Tables, mmu: MMU) -> None:
    space.map(0x00401000, 0x00800000, PTE_P | PTE_U)
    fault_of(mmu, space.cr3, 0x00401000, write=True, user=True)
    assert not space.pte(0x00401000) & (PTE_A | PTE_D)


def test_a_pde_used_by_the_walk_is_accessed_even_if_its_pte_is_not_present(
    space: Tables, mmu: MMU
) -> None:
    """Intel SDM vol. 3A 4.8: the processor sets A in every paging-structure
    entry it uses; the walk used the PDE to find the missing PTE."""
    space.map(0x00401000, 0x00800000)
    assert not space.pde(0x00402000) & PTE_A
    fault = fault_of(mmu, space.cr3, 0x00402000, write=False, user=True)
    assert not fault.present
    assert space.pde(0x00402000) & PTE_A
    assert not space.pte(0x00402000) & PTE_A


def test_tlb_keeps_a_stale_translation_until_flushed(space: Tables, mmu: MMU) -> None:
    space.map(0x00401000, 0x00800000)
    assert mmu.translate(space.cr3, 0x00401004) == 0x00800004
    space.map(0x00401000, 0x00900000)  # remapped without a flush
    assert mmu.translate(space.cr3, 0x00401004) == 0x00800004  # MINIX must flush
    mmu.flush(space.cr3)
    assert mmu.translate(space.cr3, 0x00401004) == 0x00900004


def test_tlb_keeps_an_unmapped_page_until_flushed(space: Tables, mmu: MMU) -> None:
    space.map(0x00401000, 0x00800000)
    mmu.translate(space.cr3, 0x00401000, write=True)
    space.unmap(0x00401000)
    assert mmu.translate(space.cr3, 0x00401000, write=True) == 0x00800000
    mmu.flush()  # all address spaces
    assert not fault_of(mmu, space.cr3, 0x00401000, write=True, user=True).present


def test_tlb_keeps_write_access_after_write_protect_until_flushed(
    space: Tables, mmu: MMU
) -> None:
    """The reason VM flushes after making pages read-only for copy-on-write."""
    space.map(0x00401000, 0x00800000)
    mmu.translate(space.cr3, 0x00401000, write=True)
    space.map(0x00401000, 0x00800000, PTE_P | PTE_U)
    assert mmu.translate(space.cr3, 0x00401000, write=True) == 0x00800000
    mmu.flush(space.cr3)
    assert fault_of(mmu, space.cr3, 0x00401000, write=True, user=True).present


def test_tlb_is_per_address_space(ram: RAM, mmu: MMU) -> None:
    a = Tables(ram, 0x100000)
    b = Tables(ram, 0x200000)
    a.map(0x00401000, 0x00800000)
    b.map(0x00401000, 0x00900000)
    assert mmu.translate(a.cr3, 0x00401000) == 0x00800000
    assert mmu.translate(b.cr3, 0x00401000) == 0x00900000
    a.map(0x00401000, 0x00A00000)
    b.map(0x00401000, 0x00B00000)
    mmu.flush(b.cr3)  # only b's cache goes
    assert mmu.translate(a.cr3, 0x00401000) == 0x00800000
    assert mmu.translate(b.cr3, 0x00401000) == 0x00B00000


def test_tlb_does_not_cache_faults(space: Tables, mmu: MMU) -> None:
    fault_of(mmu, space.cr3, 0x00401000, write=False, user=True)
    space.map(0x00401000, 0x00800000)
    assert mmu.translate(space.cr3, 0x00401000) == 0x00800000  # no flush needed


def test_tlb_hit_does_not_walk(space: Tables, mmu: MMU) -> None:
    space.map(0x00401000, 0x00800000)
    mmu.translate(space.cr3, 0x00401000, write=True)
    walks = mmu.walks
    for off in range(0, P, 512):
        mmu.translate(space.cr3, 0x00401000 + off, write=True)
    assert mmu.walks == walks


def test_translate_range_merges_contiguous_pages(space: Tables, mmu: MMU) -> None:
    for i in range(3):
        space.map(0x00400000 + i * P, 0x00800000 + i * P)
    space.map(0x00403000, 0x00700000)
    space.map(0x00404000, 0x00701000)
    pieces = mmu.translate_range(space.cr3, 0x00400100, 5 * P - 0x200, write=True, user=True)
    assert pieces == [(0x00800100, 3 * P - 0x100), (0x00700000, 2 * P - 0x100)]
    assert sum(n for _, n in pieces) == 5 * P - 0x200


def test_translate_range_within_one_page_and_empty(space: Tables, mmu: MMU) -> None:
    space.map(0x00400000, 0x00800000)
    assert mmu.translate_range(space.cr3, 0x00400010, 16, False, True) == [(0x00800010, 16)]
    assert mmu.translate_range(space.cr3, 0x12345000, 0, False, True) == []


def test_translate_range_merges_across_a_page_table_boundary(space: Tables, mmu: MMU) -> None:
    space.map(0x003FF000, 0x00800000)
    space.map(0x00400000, 0x00801000)
    assert mmu.translate_range(space.cr3, 0x003FF800, P, False, True) == [(0x00800800, P)]


def test_translate_range_does_not_merge_backwards_pages(space: Tables, mmu: MMU) -> None:
    space.map(0x00400000, 0x00801000)
    space.map(0x00401000, 0x00800000)
    assert mmu.translate_range(space.cr3, 0x00400000, 2 * P, False, True) == [
        (0x00801000, P),
        (0x00800000, P),
    ]


def test_translate_range_raises_at_the_first_faulting_page(space: Tables, mmu: MMU) -> None:
    space.map(0x00400000, 0x00800000)
    space.map(0x00401000, 0x00801000, PTE_P | PTE_U)  # read-only
    # page 0x00402000 missing
    with pytest.raises(PageFault) as info:
        mmu.translate_range(space.cr3, 0x00400800, 3 * P, write=False, user=True)
    assert (info.value.vaddr, info.value.present) == (0x00402000, False)
    with pytest.raises(PageFault) as info:
        mmu.translate_range(space.cr3, 0x00400800, 3 * P, write=True, user=True)
    assert (info.value.vaddr, info.value.present) == (0x00401000, True)
    with pytest.raises(PageFault) as info:
        mmu.translate_range(space.cr3, 0x00402010, 8, write=False, user=True)
    assert info.value.vaddr == 0x00402010  # a fault on the first page is at the start


def test_lookup_reports_without_side_effects(space: Tables, mmu: MMU, ram: RAM) -> None:
    space.map(0x00401000, 0x00800000, PTE_P | PTE_U | PTE_G)
    space.map(0x00402000, 0x00801000, RW_USER | PTE_A | PTE_D)
    space.map_big(0x00800000, 0x00C00000, PTE_P | PTE_W | PTE_G)
    before = ram.read(space.cr3, 3 * P)
    walks = mmu.walks
    assert mmu.lookup(space.cr3, 0x00401ABC) == Mapping(
        vaddr=0x00401000, paddr=0x00800000, writable=False, user=True, big=False,
        global_=True, accessed=False, dirty=False,
    )
    assert mmu.lookup(space.cr3, 0x00402000) == Mapping(
        vaddr=0x00402000, paddr=0x00801000, writable=True, user=True, big=False,
        global_=False, accessed=True, dirty=True,
    )
    assert mmu.lookup(space.cr3, 0x00923456) == Mapping(
        vaddr=0x00923000, paddr=0x00D23000, writable=True, user=False, big=True,
        global_=True, accessed=False, dirty=False,
    )
    assert mmu.lookup(space.cr3, 0x00403000) is None
    assert mmu.lookup(space.cr3, 0x40000000) is None
    assert ram.read(space.cr3, 3 * P) == before  # no A/D bits set
    assert mmu.walks == walks
    # Nor did it fill the TLB: a remap is seen by translate without a flush.
    space.map(0x00401000, 0x00900000, PTE_P | PTE_U)
    assert mmu.translate(space.cr3, 0x00401000) == 0x00900000


def test_lookup_sees_the_page_tables_not_the_tlb(space: Tables, mmu: MMU) -> None:
    space.map(0x00401000, 0x00800000)
    mmu.translate(space.cr3, 0x00401000)
    space.map(0x00401000, 0x00900000)
    m = mmu.lookup(space.cr3, 0x00401000)
    assert m is not None and m.paddr == 0x00900000


def test_mappings_lists_every_present_page_once(space: Tables, mmu: MMU, ram: RAM) -> None:
    space.map(0x00402000, 0x00801000)
    space.map(0x00401000, 0x00800000, PTE_P | PTE_U)
    space.map(0x00403000, 0x00802000, PTE_W | PTE_U)  # not present
    space.map_big(0x00C00000, 0x00400000, PTE_P | PTE_W)
    space.map(0xFFFFF000, 0x00123000)
    before = ram.read(space.cr3, 4 * P)
    got = [(m.vaddr, m.paddr, m.writable, m.user, m.big) for m in mmu.mappings(space.cr3)]
    assert got == [
        (0x00401000, 0x00800000, False, True, False),
        (0x00402000, 0x00801000, True, True, False),
        (0x00C00000, 0x00400000, True, False, True),
        (0xFFFFF000, 0x00123000, True, True, False),
    ]
    assert ram.read(space.cr3, 4 * P) == before


# --- MMU against a model -------------------------------------------------------------

# Four directory entries with page tables, two with big pages.
_SMALL_PDES = (0, 1, 0x200, 0x3FF)
_BIG_PDES = (2, 0x201)
_FLAGS = st.sampled_from([PTE_P, PTE_P | PTE_W, PTE_P | PTE_U, RW_USER, PTE_W | PTE_U])
_small_vpn = st.builds(lambda d, t: d << 10 | t, st.sampled_from(_SMALL_PDES), st.integers(0, 1023))


# A probe: (what to aim at, which one, offset, write, user). Aiming at mapped
# pages finds far more interesting cases than uniformly random addresses.
_PROBE = st.tuples(
    st.sampled_from(["anywhere", "small", "big"]),
    st.integers(0, 1 << 20),
    st.integers(0, 0xFFFFFFFF),
    st.booleans(),
    st.booleans(),
)


def _aim(kind: str, which: int, offset: int, small: dict, big: dict) -> int:
    if kind == "small" and small:
        return sorted(small)[which % len(small)] << 12 | offset % P
    if kind == "big" and big:
        return sorted(big)[which % len(big)] << 22 | offset % BIG
    return offset


@settings(max_examples=80, deadline=None)
@given(
    small=st.dictionaries(_small_vpn, st.tuples(st.integers(0, 0xFFFFF), _FLAGS), max_size=40),
    big=st.dictionaries(st.sampled_from(_BIG_PDES),
                        st.tuples(st.integers(0, 0x3FF), _FLAGS), max_size=2),
    probes=st.lists(_PROBE, min_size=1, max_size=30),
)
def test_translate_agrees_with_a_dict_model(
    small: dict[int, tuple[int, int]],
    big: dict[int, tuple[int, int]],
    probes: list[tuple[str, int, int, bool, bool]],
) -> None:
    r = RAM("16M")
    try:
        space = Tables(r)
        mmu = MMU(r)
        for vpn, (pfn, flags) in small.items():
            space.map(vpn << 12, pfn << 12, flags)
        for pde, (big_frame, flags) in big.items():
            space.map_big(pde << 22, big_frame << 22, flags)

        def model(vaddr: int) -> tuple[int, int] | None:
            if vaddr >> 22 in big:
                frame, flags = big[vaddr >> 22]
                return (frame << 22 | (vaddr & (BIG - 1)), flags)
            if vaddr >> 12 in small:
                pfn, flags = small[vaddr >> 12]
                return (pfn << 12 | (vaddr & (P - 1)), flags)
            return None

        for kind, which, offset, write, user in probes:
            vaddr = _aim(kind, which, offset, small, big)
            expect = model(vaddr)
            present = expect is not None and bool(expect[1] & PTE_P)
            allowed = present and (not write or expect[1] & PTE_W) and (
                not user or expect[1] & PTE_U)
            if allowed:
                assert mmu.translate(space.cr3, vaddr, write, user) == expect[0]
            else:
                with pytest.raises(PageFault) as info:
                    mmu.translate(space.cr3, vaddr, write, user)
                assert info.value.present == present
                assert info.value.vaddr == vaddr
            m = mmu.lookup(space.cr3, vaddr)
            if present:
                assert m is not None
                assert (m.paddr | (vaddr & 0xFFF), m.writable, m.user) == (
                    expect[0], bool(expect[1] & PTE_W), bool(expect[1] & PTE_U))
            else:
                assert m is None
        listed = {m.vaddr: m.paddr for m in mmu.mappings(space.cr3)}
        expected = {vpn << 12: pfn << 12 for vpn, (pfn, f) in small.items() if f & PTE_P}
        expected |= {d << 22: fr << 22 for d, (fr, f) in big.items() if f & PTE_P}
        assert listed == expected
    finally:
        r.close()


# A run of pages for a kernel copy: each page's frame follows the one before
# it or jumps, and its flags include whatever A and D earlier accesses left.
_RUN_FLAGS = st.sampled_from([RW_USER, RW_USER | PTE_A, RW_USER | PTE_A | PTE_D,
                              PTE_P | PTE_U | PTE_A, PTE_P | PTE_W, RW_USER | PTE_D, 0])
_RUN_PAGE = st.tuples(st.booleans(), _RUN_FLAGS)


@settings(max_examples=150, deadline=None)
@given(
    first=st.integers(0x3F0, 0x40F),  # near a page-table boundary
    pages=st.lists(_RUN_PAGE, min_size=2, max_size=40),
    head=st.integers(0, P - 1),
    write=st.booleans(),
    user=st.booleans(),
)
def test_translate_range_agrees_with_page_by_page_walks(
    first: int, pages: list[tuple[bool, int]], head: int, write: bool, user: bool
) -> None:
    r = RAM("16M")
    try:
        space = Tables(r)
        frame = 0x400
        frames = []
        for i, (follows, flags) in enumerate(pages):
            frame = frame + 1 if follows or not i else frame + 7
            frames.append(frame)
            space.map((first + i) << 12, frame << 12, flags)
        before = [space.pte((first + i) << 12) for i in range(len(pages))]
        need = PTE_P | (PTE_W if write else 0) | (PTE_U if user else 0)
        bad = next((i for i, f in enumerate(before) if f & need != need), None)
        start, n = (first << 12) + head, len(pages) * P - head
        if bad is None:
            expect: list[tuple[int, int]] = []
            for fr in frames:
                if expect and expect[-1][0] + expect[-1][1] == fr << 12:
                    expect[-1] = (expect[-1][0], expect[-1][1] + P)
                else:
                    expect.append((fr << 12, P))
            expect[0] = (expect[0][0] + head, expect[0][1] - head)
            assert MMU(r).translate_range(space.cr3, start, n, write, user) == expect
        else:
            with pytest.raises(PageFault) as info:
                MMU(r).translate_range(space.cr3, start, n, write, user)
            fault = (info.value.vaddr, info.value.present)
            del info  # its traceback holds views of the RAM, which must go before close
            assert fault == (max((first + bad) << 12, start), bool(before[bad] & PTE_P))
        used = PTE_A | (PTE_D if write else 0)
        done = len(pages) if bad is None else bad
        after = [space.pte((first + i) << 12) for i in range(len(pages))]
        assert after == [f | used if i < done else f for i, f in enumerate(before)]
    finally:
        r.close()
