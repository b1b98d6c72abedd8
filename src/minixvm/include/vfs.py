"""VFS requests of user programs (MINIX 3.2 <minix/callnr.h>, the libc's
message slots): read, write and close.

The reply's m_type is the result: bytes transferred, OK, or -errno.
"""

from __future__ import annotations

from minixvm.include.ipc import Message, layout, m1_i1, m1_i2, m1_p1, register_names

READ = 3
WRITE = 4
CLOSE = 6

register_names(globals(), "READ", READ, 1)
register_names(globals(), "WRITE", WRITE, 1)
register_names(globals(), "CLOSE", CLOSE, 1)

# The descriptors a process starts with: the console.
STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO = 0, 1, 2


@layout(READ, WRITE)
class VfsReadWrite(Message):
    fd = m1_i1
    nbytes = m1_i2
    buffer = m1_p1  # in the caller's memory


@layout(CLOSE)
class VfsClose(Message):
    fd = m1_i1
