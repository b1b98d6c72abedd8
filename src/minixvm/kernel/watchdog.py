"""The watchdog: a livelock stops the system with a line saying who and
where, instead of looking like a hang.

Two kinds of no progress are bounded:
- a process that page-faults on the same address the same way again and
  again, with no IPC between (VM answers the fault, the access retries,
  and nothing changes: the 32-bit wrap bug of issue 14 was one);
- a system process that makes kernel call after kernel call without ever
  going back to IPC: the scheduler is cooperative, so nothing else runs
  meanwhile. (A user process has no kernel calls.)

Any IPC trap of a process is progress and resets its counts.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel
    from minixvm.kernel.proc import Proc

FAULT_REPEATS_MAX = 100  # the same fault in a row
CALLS_WITHOUT_IPC_MAX = 1_000_000  # a system process's kernel calls in a row


class Watchdog:
    """The counts of the processes that are not making progress, by endpoint,
    and the bounds (a test may lower them)."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.fault_repeats_max = FAULT_REPEATS_MAX
        self.calls_max = CALLS_WITHOUT_IPC_MAX
        self._faults: dict[int, tuple[int, int, int]] = {}  # vaddr, errcode, repeats
        self._calls: dict[int, int] = {}

    def progress(self, p: Proc) -> None:
        """``p`` made an IPC trap."""
        if self._faults:
            self._faults.pop(p.endpoint, None)
        if self._calls:
            self._calls.pop(p.endpoint, None)

    def fault(self, p: Proc, vaddr: int, errcode: int) -> None:
        """``p`` faulted: panic if it is the same fault for the Nth time in a row."""
        last = self._faults.get(p.endpoint)
        repeats = last[2] + 1 if last is not None and last[:2] == (vaddr, errcode) else 1
        self._faults[p.endpoint] = (vaddr, errcode, repeats)
        if repeats > self.fault_repeats_max:
            self.k.panic("watchdog: %s (endpoint %d) faulted at %#x (error %#x) %d times "
                         "without progress, at %s", p.name, p.endpoint, vaddr, errcode,
                         repeats, where(p))

    def kernel_call(self, p: Proc) -> None:
        """``p`` made a kernel call: panic if it has made too many without IPC."""
        if not p.is_system:
            return
        calls = self._calls.get(p.endpoint, 0) + 1
        self._calls[p.endpoint] = calls
        if calls > self.calls_max:
            self.k.panic("watchdog: %s (endpoint %d) made %d kernel calls without returning "
                         "to receive, at %s", p.name, p.endpoint, calls, where(p))


def where(p: Proc) -> str:
    """Where ``p`` (the process trapping now) is: a CPU process's EIP, or the
    innermost frame of a Python process's own code (not the kernel's, the
    libraries' or the machine's), as file:line in function."""
    if p.context is not None and p.context.regs is not None:
        return f"eip {p.context.regs.eip:#x}"
    for frame in reversed(traceback.extract_stack()):
        if not any(part in frame.filename for part in ("/minixvm/kernel/", "/minixvm/lib/",
                                                       "/minixvm/machine/", "greenlet")):
            return f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} in {frame.name}"
    return "an unknown place"
