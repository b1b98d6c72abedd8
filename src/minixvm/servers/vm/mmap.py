"""mmap and friends: VM_MMAP, VM_MUNMAP, VM_MAP_PHYS, VM_UNMAP_PHYS,
VM_REMAP, VM_SHM_UNMAP, VM_GETPHYS, VM_GETREF (MINIX mmap.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EFAULT, EINVAL, ENOMEM, EPERM, ESRCH, OK
from minixvm.include.arch import USER_BASE, VM_DATATOP, VM_MMAPBASE, VM_MMAPTOP
from minixvm.include.com import SELF
from minixvm.include.ipc import Message
from minixvm.include.vm import (
    MAP_ANON,
    MAP_CONTIG,
    MAP_FIXED,
    MAP_LOWER1M,
    MAP_LOWER16M,
    MAP_PREALLOC,
    MAP_SHARED,
    MAP_THIRDPARTY,
    MAP_UNINITIALIZED,
    PROT_WRITE,
)
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.acl import THIRDPARTY_SLOTS
from minixvm.servers.vm.memtype.anon import anon
from minixvm.servers.vm.memtype.directphys import directphys
from minixvm.servers.vm.memtype.shared import shared
from minixvm.servers.vm.pb import PhysRegion
from minixvm.servers.vm.region import (
    VR_CONTIG,
    VR_LOWER1MB,
    VR_LOWER16MB,
    VR_SHARED,
    VR_UNINITIALIZED,
    VR_WRITABLE,
    Region,
    map_free_region,
    map_lookup,
    map_new_physblock,
    map_page_region,
    map_unmap_range,
    phys_at,
)
from minixvm.servers.vm.slab import NoMemory

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM
    from minixvm.servers.vm.memtype import MemType
    from minixvm.servers.vm.vmproc import VMProc


def roundup(n: int) -> int:
    return -(-n // PAGE_SIZE) * PAGE_SIZE


def user_range(addr: int, length: int) -> bool:
    """Is [addr, addr+length) where user regions may be?"""
    return addr >= USER_BASE and addr + length <= VM_DATATOP


def target(vm: VM, m: Message, ep: int) -> VMProc | None:
    """The process a request is about: ``ep``, or the caller for SELF.
    Only system processes may name another process."""
    caller = vm.proc(m.m_source)
    if ep in (SELF, m.m_source):
        return caller
    if caller is None or not caller.system:
        return None
    return vm.proc(ep)


def mmap_region(vm: VM, vmp: VMProc, addr: int, flags: int, length: int, vrflags: int,
                memtype: MemType, param: object = None, prealloc: bool = False) -> Region | None:
    """Place a new region at ``addr`` if asked (MAP_FIXED: there or nowhere,
    replacing what was there), else anywhere in the mmap area. None: no room;
    raises NoMemory."""
    if flags & MAP_FIXED:
        if addr % PAGE_SIZE or not user_range(addr, length):
            return None
        map_unmap_range(vm, vmp, addr, length)
    region = None
    if addr and user_range(addr, length) and addr % PAGE_SIZE == 0:
        region = map_page_region(vm, vmp, addr, 0, length, vrflags, memtype, param, prealloc)
    if region is None and not flags & MAP_FIXED:
        region = map_page_region(vm, vmp, VM_MMAPBASE, VM_MMAPTOP, length, vrflags, memtype,
                                 param, prealloc)
    return region


def do_mmap(vm: VM, m: Message) -> int:
    """VM_MMAP: anonymous memory for the caller (or, for exec callers, for
    another process with MAP_THIRDPARTY); m.retaddr out."""
    caller = vm.proc(m.m_source)
    assert caller is not None
    execpriv = caller.slot in THIRDPARTY_SLOTS
    flags = m.flags
    if flags & MAP_THIRDPARTY:
        if not execpriv:
            return -EPERM
        vmp = vm.proc(m.forwhom)
        if vmp is None:
            return -ESRCH
    else:
        vmp = caller
    if m.len <= 0:
        return -EINVAL
    if m.fd != -1 or not flags & MAP_ANON:
        return -EINVAL
    if flags & MAP_UNINITIALIZED and not execpriv:
        return -EPERM
    if flags & (MAP_CONTIG | MAP_PREALLOC) == MAP_CONTIG:
        return -EINVAL
    vrflags = VR_WRITABLE if m.prot & PROT_WRITE else 0
    for mflag, vflag in ((MAP_SHARED, VR_SHARED), (MAP_LOWER16M, VR_LOWER16MB),
                         (MAP_LOWER1M, VR_LOWER1MB), (MAP_CONTIG, VR_CONTIG),
                         (MAP_UNINITIALIZED, VR_UNINITIALIZED)):
        if flags & mflag:
            vrflags |= vflag
    try:
        region = mmap_region(vm, vmp, m.addr, flags, roundup(m.len), vrflags, anon,
                             prealloc=bool(flags & MAP_PREALLOC))
    except NoMemory:
        return -ENOMEM
    if region is None:
        return -ENOMEM
    m.retaddr = region.vaddr
    return OK


def do_munmap(vm: VM, m: Message) -> int:
    """VM_MUNMAP / VM_MUNMAP_TEXT: unmap any page range starting in a region."""
    vmp = vm.proc(m.m_source)
    assert vmp is not None
    if m.addr % PAGE_SIZE or m.len <= 0:
        return -EINVAL
    if map_lookup(vmp, m.addr) is None:
        return -EFAULT
    try:
        map_unmap_range(vm, vmp, m.addr, roundup(m.len))
    except NoMemory:
        return -ENOMEM
    return OK


def do_map_phys(vm: VM, m: Message) -> int:
    """VM_MAP_PHYS: map physical [m.phys, m.phys+m.len) into a process (drivers
    only); m.retaddr is where m.phys appears."""
    caller = vm.proc(m.m_source)
    vmp = target(vm, m, m.endpoint)
    if caller is None or not caller.map_phys_ok:
        return -EPERM
    if vmp is None:
        return -EINVAL
    offset = m.phys % PAGE_SIZE
    start, length = m.phys - offset, roundup(m.len + offset)
    if m.len <= 0 or start < 0 or start + length > vm.ram.size:
        return -EINVAL
    try:
        region = mmap_region(vm, vmp, 0, 0, length, VR_WRITABLE, directphys, param=start)
        if region is None:
            return -ENOMEM
        directphys_prefault(vm, region)
    except NoMemory:
        return -ENOMEM
    m.retaddr = region.vaddr + offset
    return OK


def directphys_prefault(vm: VM, region: Region) -> None:
    """Map a direct region's whole range now, as MINIX does for VR_DIRECT."""
    try:
        map_new_physblock(vm, region, 0, region.length, phys=region.param)
    except NoMemory:
        map_free_region(vm, region)
        raise


