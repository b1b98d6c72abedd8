"""The fault campaign's counts, collected as its tests run and printed at
the end of the test session (``conftest.pytest_terminal_summary``)."""

from __future__ import annotations

from collections import Counter

COUNTS: dict[str, Counter[str]] = {}


def count(campaign: str, **amounts: int) -> None:
    """Add ``amounts`` to the counts of ``campaign``."""
    COUNTS.setdefault(campaign, Counter()).update(amounts)


def summary() -> list[str]:
    """One line per campaign: its counts by name."""
    return [f"{name}: " + ", ".join(f"{key} {value:,}" for key, value in counts.items())
            for name, counts in sorted(COUNTS.items())]
