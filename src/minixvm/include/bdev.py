"""Block-device requests (MINIX 3.2 <minix/com.h> BDEV_*): what a file
system asks of a disk driver.

A transfer names a byte position on the device, a count and a grant of the
caller's buffer; the driver safecopies through the grant, so data never
travels in a message. GATHER and SCATTER take a vector of (grant, bytes)
elements by grant (``IOVEC_GRANT``). The reply is BDEV_REPLY with the bytes
moved or a negative errno in ``status`` and the request's ``id`` echoed.
"""

from __future__ import annotations

import struct

from minixvm.include.ipc import (
    Message,
    layout,
    m10_i1,
    m10_i2,
    m10_i3,
    m10_i4,
    m10_l1,
    m10_l2,
    m10_l3,
    register_names,
)

BDEV_RQ_BASE = 0x500
BDEV_RS_BASE = 0x580
BDEV_OPEN = BDEV_RQ_BASE + 0
BDEV_CLOSE = BDEV_RQ_BASE + 1
BDEV_READ = BDEV_RQ_BASE + 2
BDEV_WRITE = BDEV_RQ_BASE + 3
BDEV_GATHER = BDEV_RQ_BASE + 4
BDEV_SCATTER = BDEV_RQ_BASE + 5
BDEV_IOCTL = BDEV_RQ_BASE + 6
BDEV_REPLY = BDEV_RS_BASE + 0

register_names(globals(), "BDEV_", BDEV_RQ_BASE, 0x100)

# BDEV_ACCESS bits of BDEV_OPEN.
BDEV_R_BIT = 0x01
BDEV_W_BIT = 0x02

# BDEV_IOCTL requests: the device's size in bytes (DIOCGETP's use), into
# a 4-byte buffer by grant.
DIOCGETSIZE = 0x4401

# One element of a GATHER/SCATTER vector: iovec_s_t {cp_grant_id_t iov_grant;
# vir_bytes iov_size}.
IOVEC_GRANT = struct.Struct("<iI")
# The most elements one vector request may carry (MINIX NR_IOREQS).
NR_IOREQS = 64


@layout(BDEV_OPEN, BDEV_CLOSE)
class BdevOpen(Message):
    minor = m10_i1  # BDEV_MINOR
    access = m10_i2  # BDEV_ACCESS (OPEN)
    id = m10_l1  # BDEV_ID: echoed in the reply


@layout(BDEV_READ, BDEV_WRITE, BDEV_GATHER, BDEV_SCATTER)
class BdevIo(Message):
    minor = m10_i1  # BDEV_MINOR
    grant = m10_i3  # BDEV_GRANT: the buffer (READ/WRITE) or the vector
    count = m10_i4  # BDEV_COUNT: bytes (READ/WRITE) or vector elements
    id = m10_l1  # BDEV_ID
    pos = m10_l2  # BDEV_POS_LO: byte position on the device
    pos_hi = m10_l3  # BDEV_POS_HI


@layout(BDEV_IOCTL)
class BdevIoctl(Message):
    minor = m10_i1  # BDEV_MINOR
    request = m10_i2  # BDEV_REQUEST
    grant = m10_i3  # BDEV_GRANT
    id = m10_l1  # BDEV_ID


@layout(BDEV_REPLY)
class BdevReply(Message):
    status = m10_i1  # BDEV_STATUS: bytes transferred, OK, or -errno
    id = m10_l1  # BDEV_ID: the request's
