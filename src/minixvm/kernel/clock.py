"""The kernel's clock: one tick per dispatch, so time is deterministic.

Each process may have one alarm (SYS_SETALARM): when the uptime reaches it,
the CLOCK task notifies the process. When nothing can run, time jumps to
the next alarm if the System says an alarm's owner has work waiting for
it (RS restarting a service after its backoff): idle time passes in one
step, so a run waits in simulated time, never in host time.
"""

from __future__ import annotations

from collections.abc import Callable

from minixvm.kernel.proc import Proc


class Clock:
    """Uptime, per-process time and alarms, in ticks."""

    def __init__(self, expire: Callable[[int], None]) -> None:
        self.ticks = 0
        self.expire = expire  # notify endpoint: its alarm went off
        self.alarms: dict[int, tuple[int, int]] = {}  # slot -> (expiry, endpoint)
        self._next: int | None = None

    def tick(self, p: Proc) -> None:
        """Account one dispatch of ``p``; fire the alarms that are due."""
        self.ticks += 1
        p.user_time += 1
        if self._next is not None and self.ticks >= self._next:
            self._fire()

    def kernel_work(self, p: Proc) -> None:
        """Account a kernel call made by ``p``."""
        p.sys_time += 1

    def set_alarm(self, p: Proc, expiry: int) -> int:
        """Set ``p``'s alarm to go off at uptime ``expiry`` (0: cancel it);
        the ticks that were left on the one it had, or 0."""
        old = self.alarms.pop(p.nr, None)
        if expiry > 0:
            self.alarms[p.nr] = (max(expiry, self.ticks + 1), p.endpoint)
        self._next = min((t for t, _ in self.alarms.values()), default=None)
        return max(old[0] - self.ticks, 0) if old else 0

    def cancel(self, p: Proc) -> None:
        """A process's alarm dies with it."""
        if p.nr in self.alarms:
            self.set_alarm(p, 0)

    def skip_to_next_alarm(self) -> bool:
        """Let idle time pass up to the next alarm and fire it; False if none is set."""
        if self._next is None:
            return False
        self.ticks = max(self.ticks, self._next)
        self._fire()
        return True

    def _fire(self) -> None:
        due = [(nr, ep) for nr, (t, ep) in self.alarms.items() if t <= self.ticks]
        for nr, _ in due:
            del self.alarms[nr]
        self._next = min((t for t, _ in self.alarms.values()), default=None)
        for _, endpoint in sorted(due):
            self.expire(endpoint)
