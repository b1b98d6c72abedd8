"""Pictures of memory: valid PNG and SVG files that name what they show."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from remote import Remote

from minixvm import System
from minixvm.machine.ram import PAGE_SIZE
from minixvm.observe import maps
from minixvm.views.physmap import USES, phys_map
from minixvm.views.pictures import address_space_picture, phys_picture, timeline_picture

P = PAGE_SIZE
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"


def svg_texts(path: Path) -> list[str]:
    """Every text of an SVG file (which must parse as XML)."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


@pytest.fixture
def forked(system: System) -> tuple[Remote, Remote, int]:
    """A parent with 3 written pages in a 4-page region, and its COW child."""
    parent = Remote.start(system, "parent")
    a = parent.do(lambda p: p.mmap(4 * P))
    parent.do(lambda p: p.mem.__setitem__(slice(a, a + 3 * P), b"p" * 3 * P))
    return parent, parent.fork(), a


def test_an_address_space_svg_names_its_regions_and_sharers(
        system: System, forked: tuple[Remote, Remote, int], tmp_path: Path) -> None:
    parent, child, a = forked
    before = system.statistics()
    address_space_picture(system, parent.pid, tmp_path / "as.svg")
    assert system.statistics() == before, "drawing changes nothing"
    texts = svg_texts(tmp_path / "as.svg")
    words = " ".join(texts).split()
    entries = maps(system, parent.pid)
    for e in entries:
        assert f"{e.start:08x}" in texts
        assert e.memtype in words and e.perms in words
    assert f"shared with parent({child.pid})" in texts
    assert "cow ×2" in texts, "the legend says how shared the COW pages are"
    title = next(t for t in texts if t.startswith("Address space of"))
    resident = sum(e.resident for e in entries)
    assert title == (f"Address space of parent({parent.pid}): {len(entries)} regions, "
                     f"{resident} pages resident, {resident} shared")


def test_after_a_cow_break_the_written_page_is_private(
        system: System, forked: tuple[Remote, Remote, int], tmp_path: Path) -> None:
    _, child, a = forked
    child.do(lambda p: p.mem.__setitem__(a, 1))
    address_space_picture(system, child.pid, tmp_path / "child.svg")
    texts = svg_texts(tmp_path / "child.svg")
    assert "private" in texts and "cow ×2" in texts


def test_an_address_space_png_is_a_png(system: System, forked: tuple[Remote, Remote, int],
                                       tmp_path: Path) -> None:
    address_space_picture(system, forked[0].pid, tmp_path / "as.png")
    data = (tmp_path / "as.png").read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000


def test_physical_memory_names_every_use_and_the_owners(
        system: System, forked: tuple[Remote, Remote, int], tmp_path: Path) -> None:
    parent, _, a = forked
    parent.do(lambda p: p.mem.__setitem__(a, 2))  # a page of its own again
    phys_picture(system, tmp_path / "phys.svg")
    texts = svg_texts(tmp_path / "phys.svg")
    pm = phys_map(system)
    counts = pm.counts()
    for use in USES:
        if use != "process":
            assert f"{use} ({counts[use]})" in texts
    private = pm.owners("process")[f"parent({parent.pid})"]
    assert f"parent({parent.pid}) ({private})" in texts
    shared = sum(n for owner, n in pm.owners("process").items() if "," in owner)
    assert f"shared by several ({shared})" in texts
    assert "00000000-007fffff" in texts, "the kernel's rows are folded into one, in hex"
    phys_picture(system, tmp_path / "phys.png")
    assert (tmp_path / "phys.png").read_bytes().startswith(PNG_SIGNATURE)


def test_a_timeline_has_a_row_per_process_and_counts_each_kind(tmp_path: Path) -> None:
    events = [
        {"step": 1, "kind": "msg", "endpoint": 11, "pid": 1, "proc": "init",
         "to": 0, "to_pid": 2, "to_proc": "pm"},
        {"step": 2, "kind": "exec", "endpoint": 14, "pid": 11, "proc": "init"},
        {"step": 3, "kind": "fault", "endpoint": 14, "pid": 11, "proc": "cow"},
        {"step": 4, "kind": "cow", "endpoint": 14, "pid": 11, "proc": "cow"},
        {"step": 5, "kind": "cow", "endpoint": 15, "pid": 12, "proc": "cow"},
        {"step": 6, "kind": "kcall", "endpoint": -2, "pid": None, "proc": "system"},
    ]
    timeline_picture(events, tmp_path / "t.svg")
    texts = svg_texts(tmp_path / "t.svg")
    assert {"init(1)", "pm(2)", "init→cow(11)", "cow(12)", "system (ep -2)"} <= set(texts), \
        "a row for each process, the receiver of a message too, named as exec renamed it"
    assert any("a message is a line from its sender" in t for t in texts)
    assert {"cow (2)", "fault (1)", "exec (1)", "msg (1)", "kcall (1)"} <= set(texts)
    assert "Timeline: 6 events; page faults 1, copy-on-write breaks 2, messages 1" in texts
    timeline_picture(events, tmp_path / "t.png")
    assert (tmp_path / "t.png").read_bytes().startswith(PNG_SIGNATURE)


def test_a_picture_must_be_png_or_svg(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        timeline_picture([], tmp_path / "t.jpg")
    assert not (tmp_path / "t.jpg").exists()
