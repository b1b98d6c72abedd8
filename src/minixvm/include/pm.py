"""PM requests (<minix/callnr.h>)."""

from __future__ import annotations

from minixvm.include.ipc import register_names

PM_BASE = 0x000
PM_EXIT = PM_BASE + 1
PM_FORK = PM_BASE + 2
PM_WAITPID = PM_BASE + 7
PM_GETPID = PM_BASE + 20
PM_BRK = PM_BASE + 45
PM_KILL = PM_BASE + 37
PM_EXEC = PM_BASE + 59
PM_GETPROCNR = PM_BASE + 90

register_names(globals(), "PM_", PM_BASE + 1)
