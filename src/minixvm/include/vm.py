"""VM requests, their message layouts, flags and mmap's flags (<minix/com.h>,
<minix/type.h>, <sys/mman.h> of MINIX 3.2).

Every request's reply is the request message itself with the result in
m_type, so one layout serves both. The slots are MINIX 3.2's; VM_PROCCTL
(3.3) has 3.3's; VM_MPROTECT (minixvm's own) is laid out as VM_MUNMAP.
"""

from __future__ import annotations

import struct
from dataclasses import astuple, dataclass

from minixvm.include.ipc import (
    Message,
    layout,
    m1_i1,
    m1_i2,
    m1_i3,
    m1_p1,
    m1_p2,
    m1_p3,
    m2_i1,
    m2_i2,
    m2_i3,
    m2_l1,
    m2_l2,
    m2_p1,
    m5_i1,
    m5_i2,
    m5_l1,
    m5_l2,
    m5_l3,
    m5_s1,
    m5_s2,
    m9_l1,
    m9_l2,
    m9_l3,
    m9_l4,
    m9_l5,
    register_names,
    unsigned,
)

VM_RQ_BASE = 0xC00
VM_EXIT = VM_RQ_BASE + 0
VM_FORK = VM_RQ_BASE + 1
VM_BRK = VM_RQ_BASE + 2
VM_WILLEXIT = VM_RQ_BASE + 5
VM_MMAP = VM_RQ_BASE + 10
VM_MAP_PHYS = VM_RQ_BASE + 15
VM_UNMAP_PHYS = VM_RQ_BASE + 16
VM_MUNMAP = VM_RQ_BASE + 17
VM_MUNMAP_TEXT = VM_RQ_BASE + 19
VM_FORGETBLOCKS = VM_RQ_BASE + 22
VM_FORGETBLOCK = VM_RQ_BASE + 23
VM_YIELDBLOCKGETBLOCK = VM_RQ_BASE + 25
VM_REMAP = VM_RQ_BASE + 33
VM_SHM_UNMAP = VM_RQ_BASE + 34
VM_GETPHYS = VM_RQ_BASE + 35
VM_GETREF = VM_RQ_BASE + 36
VM_RS_SET_PRIV = VM_RQ_BASE + 37
VM_INFO = VM_RQ_BASE + 40
VM_PROCCTL = VM_RQ_BASE + 45
# minixvm's own (MINIX 3.2 has no mprotect; 3.3's answers ENOSYS): the first
# number after MINIX 3.3's last (VM_VFS_MMAP 46, VM_GETRUSAGE 47).
VM_MPROTECT = VM_RQ_BASE + 48
# Not a call: the kernel's message about a process's page fault (MINIX 3.3),
# at the end of the range so that no call table holds it.
VM_PAGEFAULT = VM_RQ_BASE + 0xFF

# VM_INFO 'what'.
VMIW_STATS = 1
VMIW_USAGE = 2
VMIW_REGION = 3

# VM_PROCCTL parameters.
VMPPARAM_CLEAR = 1
VMPPARAM_HANDLEMEM = 2
# minixvm's own: an exec caller takes write permission from a segment it has
# loaded without PF_W (whole regions only), so .text and .rodata are read-only.
VMPPARAM_PROTECT = 3

# The yielded-block cache's "no block" id (all ones, 64 bit).
VM_BLOCKID_NONE = (1 << 64) - 1

# mmap protection and flags (MINIX 3.2 <sys/mman.h>: MINIX's own flags fit
# the 16-bit VMM_FLAGS slot).
PROT_NONE = 0x00
PROT_READ = 0x01
PROT_WRITE = 0x02
PROT_EXEC = 0x04
MAP_PRIVATE = 0x0002
MAP_ANON = 0x0004
MAP_PREALLOC = 0x0008
MAP_CONTIG = 0x0010
MAP_LOWER16M = 0x0020
MAP_ALIGN64K = 0x0040
MAP_LOWER1M = 0x0080
MAP_IPC_SHARED = 0x0100
MAP_FIXED = 0x0200
MAP_THIRDPARTY = 0x0400
MAP_UNINITIALIZED = 0x0800
# MINIX 3.2 has no NetBSD MAP_SHARED; shared anonymous memory is MAP_IPC_SHARED.
MAP_SHARED = MAP_IPC_SHARED
MAP_FAILED = 0xFFFFFFFF

