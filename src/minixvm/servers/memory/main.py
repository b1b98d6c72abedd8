"""The memory driver: /dev/mem, /dev/null and /dev/zero.

/dev/mem reads and writes arbitrary physical memory. The driver has no
special kernel mapping call for it: it asks VM to map the physical range
into its own address space (VM_MAP_PHYS, a direct region), copies through
the caller's grant, and unmaps it again (seed 68d0c4def).
"""

from __future__ import annotations

from minixvm.errors import EINVAL, ENXIO, OK
from minixvm.include.com import SELF
from minixvm.include.dev import DEV_READ, DEV_WRITE, MEMORY_DEV, NULL_DEV, ZERO_DEV
from minixvm.include.ipc import Message
from minixvm.include.vm import VM_MAP_PHYS, VM_UNMAP_PHYS
from minixvm.lib.sys import SysLib

ZERO_BUF = 4096


class MemoryDriver:
    """The memory driver."""

    def __init__(self, sys: SysLib) -> None:
        self.sys = sys
        self.zeros = 0

    def main(self) -> None:
        while True:
            r, m = self.sys.receive()
            if r != OK or m is None or m.m_type & 0x1000:
                continue
            if m.m_type in (DEV_READ, DEV_WRITE):
                m.m_type = self.transfer(m, m.m_type == DEV_WRITE)
            else:
                m.m_type = -EINVAL
            self.sys.send(m.m_source, m)

    def transfer(self, m: Message, write: bool) -> int:
        """Move ``m.count`` bytes between the device and the caller's grant."""
        if m.count < 0 or m.position < 0:
            return -EINVAL
        if m.minor == NULL_DEV:
            return m.count if write else 0
        if m.count == 0:
            return 0
        if m.minor == MEMORY_DEV:
            return self.physical(m, write)
        if m.minor == ZERO_DEV:
            return m.count if write else self.zero_fill(m)
        return -ENXIO

    def physical(self, m: Message, write: bool) -> int:
        reply = self.sys.vm_call(VM_MAP_PHYS, endpoint=SELF, phys=m.position, len=m.count)
        if reply.m_type != OK:
            return reply.m_type
        vaddr = reply.retaddr
        copy = self.sys.sys_safecopyfrom if write else self.sys.sys_safecopyto
        r = copy(m.m_source, m.grant, 0, vaddr, m.count)
        self.sys.vm_call(VM_UNMAP_PHYS, endpoint=SELF, addr=vaddr)
        return m.count if r == OK else r

    def zero_fill(self, m: Message) -> int:
        if not self.zeros:
            zeros = self.sys.minix_mmap(ZERO_BUF)
            if zeros < 0:
                return zeros
            self.zeros = zeros
        done = 0
        while done < m.count:
            n = min(ZERO_BUF, m.count - done)
            r = self.sys.sys_safecopyto(m.m_source, m.grant, done, self.zeros, n)
            if r != OK:
                return r
            done += n
        return done
