"""Timing helper shared by the benchmarks, and the figures they record.

A benchmark module prints lines (its ``main()`` returns them) and records
each figure it measures with ``record``; ``python -m benchmarks`` writes the
figures of a run as JSON, so that two runs can be compared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


def best(fn: Callable[[], object], repeat: int = 3) -> float:
    """The best of ``repeat`` wall-clock timings of ``fn()``, in seconds: the
    least disturbed by whatever else the machine is doing."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


@dataclass(frozen=True)
class Figure:
    """One measured quantity, and the baseline measured beside it in the same run."""

    name: str  # the key two runs are compared by
    value: float
    unit: str
    baseline: float | None = None
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        """How many times better the baseline is (1.0: as good)."""
        if self.baseline is None or not self.value or not self.baseline:
            return None
        return self.baseline / self.value if self.higher_is_better else self.value / self.baseline

    def to_json(self) -> dict[str, object]:
        return {"value": self.value, "unit": self.unit, "baseline": self.baseline,
                "ratio": self.ratio, "higher_is_better": self.higher_is_better}


RECORDED: list[Figure] = []


def record(name: str, value: float, unit: str, baseline: float | None = None,
           higher_is_better: bool = True) -> None:
    """Keep a figure for the run's JSON results."""
    RECORDED.append(Figure(name, value, unit, baseline, higher_is_better))
