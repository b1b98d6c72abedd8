"""Progress of long work: plain lines on stderr when no one watches a
terminal (CI, pipes), a rich bar when someone does; a long recorded run
shows its own; ``minixvm bench`` runs the benchmarks as their runner does."""

from __future__ import annotations

import json
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import campaign
import pytest

from minixvm import cli
from minixvm.commands import bench, mkfs
from minixvm.views import progress as progress_module
from minixvm.views.progress import progress

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_plain_lines_say_how_far_work_has_got(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CI", "true")
    with progress("work", 3) as advance:
        for name in ("a", "b", "c"):
            advance(what=name)
    assert capsys.readouterr().err == "work: 1/3 a\nwork: 2/3 b\nwork: 3/3 c\n"
    with progress("long", 1000) as advance:
        for _ in range(1000):
            advance()
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"long: {n}/1000" for n in range(100, 1001, 100)]
    with progress("quiet", 5, quiet=True) as advance:
        advance()
    assert capsys.readouterr().err == ""


def test_a_terminal_gets_a_bar_not_lines(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.delenv("CI", raising=False)
    assert progress_module.interactive()
    with progress("work", 3) as advance:
        for _ in range(3):
            advance()
    assert "work: 1/3" not in capsys.readouterr().err
    monkeypatch.setenv("CI", "true")
    assert not progress_module.interactive()


def test_a_long_recorded_run_shows_its_events(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(progress_module, "PLAIN_EVERY", 100)
    assert cli.main(["run", "--ram", "32M", "--record", str(tmp_path / "cow.jsonl"), "cow"]) == 0
    lines = capsys.readouterr().err.splitlines()
    events = len((tmp_path / "cow.jsonl").read_text().splitlines()) - 1
    assert lines == [f"recording cow.jsonl: {n}" for n in range(100, events + 1, 100)]


def test_mkfs_of_a_large_image_shows_its_progress(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CI", "true")
    assert cli.main(["mkfs", str(tmp_path / "small.img"), "4M"]) == 0
    assert capsys.readouterr().err == ""  # quick work: nothing to show
    monkeypatch.setattr(mkfs, "LARGE", 1 << 20)
    monkeypatch.setattr(mkfs, "SAVE_CHUNK", 1 << 20)
    assert cli.main(["mkfs", str(tmp_path / "large.img"), "4M"]) == 0
    assert capsys.readouterr().err.splitlines() == [f"mkfs large.img: {n}/4" for n in (1, 2, 3, 4)]
    assert (tmp_path / "large.img").read_bytes() == (tmp_path / "small.img").read_bytes()


def test_each_batch_of_a_campaign_is_a_line(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(campaign, "COUNTS", {})
    monkeypatch.setattr(campaign, "BATCHES", Counter())
    campaign.count("test fuzz", cases=10, refused=7)
    campaign.count("test fuzz", cases=10, refused=8)
    assert capsys.readouterr().err.splitlines() == [
        "test fuzz: batch 1 done: cases 10, refused 7",
        "test fuzz: batch 2 done: cases 20, refused 15"]
    assert campaign.summary() == ["test fuzz: cases 20, refused 15"]


@pytest.fixture
def fake_benchmarks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A benchmarks package of two quick modules, with the real runner."""
    package = tmp_path / "benchmarks"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for runner in ("__main__.py", "timing.py"):
        shutil.copy(BENCHMARKS / runner, package / runner)
    (package / "bench_quick.py").write_text("def main():\n    return ['quick: 1.00x']\n")
    (package / "bench_talker.py").write_text("def main():\n    print('talker: 2.00x')\n")
    monkeypatch.setattr(bench, "BENCHMARKS", package)
    monkeypatch.setattr(sys, "path", list(sys.path))
    real = {name: module for name, module in sys.modules.items()
            if name == "benchmarks" or name.startswith("benchmarks.")}
    for name in real:
        del sys.modules[name]
    yield package
    for name in [n for n in sys.modules if n == "benchmarks" or n.startswith("benchmarks.")]:
        del sys.modules[name]
    sys.modules.update(real)


def test_bench_runs_each_module_and_saves_the_results(
        fake_benchmarks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CI", "true")
    assert cli.main(["bench"]) == 0
    assert capsys.readouterr().out == ("== bench_quick\nquick: 1.00x\n"
                                       "== bench_talker\ntalker: 2.00x\n")
    saved = json.loads((fake_benchmarks / "results.json").read_text())
    assert saved["bench_quick"]["lines"] == ["quick: 1.00x"]
    results = tmp_path / "quick.json"
    assert cli.main(["bench", "--json", "--results", str(results), "quick"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == json.loads(results.read_text()) == {
        "bench_quick": {"lines": ["quick: 1.00x"], "figures": {}}}
    assert "== bench_quick" in err
    assert cli.main(["bench", "--list"]) == 0
    assert capsys.readouterr().out == "bench_quick\nbench_talker\n"


def test_bench_compares_a_run_with_an_older_one(
        fake_benchmarks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (fake_benchmarks / "bench_quick.py").write_text(
        "from benchmarks.timing import record\n"
        "def main():\n"
        "    record('rate', 30.0, '/s')\n"
        "    record('latency', 2.0, 'us', higher_is_better=False)\n"
        "    record('size', 4.0, 'KiB')\n"
        "    return []\n")
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"bench_quick": {"lines": [], "figures": {
        "rate": {"value": 20.0, "unit": "/s", "higher_is_better": True},
        "latency": {"value": 1.0, "unit": "us", "higher_is_better": False},
        "size": {"value": 4.0, "unit": "KiB", "higher_is_better": True}}}}))
    assert cli.main(["bench", "--results", str(tmp_path / "new.json"), "--compare", str(old),
                     "quick"]) == 0
    out = capsys.readouterr().out
    assert "rate: 20 -> 30 /s (new/old 1.50x, better)" in out
    assert "latency: 1 -> 2 us (new/old 2.00x, worse)" in out
    assert "size: 4 -> 4 KiB (new/old 1.00x, same)" in out


def test_bench_lists_the_real_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bench", "--list"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed == sorted(p.stem for p in BENCHMARKS.glob("bench_*.py"))
