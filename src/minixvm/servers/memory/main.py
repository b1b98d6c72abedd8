"""The memory driver: /dev/mem, /dev/null and /dev/zero.

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
            # Kernel tasks send only notifications, and those take no reply.
            if r != OK or m is None or m.m_source < 0:
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
