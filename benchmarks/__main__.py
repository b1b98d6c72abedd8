"""Run every ``benchmarks/bench_*.py`` module's ``main()`` in turn.

A module's ``main()`` returns the lines it wants printed (or prints them
itself and returns None), and records its figures (``timing.record``).
``python -m benchmarks foundation`` runs only the modules whose names
contain ``foundation``. The figures go to ``benchmarks/results.json`` (or
``--json PATH``); ``--compare OLD.json`` then prints each figure against
the same figure of the older run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks import timing

HERE = Path(__file__).resolve().parent


def modules(selected: list[str]) -> list[str]:
    """The benchmark modules, by name, in alphabetical order."""
    names = sorted(path.stem for path in HERE.glob("bench_*.py"))
    if selected:
        names = [n for n in names if any(s in n for s in selected)]
    return names


def run_module(name: str) -> dict[str, Any]:
    """Run one module: its printed lines and recorded figures."""
    module = importlib.import_module(f"{__package__ or 'benchmarks'}.{name}")
    timing.RECORDED.clear()
    lines: Iterable[str] | None = module.main()
    return {"lines": list(lines or ()),
            "figures": {f.name: f.to_json() for f in timing.RECORDED}}


def interactive() -> bool:
    """Show a progress bar: a terminal, and not CI."""
    return sys.stdout.isatty() and os.environ.get("CI", "").lower() not in ("1", "true", "yes")


def run(names: list[str]) -> dict[str, Any]:
    """Run the modules, printing their lines as each finishes."""
    results: dict[str, Any] = {}
    if not interactive():
        for name in names:
            print(f"== {name}", flush=True)
            results[name] = run_module(name)
            for line in results[name]["lines"]:
                print(line, flush=True)
        return results
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
               "{task.total}"), TimeElapsedColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("benchmarks", total=len(names))
        for name in names:
            progress.update(task, description=name)
            results[name] = run_module(name)
            progress.console.print(f"== {name}", markup=False, highlight=False)
            for line in results[name]["lines"]:
                progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
            progress.advance(task)
    return results


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Each figure of ``new`` also in ``old``: both values and new/old."""
    lines = []
    for module, result in new.items():
        before = old.get(module, {}).get("figures", {})
        for name, fig in result["figures"].items():
            was = before.get(name)
            if was is None or not was["value"]:
                continue
            change = fig["value"] / was["value"]
            better = change if fig.get("higher_is_better", True) else 1 / change if change else 0
            verdict = "same" if better == 1 else "better" if better > 1 else "worse"
            lines.append(f"{name}: {was['value']:,.6g} -> {fig['value']:,.6g} {fig['unit']} "
                         f"(new/old {change:.2f}x, {verdict})")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("select", nargs="*", help="run only modules whose names contain these")
    parser.add_argument("--json", type=Path, default=HERE / "results.json",
                        help="where to write the results (default: %(default)s)")
    parser.add_argument("--compare", type=Path, metavar="OLD.json",
                        help="print the ratios of this run's figures to an older run's")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    names = modules(args.select)
    if not names:
        print(f"no benchmark matches {' '.join(args.select)!r}", file=sys.stderr)
        return 1
    old = json.loads(args.compare.read_text()) if args.compare else None
    results = run(names)
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    if old is not None:
        print(f"== compared with {args.compare}")
        for line in compare(old, results):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
