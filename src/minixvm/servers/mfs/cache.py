"""The buffer cache (MINIX servers/mfs/cache.c at 769af5727): blocks of the
mounted device in buffers of MFS's own memory, found by a hash on the
block number, evicted least recently used first.

The buffers lie in one mapped area, each page-aligned and a page long (a
block is at most a page), since VM takes and gives back whole pages. A
clean block leaving the cache is yielded to VM (VM_YIELDBLOCKGETBLOCK,
id make64(hi=block, lo=dev)), and the block wanted instead is asked back
from VM in the same call: OK means the buffer now holds it, with no disk
I/O. A dirty block is written to disk first, with every other dirty
block, and only a clean block is ever yielded. A block about to be
overwritten whole (NO_READ) is not read: VM is told to forget any copy it
has (VM_FORGETBLOCK), since that copy is about to be stale.

A buffer is held while a request uses it (``count``); only unheld buffers
are in the LRU. A NO_READ buffer holds garbage until it is written
(``mark_dirty``): if it is let go before that, the cache forgets it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from minixvm.errors import EIO, OK, RequestError
from minixvm.include.bdev import NR_IOREQS
from minixvm.include.vm import (
    VM_BLOCKID_NONE,
    VM_FORGETBLOCK,
    VM_FORGETBLOCKS,
    VM_MUNMAP,
    VM_YIELDBLOCKGETBLOCK,
    make64,
    split64,
)
from minixvm.lib.bdev import BdevDriver
from minixvm.lib.sys import SysLib
from minixvm.machine.ram import PAGE_SIZE

NORMAL = 0  # read the block if it is not in the cache
NO_READ = 1  # the block will be overwritten whole: do not read it

BUF_SIZE = PAGE_SIZE  # every buffer: one page (blocks are 1 KiB or 4 KiB)
EMPTY = -1  # a buffer that holds no block


@dataclass
class MfsStats:
    """MFS's counters, in blocks: found in its cache, got back from VM, read
    from and written to the disk."""

    cache_hits: int = 0
    vm_hits: int = 0
    disk_reads: int = 0
    disk_writes: int = 0


@dataclass(eq=False)
class Buf:
    """One buffer: where it is in MFS's memory and which block it holds."""

    addr: int
    block: int = EMPTY
    dirty: bool = False
    valid: bool = False  # False: a NO_READ block not yet written
    count: int = 0  # holders