def do_unmap_phys(vm: VM, m: Message) -> int:
    """VM_UNMAP_PHYS: remove a direct mapping made by VM_MAP_PHYS."""
    vmp = target(vm, m, m.endpoint)
    if vmp is None:
        return -EINVAL
    region = map_lookup(vmp, m.addr - m.addr % PAGE_SIZE)
    if region is None or region.memtype is not directphys:
        return -EINVAL
    map_free_region(vm, region)
    return OK


def do_remap(vm: VM, m: Message) -> int:
    """VM_REMAP: map the shared anonymous region at ``m.src_addr`` of
    ``m.source`` into ``m.destination``; m.retaddr out."""
    dvmp = target(vm, m, m.destination)
    svmp = vm.proc(m.m_source if m.source == SELF else m.source)
    if m.size <= 0 or dvmp is None or svmp is None:
        return -EINVAL
    src = map_lookup(svmp, m.src_addr)
    if src is None:
        return -EINVAL
    size = roundup(m.size)
    if src.vaddr != m.src_addr or src.length != size or not src.flags & VR_SHARED \
            or src.memtype is not anon:
        return -EFAULT
    try:
        region = mmap_region(vm, dvmp, m.dest_addr, 0, size, VR_SHARED | VR_WRITABLE, shared,
                             param=(svmp.endpoint, src.vaddr))
    except NoMemory:
        return -ENOMEM
    if region is None:
        return -ENOMEM
    m.retaddr = region.vaddr
    return OK


def do_shm_unmap(vm: VM, m: Message) -> int:
    """VM_SHM_UNMAP: remove a region made by VM_REMAP."""
    vmp = target(vm, m, m.endpoint)
    if vmp is None:
        return -EINVAL
    region = map_lookup(vmp, m.addr)
    if region is None or region.vaddr != m.addr or region.memtype is not shared:
        return -EFAULT
    map_free_region(vm, region)
    return OK


def _page(vm: VM, m: Message) -> PhysRegion | None:
    """The phys_region behind ``m.addr`` of ``m.endpoint``."""
    vmp = target(vm, m, m.endpoint)
    region = map_lookup(vmp, m.addr) if vmp else None
    pr = phys_at(region, m.addr - region.vaddr) if region else None
    return pr


def do_get_phys(vm: VM, m: Message) -> int:
    """VM_GETPHYS: the physical address behind ``m.addr`` (must be present)."""
    pr = _page(vm, m)
    if pr is None:
        return -EINVAL
    region = pr.parent
    m.retaddr = pr.ph.phys + (m.addr - region.vaddr - pr.offset)
    return OK


def do_get_refcount(vm: VM, m: Message) -> int:
    """VM_GETREF: how many mappings share the page at ``m.addr``."""
    pr = _page(vm, m)
    if pr is None:
        return -EINVAL
    m.retcount = pr.ph.refcount
    return OK
