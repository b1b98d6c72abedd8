"""A process's store of virtual memory regions, ordered by start address.

`RegionTree` keeps the regions in an AVL tree keyed by start address, as
MINIX has done since "AVL tree for regions"; `RegionList` is the sorted
singly linked list it replaced, kept for benchmarks and equivalence tests.
Both answer every query identically.

A region is any object with integer attributes ``vaddr`` (page aligned start
address) and ``length`` (bytes, a positive multiple of the page size). A
region's ``vaddr`` must not change while it is stored; its ``length`` may, as
long as it does not come to overlap the next region. Stores do not check for
overlap on insert: `check` reports it.
"""

from __future__ import annotations

import abc
import itertools
from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

from minixvm.include.arch import VM_DATATOP
from minixvm.lib.avl import AVLTree, Search
from minixvm.machine.ram import PAGE_SIZE


class Region(Protocol):
    """What a store needs of a region."""

    @property
    def vaddr(self) -> int: ...

    @property
    def length(self) -> int: ...


R = TypeVar("R", bound=Region)


class RegionStore(Protocol[R]):
    """The operations shared by `RegionTree` and `RegionList`."""

    def insert(self, region: R) -> None:
        """Add `region`; ValueError if a stored region starts at the same address."""

    def remove(self, region: R) -> None:
        """Remove this very region object; KeyError if it is not stored."""

    def lookup(self, addr: int) -> R | None:
        """The region containing `addr`, or None."""

    def search(self, addr: int, how: Search) -> R | None:
        """The region whose start is nearest to `addr` while satisfying `how`."""

    def next(self, region: R) -> R | None:
        """The first region starting above `region`'s start."""

    def prev(self, region: R) -> R | None:
        """The last region starting below `region`'s start."""

    def __iter__(self) -> Iterator[R]: ...

    def __len__(self) -> int: ...

    def overlapping(self, start: int, end: int) -> list[R]:
        """The regions intersecting [start, end), ascending."""

    def find_slot_range(self, minv: int, maxv: int, length: int) -> int | None:
        """A free address for `length` bytes within [minv, maxv), or None."""

    def check(self) -> None:
        """Raise AssertionError if the store is inconsistent."""


def _end(region: Region) -> int:
    return region.vaddr + region.length


def _fit(start: int, end: int, minv: int, maxv: int, length: int) -> int | None:
    """The top `length` bytes of gap [start, end) clipped to [minv, maxv), if they fit."""
    top = min(end, maxv)
    if top - max(start, minv) >= length:
        return top - length
    return None


def _boundary_answers(regions: list[R]) -> Iterator[tuple[int, R | None]]:
    """What a linear scan finds at each region boundary, given ordered disjoint regions.

    Yields (address, region containing it or None) for the first and last byte
    of every region, the byte after it, and the byte before the first region.
    """
    if regions and regions[0].vaddr > 0:
        yield regions[0].vaddr - 1, None
    for region, following in itertools.zip_longest(regions, regions[1:]):
        yield region.vaddr, region
        yield _end(region) - 1, region
        touching = following is not None and following.vaddr == _end(region)
        yield _end(region), following if touching else None


class _OrderedStore(abc.ABC, Generic[R]):
    """The queries both stores answer alike, built on their ordered primitives."""

    @abc.abstractmethod
    def search(self, addr: int, how: Search) -> R | None:
        """The region whose start is nearest to `addr` while satisfying `how`."""

    @abc.abstractmethod
    def _ascending(self, start: int) -> Iterator[R]:
        """Regions starting at or above `start`, ascending."""

    @abc.abstractmethod
    def _descending(self, start: int) -> Iterator[R]:
        """Regions starting at or below `start`, descending."""

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def __iter__(self) -> Iterator[R]: ...

    def lookup(self, addr: int) -> R | None:
        """The region containing `addr`, or None (MINIX map_lookup)."""
        region = self.search(addr, Search.LESS_EQUAL)
        if region is not None and addr < _end(region):
            return region
        return None

    def next(self, region: R) -> R | None:
        """The first region starting above `region`'s start, or None."""
        return self.search(region.vaddr, Search.GREATER)

    def prev(self, region: R) -> R | None:
        """The last region starting below `region`'s start, or None."""
        return self.search(region.vaddr, Search.LESS)

    def overlapping(self, start: int, end: int) -> list[R]:
        """The regions intersecting [start, end), in ascending order."""
        if start >= end:
            return []
        # Only the region starting at or below `start` can reach into the range
        # from below, because regions do not overlap.
        below = self.search(start, Search.LESS_EQUAL)
        first = start if below is None else below.vaddr
        found = []
        for region in self._ascending(first):
            if region.vaddr >= end:
                break
            if _end(region) > start:
                found.append(region)
        return found

    def find_slot_range(self, minv: int, maxv: int, length: int) -> int | None:
        """Find where to map `length` bytes inside [minv, maxv) (MINIX region_find_slot_range).

        `length` must be a positive multiple of PAGE_SIZE (ValueError otherwise).
        `maxv` == 0 asks for the slot at exactly `minv`. The free gaps between
        regions are tried from the top down, each first shrunk by a guard page
        at both ends and then whole, and the slot is put at the top of the
        first gap that fits once clipped to [minv, maxv). Returns the slot's
        address, or None if nothing fits.
        """
        if length <= 0 or length % PAGE_SIZE:
            raise ValueError(f"length {length:#x} is not a positive multiple of the page size")
        if maxv == 0:
            maxv = minv + length
        if minv + length > maxv:
            return None
        for start, end in self._gaps_downward(maxv):
            if end <= minv:
                break  # this and every lower gap clip to nothing
            slot = _fit(start + PAGE_SIZE, end - PAGE_SIZE, minv, maxv, length)
            if slot is None:
                slot = _fit(start, end, minv, maxv, length)
            if slot is not None:
                return slot
        return None

    def check(self) -> None:
        """Raise AssertionError if regions are misaligned, unordered or overlapping."""
        count = 0
        previous_end: int | None = None
        for region in self:
            if region.vaddr % PAGE_SIZE or region.length <= 0 or region.length % PAGE_SIZE:
                raise AssertionError(f"misaligned region {region.vaddr:#x}+{region.length:#x}")
            if previous_end is not None and region.vaddr < previous_end:
                raise AssertionError(f"region at {region.vaddr:#x} is out of order or overlaps")
            previous_end = _end(region)
            count += 1
        if count != len(self):
            raise AssertionError(f"length is {len(self)} but {count} regions are stored")

    def _gaps_downward(self, maxv: int) -> Iterator[tuple[int, int]]:
        """The free gaps (start, end) from the one containing or below `maxv` downward."""
        above = self.search(maxv, Search.GREATER_EQUAL)
        end = VM_DATATOP if above is None else above.vaddr
        for region in self._descending(maxv - 1):
            yield _end(region), end
            end = region.vaddr
        yield 0, end


