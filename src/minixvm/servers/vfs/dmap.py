"""The device table (MINIX vfs/dmap.c): which driver serves a major device.

A device number is major << 8 | minor. The drivers are boot processes, so
their endpoints are fixed; the label is the driver's name in DS (what a
file server is told to find its block driver by).
"""

from __future__ import annotations

from dataclasses import dataclass

from minixvm.include.com import DISK_PROC_NR, MEM_PROC_NR, TTY_PROC_NR
from minixvm.include.dev import CONSOLE_MINOR

MEMORY_MAJOR = 1  # minor 0 /dev/ram (block), 1 /dev/mem, 3 /dev/null, 5 /dev/zero
DISK_MAJOR = 3  # minor 0 /dev/c0d0 (block)
TTY_MAJOR = 4  # minor 0 /dev/console
CTTY_MAJOR = 5  # /dev/tty: the console
CONSOLE_DEV = TTY_MAJOR << 8 | CONSOLE_MINOR


@dataclass(frozen=True)
class Dmap:
    """A major device's driver."""

    label: str
    driver: int
    # False: reading gives end of file (the console has no keyboard).
    has_input: bool = True
    # Every minor of the major is this one of the driver's (/dev/tty).
    minor: int | None = None


DMAP = {
    MEMORY_MAJOR: Dmap("memory", MEM_PROC_NR),
    DISK_MAJOR: Dmap("disk", DISK_PROC_NR),
    TTY_MAJOR: Dmap("tty", TTY_PROC_NR, has_input=False),
    CTTY_MAJOR: Dmap("tty", TTY_PROC_NR, has_input=False, minor=CONSOLE_MINOR),
}


def major(dev: int) -> int:
    return dev >> 8 & 0xFF


def minor(dev: int) -> int:
    return dev & 0xFF


def dmap_of(dev: int) -> Dmap | None:
    return DMAP.get(major(dev))


def dev_of_label(label: str) -> int | None:
    """The device number (minor 0) of the driver called ``label``."""
    return next((m << 8 for m, d in DMAP.items() if d.label == label and d.minor is None), None)
