"""Recorded runs: every trace event as a JSON line with its step, process
and fields; ``minixvm trace`` filters them, ``minixvm replay`` runs the
workload again and names the first step that differs; ``System.step``
and ``run --step`` go one event at a time."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from minixvm import System, cli
from minixvm.kernel.trace import KINDS
from minixvm.views.record import read_events, read_header


def record(path: Path, *words: str) -> list[dict[str, Any]]:
    assert cli.main(["run", "--ram", "32M", "--record", str(path), *words]) == 0
    return list(read_events(path))


@pytest.fixture(scope="module")
def cow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recording of the built-in ``cow``: fork, and both write."""
    path = tmp_path_factory.mktemp("record") / "cow.jsonl"
    record(path, "cow")
    return path


def test_a_recording_says_how_to_run_it_again(cow: Path) -> None:
    head = read_header(cow)
    assert head == {"kind": "header", "version": 1, "ram": "32M", "seed": None,
                    "workload": {"verb": "run", "program": "cow", "args": [], "disk": None,
                                 "sanity": False, "at": None}}


def test_every_kind_of_event_is_recorded_with_its_fields(cow: Path) -> None:
    events = list(read_events(cow))
    assert [e["step"] for e in events] == list(range(1, len(events) + 1))
    kinds = Counter(e["kind"] for e in events)
    assert set(KINDS) <= set(kinds)
    for e in events:
        assert {"step", "kind", "endpoint", "pid", "proc", "text"} <= set(e)
    fault = next(e for e in events if e["kind"] == "fault" and e["proc"] == "cow")
    assert fault["text"] == (f"fault  cow({fault['endpoint']}) "
                             f"{fault['addr']:#010x} {fault['access']} {fault['cause']}")
    assert (fault["access"], fault["cause"]) == ("write", "protection")
    cows = [e for e in events if e["kind"] == "cow" and e["proc"] == "cow"]
    assert all(e["length"] == 4096 and e["text"].endswith(f"{e['addr']:#010x}+0x1000")
               for e in cows)
    assert len({e["pid"] for e in cows}) == 2 and fault["pid"] in {e["pid"] for e in cows}
    exec_ = next(e for e in events if e["kind"] == "exec" and e["proc"] == "cow")
    assert (exec_["proc"], exec_["caller_proc"], exec_["call"]) == ("cow", "pm", "SYS_EXEC")
    assert exec_["args"]["endpoint"] == exec_["endpoint"]
    files = [e for e in events if e["kind"] == "file"]
    assert any(e["type"] == "REQ_READ" and e["to_proc"] == "mfs" for e in files)
    assert any(e["type"] == "REQ_READ" and e["reply"] and e["proc"] == "mfs" for e in files)
    grants = [e for e in events if e["kind"] == "grant"]
    assert all(e["call"].startswith("SYS_SAFE") or e["call"] == "SYS_VSAFECOPY"
               for e in grants)
    assert any(e["granter_proc"] == "vfs" and e["args"]["bytes"] > 0 for e in grants
               if "granter_proc" in e)
    fork = next(e for e in events if e["type" if e["kind"] == "msg" else "kind"] == "PM_FORK"
                and e["proc"] == "cow")
    assert (fork["to_proc"], fork["reply"], fork["pid"]) == ("pm", False, exec_["pid"])


def test_the_events_are_the_trace_lines() -> None:
    events: list[dict[str, Any]] = []
    with System.boot(ram="32M", record=events.append) as system:
        handle = system.spawn_exec("/bin/cow")
        assert system.wait(handle) == 0
        assert [e["text"] for e in events] == system.kernel.trace.lines
        exec_ = next(e for e in events if e["kind"] == "exec" and e["proc"] == "cow")
        assert exec_["pid"] == handle.pid
        mine = [e for e in events if e["endpoint"] == exec_["endpoint"]
                and e["step"] > exec_["step"] and e["proc"] == "cow"]
        assert mine and {e["pid"] for e in mine} == {handle.pid}


