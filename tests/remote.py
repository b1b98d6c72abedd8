"""Processes a test drives one step at a time.

A Remote process spins in a loop taking commands (callables run on its
own Process) from a queue the test fills; the test runs the system until
the command is done. Forked children are Remotes too, so a test can drive
whole process trees.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from minixvm import System
from minixvm.lib.c import Process

Command = Callable[[Process], Any]


@dataclass
class _Box:
    fn: Command | None
    result: Any = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class Remote:
    """A process under remote control."""

    system: System
    queue: deque[_Box] = field(default_factory=deque)
    pid: int = 0
    endpoint: int = 0
    exited: bool = False

    # Every Remote not yet exited, so a test's teardown can end them all.
    live: ClassVar[list[Remote]] = []

    def __post_init__(self) -> None:
        Remote.live.append(self)

    @classmethod
    def exit_all(cls, system: System) -> None:
        """End every remote process of ``system``, children first."""
        for remote in reversed([r for r in cls.live if r.system is system]):
            if not remote.exited and not remote._dead():
                remote.exit()
            cls.live.remove(remote)

    @classmethod
    def start(cls, system: System, name: str = "remote", service: bool = False) -> Remote:
        remote = cls(system)
        handle = system.spawn(remote._loop, name=name, service=service)
        remote.pid, remote.endpoint = remote.do(lambda p: (p.getpid(), p.endpoint))
        assert remote.pid == handle.pid
        return remote

    def _loop(self, p: Process) -> int:
        while True:
            if not self.queue:
                p.sched_yield()
                continue
            box = self.queue[0]
            if box.fn is None:
                self.queue.popleft()
                box.done = True
                return 0
            try:
                box.result = box.fn(p)
            except Exception as e:  # noqa: BLE001 - handed to the test
                box.error = e
            self.queue.popleft()
            box.done = True

    def do(self, fn: Command) -> Any:
        """Run ``fn(process)`` in the process; its result (or its exception, raised)."""
        assert not self.exited, "the process has exited"
        box = _Box(fn)
        self.queue.append(box)
        self.system.kernel.sched.run(lambda: box.done or self._dead())
        if not box.done:
            self.exited = True
            raise ProcessDied(f"process {self.pid} died running a command")
        if box.error is not None:
            raise box.error
        return box.result

    def _dead(self) -> bool:
        return self.system.kernel.procs.isokendpt(self.endpoint) is None if self.endpoint else False

    def fork(self) -> Remote:
        """Fork; the child is a Remote of its own."""
        child = Remote(self.system)
        child.pid = self.do(lambda p: p.fork(child._loop))
        child.endpoint = child.do(lambda p: p.endpoint)
        return child

    def exit(self) -> None:
        """End the process (its parent, init or a Remote, collects it)."""
        box = _Box(None)
        self.queue.append(box)
        self.system.kernel.sched.run(lambda: box.done or self._dead())
        self.exited = True
        self.system.kernel.sched.run(self._dead)


class ProcessDied(Exception):
    """The process was killed while running a command."""
