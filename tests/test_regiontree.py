"""Tests for the region stores (minixvm.servers.vm.regiontree)."""

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from minixvm.lib.avl import Search
from minixvm.servers.vm.regiontree import (
    PAGE_SIZE,
    VM_DATATOP,
    RegionList,
    RegionStore,
    RegionTree,
)

P = PAGE_SIZE


@dataclass(eq=False)  # regions compare by identity, as the stores do
class Reg:
    vaddr: int
    length: int

    @property
    def end(self) -> int:
        return self.vaddr + self.length


STORES = [RegionTree, RegionList]


def store_of(cls: type, *regions: tuple[int, int]) -> RegionStore[Reg]:
    """A store holding regions given as (first page, page count)."""
    store = cls()
    for page, npages in regions:
        store.insert(Reg(page * P, npages * P))
    store.check()
    return store


# --- brute-force model ----------------------------------------------------------

RELATIONS = {
    Search.EQUAL: operator.eq,
    Search.LESS: operator.lt,
    Search.LESS_EQUAL: operator.le,
    Search.GREATER: operator.gt,
    Search.GREATER_EQUAL: operator.ge,
}


def model_search(regions: list[Reg], addr: int, how: Search) -> Reg | None:
    matches = [r for r in regions if RELATIONS[how](r.vaddr, addr)]
    if not matches:
        return None
    pick = max if how in (Search.LESS, Search.LESS_EQUAL) else min
    return pick(matches, key=lambda r: r.vaddr)


def model_lookup(regions: list[Reg], addr: int) -> Reg | None:
    return next((r for r in regions if r.vaddr <= addr < r.end), None)


def model_overlapping(regions: list[Reg], start: int, end: int) -> list[Reg]:
    hits = (r for r in regions if max(r.vaddr, start) < min(r.end, end))
    return sorted(hits, key=lambda r: r.vaddr)


def model_find_slot(regions: list[Reg], minv: int, maxv: int, length: int) -> int | None:
    """The spec read literally: every gap from the top, guarded then whole, clipped."""
    if maxv == 0:
        maxv = minv + length
    ordered = sorted(regions, key=lambda r: r.vaddr)
    bounds = [0] + [x for r in ordered for x in (r.vaddr, r.end)] + [VM_DATATOP]
    gaps = list(zip(bounds[::2], bounds[1::2], strict=True))
    for start, end in reversed(gaps):
        for guard in (P, 0):
            low, high = max(start + guard, minv), min(end - guard, maxv)
            if high - low >= length:
                return high - length
    return None


# --- differential state machine -------------------------------------------------

pages = st.integers(0, 64)
addresses = st.integers(0, 70 * P)


