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
    MAP_IPC_SHARED,
    MAP_LOWER1M,
    MAP_LOWER16M,
    MAP_PREALLOC,
    MAP_PRIVATE,
    MAP_THIRDPARTY,
    MAP_UNINITIALIZED,
    VmGetphys,
    VmGetref,
    VmMapPhys,
    VmMmap,
    VmMunmap,
    VmRemap,
    VmShmUnmap,
    VmUnmapPhys,
)
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.acl import THIRDPARTY_SLOTS
from minixvm.servers.vm.memtype.anon import anon
from minixvm.servers.vm.memtype.directphys import directphys
from minixvm.servers.vm.memtype.shared import ShmSource, shared
from minixvm.servers.vm.mprotect import PROT_ALL, prot_vrflags
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
    phys_addr,
    phys_at,
)
from minixvm.servers.vm.slab import undo_on

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM
    from minixvm.servers.vm.memtype import MemType
    from minixvm.servers.vm.vmproc import VMProc

# The flags VM_MMAP knows (MAP_ALIGN64K is not modelled: asking for it is EINVAL).
MMAP_FLAGS = (MAP_PRIVATE | MAP_ANON | MAP_PREALLOC | MAP_CONTIG | MAP_LOWER16M | MAP_LOWER1M
              | MAP_IPC_SHARED | MAP_FIXED | MAP_THIRDPARTY | MAP_UNINITIALIZED)
MMAP_PROT = PROT_ALL
MMAP_VRFLAGS = ((MAP_IPC_SHARED, VR_SHARED), (MAP_LOWER16M, VR_LOWER16MB),
                (MAP_LOWER1M, VR_LOWER1MB), (MAP_CONTIG, VR_CONTIG),
                (MAP_UNINITIALIZED, VR_UNINITIALIZED))


