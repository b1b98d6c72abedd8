"""Character-driver requests (MINIX <minix/com.h> DEV_*), as the console and
the memory driver serve them: data always moves through a grant."""

from __future__ import annotations

from minixvm.include.ipc import register_names

DEV_RQ_BASE = 0x400
DEV_READ = DEV_RQ_BASE + 3
DEV_WRITE = DEV_RQ_BASE + 4

# Minor devices of the memory driver.
MEMORY_DEV = 1  # /dev/mem: physical memory
NULL_DEV = 3  # /dev/null
ZERO_DEV = 5  # /dev/zero

register_names(globals(), "DEV_", DEV_RQ_BASE)
