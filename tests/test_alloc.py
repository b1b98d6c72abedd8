"""Tests for the physical page allocator (minixvm.servers.vm.alloc)."""

import re
from collections.abc import Iterable

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from minixvm.servers.vm.alloc import (
    LOWER1MB_PAGE,
    LOWER16MB_PAGE,
    PAF_CONTIG,
    PAF_LOWER1MB,
    PAF_LOWER16MB,
    PageAllocator,
)


def allocator(ranges: Iterable[tuple[int, int]]) -> PageAllocator:
    alloc = PageAllocator()
    for page, count in ranges:
        alloc.add_free(page, count)
    alloc.check()
    return alloc


# --- placement -----------------------------------------------------------------


def test_unconstrained_alloc_takes_top_of_highest_fitting_range() -> None:
    alloc = allocator([(100, 10), (1000, 5), (5000, 3)])
    assert alloc.alloc_pages(4) == 1001
    assert list(alloc.ranges()) == [(100, 10), (1000, 1), (5000, 3)]
    assert alloc.alloc_pages(3) == 5000  # an exact fit uses up the range
    assert list(alloc.ranges()) == [(100, 10), (1000, 1)]


def test_lower16mb_alloc_takes_bottom_of_lowest_fitting_range() -> None:
    alloc = allocator([(10, 2), (100, 10), (5000, 100)])
    assert alloc.alloc_pages(5, PAF_LOWER16MB) == 100
    assert list(alloc.ranges()) == [(10, 2), (105, 5), (5000, 100)]


def test_lower16mb_alloc_never_crosses_the_boundary() -> None:
    alloc = allocator([(LOWER16MB_PAGE - 6, 100)])
    assert alloc.alloc_pages(7, PAF_LOWER16MB) is None
    assert alloc.alloc_pages(6, PAF_LOWER16MB) == LOWER16MB_PAGE - 6
    assert alloc.alloc_pages(1, PAF_LOWER16MB) is None
    assert list(alloc.ranges()) == [(LOWER16MB_PAGE, 94)]


def test_lower1mb_alloc_stays_below_1mb() -> None:
    alloc = allocator([(LOWER1MB_PAGE - 6, 10)])
    assert alloc.alloc_pages(7, PAF_LOWER1MB) is None
    assert alloc.alloc_pages(7, PAF_LOWER16MB) == LOWER1MB_PAGE - 6
    assert alloc.alloc_pages(1, PAF_LOWER1MB) is None


def test_alloc_fails_when_no_range_is_large_enough() -> None:
    alloc = allocator([(0, 3), (10, 3)])
    assert alloc.alloc_pages(4) is None
    assert list(alloc.ranges()) == [(0, 3), (10, 3)]


@pytest.mark.parametrize("npages", [0, -1])
def test_non_positive_counts_are_rejected(npages: int) -> None:
    alloc = allocator([(0, 10)])
    for call in (alloc.alloc_pages, alloc.alloc_mem, alloc.alloc_mem_in_list):
        with pytest.raises(ValueError):
            call(npages)
    with pytest.raises(ValueError):
        alloc.free_mem(20, npages)


# --- fragmented allocation ------------------------------------------------------


def test_fragmented_alloc_takes_pieces_from_the_top_down() -> None:
    alloc = allocator([(0, 4), (100, 4), (200, 4)])
    pieces = alloc.alloc_mem_in_list(10)
    assert pieces == [(200, 4), (100, 4), (2, 2)]
    assert sum(count for _, count in pieces) == 10
    assert list(alloc.ranges()) == [(0, 2)]


def test_fragmented_alloc_is_one_piece_when_a_range_suffices() -> None:
    alloc = allocator([(0, 4), (100, 20)])
    assert alloc.alloc_mem_in_list(10) == [(110, 10)]


def test_contig_fails_where_fragmented_succeeds() -> None:
    alloc = allocator([(0, 4), (100, 4), (200, 4)])
    assert alloc.alloc_mem_in_list(10, PAF_CONTIG) is None
    assert list(alloc.ranges()) == [(0, 4), (100, 4), (200, 4)]
    assert alloc.alloc_mem_in_list(4, PAF_CONTIG) == [(200, 4)]
    assert alloc.alloc_mem_in_list(7) is not None


def test_fragmented_lower_alloc_takes_low_pieces_below_the_boundary() -> None:
    alloc = allocator([(0, 4), (LOWER16MB_PAGE - 2, 10)])
    assert alloc.alloc_mem_in_list(6, PAF_LOWER16MB) == [(0, 4), (LOWER16MB_PAGE - 2, 2)]


