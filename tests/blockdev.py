"""A service process that drives a block driver through lib/bdev, one call
at a time (the client side of the disk and RAM disk tests)."""

from __future__ import annotations

from typing import Any

from remote import Remote

from minixvm import System
from minixvm.include.bdev import BDEV_R_BIT, BDEV_W_BIT, BdevReply
from minixvm.include.ipc import Message
from minixvm.lib import bdev
from minixvm.lib.c import Process

SECTOR = 512
BUFFER = 512 * 1024
# Buffers of a gather or scatter lie this far apart in the client's memory.
STRIDE = 8192
RW = BDEV_R_BIT | BDEV_W_BIT


def pattern(n: int, seed: int) -> bytes:
    return bytes((i * 7 + seed * 13 + i // SECTOR) & 0xFF for i in range(n))


class Client:
    """lib/bdev calls from a service, with a buffer of ``BUFFER`` bytes."""

    def __init__(self, system: System, ep: int, minor: int = 0) -> None:
        self.remote = Remote.start(system, "bdevclient", service=True)
        self.ep, self.minor = ep, minor
        self.buf: int = self.remote.do(lambda p: p.sys.minix_mmap(BUFFER))
        assert self.buf > 0

    def do(self, fn: Any) -> Any:
        return self.remote.do(fn)

    def open(self, access: int = RW) -> int:
        return self.do(lambda p: bdev.bdev_open(p.sys, self.ep, self.minor, access))

    def close(self) -> int:
        return self.do(lambda p: bdev.bdev_close(p.sys, self.ep, self.minor))

    def size(self) -> int:
        return self.do(lambda p: bdev.bdev_size(p.sys, self.ep, self.minor))

    def read(self, pos: int, n: int) -> tuple[int, bytes]:
        """(result, the buffer's first ``n`` bytes afterwards); the buffer is
        filled with 0xEE first, so bytes not moved show."""
        def run(p: Process) -> tuple[int, bytes]:
            p.sys.mem_write(self.buf, b"\xee" * n)
            r = bdev.bdev_read(p.sys, self.ep, self.minor, pos, self.buf, n)
            return r, p.sys.mem_read(self.buf, n)
        return self.do(run)

    def write(self, pos: int, data: bytes) -> int:
        def run(p: Process) -> int:
            p.sys.mem_write(self.buf, data)
            return bdev.bdev_write(p.sys, self.ep, self.minor, pos, self.buf, len(data))
        return self.do(run)

    def gather(self, pos: int, sizes: list[int]) -> tuple[int, list[bytes]]:
        def run(p: Process) -> tuple[int, list[bytes]]:
            vector = [(self.buf + i * STRIDE, n) for i, n in enumerate(sizes)]
            for addr, n in vector:
                p.sys.mem_write(addr, b"\xee" * n)
            r = bdev.bdev_gather(p.sys, self.ep, self.minor, pos, vector)
            return r, [p.sys.mem_read(addr, n) for addr, n in vector]
        return self.do(run)

    def scatter(self, pos: int, chunks: list[bytes]) -> int:
        def run(p: Process) -> int:
            vector = [(self.buf + i * STRIDE, len(c)) for i, c in enumerate(chunks)]
            for (addr, _), c in zip(vector, chunks, strict=True):
                p.sys.mem_write(addr, c)
            return bdev.bdev_scatter(p.sys, self.ep, self.minor, pos, vector)
        return self.do(run)

    def raw(self, m: Message) -> BdevReply:
        """Sendrec a hand-made request; the driver's reply."""
        def run(p: Process) -> BdevReply:
            r, reply = p.sys.sendrec(self.ep, m)
            assert r == 0 and reply is not None
            return BdevReply.view(reply.buf)
        return self.do(run)