def test_trace_prints_the_events_a_filter_chooses(
        cow: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = list(read_events(cow))

    def shown(*words: str) -> list[str]:
        capsys.readouterr()
        assert cli.main(["trace", str(cow), *words]) == 0
        return capsys.readouterr().out.splitlines()

    def steps(lines: list[str]) -> list[int]:
        return [int(line.split()[0]) for line in lines]

    assert steps(shown("--kind", "cow,fault")) == [
        e["step"] for e in events if e["kind"] in ("cow", "fault")]
    child = next(e for e in events if e["kind"] == "fault" and e["proc"] == "cow")["pid"]
    assert steps(shown("--pid", str(child))) == [
        e["step"] for e in events if child in (e["pid"], e.get("to_pid"))]
    assert steps(shown("--from", "10", "--to", "19")) == list(range(10, 20))
    grepped = shown("--grep", r"VM_FORK|SYS_FORK")
    assert grepped and all(re.search("VM_FORK|SYS_FORK", line) for line in grepped)
    every = shown()
    assert every[0] == f"{1:>7}  {events[0]['text']}" and len(every) == len(events)
    as_json = [json.loads(line) for line in shown("--json", "--kind", "exec", "--pid", "10")]
    assert as_json == [e for e in events if e["kind"] == "exec" and e["pid"] == 10]


def test_trace_draws_a_timeline(cow: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    picture = tmp_path / "timeline.png"
    assert cli.main(["trace", str(cow), "--kind", "fault,cow,exec",
                     "--timeline", str(picture)]) == 0
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(capsys.readouterr().out.splitlines()) == sum(
        e["kind"] in ("fault", "cow", "exec") for e in read_events(cow))


def test_replay_of_a_recording_is_identical(cow: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["replay", str(cow)]) == 0
    assert "identical" in capsys.readouterr().out
    assert cli.main(["replay", "--json", str(cow)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["identical"] and report["step"] is None
    assert report["events"] == len(list(read_events(cow)))


def first_difference(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> int:
    return next(x["step"] for x, y in zip(a, b, strict=False) if x != y)


@pytest.mark.parametrize("words", [("cow", "an-argument"), ("segv",)], ids=["args", "program"])
def test_replay_names_the_first_step_that_differs(
        cow: Path, tmp_path: Path, words: tuple[str, ...],
        capsys: pytest.CaptureFixture[str]) -> None:
    """A recording of cow under the header of another run (other arguments,
    another program): replay runs the header's workload, and stops at the
    first event that is not the recorded one."""
    other = tmp_path / "other.jsonl"
    other_events = record(other, *words)
    step = first_difference(list(read_events(cow)), other_events)
    assert 100 < step < len(other_events)  # after boot, in the program's run
    mixed = tmp_path / "mixed.jsonl"
    lines = cow.read_text().splitlines()
    mixed.write_text("\n".join([other.read_text().splitlines()[0], *lines[1:]]) + "\n")
    capsys.readouterr()
    assert cli.main(["replay", "--json", str(mixed)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["identical"] and report["step"] == step
    assert report["replayed"] == other_events[step - 1]
    assert report["recorded"] == json.loads(lines[step])
    assert cli.main(["replay", str(mixed)]) == 1
    assert f"differs at step {step}" in capsys.readouterr().out


def test_boot_records_the_demo_and_it_replays(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "demo.jsonl"
    assert cli.main(["boot", "--ram", "32M", "--record", str(path)]) == 0
    assert read_header(path)["workload"]["verb"] == "boot"
    execs = [e["proc"] for e in read_events(path) if e["kind"] == "exec"]
    assert execs[-2:] == ["cow", "segv"]
    capsys.readouterr()
    assert cli.main(["replay", str(path)]) == 0
    assert "identical" in capsys.readouterr().out


def test_a_shorter_run_differs_where_it_ends(cow: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    longer = tmp_path / "longer.jsonl"
    lines = cow.read_text().splitlines()
    extra = {**json.loads(lines[-1]), "step": len(lines)}
    longer.write_text("\n".join([*lines, json.dumps(extra)]) + "\n")
    assert cli.main(["replay", "--json", str(longer)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["step"] == len(lines) and report["replayed"] is None


def test_step_advances_one_event_at_a_time() -> None:
    with System.boot(ram="32M", trace=True) as system:
        booted = len(system.kernel.trace.lines)
        handle = system.spawn_exec("/bin/cow")
        seen = []
        while (event := system.step()) is not None:
            seen.append(event)
            if not handle.done:
                assert event["step"] <= len(system.kernel.trace.lines)
        assert handle.returncode == 0
        # From the first call on (starting the program made an event or two before).
        first = seen[0]["step"]
        assert booted < first <= booted + 2
        assert [e["step"] for e in seen] == list(range(first, first + len(seen)))
        assert [e["text"] for e in seen] == system.kernel.trace.lines[first - 1:]
        assert {"fault", "cow", "exec"} <= {e["kind"] for e in seen}
        assert system.step() is None  # nothing left to run
    with System.boot(ram="32M") as untraced, pytest.raises(ValueError, match="without trace"):
        untraced.step()


def test_run_step_prints_every_event_numbered(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--ram", "32M", "--step", "cow"]) == 0
    out = capsys.readouterr().out.splitlines()
    numbered = [line for line in out if re.match(r"^ +\d+  \S", line)]
    steps = [int(line.split()[0]) for line in numbered]
    assert len(steps) > 100 and steps == list(range(steps[0], steps[0] + len(steps)))
    assert any(" cow    cow(" in line for line in numbered)
    assert out[-1] == "cow ok"
