"""The clock MFS stamps inodes with (MINIX clock_time)."""

from __future__ import annotations

from minixvm.lib.sys import SysLib

BOOT_TIME = 1338940800  # the time of day at boot: 2012-06-06, the tree's date
HZ = 60  # clock ticks per second


def clock_time(sys: SysLib) -> int:
    """Seconds since the epoch, now."""
    return BOOT_TIME + sys.sys_times()[2] // HZ
