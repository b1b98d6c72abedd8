"""Which VM requests each process may make (MINIX vm/acl.c).

A request outside the caller's set is answered with ENOSYS, as MINIX does.
"""

from __future__ import annotations

from minixvm.include.com import (
    MEM_PROC_NR,
    PM_PROC_NR,
    RS_PROC_NR,
    TTY_PROC_NR,
    VFS_PROC_NR,
)
from minixvm.include.vm import (
    VM_FORGETBLOCK,
    VM_FORGETBLOCKS,
    VM_GETPHYS,
    VM_GETREF,
    VM_INFO,
    VM_MAP_PHYS,
    VM_MMAP,
    VM_MPROTECT,
    VM_MUNMAP,
    VM_MUNMAP_TEXT,
    VM_PROCCTL,
    VM_REMAP,
    VM_RQ_BASE,
    VM_RS_SET_PRIV,
    VM_SHM_UNMAP,
    VM_UNMAP_PHYS,
    VM_YIELDBLOCKGETBLOCK,
)

VM_BASIC_CALLS = frozenset({
    VM_MMAP, VM_MUNMAP, VM_MUNMAP_TEXT, VM_MPROTECT, VM_MAP_PHYS, VM_UNMAP_PHYS, VM_FORGETBLOCK,
    VM_FORGETBLOCKS, VM_YIELDBLOCKGETBLOCK, VM_INFO,
})

# Shared memory is brokered by system processes (MINIX: the IPC server).
SERVICE_CALLS = VM_BASIC_CALLS | {VM_REMAP, VM_SHM_UNMAP, VM_GETPHYS, VM_GETREF}

# RS gives every service its VM calls (VM_RS_SET_PRIV, from its service
# table), the boot processes included; RS needs its own before it can.
_EXTRA = {RS_PROC_NR: {VM_PROCCTL, VM_RS_SET_PRIV}}

# Drivers that may map physical memory directly.
MAP_PHYS_SLOTS = frozenset({MEM_PROC_NR, TTY_PROC_NR})

# Who may mmap on behalf of another process (MAP_THIRDPARTY) or ask for
# uninitialized memory: the exec callers.
THIRDPARTY_SLOTS = frozenset({PM_PROC_NR, RS_PROC_NR, VFS_PROC_NR})


def acl_of_mask(mask: int) -> frozenset[int]:
    """The VM calls of a VM_RS_SET_PRIV mask: bit n allows VM_RQ_BASE + n."""
    return frozenset(VM_RQ_BASE + n for n in range(64) if mask >> n & 1)


def mask_of_acl(calls: frozenset[int]) -> int:
    """The VM_RS_SET_PRIV mask of a set of VM calls."""
    return sum(1 << (call - VM_RQ_BASE) for call in calls)


def boot_acl(slot: int, system: bool) -> frozenset[int]:
    """The calls a boot process may make."""
    return (SERVICE_CALLS if system else VM_BASIC_CALLS) | _EXTRA.get(slot, set())
