"""The physical page allocator, after MINIX's vm/alloc.c.

Free physical memory is a set of ranges of 4 KiB pages kept in an AVL tree
keyed by first page, each value the range's size in pages. Every quantity in
this module is a page number or a page count, never a byte address.

Invariant: the ranges are disjoint and no two of them touch (``free_mem``
merges a freed range with both neighbours), so a given set of free pages has
exactly one representation.

Placement follows MINIX's "chew off memory from the same side of the chunk as
where we start scanning", which keeps fragmentation down: unconstrained
requests scan from the highest range down and are cut from the high end,
requests limited to low memory scan from the lowest range up and are cut from
the low end. Unlike MINIX, a limited request lies entirely below its boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from minixvm.lib.avl import AVLTree, Search

PAF_CONTIG = 0x02
PAF_LOWER16MB = 0x04
PAF_LOWER1MB = 0x08

LOWER16MB_PAGE = 4096
"""First page at or above 16 MiB."""
LOWER1MB_PAGE = 256
"""First page at or above 1 MiB."""

RUN_PAGES = 1024
"""Room `alloc_page_after` leaves above a new run: 4 MiB, a page table's worth."""

T = TypeVar("T")


def _page_limit(flags: int) -> int | None:
    """The first page a request with `flags` may not use, or None if unrestricted."""
    if flags & PAF_LOWER1MB:
        return LOWER1MB_PAGE
    if flags & PAF_LOWER16MB:
        return LOWER16MB_PAGE
    return None


def _require_positive(npages: int) -> None:
    if npages <= 0:
        raise ValueError(f"page count must be positive, not {npages}")


