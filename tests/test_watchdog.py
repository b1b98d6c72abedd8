"""The watchdog: a process that makes no progress stops the system with a
line saying which and where, never a silent hang."""

from __future__ import annotations

import pytest

from minixvm import System
from minixvm.errors import KernelPanic
from minixvm.include.com import VMCTL_CLEAR_PAGEFAULT
from minixvm.lib.c import Process
from minixvm.servers.vm import pagefaults
from minixvm.servers.vm.main import VM


def test_a_fault_that_never_gets_fixed_is_a_panic_naming_the_process(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def handle_nothing(vm: VM, ep: int, addr: int, write: bool) -> None:
        vm.sys.sys_vmctl(ep, VMCTL_CLEAR_PAGEFAULT)  # "fixed": the access retries

    def toucher(p: Process) -> int:
        buf = p.mmap(4096)
        monkeypatch.setattr(pagefaults, "handle_pagefault", handle_nothing)
        p.mem[buf] = 1
        return 0

    with System.boot(ram="32M") as system, pytest.raises(KernelPanic) as e:
        system.run(toucher)
    assert "watchdog: toucher" in str(e.value)
    assert "101 times without progress" in str(e.value)
    assert "test_watchdog.py" in str(e.value) and "in toucher" in str(e.value)


def test_a_fault_fixed_each_time_is_progress() -> None:
    """The same address faulted again and again, with IPC between (unmap,
    map, touch): nothing is wrong."""
    def remapper(p: Process) -> int:
        for _ in range(300):
            buf = p.mmap(4096)
            p.mem[buf] = 1
            p.munmap(buf, 4096)
        return 0

    with System.boot(ram="32M") as system:
        assert system.run(remapper) == 0


def test_a_server_that_never_returns_to_receive_is_a_panic() -> None:
    def spinner(p: Process) -> int:
        while True:
            p.sys.sys_times()

    with System.boot(ram="32M") as system:
        system.kernel.watchdog.calls_max = 1000
        with pytest.raises(KernelPanic) as e:
            system.run(spinner, service=True)
    assert "watchdog: spinner" in str(e.value)
    assert "1001 kernel calls without returning to receive" in str(e.value)
    assert "in spinner" in str(e.value)