class StoreMachine(RuleBasedStateMachine):
    """RegionTree and RegionList must give identical answers, and the model's."""

    def __init__(self) -> None:
        super().__init__()
        self.tree: RegionTree[Reg] = RegionTree()
        self.list: RegionList[Reg] = RegionList()
        self.model: list[Reg] = []

    def both(self, call: Callable[[RegionStore[Reg]], object]) -> object:
        answer = call(self.tree)
        assert call(self.list) == answer
        return answer

    @rule(page=pages, npages=st.integers(1, 8))
    def insert(self, page: int, npages: int) -> None:
        region = Reg(page * P, npages * P)
        if any(r.vaddr == region.vaddr for r in self.model):
            for store in (self.tree, self.list):
                with pytest.raises(ValueError):
                    store.insert(region)
        elif not model_overlapping(self.model, region.vaddr, region.end):
            self.tree.insert(region)
            self.list.insert(region)
            self.model.append(region)

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 100))
    def remove(self, index: int) -> None:
        region = self.model.pop(index % len(self.model))
        self.tree.remove(region)
        self.list.remove(region)

    @rule(page=pages)
    def remove_stranger(self, page: int) -> None:
        stranger = Reg(page * P, P)  # never stored, though its address may be
        for store in (self.tree, self.list):
            with pytest.raises(KeyError):
                store.remove(stranger)

    @rule(addr=addresses)
    def lookup(self, addr: int) -> None:
        assert self.both(lambda s: s.lookup(addr)) is model_lookup(self.model, addr)

    @rule(addr=addresses, how=st.sampled_from(Search))
    def search(self, addr: int, how: Search) -> None:
        assert self.both(lambda s: s.search(addr, how)) is model_search(self.model, addr, how)

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 100))
    def neighbours(self, index: int) -> None:
        region = self.model[index % len(self.model)]
        expected_next = model_search(self.model, region.vaddr, Search.GREATER)
        expected_prev = model_search(self.model, region.vaddr, Search.LESS)
        assert self.both(lambda s: s.next(region)) is expected_next
        assert self.both(lambda s: s.prev(region)) is expected_prev

    @rule(start=addresses, size=st.integers(0, 20 * P))
    def overlapping(self, start: int, size: int) -> None:
        expected = model_overlapping(self.model, start, start + size)
        assert self.both(lambda s: s.overlapping(start, start + size)) == expected

    @rule(
        minv=pages,
        maxv=st.sampled_from([0, VM_DATATOP]) | pages.map(lambda page: page * P),
        npages=st.integers(1, 6),
    )
    def find_slot_range(self, minv: int, maxv: int, npages: int) -> None:
        minv *= P
        length = npages * P
        slot = self.both(lambda s: s.find_slot_range(minv, maxv, length))
        assert slot == model_find_slot(self.model, minv, maxv, length)
        if slot is not None:
            assert slot >= minv and slot + length <= (maxv or minv + length)
            assert not model_overlapping(self.model, slot, slot + length)

    @invariant()
    def consistent(self) -> None:
        self.tree.check()
        self.list.check()
        ordered = sorted(self.model, key=lambda r: r.vaddr)
        assert list(self.tree) == list(self.list) == ordered
        assert len(self.tree) == len(self.list) == len(self.model)


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)


# --- examples -------------------------------------------------------------------


@pytest.fixture(params=STORES, ids=lambda cls: cls.__name__)
def store_cls(request: pytest.FixtureRequest) -> type:
    return request.param


def test_lookup_and_neighbours(store_cls: type) -> None:
    store = store_of(store_cls, (2, 2), (10, 1))
    low, high = list(store)
    assert store.lookup(2 * P) is low
    assert store.lookup(4 * P - 1) is low
    assert store.lookup(4 * P) is None
    assert store.lookup(10 * P + 5) is high
    assert store.next(low) is high and store.next(high) is None
    assert store.prev(high) is low and store.prev(low) is None
    assert store.overlapping(3 * P, 11 * P) == [low, high]
    assert store.overlapping(4 * P, 10 * P) == []
    assert store.overlapping(5 * P, 5 * P) == []


def test_remove_needs_the_stored_object(store_cls: type) -> None:
    store = store_of(store_cls, (2, 2))
    with pytest.raises(KeyError):
        store.remove(Reg(2 * P, 2 * P))
    (stored,) = store
    store.remove(stored)
    assert len(store) == 0


def test_duplicate_start_rejected(store_cls: type) -> None:
    store = store_of(store_cls, (2, 2))
    with pytest.raises(ValueError):
        store.insert(Reg(2 * P, P))
    assert len(store) == 1


def test_check_detects_overlap_and_misalignment(store_cls: type) -> None:
    store = store_of(store_cls, (2, 2))
    store.insert(Reg(3 * P, P))  # insert does not look for overlap; check does
    with pytest.raises(AssertionError, match="overlaps"):
        store.check()
    misaligned = store_cls()
    misaligned.insert(Reg(P + 1, P))
    with pytest.raises(AssertionError, match="misaligned"):
        misaligned.check()


def test_tree_check_detects_a_moved_region() -> None:
    store = store_of(RegionTree, (2, 2), (8, 1))
    _, moved = store
    moved.vaddr = 6 * P
    with pytest.raises(AssertionError, match="filed under"):
        store.check()


def test_find_slot_uses_guard_pages_when_there_is_room(store_cls: type) -> None:
    store = store_of(store_cls, (0x10, 1), (0x20, 1))
    # The gap [0x11000, 0x20000) leaves a guard page below the region at 0x20000.
    assert store.find_slot_range(0, 0x20 * P, 2 * P) == 0x1D * P
    # With maxv inside the gap the clipped top is maxv itself.
    assert store.find_slot_range(0, 0x18 * P, 2 * P) == 0x16 * P


