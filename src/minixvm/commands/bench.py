"""``minixvm bench``: the benchmarks of the source tree, run as ``python -m
benchmarks`` runs them (a progress bar on a terminal, each module's lines
as it finishes, the figures saved as JSON)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
from types import ModuleType

from minixvm.boot import USERLAND_BIN
from minixvm.commands.options import UsageError, add_json, print_json

# Beside userland/ in the source tree (they are not installed with minixvm).
BENCHMARKS = USERLAND_BIN.parents[1] / "benchmarks"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "bench", help="run the benchmarks (each a ratio against a baseline of the same run)",
        description="Run the benchmark modules benchmarks/bench_*.py of the source tree, "
        "or those whose names contain a NAME given, as python -m benchmarks does.")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="run only the modules whose names contain one of these")
    parser.add_argument("--list", action="store_true", help="list the modules and stop")
    parser.add_argument("--results", metavar="FILE",
                        help="write the figures here (default: benchmarks/results.json)")
    parser.add_argument("--compare", metavar="OLD.json",
                        help="also print each figure against the same one of an older run")
    add_json(parser)
    parser.set_defaults(func=run)


def package() -> ModuleType:
    """The benchmarks' runner, ``benchmarks/__main__.py``."""
    if not (BENCHMARKS / "__main__.py").is_file():
        raise UsageError(f"no benchmarks at {BENCHMARKS} (they are in minixvm's source tree)")
    root = str(BENCHMARKS.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module("benchmarks.__main__")


def run(args: argparse.Namespace) -> int:
    bench = package()
    names: list[str] = bench.modules(args.names)
    if not names:
        raise UsageError(f"no benchmark matches {' '.join(args.names)!r} "
                         f"(minixvm bench --list)")
    if args.list:
        print_json(names) if args.json else print("\n".join(names))
        return 0
    results = args.results or str(BENCHMARKS / "results.json")
    argv = [*args.names, "--json", results, *(["--compare", args.compare] if args.compare
                                               else [])]
    # With --json, stdout is the results' alone: the runner's lines go to stderr.
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        status: int = bench.main(argv)
    if args.json:
        with open(results, encoding="utf-8") as f:
            print_json(json.load(f))
    return status
