"""CPU processes: an i386 program running on the machine's CPU.

A CPU process is a process like any other (a slot, an endpoint, a greenlet
the scheduler switches to); what it runs is this loop, which gives the CPU
its registers and address space and handles whatever stops it:

* ``int $0x21``: the IPC trap, through the process's trap port (eax the
  endpoint, ebx the message address, ecx the call; the result in eax);
* a page fault: the process waits for VM, then the instruction runs again;
* any other exception: the signal MINIX's kernel sends for it;
* the end of its quantum: it goes to the back of its queue.

The quantum is counted in instructions, so a run is deterministic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.include.signal import SIGFPE, SIGILL, SIGSEGV, SIGTRAP
from minixvm.kernel.signals import cause_sig
from minixvm.kernel.trap import Entry, TrapPort

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel

QUANTUM = 1_000_000  # instructions

# The signal for each i386 exception (MINIX kernel/arch/i386/exception.c);
# any other vector, a software interrupt but 0x21 among them, is SIGSEGV.
EXCEPTION_SIGNALS = {0: SIGFPE, 1: SIGTRAP, 3: SIGTRAP, 4: SIGFPE, 5: SIGFPE, 6: SIGILL,
                     7: SIGFPE, 16: SIGFPE}


def user_mode(k: Kernel) -> Entry:
    """The entry point of every CPU process."""

    def run(port: TrapPort) -> None:
        p = k.sched.caller()
        context = p.context
        assert context is not None and context.regs is not None
        regs = context.regs
        if context.in_trap:
            context.in_trap = False
            regs.eax = k.ipc.complete_trap(p) & 0xFFFFFFFF
        while True:
            stop = k.cpu.run(regs, p.cr3, QUANTUM)
            if stop.vector is not None:
                regs.eax = port.ipc(regs.ecx, _signed(regs.eax), regs.ebx) & 0xFFFFFFFF
            elif stop.fault is not None:
                k.vmctl.pagefault(p, stop.fault)
            elif stop.exception is not None:
                cause_sig(k, p, EXCEPTION_SIGNALS.get(stop.exception, SIGSEGV))
                k.sched.block(p)
            else:
                port.yield_cpu()

    return run


def _signed(v: int) -> int:
    """A register as a signed 32-bit value (an endpoint)."""
    return v - (1 << 32) if v >= 1 << 31 else v
