"""The command line's argument parser: a complaint is one line on stderr."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class Parser(argparse.ArgumentParser):
    """argparse whose complaints are one line (no usage block)."""

    def error(self, message: str) -> NoReturn:
        say(f"{self.prog}: {message} (see {self.prog} --help)")
        raise SystemExit(2)


def say(line: str, echo: bool = False) -> None:
    """An error line on stderr; with ``echo``, also on stdout when that is
    not the terminal (run's and boot's output is the system's console, and
    a log of it should say why it stopped)."""
    print(line, file=sys.stderr, flush=True)
    if echo and not sys.stdout.isatty():
        print(line, flush=True)