def roundup(n: int) -> int:
    return -(-n // PAGE_SIZE) * PAGE_SIZE


def user_range(addr: int, length: int) -> bool:
    """Is [addr, addr+length) where user regions may be?"""
    return addr >= USER_BASE and addr + length <= VM_DATATOP


def target(vm: VM, m: Message, ep: int) -> VMProc | None:
    """The process a request is about: ``ep``, or the caller for SELF.
    Only system processes may name another process, and none may name VM."""
    caller = vm.caller(m)
    if ep in (SELF, m.m_source):
        return caller
    return vm.client(ep) if caller.system else None


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


def do_mmap(vm: VM, m: VmMmap) -> int:
    """VM_MMAP: anonymous memory for the caller (or, for exec callers, for
    another process with MAP_THIRDPARTY); m.retaddr out."""
    caller = vm.caller(m)
    execpriv = caller.slot in THIRDPARTY_SLOTS
    flags, length = m.flags, m.len
    if flags & ~MMAP_FLAGS or m.prot & ~MMAP_PROT:
        return -EINVAL
    if flags & MAP_THIRDPARTY:
        if not execpriv:
            return -EPERM
        vmp = vm.client(m.forwhom)
        if vmp is None:
            return -ESRCH
    else:
        vmp = caller
    if length == 0 or m.fd != -1 or not flags & MAP_ANON:
        return -EINVAL
    if flags & MAP_UNINITIALIZED and not execpriv:
        return -EPERM
    if flags & (MAP_CONTIG | MAP_PREALLOC) == MAP_CONTIG:
        return -EINVAL
    vrflags = prot_vrflags(m.prot)
    for mflag, vflag in MMAP_VRFLAGS:
        if flags & mflag:
            vrflags |= vflag
    region = mmap_region(vm, vmp, m.addr, flags, roundup(length), vrflags, anon,
                         prealloc=bool(flags & MAP_PREALLOC))
    if region is None:
        return -ENOMEM
    m.retaddr = region.vaddr
    return OK


def do_munmap(vm: VM, m: VmMunmap) -> int:
    """VM_MUNMAP / VM_MUNMAP_TEXT: unmap any page range starting in a region."""
    vmp = vm.caller(m)
    if m.addr % PAGE_SIZE or m.len <= 0 or m.addr + m.len > 1 << 32:
        return -EINVAL
    if map_lookup(vmp, m.addr) is None:
        return -EFAULT
    map_unmap_range(vm, vmp, m.addr, roundup(m.len))
    return OK


def do_map_phys(vm: VM, m: VmMapPhys) -> int:
    """VM_MAP_PHYS: map physical [m.phys, m.phys+m.len) into a process (drivers
    only); m.retaddr is where m.phys appears."""
    caller = vm.caller(m)
    if not caller.map_phys_ok:
        return -EPERM
    vmp = target(vm, m, m.endpoint)
    if vmp is None:
        return -EINVAL
    offset = m.phys % PAGE_SIZE
    start, length = m.phys - offset, roundup(m.len + offset)
    if m.len <= 0 or start + length > vm.ram.size:
        return -EINVAL
    region = mmap_region(vm, vmp, 0, 0, length, VR_WRITABLE, directphys, param=start)
    if region is None:
        return -ENOMEM
    # A direct region is mapped whole at once, as MINIX does for VR_DIRECT.
    with undo_on(lambda: map_free_region(vm, region)):
        map_new_physblock(vm, region, 0, region.length, phys=start)
    m.retaddr = region.vaddr + offset
    return OK


def do_unmap_phys(vm: VM, m: VmUnmapPhys) -> int:
    """VM_UNMAP_PHYS: remove a direct mapping made by VM_MAP_PHYS."""
    vmp = target(vm, m, m.endpoint)
    if vmp is None:
        return -EINVAL
    region = map_lookup(vmp, m.addr - m.addr % PAGE_SIZE)
    if region is None or region.memtype is not directphys:
        return -EINVAL
    map_free_region(vm, region)
    return OK


def do_remap(vm: VM, m: VmRemap) -> int:
    """VM_REMAP: map the shared anonymous region at ``m.src_addr`` of
    ``m.source`` into ``m.destination``; m.retaddr out."""
    dvmp = target(vm, m, m.destination)
    svmp = vm.caller(m) if m.source == SELF else vm.client(m.source)
    if m.size <= 0 or dvmp is None or svmp is None:
        return -EINVAL
    src = map_lookup(svmp, m.src_addr)
    if src is None:
        return -EINVAL
    size = roundup(m.size)
    if src.vaddr != m.src_addr or src.length != size or not src.flags & VR_SHARED \
            or src.memtype is not anon:
        return -EFAULT
    region = mmap_region(vm, dvmp, m.dest_addr, 0, size, VR_SHARED | VR_WRITABLE, shared,
                         param=ShmSource(svmp.endpoint, src.vaddr, src.id))
    if region is None:
        return -ENOMEM
    m.retaddr = region.vaddr
    return OK


def do_shm_unmap(vm: VM, m: VmShmUnmap) -> int:
    """VM_SHM_UNMAP: remove a region made by VM_REMAP."""
    vmp = target(vm, m, m.endpoint)
    if vmp is None:
        return -EINVAL
    region = map_lookup(vmp, m.addr)
    if region is None or region.vaddr != m.addr or region.memtype is not shared:
        return -EFAULT
    map_free_region(vm, region)
    return OK


def do_get_phys(vm: VM, m: VmGetphys) -> int:
    """VM_GETPHYS: the physical address behind ``m.addr`` (must be present)."""
    vmp = target(vm, m, m.endpoint)
    phys = phys_addr(vmp, m.addr) if vmp else None
    if phys is None:
        return -EINVAL
    m.retaddr = phys
    return OK


def do_get_refcount(vm: VM, m: VmGetref) -> int:
    """VM_GETREF: how many mappings share the page at ``m.addr``."""
    vmp = target(vm, m, m.endpoint)
    region = map_lookup(vmp, m.addr) if vmp else None
    pr = phys_at(region, m.addr - region.vaddr) if region else None
    if pr is None:
        return -EINVAL
    m.retcount = pr.ph.refcount
    return OK
