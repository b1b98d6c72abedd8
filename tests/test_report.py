"""``minixvm report``: one self-contained HTML page with every section, that
a real browser renders and filters."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from minixvm.cli import main
from minixvm.views.report import SECTIONS

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium to render the page in (Debian: apt-get install chromium)")


class Page(HTMLParser):
    """What a report holds: sections, pictures, trace rows, and every
    attribute that could make a browser fetch something."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.svgs = 0
        self.rows: list[dict[str, str]] = []
        self.fetching: list[tuple[str, str, str]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "section":
            self.sections.append(values["id"])
        self.svgs += tag == "svg"
        if tag == "tr" and "data-kind" in values:
            self.rows.append(values)
        if tag in ("link", "iframe", "object", "embed", "base"):
            self.fetching.append((tag, "", ""))
        for name in ("src", "href", "xlink:href", "action", "srcset", "poster"):
            value = values.get(name)
            if value is not None and not value.startswith(("#", "data:")):
                self.fetching.append((tag, name, value))


@pytest.fixture(scope="module")
def cow_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "cow.html"
    assert main(["report", "--run", "cow", "-o", str(out)]) == 0
    return out


def test_the_page_has_every_section_in_order(cow_report: Path) -> None:
    text = cow_report.read_text(encoding="utf-8")
    page = Page(text)
    assert page.sections == [key for key, _ in SECTIONS]
    assert page.svgs == 4, "both cow processes' address spaces, physical memory, the timeline"
    assert "cow ok" in text, "the console is in the summary"
    assert re.search(r"<b>cow</b> pid (\d+) \(endpoint \d+\) · exited at step \d+", text)
    assert "Address space of cow(" in text and "anon r-p" in text
    assert "Physical memory: 16384 frames" in text
    kinds = {row["data-kind"] for row in page.rows}
    assert {"msg", "kcall", "fault", "cow", "exec", "file", "grant"} <= kinds
    steps = re.findall(r"<tr data-kind=[^>]*><td>(\d+)</td>", text)
    assert [int(s) for s in steps] == sorted(int(s) for s in steps)


def test_the_page_fetches_nothing(cow_report: Path) -> None:
    text = cow_report.read_text(encoding="utf-8")
    assert Page(text).fetching == []
    for reference in ("http:", "https:", "file:", "@import", "url(//", "<link", "<?xml",
                      "<!DOCTYPE svg"):
        assert reference not in text
    ids = re.findall(r' id="([^"]+)"', text)
    assert len(ids) == len(set(ids)), "the pictures' ids do not collide"


def test_pictures_at_a_chosen_event(tmp_path: Path) -> None:
    out = tmp_path / "at.html"
    assert main(["report", "--run", "cow", "--at", "cow:1", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    [step] = set(re.findall(r"\) at step (\d+)</h3>", text))
    assert f"Every frame of RAM by use and owner, at step {step}." in text
    first_cow = re.search(r'<tr data-kind="cow" data-pid="\d*"><td>(\d+)</td>', text)
    assert first_cow is not None and first_cow[1] == step


def test_a_point_past_the_end_is_one_line_and_no_page(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "late.html"
    assert main(["report", "--run", "cow", "--at", "cow:99", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(r"minixvm: the run ended at step \d+, before cow:99\n", err)
    assert not out.exists()
    assert main(["report", "-o", str(tmp_path / "no" / "such" / "dir.html")]) == 2
    assert "no directory" in capsys.readouterr().err


@needs_chromium
def test_a_browser_renders_and_filters_the_page(cow_report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    run = [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
           "--hide-scrollbars", "--window-size=1280,2000"]
    subprocess.run([*run, f"--screenshot={shot}", cow_report.as_uri()], check=True,
                   capture_output=True, timeout=120)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000
    dom = subprocess.run([*run, "--dump-dom", cow_report.as_uri() + "?kind=cow"], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    rows = Page(dom).rows
    shown = [r for r in rows if "hidden" not in r.get("class", "")]
    assert shown and all(r["data-kind"] == "cow" for r in shown)
    assert f"{len(shown)} of {len(rows)} events" in dom


TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"


def tutorial_steps() -> list[tuple[str, str | None]]:
    """The tutorial's commands, each with the output it shows (if any)."""
    blocks = re.findall(r"```(\w*)\n(.*?)```", TUTORIAL.read_text(encoding="utf-8"), re.DOTALL)
    steps: list[tuple[str, str | None]] = []
    for lang, text in blocks:
        if lang == "sh":
            steps.append((text.strip(), None))
        elif steps and steps[-1][1] is None:
            steps[-1] = (steps[-1][0], text)
    return steps


def unnumbered(text: str) -> list[list[str]]:
    """The words of each line, less a leading step number."""
    return [re.sub(r"^\s*\d+\s", "", line).split() for line in text.strip().splitlines()]


def test_the_tutorial_commands_do_what_it_shows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    steps = tutorial_steps()
    assert len(steps) == 5
    for command, shown in steps:
        words = shlex.split(command)
        assert words[0] == "minixvm"
        assert main(words[1:]) == 0, command
        printed = capsys.readouterr().out
        if shown is not None:
            # Step numbers move whenever booting changes; what happens must not.
            assert unnumbered(printed) == unnumbered(shown), command
    for name in ("cow-timeline.png", "cow-maps.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
    assert "cow(12)" in " ".join(ET.parse(tmp_path / "cow-phys.svg").getroot().itertext())
    report = (tmp_path / "cow.html").read_text(encoding="utf-8")
    assert Page(report).svgs == 4, "parent and child at the break, memory, the timeline"
    assert re.search(r"cow\(12\) at step \d+</h3>", report)


def test_the_readme_shows_the_tutorials_commands() -> None:
    readme = (TUTORIAL.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Watch a fork", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None
    commands = [re.sub(r"\s+#.*$", "", line).strip() for line in block[1].splitlines()]
    assert commands == [command for command, _ in tutorial_steps()]
    [picture] = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", section)
    assert (TUTORIAL.parents[1] / picture).read_bytes().startswith(b"\x89PNG")
