"""The physical memory map: every frame once, with the use and owner VM knows."""

from __future__ import annotations

import itertools
import json

from remote import Remote

from minixvm import System
from minixvm.include.vm import MAP_ANON, MAP_CONTIG, MAP_PREALLOC, MAP_PRIVATE, VM_BLOCKID_NONE
from minixvm.machine.ram import PAGE_SIZE
from minixvm.observe import maps
from minixvm.programs.demo import yield_and_get
from minixvm.views.physmap import USES, PhysMap, phys_map

P = PAGE_SIZE


def ranges_at(pm: PhysMap, frame: int) -> list:
    return [r for r in pm.ranges if r.start <= frame < r.end]


def test_ranges_cover_every_frame_once_and_agree_with_vm(system: System) -> None:
    pm = phys_map(system)
    assert pm.frames == system.ram.frames
    pos = 0
    for r in pm.ranges:
        assert r.start == pos and r.count > 0 and r.use in USES
        pos = r.end
    assert pos == pm.frames
    assert all((a.use, a.owner) != (b.use, b.owner)
               for a, b in itertools.pairwise(pm.ranges))
    counts = pm.counts()
    assert counts["free"] == system.statistics().frames_free
    sanity = system.vm_sanity_check()
    assert counts["kernel"] == sanity["kernel"]
    assert counts["process"] == sanity["blocks"]
    assert counts["slab"] + counts["pagetable"] == sanity["vm"]
    [slab_owner] = pm.owners("slab")
    assert counts["slab"] > 0 and slab_owner.startswith("vm(")


def test_a_new_process_pages_and_tables_appear_under_its_name(system: System) -> None:
    r = Remote.start(system, "watched")
    before = phys_map(system).owners("process").get(f"watched({r.pid})", 0)
    a = r.do(lambda p: p.mmap(5 * P))
    r.do(lambda p: p.mem.__setitem__(slice(a, a + 5 * P), b"w" * 5 * P))
    pm = phys_map(system)
    label = f"watched({r.pid})"
    assert pm.owners("process")[label] == before + 5
    assert pm.owners("pagetable")[label] >= 2, "a directory and at least one table"
    for block in next(e for e in maps(system, r.pid) if e.start == a).blocks:
        [found] = ranges_at(pm, block.phys // P)
        assert (found.use, found.owner) == ("process", label)


def test_a_forked_cow_page_is_counted_once_for_both_processes(system: System) -> None:
    parent = Remote.start(system, "parent")
    a = parent.do(lambda p: p.mmap(2 * P))
    parent.do(lambda p: p.mem.__setitem__(slice(a, a + 2 * P), b"p" * 2 * P))
    child = parent.fork()
    free_before = phys_map(system).counts()["free"]
    [block, _] = next(e for e in maps(system, parent.pid) if e.start == a).blocks
    assert block.sharing == "cow"
    pm = phys_map(system)
    [shared] = ranges_at(pm, block.phys // P)
    assert shared.use == "process"
    assert shared.owner.split(",") == [f"parent({parent.pid})", f"parent({child.pid})"]
    child.do(lambda p: p.mem.__setitem__(a, 1))   # the copy-on-write break
    after = phys_map(system)
    [kept] = ranges_at(after, block.phys // P)
    assert kept.owner == f"parent({parent.pid})"
    assert after.counts()["free"] == free_before - 1
    assert after.counts()["free"] == system.statistics().frames_free


def test_yielded_blocks_belong_to_who_yielded_them(system: System) -> None:
    r = Remote.start(system, "yielder")
    flags = MAP_PRIVATE | MAP_ANON | MAP_PREALLOC | MAP_CONTIG
    buf = r.do(lambda p: p.mmap(P, flags=flags))
    r.do(lambda p: yield_and_get(p, buf, 7, VM_BLOCKID_NONE))
    pm = phys_map(system)
    assert pm.owners("yielded") == {f"yielder({r.pid})": 1}
    assert pm.counts()["yielded"] == system.vm_sanity_check()["yielded"]


def test_looking_changes_nothing_and_the_json_says_the_same(system: System) -> None:
    before = system.statistics()
    pm = phys_map(system)
    assert system.statistics() == before
    data = json.loads(json.dumps(pm.to_json()))
    assert data["frames"] == pm.frames and data["counts"] == pm.counts()
    assert data["ranges"][0] == {"start": 0, "count": pm.ranges[0].count,
                                 "use": "kernel", "owner": "kernel"}
    assert len(data["ranges"]) == len(pm.ranges)