def test_failed_fragmented_alloc_gives_every_piece_back() -> None:
    # Enough memory overall, but not below 16 MiB: pieces are taken, then returned.
    before = [(0, 4), (LOWER16MB_PAGE - 2, 10)]
    alloc = allocator(before)
    assert alloc.alloc_mem_in_list(8, PAF_LOWER16MB) is None
    alloc.check()
    assert list(alloc.ranges()) == before
    assert alloc.free_pages == 14


def test_oversized_fragmented_alloc_fails_cleanly() -> None:
    alloc = allocator([(0, 4), (100, 4)])
    assert alloc.alloc_mem_in_list(9) is None
    assert list(alloc.ranges()) == [(0, 4), (100, 4)]


# --- freeing --------------------------------------------------------------------


def test_free_merges_with_both_neighbours() -> None:
    alloc = allocator([(0, 10), (20, 10)])
    alloc.free_mem(10, 10)
    assert list(alloc.ranges()) == [(0, 30)]
    assert alloc.range_count == 1
    assert alloc.free_pages == alloc.largest() == 30


def test_free_merges_with_one_neighbour() -> None:
    alloc = allocator([(0, 10), (30, 10)])
    alloc.free_mem(10, 5)
    alloc.free_mem(25, 5)
    assert list(alloc.ranges()) == [(0, 15), (25, 15)]


@pytest.mark.parametrize(
    ("page", "npages"),
    [(12, 2), (5, 6), (19, 1), (8, 30), (10, 10), (29, 3)],
)
def test_double_free_is_rejected(page: int, npages: int) -> None:
    alloc = allocator([(10, 10), (30, 5)])
    with pytest.raises(ValueError):
        alloc.free_mem(page, npages)
    assert list(alloc.ranges()) == [(10, 10), (30, 5)]
    assert alloc.free_pages == 15


def test_negative_page_is_rejected() -> None:
    with pytest.raises(ValueError):
        PageAllocator().free_mem(-1, 1)


def test_views_on_empty_allocator() -> None:
    alloc = PageAllocator()
    assert alloc.free_pages == alloc.range_count == alloc.largest() == 0
    assert list(alloc.ranges()) == []
    assert alloc.alloc_mem(1) is None
    assert alloc.alloc_mem_in_list(1) is None
    alloc.check()


def test_check_detects_a_bad_counter() -> None:
    alloc = allocator([(0, 10)])
    alloc._free_pages += 1
    with pytest.raises(AssertionError, match="free_pages"):
        alloc.check()


# --- memory pressure ------------------------------------------------------------


class YieldedCache:
    """Stands in for VM's cache of yielded blocks, freed oldest first."""

    def __init__(self, blocks: list[tuple[int, int]]) -> None:
        self.blocks = blocks
        self.calls: list[int] = []
        self.alloc = PageAllocator(self.reclaim)

    def reclaim(self, wanted: int) -> int:
        self.calls.append(wanted)
        if not self.blocks:
            return 0
        page, count = self.blocks.pop(0)
        self.alloc.free_mem(page, count)
        return count


def test_alloc_mem_reclaims_and_retries() -> None:
    cache = YieldedCache([(500, 10), (600, 10)])
    cache.alloc.add_free(0, 4)
    assert cache.alloc.alloc_mem(10) == 500
    assert cache.calls == [6], "reclaim is asked for the shortfall"
    assert cache.alloc.alloc_mem(20) is None  # reclaims everything, still too fragmented
    assert cache.calls == [6, 16, 6]
    assert cache.alloc.alloc_mem_in_list(14) == [(600, 10), (0, 4)]
    cache.alloc.check()


def test_alloc_mem_in_list_reclaims_and_retries() -> None:
    cache = YieldedCache([(100, 8)])
    cache.alloc.add_free(0, 4)
    assert cache.alloc.alloc_mem_in_list(10) == [(100, 8), (2, 2)]
    assert cache.calls == [6]


def test_contig_alloc_in_list_reclaims_and_retries() -> None:
    cache = YieldedCache([(100, 3), (200, 8)])
    cache.alloc.add_free(0, 4)
    assert cache.alloc.alloc_mem_in_list(6, PAF_CONTIG) == [(202, 6)]
    assert cache.calls == [2, 1], "at least one page more each time, while it is fragmented"


def test_no_reclaim_when_memory_suffices_or_for_alloc_pages() -> None:
    cache = YieldedCache([(100, 8)])
    cache.alloc.add_free(0, 4)
    assert cache.alloc.alloc_mem(2) == 2
    assert cache.alloc.alloc_pages(8) is None
    assert cache.calls == []


# --- model-based state machine --------------------------------------------------

# The model is a bitmap with one byte per page, 1 meaning free.

INITIAL = (200, 4000)  # straddles both the 1 MiB and the 16 MiB boundary
FREE, USED = b"\x01", b"\x00"


