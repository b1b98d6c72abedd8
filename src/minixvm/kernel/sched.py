"""Scheduling: ready queues, and the switch between the kernel and processes.

Every process runs in its own greenlet; the kernel loop runs in the host's
greenlet and switches into the first process of the highest non-empty
queue. A process runs until it blocks (its RTS flags become non-zero),
then switches back here: a deterministic, single-threaded order, so the
same inputs always give the same run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from greenlet import GreenletExit, getcurrent, greenlet

from minixvm.errors import KernelPanic, SystemHalted
from minixvm.kernel.proc import NR_SCHED_QUEUES, RTS_PROC_STOP, Proc
from minixvm.kernel.trap import TrapPort

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel


class ProcessGone(GreenletExit):
    """Thrown into the greenlet of a process that exited or exec'ed, to unwind it."""


class Scheduler:
    """Ready queues and process switching."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.queues: list[deque[Proc]] = [deque() for _ in range(NR_SCHED_QUEUES)]
        self.current: Proc | None = None
        self._kernel_greenlet: greenlet | None = None
        self._dead: list[greenlet] = []
        self.switches = 0

    # -- runtime flags -------------------------------------------------------

    def rts_set(self, p: Proc, flags: int) -> None:
        """Set RTS flags; a process that stops being runnable leaves its queue."""
        if p.rts_flags == 0 and flags:
            self._dequeue(p)
        p.rts_flags |= flags

    def rts_unset(self, p: Proc, flags: int) -> None:
        """Clear RTS flags; a process that becomes runnable joins its queue."""
        was = p.rts_flags
        p.rts_flags &= ~flags
        if was and p.rts_flags == 0:
            self.queues[p.priority].append(p)

    def _dequeue(self, p: Proc) -> None:
        q = self.queues[p.priority]
        if p in q:
            q.remove(p)

    def pick_proc(self) -> Proc | None:
        """The next process to run (round robin within a queue)."""
        for q in self.queues:
            if q:
                p = q.popleft()
                q.append(p)
                return p
        return None

    # -- switching -----------------------------------------------------------

    def run(self, until: Callable[[], bool], until_idle: bool = False) -> None:
        """Run processes until ``until()`` holds (or, with ``until_idle``, until
        nothing can run); SystemHalted if nothing can run before ``until()``."""
        if self._kernel_greenlet is not None:
            raise RuntimeError("the system is already running (run() called from a process?)")
        self._kernel_greenlet = getcurrent()
        try:
            while not until():
                if self._dead:
                    self._reap()
                if self.k.panicked:
                    raise KernelPanic(self.k.panicked)
                p = self.pick_proc()
                if p is None and until_idle:
                    break
                if p is None and self.k.idle_waits() and self.k.clock.skip_to_next_alarm():
                    continue
                if p is None:
                    raise SystemHalted("no process can run: " + self.k.blocked_summary())
                self._dispatch(p)
            self._reap()
        finally:
            self._kernel_greenlet = None
        if self.k.panicked:
            raise KernelPanic(self.k.panicked)

    def _dispatch(self, p: Proc) -> None:
        self.switches += 1
        self.k.clock.tick(p)
        if p.greenlet is None or p.greenlet.dead:
            assert p.context is not None, f"{p} has nothing to run"
            p.greenlet = greenlet(self._starter(p), parent=self._kernel_greenlet)
        elif p.greenlet.parent is not self._kernel_greenlet:
            assert self._kernel_greenlet is not None
            p.greenlet.parent = self._kernel_greenlet
        self.current = p
        try:
            p.greenlet.switch()
        except KernelPanic:
            pass  # recorded in k.panicked; reported by run()
        finally:
            self.current = None

    def _starter(self, p: Proc) -> Callable[[], None]:
        context = p.context
        assert context is not None

        def start() -> None:
            try:
                context.entry(TrapPort(self.k, p))
            except GreenletExit:
                return
            except Exception as e:  # noqa: BLE001 - a crashed process is reported, not lost
                self.k.crashed(p, e)
            # Its code ended without an exit: the process stops for good
            # (still runnable, it would be started over and over).
            if p.greenlet is getcurrent():
                self.rts_set(p, RTS_PROC_STOP)

        return start

    def block(self, p: Proc) -> None:
        """Called by process ``p`` itself: give up the CPU until it is runnable again."""
        if p.runnable:
            return
        assert self._kernel_greenlet is not None
        self._kernel_greenlet.switch()
        if p.greenlet is not getcurrent():
            raise ProcessGone()

    def yield_cpu(self, p: Proc) -> None:
        """Called by a runnable process: let the others run first."""
        assert self._kernel_greenlet is not None
        # To the back of its queue: a process that became runnable while p ran
        # was queued behind p (pick_proc rotates when it picks), and must not
        # wait for p's next turn.
        if p.runnable:
            self._dequeue(p)
            self.queues[p.priority].append(p)
        self._kernel_greenlet.switch()
        if p.greenlet is not getcurrent():
            raise ProcessGone()

    def drop_greenlet(self, p: Proc) -> None:
        """Forget ``p``'s execution (exit or exec); it is unwound from the kernel loop."""
        g, p.greenlet = p.greenlet, None
        if g is not None and not g.dead:
            self._dead.append(g)

    def _reap(self) -> None:
        while self._dead:
            g = self._dead.pop(0)
            if not g.dead:
                g.parent = getcurrent()
                g.throw(ProcessGone())

    def caller(self) -> Proc:
        """The process making the current trap (it must be running)."""
        p = self.current
        if p is None or p.greenlet is not getcurrent():
            raise ProcessGone()
        return p

    def close(self) -> None:
        """Unwind every process (system shutdown)."""
        for p in self.k.procs:
            self.drop_greenlet(p)
        self._reap()
