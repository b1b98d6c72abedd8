"""A process whose code raises: the kernel says which and why, and the
system never silently halts on the next call."""

from __future__ import annotations

from typing import Any

import pytest

from minixvm import KernelPanic, System
from minixvm.include.pm import PM_GETPID
from minixvm.servers.pm import main as pm_main


def test_a_server_that_raises_stops_the_system_with_its_name_and_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(pm: pm_main.PM, mp: Any, m: Any) -> None:
        raise LookupError("no such mproc")

    monkeypatch.setitem(pm_main.CALLS, PM_GETPID, broken)
    with System.boot(ram="32M") as system:
        with pytest.raises(KernelPanic, match=r"^pm\(0\) crashed: LookupError: no such mproc at "
                                              r".*test_crash\.py:\d+$"):
            system.run(lambda p: p.getpid())
        assert "kernel panic: pm(0) crashed: LookupError" in system.console.text
        # Every later call says the same, never "no process can run".
        for _ in range(2):
            with pytest.raises(KernelPanic, match=r"^pm\(0\) crashed: LookupError"):
                system.run(lambda p: 0)


def test_a_user_program_that_raises_is_reported_and_the_system_goes_on() -> None:
    def buggy(p: Any) -> int:
        raise ZeroDivisionError("division by zero")

    with System.boot(ram="32M") as system:
        with pytest.raises(ZeroDivisionError):
            system.run(buggy, name="buggy")
        assert "buggy: uncaught ZeroDivisionError: division by zero" in system.console.text
        assert system.run(lambda p: 7) == 7