def test_find_slot_drops_guard_pages_when_there_is_no_room(store_cls: type) -> None:
    store = store_of(store_cls, (0x10, 1), (0x14, 1))
    # The gap [0x11000, 0x14000) is 3 pages: too small once guarded, so it is
    # used whole, although the roomy gap below 0x10000 would take guards.
    assert store.find_slot_range(0, 0x14 * P, 3 * P) == 0x11 * P
    assert store.find_slot_range(0, 0x14 * P, 2 * P) == 0x12 * P
    assert store.find_slot_range(0, 0x14 * P, 4 * P) == 0xB * P


def test_find_slot_above_the_last_region_ends_below_datatop(store_cls: type) -> None:
    assert store_of(store_cls).find_slot_range(0, VM_DATATOP, P) == VM_DATATOP - 2 * P
    store = store_of(store_cls, (0x100, 4))
    assert store.find_slot_range(0, VM_DATATOP, P) == VM_DATATOP - 2 * P
    assert store.find_slot_range(0, 0x104 * P, P) == 0xFE * P


def test_find_slot_with_maxv_zero_places_exactly(store_cls: type) -> None:
    store = store_of(store_cls, (0x10, 4))
    assert store.find_slot_range(0x30 * P, 0, 2 * P) == 0x30 * P
    assert store.find_slot_range(0xE * P, 0, 2 * P) == 0xE * P  # flush against the region
    assert store.find_slot_range(0xF * P, 0, 2 * P) is None  # would overlap it


def test_find_slot_returns_none_when_full(store_cls: type) -> None:
    store = store_of(store_cls, (0x10, 0x10), (0x20, 8))
    assert store.find_slot_range(0x10 * P, 0x28 * P, P) is None
    assert store.find_slot_range(0x10 * P, 0x29 * P, 2 * P) is None
    assert store.find_slot_range(0x10 * P, 0x11 * P, 2 * P) is None  # range smaller than length


@pytest.mark.parametrize("length", [0, -P, P + 1])
def test_find_slot_rejects_bad_lengths(store_cls: type, length: int) -> None:
    with pytest.raises(ValueError):
        store_cls().find_slot_range(0, VM_DATATOP, length)


# --- complexity -----------------------------------------------------------------


def _counted(op: Callable[[int, Any], Any]) -> Callable[[int, Any], Any]:
    """Comparison `op`, counting each use in CountingInt.comparisons."""

    def compare(self: int, other: Any) -> Any:
        CountingInt.comparisons += 1
        return op(int(self), other)

    return compare


class CountingInt(int):
    """An address that counts every comparison made with it.

    Python tries a subclass's reflected comparison first, so the count also
    covers comparisons written with a plain int on the left.
    """

    comparisons = 0
    __lt__ = _counted(operator.lt)
    __le__ = _counted(operator.le)
    __gt__ = _counted(operator.gt)
    __ge__ = _counted(operator.ge)
    __eq__ = _counted(operator.eq)
    __ne__ = _counted(operator.ne)
    __hash__ = int.__hash__


def comparisons_per_lookup(cls: type, n: int) -> float:
    store = cls()
    for i in reversed(range(n)):  # descending: the list prepends in O(1)
        store.insert(Reg(2 * i * P, P))
    # Addresses inside regions but off their starts, so no search stops early.
    probes = [CountingInt(2 * i * P + 8) for i in range(0, n, n // 64)]
    CountingInt.comparisons = 0
    for addr in probes:
        store.lookup(addr)
    return CountingInt.comparisons / len(probes)


def test_tree_lookups_stay_logarithmic_while_list_lookups_grow_linearly() -> None:
    small, large = 64, 2048
    tree_small = comparisons_per_lookup(RegionTree, small)
    tree_large = comparisons_per_lookup(RegionTree, large)
    list_small = comparisons_per_lookup(RegionList, small)
    list_large = comparisons_per_lookup(RegionList, large)
    assert tree_large <= 4 * math.log2(large)
    assert tree_large <= 2.5 * tree_small
    assert list_large >= large / 4
    assert list_large >= 16 * list_small