class PageAllocator:
    """Hands out and takes back ranges of physical pages.

    `reclaim`, if given, is called with the number of pages wanted when
    `alloc_mem` or `alloc_mem_in_list` cannot be satisfied; it should give
    pages back through `free_mem` (VM frees its cached yielded blocks, oldest
    first) and return how many it freed. The allocation is retried as long as
    it reports more than zero.
    """

    def __init__(self, reclaim: Callable[[int], int] | None = None) -> None:
        self._free: AVLTree[int] = AVLTree()
        self._free_pages = 0
        self._reclaim = reclaim

    @property
    def free_pages(self) -> int:
        """Total number of free pages (O(1))."""
        return self._free_pages

    @property
    def range_count(self) -> int:
        """Number of free ranges (O(1))."""
        return len(self._free)

    def largest(self) -> int:
        """Size in pages of the largest free range, 0 if none (O(ranges))."""
        return max(self._free.values(), default=0)

    def ranges(self) -> Iterator[tuple[int, int]]:
        """Iterate over the free ranges as (first page, page count), ascending.

        The allocator must not be used while iterating.
        """
        return self._free.items()

    def alloc_pages(self, npages: int, flags: int = 0) -> int | None:
        """Allocate `npages` contiguous pages; return the first page, or None if no range fits.

        Does not reclaim memory; see `alloc_mem`. PAF_LOWER16MB and PAF_LOWER1MB
        keep the whole allocation below 16 MiB or 1 MiB.
        """
        _require_positive(npages)
        piece = self._take(npages, flags, partial=False)
        return None if piece is None else piece[0]

    def alloc_mem(self, npages: int, flags: int = 0) -> int | None:
        """Like `alloc_pages`, but reclaim memory and retry when it fails."""
        _require_positive(npages)
        return self._retrying(npages, lambda: self.alloc_pages(npages, flags))

    def alloc_mem_in_list(self, npages: int, flags: int = 0) -> list[tuple[int, int]] | None:
        """Allocate `npages` pages, possibly as several pieces of (first page, count).

        Pieces are taken one at a time from the highest ranges downward (from
        the lowest upward under a LOWER flag), each as large as its range
        allows. With PAF_CONTIG the result is exactly one piece. Reclaims and
        retries like `alloc_mem`; if it still fails, every piece taken is given
        back and None is returned.
        """
        _require_positive(npages)
        if flags & PAF_CONTIG:
            page = self.alloc_mem(npages, flags)
            return None if page is None else [(page, npages)]
        return self._retrying(npages, lambda: self._gather(npages, flags))

    def alloc_page_after(self, prev: int | None) -> int | None:
        """One page for memory that grows upward (demand-zero faults in a row):
        ``prev + 1`` if that page is free, else one RUN_PAGES below the top of
        the highest range, so that the pages above it stay free for the calls
        that follow. Pages so taken in a row are physically contiguous (a copy
        of them is one slice). Reclaims and retries like `alloc_mem`."""
        return self._retrying(1, lambda: self._take_after(prev))

    def _take_after(self, prev: int | None) -> int | None:
        if prev is not None:
            hit = self._free.search(prev + 1, Search.LESS_EQUAL)
            if hit is not None and hit[0] + hit[1] > prev + 1:
                self._carve(hit[0], hit[1], prev + 1, 1)
                return prev + 1
        top = self._free.last()
        if top is None:
            return None
        start, size = top
        page = start + max(0, size - RUN_PAGES)
        self._carve(start, size, page, 1)
        return page

    def free_mem(self, page: int, npages: int) -> None:
        """Give pages [page, page + npages) back, merging with both neighbouring ranges.

        Raises ValueError if `npages` <= 0, `page` < 0, or any of the pages is
        already free (a double free); the free ranges are then unchanged.
        """
        _require_positive(npages)
        if page < 0:
            raise ValueError(f"negative page {page}")
        start, end = page, page + npages
        below = self._free.search(page, Search.LESS_EQUAL)
        above = self._free.search(page, Search.GREATER)
        below_end = page if below is None else below[0] + below[1]
        above_start = end if above is None else above[0]
        if below_end > page or above_start < end:
            raise ValueError(f"pages [{page}, {end}) overlap free memory")
        if above is not None and above_start == end:
            end += self._free.remove(above_start)
        if below is not None and below_end == page:
            self._free.replace(below[0], end - below[0])
        else:
            self._free.insert(start, end - start)
        self._free_pages += npages

    def add_free(self, page: int, npages: int) -> None:
        """Hand a chunk of memory to the allocator at boot; same contract as `free_mem`."""
        self.free_mem(page, npages)

    def check(self) -> None:
        """Raise AssertionError unless the free ranges and counters are consistent."""
        self._free.check()
        total = 0
        previous_end: int | None = None
        for start, size in self.ranges():
            if start < 0 or size <= 0:
                raise AssertionError(f"bad free range ({start}, {size})")
            if previous_end is not None and start <= previous_end:
                raise AssertionError(f"free range at {start} overlaps or touches the one below")
            previous_end = start + size
            total += size
        if total != self._free_pages:
            raise AssertionError(f"free_pages is {self._free_pages}, ranges hold {total}")

    def _retrying(self, npages: int, attempt: Callable[[], T | None]) -> T | None:
        """Try; while that fails, have ``reclaim`` free at least the shortfall, and retry."""
        result = attempt()
        while result is None and self._reclaim is not None:
            if self._reclaim(max(1, npages - self._free_pages)) <= 0:
                break
            result = attempt()
        return result

    def _gather(self, npages: int, flags: int) -> list[tuple[int, int]] | None:
        """Take `npages` pages piece by piece, all or nothing."""
        if npages > self._free_pages:
            return None
        pieces: list[tuple[int, int]] = []
        remaining = npages
        while remaining:
            piece = self._take(remaining, flags, partial=True)
            if piece is None:
                for page, count in pieces:
                    self.free_mem(page, count)
                return None
            pieces.append(piece)
            remaining -= piece[1]
        return pieces

    def _take(self, want: int, flags: int, partial: bool) -> tuple[int, int] | None:
        """Cut `want` pages (fewer if `partial`) from the first usable range in scan order.

        Returns the piece as (first page, count), or None if no range can supply it.
        """
        limit = _page_limit(flags)
        found = self._scan(1 if partial else want, limit)
        if found is None:
            return None
        start, size, usable = found
        count = min(want, usable)
        page = start + size - count if limit is None else start
        self._carve(start, size, page, count)
        return page, count

    def _scan(self, need: int, limit: int | None) -> tuple[int, int, int] | None:
        """Find the first range offering `need` usable pages: (start, size, usable pages)."""
        if limit is None:
            for start, size in self._free.items(reverse=True):
                if size >= need:
                    return start, size, size
            return None
        for start, size in self._free.items():
            if start >= limit:
                break
            usable = min(start + size, limit) - start
            if usable >= need:
                return start, size, usable
        return None

    def _carve(self, start: int, size: int, page: int, count: int) -> None:
        """Remove pages [page, page + count) from the free range (start, size)."""
        tail = start + size - (page + count)
        if page == start and tail:
            # Cut from the bottom: the range keeps its place among the others.
            self._free.rekey(start, page + count, tail)
            self._free_pages -= count
            return
        if page > start:
            self._free.replace(start, page - start)
        else:
            self._free.remove(start)
        if tail:
            self._free.insert(page + count, tail)
        self._free_pages -= count
