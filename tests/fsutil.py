"""What the file-system tests share: a machine booted on a fresh image, a
body run in a new process, and the errno a call fails with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from vfscalls import Files

from minixvm import MinixError, System
from minixvm.commands.mkfs import FileSpec, make_image
from minixvm.lib.c import Process


def fresh_system(size: int = 4 << 20, files: Mapping[str, FileSpec] | None = None,
                 **options: Any) -> System:
    """A 32 MiB machine on a fresh mkfs image of ``size`` bytes holding ``files``."""
    return System.boot(ram="32M", disk=make_image(size, files=files), **options)


def booted(size: int = 4 << 20, files: Mapping[str, FileSpec] | None = None,
           **options: Any) -> Iterator[System]:
    """``fresh_system``'s machine for a fixture to yield; shut down after the test."""
    with fresh_system(size, files, **options) as s:
        yield s


def run(system: System, body: Callable[[Process], Any]) -> Any:
    """Run ``body`` in a new process; what it returned."""
    out: list[Any] = []

    def program(p: Process) -> int:
        out.append(body(p))
        return 0

    assert system.run(program) == 0, system.console.text[-2000:]
    return out[0]


def run_files(system: System, body: Callable[[Files], Any]) -> Any:
    """``run`` with ``body`` given the process's file calls as VFS messages."""
    return run(system, lambda p: body(Files(p)))


def errno_of(fn: Callable[[], Any]) -> int:
    """The errno ``fn()`` fails with (the test fails if it succeeds)."""
    with pytest.raises(MinixError) as e:
        fn()
    assert e.value.errno is not None
    return e.value.errno


def errno_or_0(fn: Callable[[], Any]) -> int:
    """The errno ``fn()`` fails with, 0 if it succeeds."""
    try:
        fn()
    except MinixError as e:
        return e.errno
    return 0
