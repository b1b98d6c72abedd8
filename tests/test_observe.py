"""Looking inside: ps and maps show what the kernel and VM hold, and looking
changes nothing."""

from __future__ import annotations

import pytest
from remote import Remote

from minixvm import MinixError, System
from minixvm.machine.ram import PAGE_SIZE
from minixvm.observe import maps, ps

P = PAGE_SIZE


def test_ps_lists_servers_and_programs(system: System) -> None:
    r = Remote.start(system, "watched")
    rows = {row.pid: row for row in ps(system)}
    assert rows[1].name == "init"
    assert rows[r.pid].name == "watched" and not rows[r.pid].system
    assert {"pm", "vm", "tty", "memory"} <= {row.name for row in rows.values()}


def test_maps_show_regions_blocks_and_sharing(system: System) -> None:
    parent = Remote.start(system, "parent")
    a = parent.do(lambda p: p.mmap(4 * P))
    parent.do(lambda p: p.mem.__setitem__(slice(a, a + 2 * P), b"x" * 2 * P))
    child = parent.fork()
    trace_before = system.statistics()
    entry = next(e for e in maps(system, parent.pid) if e.start == a)
    assert (entry.end, entry.perms, entry.memtype) == (a + 4 * P, "rwp", "anon")
    assert [(b.vaddr, b.refcount, b.sharing) for b in entry.blocks] == \
        [(a, 2, "cow"), (a + P, 2, "cow")]
    assert "2 pages present" in str(entry)
    child_entry = next(e for e in maps(system, child.pid) if e.start == a)
    assert [b.phys for b in child_entry.blocks] == [b.phys for b in entry.blocks]
    assert system.statistics() == trace_before, "looking changes nothing"
    with pytest.raises(MinixError):
        maps(system, 9999)
