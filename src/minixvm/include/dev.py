"""Character-driver requests (MINIX 3.2 <minix/com.h> DEV_*_S), as the console
and the memory driver serve them: data always moves through a grant.

The reply's m_type is the number of bytes transferred or a negative errno.
"""

from __future__ import annotations

from minixvm.include.ipc import (
    Message,
    layout,
    m2_i1,
    m2_i2,
    m2_i3,
    m2_l1,
    m2_p1,
    register_names,
    signed,
)

DEV_RQ_BASE = 0x400
# MINIX 3.2's safecopy variants (DEV_READ_S, DEV_WRITE_S): the only ones here.
DEV_READ = DEV_RQ_BASE + 20
DEV_WRITE = DEV_RQ_BASE + 21

# Minor devices of the memory driver (MINIX's MEM_DEV, NULL_DEV, ZERO_DEV).
MEMORY_DEV = 1  # /dev/mem: physical memory
NULL_DEV = 3  # /dev/null
ZERO_DEV = 5  # /dev/zero
# The console's one minor device.
CONSOLE_MINOR = 0

register_names(globals(), "DEV_", DEV_RQ_BASE)


@layout(DEV_READ, DEV_WRITE)
class DevIo(Message):
    minor = m2_i1  # DEVICE
    endpt = m2_i2  # USER_ENDPT: on whose behalf (informational)
    count = m2_i3  # COUNT: bytes to transfer
    position = m2_l1  # POSITION: the device offset (low 32 bits)
    grant = signed(m2_p1)  # IO_GRANT: the grant id, in the caller's grant table
