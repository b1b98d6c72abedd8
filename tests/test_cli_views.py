"""``minixvm ps``, ``maps`` and ``phys``: a system stopped where asked
(``--at fault:1``, a step, or when the workload is over), from a program
run on the command line or a recorded run; boot's and run's ``--json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from minixvm import cli
from minixvm.views.record import read_events


def output(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    capsys.readouterr()
    assert cli.main(list(words)) == 0
    return capsys.readouterr().out


def as_json(capsys: pytest.CaptureFixture[str], *words: str) -> Any:
    return json.loads(output(capsys, *words, "--json"))


@pytest.fixture(scope="module")
def cow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("views") / "cow.jsonl"
    assert cli.main(["run", "--ram", "32M", "--record", str(path), "cow"]) == 0
    return path


def cow_events(cow: Path, kind: str) -> list[dict[str, Any]]:
    return [e for e in read_events(cow) if e["kind"] == kind and e["proc"] == "cow"]


def test_ps_stops_at_the_first_fault(cow: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """cow's child faults on a copy-on-write page: at that moment both cows
    are there, the child waiting for VM."""
    fault = cow_events(cow, "fault")[0]
    seen = as_json(capsys, "ps", "--ram", "32M", "--run", "cow", "--at", f"{fault['step']}")
    assert seen["step"] == fault["step"]
    cows = {p["pid"]: p for p in seen["processes"] if p["name"] == "cow"}
    assert fault["pid"] in cows and len(cows) == 2
    child = cows[fault["pid"]]
    assert child["state"] == "PAGEFAULT" and child["ppid"] in cows and child["pages"] > 0
    assert {"pm", "vm", "vfs", "mfs"} <= {p["name"] for p in seen["processes"]}
    text = output(capsys, "ps", "--ram", "32M", "--run", "cow", "--at", f"{fault['step']}")
    assert f"processes at step {fault['step']}" in text and "PAGEFAULT" in text


def test_ps_when_the_workload_is_over_and_of_the_demo(
        capsys: pytest.CaptureFixture[str]) -> None:
    over = as_json(capsys, "ps", "--ram", "32M", "--run", "cow")
    assert "end of the run" in over["stopped"]
    assert "cow" not in {p["name"] for p in over["processes"]}
    forked = as_json(capsys, "ps", "--ram", "32M", "--at", "exec:1")  # the demo workload
    assert "exec:1" in forked["stopped"]


def test_maps_shows_shared_copy_on_write_blocks_and_their_sharers(
        cow: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """At the child's first COW break, its text pages are still shared with
    the parent (refcount 2, cow), the page it broke is its own."""
    first_break = cow_events(cow, "cow")[-1]
    child = first_break["pid"]
    parent = next(e["pid"] for e in cow_events(cow, "cow") if e["pid"] != child)
    at = ["--ram", "32M", "--run", "cow", "--at", str(first_break["step"])]
    seen = as_json(capsys, "maps", str(child), *at)
    assert (seen["pid"], seen["name"], seen["step"]) == (child, "cow", first_break["step"])
    blocks = [b for r in seen["regions"] for b in r["blocks"]]
    shared = [b for b in blocks if b["refcount"] == 2]
    assert shared and all(b["sharing"] == "cow" and b["sharers"] == [parent] for b in shared)
    broken = next(b for b in blocks if b["vaddr"] == first_break["addr"])
    assert (broken["refcount"], broken["sharers"]) == (1, [])
    for region in seen["regions"]:
        assert region["perms"][0] in "r-" and region["perms"][2] in "ps"
        assert region["pages"] == (region["end"] - region["start"]) // 4096
        assert region["resident"] == sum(b["length"] for b in region["blocks"]) // 4096
    text = output(capsys, "maps", str(child), *at)
    assert f"cow({child}) at step {first_break['step']}" in text
    assert f"refcount 2 cow, shared with {parent}" in text
    assert f"{first_break['addr']:08x}    1 page  at " in text


def test_maps_of_a_process_gone_by_the_end_is_its_last_moment(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    over = as_json(capsys, "ps", "--ram", "32M", "--run", "cow")
    pid = max(p["pid"] for p in over["processes"]) + 1  # the first cow, exited by then
    seen = as_json(capsys, "maps", str(pid), "--ram", "32M", "--run", "cow")
    assert seen["name"] == "cow" and f"the last with process {pid}" in seen["stopped"]
    assert seen["regions"]
    png, svg = tmp_path / "cow.png", tmp_path / "cow.svg"
    output(capsys, "maps", str(pid), "--ram", "32M", "--run", "cow", "--png", str(png),
           "--svg", str(svg))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert svg.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_phys_shows_every_frame_by_use(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    seen = as_json(capsys, "phys", "--ram", "32M", "--run", "cow", "--at", "fault:1")
    assert seen["frames"] == 32 * 256
    assert sum(r["count"] for r in seen["ranges"]) == seen["frames"]
    assert sum(seen["counts"].values()) == seen["frames"]
    assert seen["counts"]["process"] > 0 and seen["counts"]["free"] > 0
    assert any(r["use"] == "process" and "cow(" in r["owner"] for r in seen["ranges"])
    svg = tmp_path / "phys.svg"
    text = output(capsys, "phys", "--ram", "32M", "--run", "cow", "--at", "fault:1",
                  "--svg", str(svg))
    assert "8192 frames" in text and "pagetable" in text and "free" in text
    assert "<svg" in svg.read_text()


def test_a_recorded_run_is_looked_at_where_asked(
        cow: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fault = cow_events(cow, "fault")[0]
    recorded = as_json(capsys, "ps", "--from-record", str(cow), "--at", "fault:1")
    live = as_json(capsys, "ps", "--ram", "32M", "--run", "cow", "--at", "fault:1")
    assert recorded == live and recorded["step"] >= fault["step"]
    maps = as_json(capsys, "maps", str(fault["pid"]), "--from-record", str(cow),
                   "--at", str(fault["step"]))
    assert maps["step"] == fault["step"]


def test_a_view_can_record_its_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--record with --at: the recording stops there, and replays."""
    path = tmp_path / "part.jsonl"
    output(capsys, "ps", "--ram", "32M", "--run", "cow", "--at", "cow:1", "--record", str(path))
    events = list(read_events(path))
    assert events[-1]["step"] >= next(e["step"] for e in events if e["kind"] == "cow")
    assert "identical" in output(capsys, "replay", str(path))


def test_a_recording_that_no_longer_replays_is_said_so(
        cow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = cow.read_text().splitlines()
    event = json.loads(lines[300])
    event["text"] += " (changed)"
    lines[300] = json.dumps(event)
    changed = tmp_path / "changed.jsonl"
    changed.write_text("\n".join(lines) + "\n")
    assert cli.main(["ps", "--from-record", str(changed)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not replay: step 300 differs" in err


def test_boot_and_run_print_json(capsys: pytest.CaptureFixture[str]) -> None:
    run = json.loads(output(capsys, "run", "--json", "--ram", "32M", "cow"))  # before PROGRAM
    assert run["returncode"] == 0 and run["console"].endswith("cow ok\n")
    boot = as_json(capsys, "boot", "--ram", "32M")
    assert {p["name"] for p in boot["programs"]} >= {"hello", "forker", "cow", "segv"}
    assert boot["summary"]["page faults"] == boot["statistics"]["vm"]["pagefaults"] > 0
    assert "cow ok" in boot["console"]


def test_every_verb_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for verb in ("boot", "run", "ps", "maps", "phys", "trace", "replay", "bench"):
        assert cli.main([verb, "--help"]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: minixvm {verb}")
        assert "--json" in out