class Cache:
    """The buffers of one mounted device."""

    def __init__(self, sys: SysLib, stats: MfsStats, driver: BdevDriver, dev: int,
                 block_size: int, nbufs: int, use_vm: bool) -> None:
        self.sys = sys
        self.stats = stats
        self.driver = driver
        self.dev = dev
        self.minor = dev & 0xFF
        self.block_size = block_size
        self.use_vm = use_vm
        # Demand-zero: each buffer is a page of its own, which VM can take
        # when MFS yields the block in it.
        self.area = sys.minix_mmap(nbufs * BUF_SIZE, flags=0)
        if self.area < 0:
            raise RequestError(-self.area)
        self.size = nbufs * BUF_SIZE
        bufs = [Buf(self.area + i * BUF_SIZE) for i in range(nbufs)]
        self.lru: OrderedDict[Buf, None] = OrderedDict((b, None) for b in bufs)
        self.hash: dict[int, Buf] = {}

    # -- getting and putting blocks ---------------------------------------------------

    def get_block(self, block: int, mode: int = NORMAL) -> Buf:
        """Block ``block``, held (``put_block`` lets it go)."""
        buf = self.hash.get(block)
        if buf is not None:
            if buf.count == 0:
                del self.lru[buf]
            buf.count += 1
            self.stats.cache_hits += 1
            return buf
        buf = self._evict()
        buf.count = 1
        yield_id = self._yield_id(buf)
        buf.block, buf.dirty, buf.valid = block, False, True
        self.hash[block] = buf
        if mode == NO_READ:
            buf.valid = False
            if self.use_vm:
                self.vm_forgetblock(block)
            return buf
        if self.use_vm and self._yield_get(buf.addr, yield_id, block) == OK:
            self.stats.vm_hits += 1
            return buf
        r = self.driver.read(self.minor, block * self.block_size, buf.addr, self.block_size)
        if r != self.block_size:
            buf.valid = False
            self.put_block(buf)
            raise RequestError(EIO)
        self.stats.disk_reads += 1
        return buf

    def put_block(self, buf: Buf) -> None:
        """Let go of ``buf``; the last holder makes it the most recently used
        (a NO_READ block never written: the least, holding nothing)."""
        buf.count -= 1
        if buf.count:
            return
        if buf.valid:
            self.lru[buf] = None
            return
        self.hash.pop(buf.block, None)
        buf.block = EMPTY
        self.lru[buf] = None
        self.lru.move_to_end(buf, last=False)

    @contextmanager
    def block(self, block: int, mode: int = NORMAL) -> Iterator[Buf]:
        """``get_block`` for the extent of a ``with``."""
        buf = self.get_block(block, mode)
        try:
            yield buf
        finally:
            self.put_block(buf)

    def mark_dirty(self, buf: Buf) -> None:
        """``buf`` now holds what must reach the disk."""
        buf.dirty = buf.valid = True

    def read(self, buf: Buf, offset: int, n: int) -> bytes:
        """``n`` bytes at ``offset`` of the block in ``buf`` (metadata only)."""
        return self.sys.mem_read(buf.addr + offset, n)

    def write(self, buf: Buf, offset: int, data: bytes) -> None:
        """Change metadata in ``buf`` at ``offset``; the block is dirty."""
        self.sys.mem_write(buf.addr + offset, data)
        self.mark_dirty(buf)

    def zero(self, buf: Buf, offset: int = 0, n: int | None = None) -> None:
        """Clear [offset, offset+n) of ``buf`` (to the block's end if n is None)."""
        n = self.block_size - offset if n is None else n
        if n > 0:
            self.write(buf, offset, bytes(n))

    # -- eviction and the VM cache ----------------------------------------------------

    def _evict(self) -> Buf:
        """The least recently used unheld buffer, emptied of its block (a
        dirty one is written first, with every other dirty block)."""
        if not self.lru:
            self.sys.panic("all %d buffers in use", len(self.hash))
        buf = next(iter(self.lru))
        if buf.dirty:
            self.flushall()
        del self.lru[buf]
        if buf.block != EMPTY:
            del self.hash[buf.block]
        return buf

    def _yield_id(self, buf: Buf) -> int:
        """The id to yield the block leaving ``buf`` under (NONE: nothing to yield)."""
        if not self.use_vm or buf.block == EMPTY or buf.dirty or not buf.valid:
            return VM_BLOCKID_NONE
        return make64(buf.block, self.dev)

    def _yield_get(self, addr: int, yield_id: int, block: int) -> int:
        """One VM_YIELDBLOCKGETBLOCK: yield what is at ``addr``, get ``block``."""
        (yhi, ylo), (ghi, glo) = split64(yield_id), split64(make64(block, self.dev))
        return self.sys.vm_call(VM_YIELDBLOCKGETBLOCK, vaddr=addr, len=BUF_SIZE,
                                yieldid_hi=yhi, yieldid_lo=ylo, getid_hi=ghi,
                                getid_lo=glo).m_type

    def vm_forgetblock(self, block: int) -> None:
        hi, lo = split64(make64(block, self.dev))
        self.sys.vm_call(VM_FORGETBLOCK, id_hi=hi, id_lo=lo)

    # -- writing back -----------------------------------------------------------------

    def flushall(self) -> None:
        """Write every dirty block, in block order, contiguous runs in one request."""
        dirty = sorted((b for b in self.hash.values() if b.dirty), key=lambda b: b.block)
        run: list[Buf] = []
        for buf in dirty:
            if run and (buf.block != run[-1].block + 1 or len(run) == NR_IOREQS):
                self._write_run(run)
                run = []
            run.append(buf)
        if run:
            self._write_run(run)

    def _write_run(self, run: list[Buf]) -> None:
        """Write the dirty buffers of consecutive blocks ``run``; EIO if the disk fails."""
        pos, n = run[0].block * self.block_size, len(run) * self.block_size
        if len(run) == 1:
            r = self.driver.write(self.minor, pos, run[0].addr, n)
        else:
            r = self.driver.scatter(self.minor, pos, [(b.addr, self.block_size) for b in run])
        if r != n:
            raise RequestError(EIO)
        for buf in run:
            buf.dirty = False
        self.stats.disk_writes += len(run)

    def invalidate(self) -> None:
        """Forget every block (after ``flushall``), here and in VM."""
        for buf in self.hash.values():
            buf.block, buf.dirty, buf.valid = EMPTY, False, False
        self.hash.clear()
        if self.use_vm:
            self.sys.vm_call(VM_FORGETBLOCKS)

    def close(self) -> None:
        """Give the buffers' memory back."""
        self.invalidate()
        self.sys.vm_call(VM_MUNMAP, addr=self.area, len=self.size)
