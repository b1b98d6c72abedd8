"""libblockdriver: the request side every block driver shares (MINIX 3.2
lib/libblockdriver).

A driver hands each BDEV_* request to ``BlockDriver.process``, which checks
it, calls the driver's ``BlockDevice`` methods and answers with BDEV_REPLY
(the request's id echoed). The checks, the same for every device:

- positions and counts in whole 512-byte sectors, a position below 2**63,
  at most ``NR_IOREQS`` vector elements, a total below 2**31 bytes: else
  EINVAL;
- a transfer starting at or past the end of the device moves 0 bytes, one
  crossing it is cut at the end (the end is the device's size rounded down
  to a whole sector);
- a minor the device does not have is ENXIO (its size says so);
- a GATHER/SCATTER vector is fetched by grant: a bad grant is the
  safecopy's error (EPERM, EFAULT...);
- an unknown request is EINVAL.
"""

from __future__ import annotations

from typing import Protocol

from minixvm.errors import EINVAL, EOVERFLOW, OK
from minixvm.include.bdev import (
    BDEV_CLOSE,
    BDEV_GATHER,
    BDEV_IOCTL,
    BDEV_OPEN,
    BDEV_READ,
    BDEV_REPLY,
    BDEV_RQ_BASE,
    BDEV_SCATTER,
    BDEV_WRITE,
    DIOCGETSIZE,
    IOVEC_GRANT,
    NR_IOREQS,
    BdevIo,
    BdevIoctl,
    BdevOpen,
    BdevReply,
)
from minixvm.include.ipc import Message
from minixvm.lib.sys import SysLib
from minixvm.machine.ram import PAGE_SIZE

SECTOR_SIZE = 512
MAX_STATUS = 0x7FFFFFFF
# DIOCGETSIZE answers in a 4-byte buffer.
SIZE_BYTES = 4

# One contiguous piece of a transfer: (the caller's grant, bytes).
Iovec = list[tuple[int, int]]


class BlockDevice(Protocol):
    """What a block driver provides (MINIX's struct blockdriver)."""

    def bdr_open(self, minor: int, access: int) -> int:
        """Open ``minor`` for BDEV_R_BIT/BDEV_W_BIT ``access``: OK or -errno."""
        ...

    def bdr_close(self, minor: int) -> int:
        """Close ``minor``: OK or -errno."""
        ...

    def bdr_size(self, minor: int) -> int:
        """The size of ``minor`` in bytes; -ENXIO for a minor there is none of."""
        ...

    def bdr_transfer(self, minor: int, write: bool, pos: int, endpoint: int,
                     iov: Iovec) -> int:
        """Move the sectors at ``pos`` to (or, ``write``, from) ``endpoint``'s
        grants in ``iov`` (whole sectors, inside the device, not empty):
        the bytes moved or -errno."""
        ...


def is_bdev_request(m_type: int) -> bool:
    """Is ``m_type`` in the range of block-device requests?"""
    return BDEV_RQ_BASE <= m_type < BDEV_RQ_BASE + 0x80


class BlockDriver:
    """Answers the BDEV_* requests of one driver process for ``device``."""

    def __init__(self, sys: SysLib, device: BlockDevice) -> None:
        self.sys = sys
        self.device = device
        # Driver memory where a request's vector (or the size) is copied.
        self.scratch = 0

    def process(self, m: Message) -> None:
        """Handle request ``m`` and send its BDEV_REPLY."""
        status = self.dispatch(m)
        reply = BdevReply(BDEV_REPLY, status=status, id=BdevOpen.view(m.buf).id)
        self.sys.sendnb(m.m_source, reply)

    def dispatch(self, m: Message) -> int:
        """The status to answer ``m`` with."""
        if m.m_type in (BDEV_OPEN, BDEV_CLOSE):
            o = BdevOpen.view(m.buf)
            if m.m_type == BDEV_OPEN:
                return self.device.bdr_open(o.minor, o.access)
            return self.device.bdr_close(o.minor)
        if m.m_type in (BDEV_READ, BDEV_WRITE):
            io = BdevIo.view(m.buf)
            return self.transfer(io, [(io.grant, io.count)])
        if m.m_type in (BDEV_GATHER, BDEV_SCATTER):
            io = BdevIo.view(m.buf)
            iov = self.fetch_vector(io)
            return iov if isinstance(iov, int) else self.transfer(io, iov)
        if m.m_type == BDEV_IOCTL:
            return self.ioctl(BdevIoctl.view(m.buf))
        return -EINVAL

    def transfer(self, io: BdevIo, iov: Iovec) -> int:
        """Check a transfer, cut it at the device's end, and do it."""
        pos = io.pos_hi << 32 | io.pos & 0xFFFFFFFF
        if pos < 0 or pos % SECTOR_SIZE:
            return -EINVAL
        if any(n < 0 or n % SECTOR_SIZE for _, n in iov) or sum(n for _, n in iov) > MAX_STATUS:
            return -EINVAL
        end = self.end(io.minor)
        if end < 0:
            return end
        iov = cut(iov, end - pos)
        if not iov:
            return 0
        return self.device.bdr_transfer(io.minor, io.m_type in (BDEV_WRITE, BDEV_SCATTER), pos,
                                        io.m_source, iov)

    def fetch_vector(self, io: BdevIo) -> Iovec | int:
        """The caller's IOVEC_GRANT vector of ``io.count`` elements, or -errno."""
        if not 0 < io.count <= NR_IOREQS:
            return -EINVAL
        nbytes = io.count * IOVEC_GRANT.size
        buf = self.buffer()
        if buf < 0:
            return buf
        r = self.sys.sys_safecopyfrom(io.m_source, io.grant, 0, buf, nbytes)
        if r != OK:
            return r
        data = self.sys.mem_read(buf, nbytes)
        return [IOVEC_GRANT.unpack_from(data, i * IOVEC_GRANT.size) for i in range(io.count)]

    def ioctl(self, m: BdevIoctl) -> int:
        """DIOCGETSIZE: the size in bytes into the caller's grant."""
        if m.request != DIOCGETSIZE:
            return -EINVAL
        end = self.end(m.minor)
        if end < 0:
            return end
        if end >> (8 * SIZE_BYTES):
            return -EOVERFLOW
        buf = self.buffer()
        if buf < 0:
            return buf
        self.sys.mem_write(buf, end.to_bytes(SIZE_BYTES, "little"))
        return self.sys.sys_safecopyto(m.m_source, m.grant, 0, buf, SIZE_BYTES)

    def end(self, minor: int) -> int:
        """The device's end: its size in whole sectors, in bytes; or -errno."""
        size = self.device.bdr_size(minor)
        return size if size < 0 else size - size % SECTOR_SIZE

    def buffer(self) -> int:
        """The scratch page (mapped on first use), or -errno."""
        if not self.scratch:
            addr = self.sys.minix_mmap(PAGE_SIZE)
            if addr < 0:
                return addr
            self.scratch = addr
        return self.scratch


def cut(iov: Iovec, room: int) -> Iovec:
    """The first ``room`` bytes of ``iov`` (none if ``room`` <= 0)."""
    out: Iovec = []
    for grant, n in iov:
        if room <= 0:
            break
        out.append((grant, min(n, room)))
        room -= n
    return [(g, n) for g, n in out if n]
