"""Progress of long work: a rich progress bar on a terminal, plain lines
(on stderr) when not on one, as in CI or a pipe."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

# Plain lines: at most PLAIN_LINES for work of a known length, else one
# every PLAIN_EVERY steps.
PLAIN_LINES = 10
PLAIN_EVERY = 100_000


def interactive() -> bool:
    """Is there a person watching (stderr a terminal, and not CI)?"""
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def progress(description: str, total: int | None = None,
             quiet: bool = False) -> Iterator[Callable[..., None]]:
    """Show the progress of ``description`` (of ``total`` steps, or open-ended;
    nothing if ``quiet``: short work); yields ``advance(steps=1, what="")``
    (``what`` names the step just done, for plain lines)."""
    if quiet:
        yield lambda steps=1, what="": None
        return
    if interactive():
        columns = ([SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TextColumn("{task.fields[what]}")] if total is not None
                   else [SpinnerColumn(), TextColumn("{task.description}"),
                         TextColumn("{task.completed:,}")])
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(description, total=total, what="")

            def advance(steps: int = 1, what: str = "") -> None:
                bar.update(task, advance=steps, what=what)

            yield advance
        return
    done = 0

    def plain(steps: int = 1, what: str = "") -> None:
        nonlocal done
        before, done = done, done + steps
        if total is not None and (total <= PLAIN_LINES
                                  or done * PLAIN_LINES // total > before * PLAIN_LINES // total):
            print(f"{description}: {done}/{total}{' ' + what if what else ''}", file=sys.stderr,
                  flush=True)
        elif total is None and done // PLAIN_EVERY > before // PLAIN_EVERY:
            print(f"{description}: {done // PLAIN_EVERY * PLAIN_EVERY:,}", file=sys.stderr,
                  flush=True)

    yield plain
