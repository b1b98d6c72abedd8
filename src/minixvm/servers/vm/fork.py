"""VM_FORK: a child address space sharing the parent's memory copy-on-write."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, OK
from minixvm.include.com import NONE, VMCTL_SETADDRSPACE
from minixvm.include.ipc import MESSAGE_SIZE
from minixvm.include.vm import VmFork
from minixvm.servers.vm.acl import VM_BASIC_CALLS
from minixvm.servers.vm.pagetable import pt_bind, pt_free, pt_new
from minixvm.servers.vm.region import map_free_proc, map_handle_memory, map_proc_copy
from minixvm.servers.vm.slab import NoMemory, undo_on

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM
    from minixvm.servers.vm.vmproc import VMProc


def do_fork(vm: VM, m: VmFork) -> int:
    """VM_FORK (from PM): copy ``m.parent`` into slot ``m.slot``; m.child_ep out.

    The address space is built before the kernel is asked for the process,
    so running out of memory leaves nothing behind: the parent's pages go
    back to being its own."""
    parent = vm.client(m.parent)
    if parent is None or not 0 <= m.slot < vm.kinfo.nr_procs or m.slot in vm.procs:
        return -EINVAL
    # A system process's child is a user process (the kernel says the same).
    acl = VM_BASIC_CALLS if parent.system else parent.acl
    child = vm.new_proc(m.slot, NONE, pt_new(vm), acl)
    child.map_phys_ok = parent.map_phys_ok
    with undo_on(lambda: discard(vm, child)):
        map_proc_copy(vm, child, parent)
    reply = vm.sys.sys_fork(parent.endpoint, m.slot)
    if reply.m_type != OK:
        discard(vm, child)
        return reply.m_type
    child.endpoint = reply.child_ep
    vm.procs[m.slot] = child
    pt_bind(vm, child.pt, m.slot)
    vm.sys.sys_vmctl(child.endpoint, VMCTL_SETADDRSPACE, child.pt.dir)
    if reply.msgaddr:
        # PM's reply to the fork is delivered into the CPU processes' memory
        # by the kernel, which does not ask VM: make that message writable
        # now in both (MINIX's do_fork does the same). Out of memory here,
        # the reply's delivery fails with EFAULT instead.
        for vmp in (parent, child):
            with contextlib.suppress(NoMemory):
                map_handle_memory(vm, vmp, reply.msgaddr, MESSAGE_SIZE, True)
    vm.stats.forks += 1
    m.child_ep = child.endpoint
    return OK


def discard(vm: VM, child: VMProc) -> None:
    """Undo a half-built child."""
    map_free_proc(vm, child)
    pt_free(vm, child.pt)