register_names(globals(), "VM_", VM_RQ_BASE)


def make64(hi: int, lo: int) -> int:
    """A 64-bit block id from its 32-bit halves (MINIX make64(lo, hi))."""
    return (hi & 0xFFFFFFFF) << 32 | (lo & 0xFFFFFFFF)


def split64(value: int) -> tuple[int, int]:
    """(hi, lo): the 32-bit halves of a 64-bit block id (MINIX ex64hi, ex64lo)."""
    return value >> 32 & 0xFFFFFFFF, value & 0xFFFFFFFF


# -- request layouts (the VM_* #defines of <minix/com.h>) ------------------------------


@layout(VM_PAGEFAULT)
class VmPagefault(Message):
    """Sent by the kernel as from the faulting process, never answered: VM
    resumes the process with VMCTL_CLEAR_PAGEFAULT."""

    addr = unsigned(m1_i1)  # VPF_ADDR: CR2
    flags = m1_i2  # VPF_FLAGS: the CPU's error code


@layout(VM_EXIT, VM_WILLEXIT)
class VmExit(Message):
    endpoint = m1_i1  # VME_ENDPOINT, VMWE_ENDPOINT


@layout(VM_FORK)
class VmFork(Message):
    parent = m1_i1  # VMF_ENDPOINT
    slot = m1_i2  # VMF_SLOTNO
    child_ep = m1_i3  # VMF_CHILD_ENDPOINT (reply)


@layout(VM_BRK)
class VmBrk(Message):
    endpoint = m1_i1  # VMB_ENDPOINT
    addr = m1_p1  # VMB_ADDR: the new break
    old = m1_p3  # the old break (MINIX's VM finds it itself)


@layout(VM_MMAP)
class VmMmap(Message):
    prot = m5_s1  # VMM_PROT
    flags = unsigned(m5_s2)  # VMM_FLAGS
    fd = m5_i1  # VMM_FD
    offset = m5_i2  # VMM_OFFSET
    addr = unsigned(m5_l1)  # VMM_ADDR
    len = unsigned(m5_l2)  # VMM_LEN
    forwhom = m5_l3  # VMM_FORWHOM (MAP_THIRDPARTY)
    retaddr = unsigned(m5_l1)  # VMM_RETADDR (reply)


@layout(VM_MUNMAP, VM_MUNMAP_TEXT)
class VmMunmap(Message):
    addr = m1_p1  # VMUM_ADDR
    len = m1_i1  # VMUM_LEN


@layout(VM_MPROTECT)
class VmMprotect(Message):
    addr = m1_p1  # VMPR_ADDR
    len = m1_i1  # VMPR_LEN
    prot = m1_i2  # VMPR_PROT


@layout(VM_MAP_PHYS)
class VmMapPhys(Message):
    endpoint = m1_i1  # VMMP_EP
    phys = m1_p2  # VMMP_PHADDR
    len = m1_i2  # VMMP_LEN
    retaddr = m1_p3  # VMMP_VADDR_REPLY


@layout(VM_UNMAP_PHYS)
class VmUnmapPhys(Message):
    endpoint = m1_i1  # VMUP_EP
    addr = m1_p1  # VMUP_VADDR


@layout(VM_FORGETBLOCKS)
class VmForgetblocks(Message):
    pass


# Block ids are 64-bit: two 32-bit fields each (make64 / split64).
@layout(VM_FORGETBLOCK)
class VmForgetblock(Message):
    id_hi = unsigned(m1_i1)  # VMFB_IDHI
    id_lo = unsigned(m1_i2)  # VMFB_IDLO


@layout(VM_YIELDBLOCKGETBLOCK)
class VmYieldblockgetblock(Message):
    vaddr = m2_p1  # VMYBGB_VADDR
    getid_hi = unsigned(m2_i1)  # VMYBGB_GETIDHI
    getid_lo = unsigned(m2_i2)  # VMYBGB_GETIDLO
    len = m2_i3  # VMYBGB_LEN
    yieldid_hi = unsigned(m2_l1)  # VMYBGB_YIELDIDHI
    yieldid_lo = unsigned(m2_l2)  # VMYBGB_YIELDIDLO


@layout(VM_REMAP)
class VmRemap(Message):
    destination = m1_i1  # VMRE_D
    source = m1_i2  # VMRE_S
    dest_addr = m1_p1  # VMRE_DA
    src_addr = m1_p2  # VMRE_SA
    retaddr = m1_p3  # VMRE_RETA (reply)
    size = m1_i3  # VMRE_SIZE


