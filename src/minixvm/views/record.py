"""Recorded runs: every trace event of a run as JSON lines.

The first line is the header, saying how to run the workload again::

    {"kind": "header", "version": 1, "workload": {...}, "ram": "64M", "seed": null}

and every other line one event, as ``Trace`` makes it: ``step``, ``kind``,
``endpoint``, ``pid``, ``proc``, the fields of its kind by name, and
``text``, the trace line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

from minixvm.kernel.trace import Event
from minixvm.views.progress import progress

VERSION = 1
StrPath = str | os.PathLike[str]


def header(workload: dict[str, Any], ram: str, seed: int | None = None) -> dict[str, Any]:
    """The first line of a recording of ``workload`` on ``ram`` of memory."""
    return {"kind": "header", "version": VERSION, "workload": workload, "ram": ram,
            "seed": seed}


def read_header(path: StrPath) -> dict[str, Any]:
    """The header of the recording ``path`` (ValueError if it is not one)."""
    with open(path, encoding="utf-8") as f:
        first = f.readline()
    try:
        head = json.loads(first)
    except json.JSONDecodeError:
        head = None
    if not isinstance(head, dict) or head.get("kind") != "header":
        raise ValueError(f"{path}: not a minixvm recording (no header line)")
    if head.get("version") != VERSION:
        raise ValueError(f"{path}: a recording of version {head.get('version')}, "
                         f"this minixvm reads version {VERSION}")
    return head


def read_events(path: StrPath) -> Iterator[Event]:
    """The events of the recording ``path``, in order (the header skipped)."""
    read_header(path)
    with open(path, encoding="utf-8") as f:
        f.readline()
        for number, line in enumerate(f, start=2):
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                raise ValueError(f"{path}:{number}: not an event (bad JSON)") from None
            if not isinstance(event, dict) or "step" not in event or "kind" not in event:
                raise ValueError(f"{path}:{number}: not an event")
            yield event


def as_recorded(event: Event) -> Event:
    """``event`` as it reads back from a recording (JSON's types)."""
    loaded: Event = json.loads(json.dumps(event))
    return loaded


class Recorder:
    """Writes a recording: the header now, then each event it is called with.
    Shows the count of events as it goes (``progress``)."""

    def __init__(self, path: StrPath, head: dict[str, Any]) -> None:
        self._stack = ExitStack()
        self._file: TextIO = self._stack.enter_context(
            open(Path(path), "w", encoding="utf-8"))  # noqa: SIM115 - closed by close()
        self._advance: Callable[..., None] = self._stack.enter_context(
            progress(f"recording {Path(path).name}"))
        self.events = 0
        self._file.write(json.dumps(head) + "\n")

    def __call__(self, event: Event) -> None:
        self._file.write(json.dumps(event, separators=(",", ":")) + "\n")
        self.events += 1
        self._advance()

    def close(self) -> None:
        self._stack.close()
