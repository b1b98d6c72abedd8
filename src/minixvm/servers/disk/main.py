"""The block driver of the root disk (/dev/c0d0: major 3, minor 0, the whole disk).

It serves MINIX 3.2's block-driver protocol (``include/bdev.py``) through
``lib/blockdriver.py``, which checks every request and answers it. The disk
is a host image file or an image in memory (``media.py``); this process
alone touches it. Data reaches the caller only by safecopy: a transfer
goes through a bounce buffer in the driver's own memory (as a disk's DMA
buffer), one safecopy per vector element of up to ``BOUNCE_SIZE`` bytes.
The buffer starts ``BOUNCE_SKEW`` bytes into a page: the next transfer
overwrites it at once, so the kernel's copy-on-write safecopy (which
shares whole pages when both sides have the same offset in their pages)
would only cost a copy-on-write fault per transfer; a plain copy is cheaper.

Errors, MINIX's codes where MINIX has one:
- no medium (an image file the host would not open): ENXIO
  for every request on minor 0, as a drive that is not there;
- open for writing of a read-only medium: EACCES (as MINIX's memory
  driver for its read-only image disk); a write to it: EROFS;
- ``fail_io`` (fault injection, None normally) is asked before each
  transfer with its byte position: True makes the transfer fail with EIO.
"""

from __future__ import annotations

from collections.abc import Callable

from minixvm.errors import EACCES, EIO, ENXIO, EROFS, OK
from minixvm.include.bdev import BDEV_W_BIT
from minixvm.lib.blockdriver import BlockDriver, Iovec
from minixvm.lib.sys import SysLib
from minixvm.servers.disk.media import Media, Medium, open_medium

__all__ = ["Disk", "Media"]

WHOLE_DISK = 0
BOUNCE_SIZE = 64 * 1024
BOUNCE_SKEW = 64


class Disk:
    """The disk driver process."""

    def __init__(self, sys: SysLib, media: Media) -> None:
        self.sys = sys
        self.medium: Medium | None = None
        self.fail_io: Callable[[int], bool] | None = None
        self.bounce = 0
        self.transfers = 0  # requests this instance served
        try:
            self.medium = open_medium(media)
        except OSError as e:
            sys.printf("disk: cannot open %s: %s\n", media, e.strerror)

    def main(self) -> None:
        # A restarted driver starts as a fresh one: the medium keeps the data.
        self.sys.sef_startup()
        driver = BlockDriver(self.sys, self)
        while True:
            r, m = self.sys.receive()
            # Notifications take no reply.
            if r != OK or m is None or self.sys.notified:
                continue
            driver.process(m)

    # -- the BlockDevice calls ------------------------------------------------------

    def bdr_open(self, minor: int, access: int) -> int:
        medium = self.device(minor)
        if medium is None:
            return -ENXIO
        return -EACCES if access & BDEV_W_BIT and medium.readonly else OK

    def bdr_close(self, minor: int) -> int:
        return OK if self.device(minor) is not None else -ENXIO

    def bdr_size(self, minor: int) -> int:
        medium = self.device(minor)
        if medium is None:
            return -ENXIO
        try:
            return medium.size()
        except OSError:
            return -EIO

    def bdr_transfer(self, minor: int, write: bool, pos: int, endpoint: int,
                     iov: Iovec) -> int:
        medium = self.device(minor)
        if medium is None:
            return -ENXIO
        if write and medium.readonly:
            return -EROFS
        if self.fail_io is not None and self.fail_io(pos):
            return -EIO
        self.transfers += 1
        bounce = self.bounce_buffer()
        if bounce < 0:
            return bounce
        done = 0
        for grant, n in iov:
            for off in range(0, n, BOUNCE_SIZE):
                chunk = min(BOUNCE_SIZE, n - off)
                r = self.copy(medium, write, pos + done, endpoint, grant, off, chunk)
                if r != OK:
                    return r
                done += chunk
        return done

    # -- helpers ------------------------------------------------------------------

    def device(self, minor: int) -> Medium | None:
        """The medium behind ``minor`` (only the whole disk), or None."""
        return self.medium if minor == WHOLE_DISK else None

    def copy(self, medium: Medium, write: bool, pos: int, endpoint: int, grant: int,
             offset: int, n: int) -> int:
        """Move ``n`` bytes between the medium at ``pos`` and the grant at
        ``offset``: OK, the safecopy's error, or EIO if the host failed."""
        try:
            if write:
                r = self.sys.sys_safecopyfrom(endpoint, grant, offset, self.bounce, n)
                if r == OK:
                    medium.write(pos, self.sys.mem_read(self.bounce, n))
                return r
            self.sys.mem_write(self.bounce, medium.read(pos, n))
        except OSError:
            return -EIO
        return self.sys.sys_safecopyto(endpoint, grant, offset, self.bounce, n)

    def bounce_buffer(self) -> int:
        """The bounce buffer (mapped on first transfer), or -errno."""
        if not self.bounce:
            addr = self.sys.minix_mmap(BOUNCE_SKEW + BOUNCE_SIZE)
            if addr < 0:
                return addr
            self.bounce = addr + BOUNCE_SKEW
        return self.bounce
