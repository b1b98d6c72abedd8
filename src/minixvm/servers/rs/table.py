"""Service descriptions: who each system service is and what it may do
(MINIX's boot image table and /etc/system.conf entries, in one place).

A description names a service (its DS label), its kernel calls and VM
calls, and how RS looks after it: how often it is pinged, whether it is
restarted when it dies, and when RS gives up on one that keeps crashing.
The boot processes (started by the kernel) are described here too: the
System builds the boot image from these entries, and RS gives each its
VM calls when it starts. Every other service RS starts itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from minixvm.include import com
from minixvm.include import vm as vmc
from minixvm.include.com import SYSTEM_HZ
from minixvm.servers.vm.acl import SERVICE_CALLS as VM_SERVICE_CALLS
from minixvm.servers.vm.acl import VM_BASIC_CALLS

# How often RS checks its services (MINIX RS_DELTA_T: one second).
RS_DELTA_T = SYSTEM_HZ
# The longest backoff between restarts, in periods (MINIX MAX_BACKOFF).
MAX_BACKOFF = 30
# Restarts in a row (each within RS_STABLE_T of its start) after which RS
# stops restarting a service and reports it: not MINIX's, which retries
# for ever.
MAX_RESTARTS = 10
# A service that has run this long without dying has recovered: its
# restart count (and so its backoff) starts again from nothing.
RS_STABLE_T = MAX_BACKOFF * RS_DELTA_T

# Kernel calls every system process may make: who am I, printf, the clock.
_BASE = {com.SYS_GETINFO, com.SYS_DIAGCTL, com.SYS_TIMES, com.SYS_SETALARM}
_GRANTS = {com.SYS_SETGRANT, com.SYS_SAFECOPYFROM, com.SYS_SAFECOPYTO}
# PM is the exec caller of Python programs (SYS_MEMSET is libexec's
# clearmem) and stops a service RS forks until RS starts it (PRIVCTL).
PM_CALLS = frozenset(_BASE | {com.SYS_EXEC, com.SYS_CLEAR, com.SYS_KILL, com.SYS_GETKSIG,
                              com.SYS_ENDKSIG, com.SYS_VIRCOPY, com.SYS_MEMSET, com.SYS_ABORT,
                              com.SYS_PRIVCTL})
VM_CALLS = frozenset(_BASE | {com.SYS_FORK, com.SYS_VMCTL, com.SYS_MEMSET, com.SYS_PHYSCOPY,
                              com.SYS_KILL, com.SYS_ABORT})
DRIVER_CALLS = frozenset(_BASE | _GRANTS | {com.SYS_UMAP})
# VFS hands drivers and file servers magic grants of its callers' buffers,
# and is an exec caller: it copies the frame in (VIRCOPY) and clears
# memory of the process it loads (MEMSET).
VFS_CALLS = frozenset(_BASE | _GRANTS | {com.SYS_VIRCOPY, com.SYS_MEMSET})
# A file server copies through the grants VFS and its driver give it.
FS_CALLS = frozenset(_BASE | _GRANTS | {com.SYS_VSAFECOPY})
DS_CALLS = frozenset(_BASE | _GRANTS | {com.SYS_SAFEMAP, com.SYS_SAFEREVMAP,
                                        com.SYS_SAFEUNMAP})
# RS is the service starter and the second exec caller: it sets privileges,
# copies images from its memory and clears the memory it loads.
RS_CALLS = frozenset(_BASE | _GRANTS | {com.SYS_PRIVCTL, com.SYS_VIRCOPY, com.SYS_MEMSET,
                                        com.SYS_KILL})
# What a service a user starts may do (MINIX's test services are like this).
SERVICE_CALLS = frozenset(_BASE | _GRANTS | {com.SYS_VSAFECOPY, com.SYS_SAFEMAP,
                                             com.SYS_SAFEREVMAP, com.SYS_SAFEUNMAP,
                                             com.SYS_UMAP})
# init is an ordinary process; the kernel still gives it what every boot
# process has.
INIT_CALLS = frozenset(_BASE)


@dataclass(frozen=True)
class ServiceDescription:
    """One service, as a system.conf entry describes it."""

    label: str  # its name in DS (at most 15 characters)
    kernel_calls: frozenset[int] = SERVICE_CALLS
    vm_calls: frozenset[int] = VM_SERVICE_CALLS
    # Ticks between pings (0: never pinged).
    period: int = RS_DELTA_T
    # Restarted when it dies or stops answering? (A service that exits
    # with status 0 has finished: it is not restarted either way.)
    restart: bool = True
    max_restarts: int = MAX_RESTARTS
    # Does it wait for RS's SEF init message before it serves (a server
    # built on SEF), or just run (a program with system privileges)?
    sef: bool = True
    # The slot of a boot process (the kernel starts it; RS adopts it).
    boot_slot: int | None = None

    def __post_init__(self) -> None:
        if not 0 < len(self.label) <= 15 or "\0" in self.label:
            raise ValueError(f"{self.label!r}: a label has 1 to 15 characters")
        if self.period < 0 or self.max_restarts < 0:
            raise ValueError("period and max_restarts cannot be negative")

    def one_shot(self) -> ServiceDescription:
        """The same service as a program that runs once: not pinged, not restarted."""
        return replace(self, period=0, restart=False, sef=False)


def _boot(label: str, slot: int, calls: frozenset[int], vm: frozenset[int]) -> ServiceDescription:
    # The kernel's own servers cannot be restarted (MINIX's core services).
    return ServiceDescription(label, calls, vm, period=0, restart=False, sef=False,
                              boot_slot=slot)


_PM_VM = frozenset({vmc.VM_EXIT, vmc.VM_FORK, vmc.VM_BRK, vmc.VM_WILLEXIT, vmc.VM_PROCCTL})
# The boot image, in the order the kernel's boot table lists it.
BOOT_SERVICES = (
    _boot("pm", com.PM_PROC_NR, PM_CALLS, VM_SERVICE_CALLS | _PM_VM),
    _boot("memory", com.MEM_PROC_NR, DRIVER_CALLS, VM_SERVICE_CALLS),
    _boot("tty", com.TTY_PROC_NR, DRIVER_CALLS, VM_SERVICE_CALLS),
    _boot("ds", com.DS_PROC_NR, DS_CALLS, VM_SERVICE_CALLS),
    _boot("rs", com.RS_PROC_NR, RS_CALLS,
          VM_SERVICE_CALLS | {vmc.VM_PROCCTL, vmc.VM_RS_SET_PRIV}),
    _boot("vfs", com.VFS_PROC_NR, VFS_CALLS, VM_SERVICE_CALLS | {vmc.VM_PROCCTL}),
    _boot("vm", com.VM_PROC_NR, VM_CALLS, VM_SERVICE_CALLS),
    _boot("init", com.INIT_PROC_NR, INIT_CALLS, VM_BASIC_CALLS),
)
# The services RS starts at boot: the root disk's driver, then the root
# file server. A file server is not restarted ("file servers cannot be
# restarted yet", MINIX 3.2): its state (open files, the cache) would be lost.
DISK = ServiceDescription("disk", DRIVER_CALLS, VM_SERVICE_CALLS)
MFS = ServiceDescription("mfs", FS_CALLS, VM_SERVICE_CALLS, restart=False)

