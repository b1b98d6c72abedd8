"""Looking inside a running system: processes and their memory maps.

These read the servers' and kernel's tables directly from the host, without
sending a message, so looking changes nothing (no fault, no trace line).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from minixvm.errors import ESRCH, MinixError
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.pb import PBSH_COW, PBSH_SMAP, PhysBlock
from minixvm.servers.vm.region import VR_SHARED, VR_WRITABLE

if TYPE_CHECKING:
    from minixvm.boot import System

SHARING = {0: "", PBSH_COW: "cow", PBSH_SMAP: "smap"}


@dataclass(frozen=True)
class ProcessInfo:
    """One line of ``ps``."""

    pid: int
    endpoint: int
    name: str
    state: str
    system: bool
    ppid: int = 0  # the parent's pid (init's own parent is itself)
    pages: int = 0  # pages resident in its address space


@dataclass(frozen=True)
class BlockInfo:
    """A physical block behind part of a region."""

    vaddr: int
    phys: int
    length: int
    refcount: int
    sharing: str
    sharers: tuple[int, ...] = ()  # the pids of the other processes mapping it


@dataclass(frozen=True)
class MapEntry:
    """One region of a process, like a line of /proc/PID/maps, with the blocks
    behind it."""

    start: int
    end: int
    perms: str
    memtype: str
    blocks: tuple[BlockInfo, ...]

    @property
    def pages(self) -> int:
        return (self.end - self.start) // PAGE_SIZE

    @property
    def resident(self) -> int:
        """The pages with a physical block behind them."""
        return sum(b.length for b in self.blocks) // PAGE_SIZE

    def __str__(self) -> str:
        return (f"{self.start:08x}-{self.end:08x} {self.perms} {self.memtype:<10} "
                f"{self.resident} pages present")


def ps(system: System) -> list[ProcessInfo]:
    """Every process PM knows, with the kernel's view of its state."""
    assert system.pm is not None and system.vm is not None
    result = []
    for mp in sorted(system.pm.mproc.values(), key=lambda mp: mp.pid):
        p = system.kernel.procs.isokendpt(mp.endpoint)
        state = p.flags_text() if p is not None else "ZOMBIE"
        name = p.name if p is not None else mp.name
        parent = system.pm.mproc.get(mp.parent)
        vmp = system.vm.proc(mp.endpoint) if p is not None else None
        pages = sum(pr.ph.length for region in vmp.regions
                    for pr in region.phys.values()) // PAGE_SIZE if vmp is not None else 0
        result.append(ProcessInfo(mp.pid, mp.endpoint, name, state, mp.system,
                                  parent.pid if parent is not None else 0, pages))
    return result


def has_memory(system: System, pid: int) -> bool:
    """Does process ``pid`` have an address space (``maps`` can show it)?"""
    assert system.pm is not None and system.vm is not None
    mp = system.pm.by_pid(pid)
    return mp is not None and system.vm.proc(mp.endpoint) is not None


def maps(system: System, pid: int) -> list[MapEntry]:
    """The regions of process ``pid`` and the blocks behind them, each block
    with the other processes that map it."""
    assert system.pm is not None and system.vm is not None
    mp = system.pm.by_pid(pid)
    vmp = system.vm.proc(mp.endpoint) if mp is not None else None
    if vmp is None:
        raise MinixError(ESRCH, f"no process {pid}")
    mappers = _mappers(system)
    entries = []
    for region in vmp.regions:
        perms = "".join((
            "r" if region.accessible else "-",
            "w" if region.flags & VR_WRITABLE else "-",
            "s" if region.flags & VR_SHARED else "p"))
        blocks = tuple(
            BlockInfo(region.vaddr + pr.offset + at, pr.ph.phys + at, size, pr.ph.refcount,
                      SHARING.get(pr.ph.share_flag, "?"),
                      tuple(sorted(mappers[pr.ph.phys] - {pid})))
            for pr in region.phys.values()
            for at, size in _pieces(pr.ph)
        )
        entries.append(MapEntry(region.vaddr, region.end, perms, region.memtype.name, blocks))
    return entries


def _pieces(pb: PhysBlock) -> list[tuple[int, int]]:
    """(offset, length) of the blocks ``pb`` stands for: its pages if it is
    a run of one-page blocks, else itself."""
    if pb.paged:
        return [(at, PAGE_SIZE) for at in range(0, pb.length, PAGE_SIZE)]
    return [(0, pb.length)]


def _mappers(system: System) -> defaultdict[int, set[int]]:
    """Physical address of a block -> the pids of the processes mapping it."""
    assert system.pm is not None and system.vm is not None
    result: defaultdict[int, set[int]] = defaultdict(set)
    for mp in system.pm.mproc.values():
        vmp = system.vm.proc(mp.endpoint)
        if vmp is None or system.pm.by_endpoint(mp.endpoint) is None:
            continue
        for region in vmp.regions:
            for pr in region.phys.values():
                result[pr.ph.phys].add(mp.pid)
    return result
