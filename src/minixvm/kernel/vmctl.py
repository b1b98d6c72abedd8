"""The kernel's side of VM: page-fault traps, memory requests, SYS_VMCTL.

A program that faults is blocked (RTS_PAGEFAULT) and the kernel sends VM
a VM_PAGEFAULT message as from the program (MINIX 3.3's mini_send
FROM_KERNEL: VM tells it from a forgery by the IPC status); VM fixes the
page tables and resumes the program with VMCTL_CLEAR_PAGEFAULT (or has it
killed). A kernel call that needs memory made present is blocked
(RTS_VMREQUEST) the same way, collected with VMCTL_MEMREQ_GET and
answered with VMCTL_MEMREQ_REPLY; the call then restarts.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from minixvm.errors import EFAULT, EINVAL, ESRCH, OK, RequestError
from minixvm.include.com import (
    SELF,
    SYSTEM,
    VM_PROC_NR,
    VMCTL_CLEAR_PAGEFAULT,
    VMCTL_FLUSHTLB,
    VMCTL_I386_PAGEDIRS,
    VMCTL_MEMREQ_GET,
    VMCTL_MEMREQ_REPLY,
    VMCTL_SETADDRSPACE,
    SysVmctl,
)
from minixvm.include.vm import VmPagefault
from minixvm.kernel.exceptions import VMSuspend
from minixvm.kernel.proc import RTS_PAGEFAULT, RTS_VMREQUEST, Proc, VMRequest
from minixvm.machine.mmu import PageFault

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel


class VMCtl:
    """Page faults and the memory-request queue between the kernel and VM."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.memreqs: deque[Proc] = deque()
        self.faults = 0

    def pagefault(self, p: Proc, fault: PageFault) -> None:
        """The CPU trapped on ``p``'s access: block it until VM has dealt with it."""
        if p.nr == VM_PROC_NR:
            self.k.panic("page fault in VM at %#x", fault.vaddr)
        self.faults += 1
        self.k.watchdog.fault(p, fault.vaddr, fault.errcode)
        self.k.trace.fault(p, fault.vaddr, fault.errcode)
        self.k.sched.rts_set(p, RTS_PAGEFAULT)
        vm = self.k.procs.slot(VM_PROC_NR)
        self.k.ipc.kernel_send(p, vm.endpoint,
                               VmPagefault(addr=fault.vaddr, flags=fault.errcode).buf)
        self.k.sched.block(p)

    def memreq(self, caller: Proc, req: VMSuspend) -> int:
        """Suspend ``caller``'s kernel call until VM has handled ``req``; VM's answer."""
        if caller.nr == VM_PROC_NR:
            return -EFAULT
        caller.vmrequest = VMRequest(
            req.req_type, req.target, req.addr, req.length, req.write, req.ep2, req.addr2
        )
        self.memreqs.append(caller)
        self.k.sched.rts_set(caller, RTS_VMREQUEST)
        vm = self.k.procs.slot(VM_PROC_NR)
        self.k.ipc.mini_notify(self.k.procs.slot(SYSTEM), vm.endpoint)
        self.k.sched.block(caller)
        result = caller.vmrequest.result
        caller.vmrequest = None
        assert result is not None
        return result

    def forget(self, p: Proc) -> None:
        """Drop ``p``'s queued request (it is going away; a fault message not
        yet taken goes with its IPC state)."""
        if p in self.memreqs:
            self.memreqs.remove(p)
        p.vmrequest = None

    # -- SYS_VMCTL ----------------------------------------------------------------

    def do_vmctl(self, caller: Proc, m: SysVmctl) -> int:
        """SYS_VMCTL: VM's control of address spaces, faults and requests."""
        param = m.param
        if param == VMCTL_MEMREQ_GET:
            return self._memreq_get(m)
        p = caller if m.who == SELF else self.k.procs.isokendpt(m.who)
        if p is None:
            raise RequestError(EINVAL)
        if param == VMCTL_CLEAR_PAGEFAULT:
            if not p.rts_flags & RTS_PAGEFAULT:
                raise RequestError(EINVAL)
            self.k.sched.rts_unset(p, RTS_PAGEFAULT)
        elif param == VMCTL_MEMREQ_REPLY:
            if p.vmrequest is None or not p.rts_flags & RTS_VMREQUEST:
                raise RequestError(EINVAL)
            p.vmrequest.result = m.result
            self.k.sched.rts_unset(p, RTS_VMREQUEST)
        elif param == VMCTL_SETADDRSPACE:
            p.cr3 = m.value
            self.k.mmu.flush(p.cr3)
        elif param == VMCTL_FLUSHTLB:
            self.k.mmu.flush(p.cr3)
        elif param == VMCTL_I386_PAGEDIRS:
            self.k.memory.pagedirs_base = m.value << 22
            self.k.memory.pagedirs_cr3 = caller.cr3
        else:
            raise RequestError(EINVAL)
        return OK

    def _memreq_get(self, m: SysVmctl) -> int:
        if not self.memreqs:
            return -ESRCH
        p = self.memreqs.popleft()
        req = p.vmrequest
        assert req is not None
        m.mr_requestor = p.endpoint
        m.mr_target = req.target
        m.mr_addr = req.addr
        m.mr_length = req.length
        m.mr_write = req.write
        m.mr_ep2 = req.ep2
        m.mr_addr2 = req.addr2
        return req.req_type
