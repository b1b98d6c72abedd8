"""What a leak check compares: the frames that must come back, the process
slots in use, a server's live grants."""

from __future__ import annotations

from minixvm import System
from minixvm.include.grant import GRANT_MAX_SEQ
from minixvm.lib.grants import GrantTable, table_size
from minixvm.machine.ram import PAGE_SIZE
from minixvm.observe import maps, ps


def unleaked_frames(system: System) -> int:
    """Free frames, and those that grow but are not leaked: page tables (one,
    once made, stays as long as its process, as in MINIX, so a server that
    maps something at a new address keeps one more), VM's slab pages (the
    same objects may spread over more pages: ``vm_objects`` counts those),
    the pages of MFS's buffer cache (it fills up to its size as blocks are
    read) and VFS's and MFS's grant tables (a table grows by a slot for
    every slot retired at its last sequence number, 2,048 grants, since a
    grant id is never reissued)."""
    assert system.vm is not None and system.mfs is not None and system.vfs is not None
    tables = sum(len(vmp.pt.tables) for vmp in system.vm.procs.values())
    tables += sum(1 for _ in system.vm.slab.pages())
    cache = system.mfs.cache
    grown = [("mfs", cache.area, cache.size)]
    for name, server in (("vfs", system.vfs), ("mfs", system.mfs)):
        grants = server.sys.grants
        grown.append((name, grants.addr, table_size(len(grants.used))))
    pids = {p.name: p.pid for p in ps(system)}
    pages = sum(b.length for name, start, size in grown for entry in maps(system, pids[name])
                for b in entry.blocks if start <= b.vaddr < start + size) // PAGE_SIZE
    return system.statistics().frames_free + tables + pages


def live_slots(system: System) -> int:
    return sum(1 for p in system.kernel.procs.live() if p.nr >= 0)


def live_grants(table: GrantTable) -> int:
    """Grants in force (a slot retired at its last sequence number is not one)."""
    return sum(1 for used, seq in zip(table.used, table.seq, strict=True)
               if used and seq < GRANT_MAX_SEQ - 1)


def vm_objects(system: System) -> dict[str, int]:
    """VM's bookkeeping objects in its slab, by kind; not the physical blocks
    and their links into regions, whose frames ``unleaked_frames`` counts
    (a buffer that grew may be made of more pieces)."""
    assert system.vm is not None
    return {kind.__name__: sum(page.objects for page in pages)
            for kind, pages in system.vm.slab._pages.items()
            if pages and kind.__name__ not in ("PhysBlock", "PhysRegion")}
