"""VM_MPROTECT and the region protection flags of mmap's prot (minixvm's
own: MINIX 3.2 ignored prot; MINIX 3.3's mprotect answered ENOSYS).

i386 pages without NX have three protections: none (not present),
read-only (present) and read-write (present and writable); PROT_EXEC
alone reads as PROT_READ, PROT_WRITE alone as read-write.

The range is cut out of its regions (split_region, as a munmap of a
middle part) and each piece gets the new protection; its page-table
entries are rewritten from the blocks it has. The blocks stay as they
are, so copy-on-write sharing is untouched: a shared page made writable
still copies on its first write, and a shared page made read-only stays
shared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, ENOMEM, OK
from minixvm.include.vm import PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE, VmMprotect
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.pb import map_ph_writept
from minixvm.servers.vm.region import VR_NOACCESS, VR_WRITABLE, Region, split_region
from minixvm.servers.vm.slab import use

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM
    from minixvm.servers.vm.vmproc import VMProc

PROT_ALL = PROT_READ | PROT_WRITE | PROT_EXEC
# The region flags that are its protection.
VR_PROT = VR_WRITABLE | VR_NOACCESS


def prot_vrflags(prot: int) -> int:
    """The protection flags of a region for mmap/mprotect's ``prot``."""
    if prot & PROT_WRITE:
        return VR_WRITABLE
    return 0 if prot & (PROT_READ | PROT_EXEC) else VR_NOACCESS


def region_prot(region: Region) -> int:
    """The PROT_* a region has, as VM_INFO reports it."""
    if not region.accessible:
        return PROT_NONE
    return PROT_READ | (PROT_WRITE if region.flags & VR_WRITABLE else 0)


def do_mprotect(vm: VM, m: VmMprotect) -> int:
    """VM_MPROTECT: give the caller's pages [m.addr, m.addr+m.len) protection
    m.prot. EINVAL for an unaligned address, unknown prot bits or a bad
    length; ENOMEM if part of the range is not mapped (POSIX)."""
    vmp = vm.caller(m)
    length = -(-m.len // PAGE_SIZE) * PAGE_SIZE
    if m.addr % PAGE_SIZE or m.len <= 0 or m.prot & ~PROT_ALL or m.addr + length > 1 << 32:
        return -EINVAL
    if not fully_mapped(vmp, m.addr, m.addr + length):
        return -ENOMEM
    map_protect_range(vm, vmp, m.addr, length, prot_vrflags(m.prot))
    return OK


def fully_mapped(vmp: VMProc, start: int, end: int) -> bool:
    """Is every page of [start, end) in some region?"""
    for region in vmp.regions.overlapping(start, end):
        if region.vaddr > start:
            return False
        start = region.end
    return start >= end


def map_protect_range(vm: VM, vmp: VMProc, addr: int, length: int, vrflags: int) -> None:
    """Give [addr, addr+length) (page aligned, all mapped) the protection
    ``vrflags``. Raises NoMemory with at most some cuts made, which change
    nothing visible."""
    end = addr + length
    pieces = [cut_out(vm, region, addr, end) for region in vmp.regions.overlapping(addr, end)]
    for region in pieces:
        set_protection(vm, region, vrflags)


def cut_out(vm: VM, region: Region, start: int, end: int) -> Region:
    """The part of ``region`` inside [start, end), a region of its own."""
    if start > region.vaddr:
        region = split_region(vm, region, start - region.vaddr)
    if end < region.end:
        split_region(vm, region, end - region.vaddr)
    return region


def set_protection(vm: VM, region: Region, vrflags: int) -> None:
    """Set the region's protection flags and rewrite its page-table entries."""
    if region.flags & VR_PROT == vrflags:
        return
    with use(region):
        region.flags = region.flags & ~VR_PROT | vrflags
    for pr in region.phys.values():
        map_ph_writept(vm, pr)