@layout(VM_SHM_UNMAP)
class VmShmUnmap(Message):
    endpoint = m2_i1  # VMUN_ENDPT
    addr = unsigned(m2_l1)  # VMUN_ADDR


@layout(VM_GETPHYS)
class VmGetphys(Message):
    endpoint = m2_i1  # VMPHYS_ENDPT
    addr = unsigned(m2_l1)  # VMPHYS_ADDR
    retaddr = unsigned(m2_l2)  # VMPHYS_RETA (reply)


@layout(VM_GETREF)
class VmGetref(Message):
    endpoint = m2_i1  # VMREFCNT_ENDPT
    addr = unsigned(m2_l1)  # VMREFCNT_ADDR
    retcount = m2_i2  # VMREFCNT_RETC (reply)


@layout(VM_RS_SET_PRIV)
class VmRsSetPriv(Message):
    endpoint = m2_i1  # VM_RS_NR (an endpoint here)
    # The calls it may make (MINIX passes the bitmap by pointer): bit n
    # allows VM_RQ_BASE + n; no bit set means a service's default set.
    calls_lo = unsigned(m2_l1)
    calls_hi = unsigned(m2_l2)


@layout(VM_INFO)
class VmInfo(Message):
    what = m2_i1  # VMI_WHAT
    endpoint = m2_i2  # VMI_EP (SELF: the caller)
    count = m2_i3  # VMI_COUNT: VMIW_REGION entries room / (reply) entries copied
    ptr = m2_p1  # VMI_PTR: the caller's buffer
    next = unsigned(m2_l1)  # VMI_NEXT: VMIW_REGION's start / (reply) where to go on


@layout(VM_PROCCTL)
class VmProcctl(Message):
    param = m9_l1  # VMPCTL_PARAM
    who = m9_l2  # VMPCTL_WHO
    addr = unsigned(m9_l3)  # VMPCTL_M1 (VMPPARAM_HANDLEMEM)
    len = m9_l4  # VMPCTL_LEN
    write = m9_l5  # VMPCTL_FLAGS


# -- what VM_INFO copies into the caller's buffer (<minix/type.h>) ---------------------------

MAX_VRI_COUNT = 64  # regions given at most per VMIW_REGION request


@dataclass(frozen=True)
class VMStatsInfo:
    """VMIW_STATS (struct vm_stats_info)."""

    pagesize: int
    total_pages: int
    free_pages: int
    largest_pages: int
    yielded_blocks: int
    vm_own_pages: int

    FORMAT = struct.Struct("<6I")

    def pack(self) -> bytes:
        return self.FORMAT.pack(*astuple(self))

    @classmethod
    def unpack(cls, data: bytes) -> VMStatsInfo:
        return cls(*cls.FORMAT.unpack_from(data))


@dataclass(frozen=True)
class VMUsageInfo:
    """VMIW_USAGE (struct vm_usage_info): bytes present, common (refcount > 1)
    and shared (common and not copy-on-write)."""

    total: int
    common: int
    shared: int

    FORMAT = struct.Struct("<3I")

    def pack(self) -> bytes:
        return self.FORMAT.pack(*astuple(self))

    @classmethod
    def unpack(cls, data: bytes) -> VMUsageInfo:
        return cls(*cls.FORMAT.unpack_from(data))


@dataclass(frozen=True)
class VMRegionInfo:
    """One entry of VMIW_REGION (struct vm_region_info, with the memory
    type's name in place of the segment)."""

    addr: int
    length: int
    prot: int
    flags: int
    memtype: str

    FORMAT = struct.Struct("<IIii16s")

    def pack(self) -> bytes:
        return self.FORMAT.pack(self.addr, self.length, self.prot, self.flags,
                                self.memtype.encode()[:15])

    @classmethod
    def unpack_all(cls, data: bytes, count: int) -> tuple[VMRegionInfo, ...]:
        """``count`` entries packed one after the other."""
        size = cls.FORMAT.size
        out = []
        for i in range(count):
            addr, length, prot, flags, name = cls.FORMAT.unpack_from(data, i * size)
            out.append(cls(addr, length, prot, flags, name.rstrip(b"\0").decode()))
        return tuple(out)
