"""The memory driver: /dev/ram, /dev/mem, /dev/null and /dev/zero.

/dev/ram (minor 0) is a block device (BDEV_* requests, checked and answered
by ``lib/blockdriver.py``): a RAM disk whose size and first contents the
driver is started with, held in the driver's own memory (mapped on first
use, so it costs simulated RAM as MINIX's does) and copied straight
between there and the caller's grants. With no RAM disk, minor 0 is ENXIO.

/dev/mem reads and writes arbitrary physical memory. The driver has no
special kernel mapping call for it: it asks VM to map the physical range
into its own address space (VM_MAP_PHYS, a direct region), copies through
the caller's grant, and unmaps it again (seed 68d0c4def). Every request
gets an answer: the bytes moved, or an error (ENXIO for an unknown minor,
EINVAL for a bad count or position or an unknown request, and the errors
of VM and of safecopy).
"""

from __future__ import annotations

from minixvm.errors import EINVAL, ENXIO, OK
from minixvm.include.com import SELF
from minixvm.include.dev import DEV_READ, DEV_WRITE, MEMORY_DEV, NULL_DEV, ZERO_DEV, DevIo
from minixvm.include.ipc import Message
from minixvm.include.vm import VM_MAP_PHYS, VM_UNMAP_PHYS
from minixvm.lib.blockdriver import BlockDriver, Iovec, is_bdev_request
from minixvm.lib.sys import SysLib

ZERO_BUF = 4096
RAM_DEV = 0  # /dev/ram (MINIX's RAM_DEV_OLD)


class MemoryDriver:
    """The memory driver."""

    def __init__(self, sys: SysLib, ramdisk: bytes | int | None = None) -> None:
        """``ramdisk``: the RAM disk's first contents, or its size (empty),
        or None for no RAM disk."""
        self.sys = sys
        self.zeros = 0
        self.ramdisk = ramdisk
        self.ram_base = 0

    def main(self) -> None:
        # /dev/zero's source, allocated now: the driver's memory stays put.
        self.zeros = self.sys.minix_mmap(ZERO_BUF)
        if self.zeros < 0:
            self.sys.panic("no memory for /dev/zero: %d", self.zeros)
        block = BlockDriver(self.sys, self)
        while True:
            r, m = self.sys.receive()
            # Kernel tasks send only notifications, and those take no reply.
            if r != OK or m is None or m.m_source < 0:
                continue
            if is_bdev_request(m.m_type):
                block.process(m)
                continue
            if m.m_type in (DEV_READ, DEV_WRITE):
                result = self.transfer(DevIo.view(m.buf), m.m_type == DEV_WRITE)
            else:
                result = -EINVAL
            self.sys.sendnb(m.m_source, Message(result))

    def transfer(self, m: DevIo, write: bool) -> int:
        """Move ``m.count`` bytes between the device and the caller's grant."""
        if m.minor not in (MEMORY_DEV, NULL_DEV, ZERO_DEV):
            return -ENXIO
        if m.count < 0 or m.position < 0:
            return -EINVAL
        if m.minor == NULL_DEV:
            return m.count if write else 0
        if m.count == 0:
            return 0
        if m.minor == MEMORY_DEV:
            return self.physical(m, write)
        return m.count if write else self.zero_fill(m)

    def physical(self, m: DevIo, write: bool) -> int:
        reply = self.sys.vm_call(VM_MAP_PHYS, endpoint=SELF, phys=m.position, len=m.count)
        if reply.m_type != OK:
            return reply.m_type
        vaddr = reply.retaddr
        copy = self.sys.sys_safecopyfrom if write else self.sys.sys_safecopyto
        r = copy(m.m_source, m.grant, 0, vaddr, m.count)
        self.sys.vm_call(VM_UNMAP_PHYS, endpoint=SELF, addr=vaddr)
        return m.count if r == OK else r

    def zero_fill(self, m: DevIo) -> int:
        done = 0
        while done < m.count:
            n = min(ZERO_BUF, m.count - done)
            r = self.sys.sys_safecopyto(m.m_source, m.grant, done, self.zeros, n)
            if r != OK:
                return r
            done += n
        return done

    # -- /dev/ram: the BlockDevice calls ------------------------------------------------

    def bdr_open(self, minor: int, access: int) -> int:
        return OK if self.bdr_size(minor) >= 0 else -ENXIO

    def bdr_close(self, minor: int) -> int:
        return OK if self.bdr_size(minor) >= 0 else -ENXIO

    def bdr_size(self, minor: int) -> int:
        if minor != RAM_DEV or self.ramdisk is None:
            return -ENXIO
        return self.ramdisk if isinstance(self.ramdisk, int) else len(self.ramdisk)

    def bdr_transfer(self, minor: int, write: bool, pos: int, endpoint: int,
                     iov: Iovec) -> int:
        base = self.ram_memory()
        if base < 0:
            return base
        copy = self.sys.sys_safecopyfrom if write else self.sys.sys_safecopyto
        done = 0
        for grant, n in iov:
            r = copy(endpoint, grant, 0, base + pos + done, n)
            if r != OK:
                return r
            done += n
        return done

    def ram_memory(self) -> int:
        """The RAM disk's address in our memory (mapped and filled on first
        use), or -errno."""
        if not self.ram_base:
            size = self.bdr_size(RAM_DEV)
            base = self.sys.minix_mmap(size)
            if base < 0:
                return base
            if isinstance(self.ramdisk, bytes | bytearray):
                self.sys.mem_write(base, self.ramdisk)
            # The first contents now live in our memory only.
            self.ramdisk = size
            self.ram_base = base
        return self.ram_base
