"""VM's slab allocator for its own bookkeeping objects, with USE() locking.

Objects of one class share slab pages of real physical memory (so VM's
bookkeeping shows up in the memory accounting, and can run out). With
sanity checking on, every slab object is locked: a write to it outside
``with use(obj):`` raises SlabLockError (MINIX maps slab pages read-only in
VM's page table and unlocks one object at a time with USE()). At most one
object per slab page may be unlocked at once, and ``use`` does not nest on
the same page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from minixvm.errors import ENOMEM
from minixvm.machine.ram import PAGE_SIZE


class SlabLockError(RuntimeError):
    """A slab object was written outside use()."""


class NoMemory(Exception):
    """VM is out of physical memory (for a block, a page table or a slab page).

    Raised before anything is changed, or after what was changed is undone
    (``undo_on``): the request loop answers ENOMEM."""


class SlabPage:
    """One page of objects of one size class."""

    __slots__ = ("phys", "capacity", "objects", "unlocked")

    def __init__(self, phys: int, capacity: int) -> None:
        self.phys = phys
        self.capacity = capacity
        self.objects = 0
        self.unlocked: SlabObject | None = None


class SlabObject:
    """Base of every object VM allocates from its slab.

    ``SLAB_SIZE`` is the size of the matching MINIX C struct: it decides how
    many objects share a page.
    """

    __slots__ = ("_slab", "_page", "_unlocked")
    SLAB_SIZE: ClassVar[int] = 32
    _slab: Slab | None
    _page: SlabPage | None
    _unlocked: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_slab", None)
        object.__setattr__(self, "_page", None)
        object.__setattr__(self, "_unlocked", False)

    def __setattr__(self, name: str, value: Any) -> None:
        slab = self._slab
        if slab is not None and slab.checking and not self._unlocked:
            raise SlabLockError(
                f"write of {type(self).__name__}.{name} outside use(): VM bookkeeping "
                "must be unlocked first"
            )
        object.__setattr__(self, name, value)


class Slab:
    """Size-class pages for SlabObjects; ``get_page`` (raises NoMemory) and
    ``free_page`` talk physical pages."""

    def __init__(self, get_page: Callable[[], int], free_page: Callable[[int], None]) -> None:
        self._get_page = get_page
        self._free_page = free_page
        self.checking = False
        self._pages: dict[type, list[SlabPage]] = {}
        # Per class, the pages with room left (the last one is used first).
        self._partial: dict[type, list[SlabPage]] = {}

    def alloc(self, obj: SlabObject) -> None:
        """Give ``obj`` a place in a slab page (raises NoMemory)."""
        partial = self._partial.setdefault(type(obj), [])
        if not partial:
            phys = self._get_page()
            page = SlabPage(phys, max(1, PAGE_SIZE // obj.SLAB_SIZE))
            self._pages.setdefault(type(obj), []).append(page)
            partial.append(page)
        page = partial[-1]
        page.objects += 1
        if page.objects == page.capacity:
            partial.pop()
        object.__setattr__(obj, "_slab", self)
        object.__setattr__(obj, "_page", page)

    def free(self, obj: SlabObject) -> None:
        """Return ``obj``'s place; an empty page goes back to the allocator."""
        page = obj._page
        assert page is not None and obj._slab is self, "double free of a slab object"
        object.__setattr__(obj, "_slab", None)
        object.__setattr__(obj, "_page", None)
        partial = self._partial[type(obj)]
        if page.objects == page.capacity:
            partial.append(page)
        page.objects -= 1
        if page.objects == 0:
            partial.remove(page)
            self._pages[type(obj)].remove(page)
            self._free_page(page.phys)

    def pages(self) -> Iterator[int]:
        """Physical addresses of every slab page."""
        for pages in self._pages.values():
            for p in pages:
                yield p.phys

    def check(self) -> None:
        """At most one unlocked object per page, and none outside use()."""
        for pages in self._pages.values():
            for p in pages:
                assert 0 < p.objects <= p.capacity
                assert p.unlocked is None, f"slab object left unlocked: {p.unlocked!r}"


def answer(request: Callable[[], int]) -> int:
    """What ``request`` answers (OK or -errno), or -ENOMEM if it ran out of
    memory: the one place VM turns NoMemory into an error."""
    try:
        return request()
    except NoMemory:
        return -ENOMEM


class undo_on:
    """Run ``undo`` if the block runs out of memory, then let NoMemory go on
    (to the request loop, which answers ENOMEM). A class for the reason
    ``use`` is: it is on every page fault."""

    __slots__ = ("undo",)

    def __init__(self, undo: Callable[[], object]) -> None:
        self.undo = undo

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None and issubclass(kind, NoMemory):
            self.undo()


class use:
    """Unlock ``obj`` for writing for the duration of the block (MINIX USE()).

    A class rather than a generator: it is on every bookkeeping change, and
    with checking off it must cost next to nothing."""

    __slots__ = ("obj", "page")

    def __init__(self, obj: SlabObject) -> None:
        self.obj = obj
        self.page: SlabPage | None = None

    def __enter__(self) -> SlabObject:
        obj = self.obj
        page, slab = obj._page, obj._slab
        if page is None or slab is None or not slab.checking:
            return obj
        if page.unlocked is not None:
            raise SlabLockError(f"use() of {obj!r} while {page.unlocked!r} on its page is unlocked")
        page.unlocked = obj
        object.__setattr__(obj, "_unlocked", True)
        self.page = page
        return obj

    def __exit__(self, *exc: object) -> None:
        if self.page is not None:
            object.__setattr__(self.obj, "_unlocked", False)
            self.page.unlocked = None
