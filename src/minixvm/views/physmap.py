"""The physical memory map: what every frame of RAM is used for, and by whom.

Read from the host side (VM's allocator, slab, page tables, yielded cache
and regions, as ``observe`` reads them), so looking sends no message and
changes nothing. Uses, in the order they are looked for:

- ``kernel``: the kernel's own memory, below the first frame VM manages;
- ``free``: on VM's free list;
- ``slab``: pages of VM's slab (its bookkeeping objects);
- ``pagetable``: page directories and page tables, owned by the process whose
  address space they make (the table of page directories is VM's);
- ``yielded``: blocks in VM's yielded-block cache, owned by who yielded them;
- ``process``: blocks mapped by processes, owned by every process mapping
  them (a copy-on-write page is counted once, with all its sharers).

Frames VM has taken from the free list but not yet put anywhere (a map taken
in the middle of a request, between two steps) are VM's process memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from minixvm.include.arch import KERNEL_END
from minixvm.include.com import VM_PROC_NR
from minixvm.machine.ram import PAGE_SIZE
from minixvm.observe import ps

if TYPE_CHECKING:
    from minixvm.boot import System
    from minixvm.servers.vm.main import VM

USES = ("kernel", "process", "pagetable", "slab", "yielded", "free")


@dataclass(frozen=True)
class PhysRange:
    """Frames [start, start + count) with one use and one owner."""

    start: int
    count: int
    use: str
    owner: str

    @property
    def end(self) -> int:
        return self.start + self.count


@dataclass(frozen=True)
class PhysMap:
    """Every frame of RAM, in order, as ranges of one use and owner each."""

    frames: int
    ranges: tuple[PhysRange, ...]

    def counts(self) -> dict[str, int]:
        """Frames per use (every use in USES, 0 if none)."""
        counts = dict.fromkeys(USES, 0)
        for r in self.ranges:
            counts[r.use] += r.count
        return counts

    def owners(self, use: str) -> dict[str, int]:
        """Frames per owner among the frames of ``use``."""
        result: dict[str, int] = {}
        for r in self.ranges:
            if r.use == use:
                result[r.owner] = result.get(r.owner, 0) + r.count
        return result

    def to_json(self) -> dict:
        return {"frames": self.frames, "page_size": PAGE_SIZE, "counts": self.counts(),
                "ranges": [asdict(r) for r in self.ranges]}


def phys_map(system: System) -> PhysMap:
    """The physical memory map of ``system`` right now."""
    vm = system.vm
    assert vm is not None
    frames = system.ram.frames
    names = _Names(system)
    pieces = sorted(_pieces(vm, names, frames), key=lambda p: (p.start, USES.index(p.use)))
    return PhysMap(frames, tuple(_merge(_cover(pieces, frames, names.label(VM_PROC_NR)))))


class _Names:
    """Owners by ``name(pid)`` as PM knows them, several in pid order; an
    endpoint PM does not know by its number, after those it knows."""

    def __init__(self, system: System) -> None:
        self._known = {p.endpoint: (p.pid, f"{p.name}({p.pid})") for p in ps(system)}

    def label(self, endpoint: int) -> str:
        known = self._known.get(endpoint)
        return known[1] if known else f"endpoint {endpoint}"

    def joined(self, endpoints: Iterable[int]) -> str:
        def order(endpoint: int) -> tuple[int, int]:
            known = self._known.get(endpoint)
            return (0, known[0]) if known else (1, endpoint)

        return ",".join(self.label(e) for e in sorted(set(endpoints), key=order))


def _pieces(vm: VM, names: _Names, frames: int) -> Iterator[PhysRange]:
    """Every known use of memory, in no particular order (may overlap only
    while VM is in the middle of a request)."""
    yield PhysRange(0, min(frames, KERNEL_END // PAGE_SIZE), "kernel", "kernel")
    for page, count in vm.alloc.ranges():
        yield PhysRange(page, count, "free", "")
    for phys in vm.slab.pages():
        yield PhysRange(phys // PAGE_SIZE, 1, "slab", names.label(VM_PROC_NR))
    if vm.pagedirs_table:
        yield PhysRange(vm.pagedirs_table // PAGE_SIZE, 1, "pagetable", names.label(VM_PROC_NR))
    seen: set[int] = set()
    for vmp in vm.procs.values():
        for phys in vmp.pt.pages():
            yield PhysRange(phys // PAGE_SIZE, 1, "pagetable", names.label(vmp.endpoint))
        for yb in vmp.yielded.values():
            yield _block(yb.pb.phys, yb.pb.length, "yielded", names.label(vmp.endpoint))
        for region in vmp.regions:
            for pr in region.phys.values():
                pb = pr.ph
                if id(pb) in seen or not pb.memtype.owns_memory:
                    continue
                seen.add(id(pb))
                owners = [vmp.endpoint, *(s.parent.parent.endpoint for s in pb.sharers)]
                yield _block(pb.phys, pb.length, "process", names.joined(owners))


def _block(phys: int, length: int, use: str, owner: str) -> PhysRange:
    return PhysRange(phys // PAGE_SIZE, length // PAGE_SIZE, use, owner)


def _cover(pieces: Iterable[PhysRange], frames: int, vm_label: str) -> Iterator[PhysRange]:
    """``pieces`` (sorted by start) cut to cover [0, frames) exactly once: a
    frame claimed twice goes to the earlier piece, a frame nobody claims to VM."""
    pos = 0
    for p in pieces:
        start, end = max(p.start, pos), min(p.end, frames)
        if end <= start:
            continue
        if start > pos:
            yield PhysRange(pos, start - pos, "process", vm_label)
        yield PhysRange(start, end - start, p.use, p.owner)
        pos = end
    if pos < frames:
        yield PhysRange(pos, frames - pos, "process", vm_label)


def _merge(ranges: Iterable[PhysRange]) -> Iterator[PhysRange]:
    """Neighbouring ranges of the same use and owner as one."""
    current: PhysRange | None = None
    for r in ranges:
        if current is not None and (current.use, current.owner) == (r.use, r.owner):
            current = PhysRange(current.start, current.count + r.count, r.use, r.owner)
            continue
        if current is not None:
            yield current
        current = r
    if current is not None:
        yield current