def runs(bitmap: bytearray) -> list[tuple[int, int]]:
    """The maximal runs of free pages, ascending."""
    return [(m.start(), m.end() - m.start()) for m in re.finditer(FREE + b"+", bitmap)]


def limit_of(flags: int) -> int | None:
    if flags & PAF_LOWER1MB:
        return LOWER1MB_PAGE
    return LOWER16MB_PAGE if flags & PAF_LOWER16MB else None


def candidates(bitmap: bytearray, flags: int) -> list[tuple[int, int]]:
    """Usable runs in scan order: top down, or bottom up and clipped below a limit."""
    limit = limit_of(flags)
    if limit is None:
        return runs(bitmap)[::-1]
    return runs(bitmap[:limit])


def piece_of(start: int, size: int, count: int, flags: int) -> tuple[int, int]:
    """`count` pages cut from the side of run (start, size) the scan begins at."""
    return (start, count) if limit_of(flags) is not None else (start + size - count, count)


def expected_alloc(bitmap: bytearray, npages: int, flags: int) -> int | None:
    for start, size in candidates(bitmap, flags):
        if size >= npages:
            return piece_of(start, size, npages, flags)[0]
    return None


def expected_gather(bitmap: bytearray, npages: int, flags: int) -> list[tuple[int, int]] | None:
    if flags & PAF_CONTIG:
        page = expected_alloc(bitmap, npages, flags)
        return None if page is None else [(page, npages)]
    pieces, remaining = [], npages
    for start, size in candidates(bitmap, flags):
        count = min(remaining, size)
        pieces.append(piece_of(start, size, count, flags))
        remaining -= count
        if not remaining:
            return pieces
    return None


class AllocatorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.alloc = PageAllocator()
        self.alloc.add_free(*INITIAL)
        self.bitmap = bytearray(sum(INITIAL) + 100)
        self.mark(*INITIAL, FREE)
        self.held: list[tuple[int, int]] = []

    def mark(self, page: int, count: int, state: bytes) -> None:
        self.bitmap[page : page + count] = state * count

    def take(self, pieces: list[tuple[int, int]]) -> None:
        for page, count in pieces:
            assert USED not in self.bitmap[page : page + count]
            self.mark(page, count, USED)
            self.held.append((page, count))

    @rule(npages=st.integers(1, 300), flags=st.sampled_from([0, PAF_LOWER16MB, PAF_LOWER1MB]))
    def alloc_pages(self, npages: int, flags: int) -> None:
        page = self.alloc.alloc_mem(npages, flags)
        assert page == expected_alloc(self.bitmap, npages, flags)
        if page is not None:
            self.take([(page, npages)])

    @rule(
        npages=st.integers(1, 600),
        flags=st.sampled_from([0, PAF_LOWER16MB, PAF_LOWER1MB, PAF_CONTIG]),
    )
    def alloc_in_list(self, npages: int, flags: int) -> None:
        expected = expected_gather(self.bitmap, npages, flags)
        pieces = self.alloc.alloc_mem_in_list(npages, flags)
        assert pieces == expected
        if pieces is not None:
            assert sum(count for _, count in pieces) == npages
            self.take(pieces)

    @precondition(lambda self: self.held)
    @rule(index=st.integers(0, 10**6), keep=st.integers(0, 50))
    def free_piece(self, index: int, keep: int) -> None:
        # Free all of a held piece but its last `keep` pages, as VM frees part of a block.
        page, count = self.held.pop(index % len(self.held))
        keep = min(keep, count - 1)
        self.alloc.free_mem(page, count - keep)
        self.mark(page, count - keep, FREE)
        if keep:
            self.held.append((page + count - keep, keep))

    @precondition(lambda self: FREE in self.bitmap)
    @rule(near=st.integers(0, sum(INITIAL)), npages=st.integers(1, 3))
    def double_free(self, near: int, npages: int) -> None:
        page = self.bitmap.find(FREE, near)
        if page < 0:
            page = self.bitmap.find(FREE)
        with pytest.raises(ValueError):
            self.alloc.free_mem(page, npages)

    @invariant()
    def matches_model(self) -> None:
        self.alloc.check()
        model_runs = runs(self.bitmap)
        assert list(self.alloc.ranges()) == model_runs
        assert self.alloc.free_pages == self.bitmap.count(FREE)
        assert self.alloc.range_count == len(model_runs)
        assert self.alloc.largest() == max((size for _, size in model_runs), default=0)

    def teardown(self) -> None:
        for page, count in self.held:
            self.alloc.free_mem(page, count)
        self.alloc.check()
        assert list(self.alloc.ranges()) == [INITIAL]


TestAllocatorMachine = AllocatorMachine.TestCase
TestAllocatorMachine.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
