"""Run every ``benchmarks/bench_*.py`` module's ``main()`` in turn.

A module's ``main()`` returns the lines it wants printed (or prints them
itself and returns None). ``python -m benchmarks foundation`` runs only the
modules whose names contain ``foundation``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from pathlib import Path


def modules(selected: list[str]) -> list[str]:
    """The benchmark modules, by name, in alphabetical order."""
    here = Path(__file__).resolve().parent
    names = sorted(path.stem for path in here.glob("bench_*.py"))
    if selected:
        names = [n for n in names if any(s in n for s in selected)]
    return names


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    names = modules(args)
    if not names:
        print(f"no benchmark matches {' '.join(args)!r}", file=sys.stderr)
        return 1
    for name in names:
        module = importlib.import_module(f"{__package__ or 'benchmarks'}.{name}")
        print(f"== {name}", flush=True)
        lines: Iterable[str] | None = module.main()
        for line in lines or ():
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