class RegionTree(_OrderedStore[R]):
    """Regions in an AVL tree keyed by start address: O(log n) per operation."""

    def __init__(self) -> None:
        self._tree: AVLTree[R] = AVLTree()

    def __len__(self) -> int:
        return len(self._tree)

    def insert(self, region: R) -> None:
        """Add `region`; ValueError if a stored region starts at the same address."""
        self._tree.insert(region.vaddr, region)

    def remove(self, region: R) -> None:
        """Remove this very region object; KeyError if it is not stored."""
        if self._tree.get(region.vaddr) is not region:
            raise KeyError(region.vaddr)
        self._tree.remove(region.vaddr)

    def search(self, addr: int, how: Search) -> R | None:
        """The region whose start is nearest to `addr` while satisfying `how`."""
        found = self._tree.search(addr, how)
        return None if found is None else found[1]

    def check(self) -> None:
        """Also check the tree, its keys, and that `lookup` agrees with a linear scan.

        The scan's answer is derived in one ascending pass at every region
        boundary, which is where a wrong lookup would show.
        """
        super().check()
        self._tree.check()
        for key, region in self._tree.items():
            if key != region.vaddr:
                raise AssertionError(f"region at {region.vaddr:#x} is filed under {key:#x}")
        for addr, wanted in _boundary_answers(list(self)):
            if self.lookup(addr) is not wanted:
                raise AssertionError(f"lookup({addr:#x}) disagrees with a linear scan")

    def __iter__(self) -> Iterator[R]:
        """All regions in ascending address order; do not modify the store meanwhile."""
        return self._tree.values()

    def _ascending(self, start: int) -> Iterator[R]:
        return (region for _, region in self._tree.items(start))

    def _descending(self, start: int) -> Iterator[R]:
        return (region for _, region in self._tree.items(start, reverse=True))


class _Link(Generic[R]):
    __slots__ = ("region", "next")

    def __init__(self, region: R, following: _Link[R] | None) -> None:
        self.region = region
        self.next = following


class RegionList(_OrderedStore[R]):
    """Regions in a sorted singly linked list: every operation walks it, O(n)."""

    def __init__(self) -> None:
        self._head: _Link[R] | None = None
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def insert(self, region: R) -> None:
        """Add `region`; ValueError if a stored region starts at the same address."""
        before, link = self._walk_to(region.vaddr)
        if link is not None and link.region.vaddr == region.vaddr:
            raise ValueError(f"a region already starts at {region.vaddr:#x}")
        new = _Link(region, link)
        if before is None:
            self._head = new
        else:
            before.next = new
        self._count += 1

    def remove(self, region: R) -> None:
        """Remove this very region object; KeyError if it is not stored."""
        before, link = self._walk_to(region.vaddr)
        if link is None or link.region is not region:
            raise KeyError(region.vaddr)
        if before is None:
            self._head = link.next
        else:
            before.next = link.next
        self._count -= 1

    def search(self, addr: int, how: Search) -> R | None:
        """The region whose start is nearest to `addr` while satisfying `how`."""
        before, link = self._walk_to(addr)
        at = link if link is not None and link.region.vaddr == addr else None
        if how == Search.EQUAL:
            found = at
        elif how == Search.LESS:
            found = before
        elif how == Search.LESS_EQUAL:
            found = before if at is None else at
        elif how == Search.GREATER:
            found = link if at is None else at.next
        else:
            found = link
        return None if found is None else found.region

    def _walk_to(self, addr: int) -> tuple[_Link[R] | None, _Link[R] | None]:
        """The last link starting below `addr` and the first starting at or above it."""
        before, link = None, self._head
        while link is not None and link.region.vaddr < addr:
            before, link = link, link.next
        return before, link

    def __iter__(self) -> Iterator[R]:
        """All regions in ascending address order; do not modify the store meanwhile."""
        link = self._head
        while link is not None:
            yield link.region
            link = link.next

    def _ascending(self, start: int) -> Iterator[R]:
        return (region for region in self if region.vaddr >= start)

    def _descending(self, start: int) -> Iterator[R]:
        # A singly linked list only walks forward, so collect and reverse.
        below = []
        link = self._head
        while link is not None and link.region.vaddr <= start:
            below.append(link.region)
            link = link.next
        return reversed(below)
