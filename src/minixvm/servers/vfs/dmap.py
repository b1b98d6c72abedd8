"""The device table (MINIX vfs/dmap.c): which driver serves a major device.

A device number is major << 8 | minor. The memory driver and the console
are boot processes, with fixed endpoints; the disk driver is a service RS
starts (and restarts into a new endpoint), so VFS finds it by its label
in DS, which is also what a file server is told to find its driver by.
"""

from __future__ import annotations

from dataclasses import dataclass

from minixvm.errors import OK
from minixvm.include.com import MEM_PROC_NR, TTY_PROC_NR
from minixvm.include.dev import CONSOLE_MINOR
from minixvm.lib.ds import ds_retrieve_label_num
from minixvm.lib.sys import SysLib

MEMORY_MAJOR = 1  # minor 0 /dev/ram (block), 1 /dev/mem, 3 /dev/null, 5 /dev/zero
DISK_MAJOR = 3  # minor 0 /dev/c0d0 (block)
TTY_MAJOR = 4  # minor 0 /dev/console
CTTY_MAJOR = 5  # /dev/tty: the console
CONSOLE_DEV = TTY_MAJOR << 8 | CONSOLE_MINOR


@dataclass(frozen=True)
class Dmap:
    """A major device's driver."""

    label: str
    driver: int | None  # its endpoint (None: a service RS starts, found by label)
    # False: reading gives end of file (the console has no keyboard).
    has_input: bool = True
    # Every minor of the major is this one of the driver's (/dev/tty).
    minor: int | None = None


DMAP = {
    MEMORY_MAJOR: Dmap("memory", MEM_PROC_NR),
    DISK_MAJOR: Dmap("disk", None),
    TTY_MAJOR: Dmap("tty", TTY_PROC_NR, has_input=False),
    CTTY_MAJOR: Dmap("tty", TTY_PROC_NR, has_input=False, minor=CONSOLE_MINOR),
}


def major(dev: int) -> int:
    return dev >> 8 & 0xFF


def minor(dev: int) -> int:
    return dev & 0xFF


def dmap_of(dev: int) -> Dmap | None:
    return DMAP.get(major(dev))


def driver_endpoint(sys: SysLib, d: Dmap) -> int:
    """The endpoint of ``d``'s driver now (a restarted driver has a new one), or -errno."""
    if d.driver is not None:
        return d.driver
    r, endpoint = ds_retrieve_label_num(sys, d.label)
    return endpoint if r == OK else r


def dev_of_label(label: str) -> int | None:
    """The device number (minor 0) of the driver called ``label``."""
    return next((m << 8 for m, d in DMAP.items() if d.label == label and d.minor is None), None)
