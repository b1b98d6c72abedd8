"""The fault campaign's counts, collected as its tests run and printed at
the end of the test session (``conftest.pytest_terminal_summary``).

Each ``count`` is one batch done: a plain line on stderr (CI, a pipe, or
pytest capturing it), or on a terminal (``make fuzz`` runs pytest -s) a
rich progress display, a line per campaign, until the summary."""

from __future__ import annotations

import sys
from collections import Counter

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn

from minixvm.views.progress import interactive

COUNTS: dict[str, Counter[str]] = {}
BATCHES: Counter[str] = Counter()
_shown: dict[str, TaskID] = {}
_display: list[Progress] = []


def count(campaign: str, **amounts: int) -> None:
    """Add ``amounts`` to the counts of ``campaign``: one batch of it done."""
    COUNTS.setdefault(campaign, Counter()).update(amounts)
    BATCHES[campaign] += 1
    line = f"batch {BATCHES[campaign]} done: {totals(campaign)}"
    if not interactive():
        print(f"{campaign}: {line}", file=sys.stderr, flush=True)
        return
    if not _display:
        _display.append(Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                 TextColumn("{task.fields[line]}"),
                                 console=Console(stderr=True)))
        _display[0].start()
    if campaign not in _shown:
        _shown[campaign] = _display[0].add_task(campaign, total=None, line=line)
    _display[0].update(_shown[campaign], line=line)


def totals(campaign: str) -> str:
    return ", ".join(f"{key} {value:,}" for key, value in COUNTS[campaign].items())


def summary() -> list[str]:
    """One line per campaign: its counts by name (the progress display ends)."""
    for display in _display:
        display.stop()
    return [f"{name}: {totals(name)}" for name in sorted(COUNTS)]
