"""The kernel's clock: one tick per dispatch, so time is deterministic."""

from __future__ import annotations

from minixvm.kernel.proc import Proc


class Clock:
    """Uptime and per-process time, in ticks."""

    def __init__(self) -> None:
        self.ticks = 0

    def tick(self, p: Proc) -> None:
        """Account one dispatch of ``p``."""
        self.ticks += 1
        p.user_time += 1

    def kernel_work(self, p: Proc) -> None:
        """Account a kernel call made by ``p``."""
        p.sys_time += 1
