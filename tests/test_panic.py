"""panic(): a service's, a server's and the kernel's, and what the user sees."""

from __future__ import annotations

import re
from typing import Any

import pytest

from minixvm import System, cli
from minixvm.errors import KernelPanic
from minixvm.include.com import _ENDPOINT_G, RS_PROC_NR, SYS_ABORT, SYS_DIAGCTL
from minixvm.include.pm import PM_GETPID
from minixvm.kernel.kernel import BootProc
from minixvm.kernel.proc import SERVER_Q
from minixvm.kernel.trap import TrapPort
from minixvm.lib.c import Process
from minixvm.lib.sys import SysLib
from minixvm.servers.pm import main as pm_main


def test_service_panic_prints_its_kernel_name_and_endpoint_then_exits(system: System) -> None:
    k = system.kernel
    assert system.run(lambda p: 0, name="first") == 0  # so the next slot use is generation 1
    known: list[tuple[str, int]] = []
    after: list[bool] = []

    def at_wini(p: Process) -> int:
        me = k.procs.isokendpt(p.endpoint)
        assert me is not None
        known.append((me.name, me.endpoint))
        p.sys.panic("sigaction failed: %d", 0)
        after.append(True)  # never: panic does not return
        return 0

    start = len(system.console.text)
    assert system.run(at_wini, service=True) == 1
    assert after == []
    (name, endpoint), = known
    assert name == "at_wini" and _ENDPOINT_G(endpoint) >= 1  # not just a slot number
    lines = system.console.text[start:].splitlines()
    assert lines[0] == f"{name}({endpoint}): panic: sigaction failed: 0"
    assert lines[1].startswith("syslib:panic.c: stacktrace: ")
    assert "at_wini" in lines[1]  # the Python frames, innermost last
    assert len(lines) == 2
    assert k.procs.isokendpt(endpoint) is None  # it is gone
    # The system goes on.
    assert system.run(lambda p: 6) == 6


def test_panic_message_is_printf_formatted(system: System) -> None:
    def svc(p: Process) -> int:
        p.sys.panic("%s: %d%% of %#x", "ds", 50, 255)
        return 0

    start = len(system.console.text)
    assert system.run(svc, name="ds", service=True) == 1
    assert re.match(r"ds\(\d+\): panic: ds: 50% of 0xff\n", system.console.text[start:])


def test_panic_without_arguments_prints_the_text_as_is(system: System) -> None:
    def svc(p: Process) -> int:
        p.sys.panic("100% broken")
        return 0

    start = len(system.console.text)
    assert system.run(svc, name="svc", service=True) == 1
    assert ": panic: 100% broken\n" in system.console.text[start:]


def test_panic_while_panicking_returns_at_once(system: System) -> None:
    inner: list[Any] = []

    def svc(p: Process) -> int:
        printf = p.sys.printf

        def panicky_printf(fmt: str, *args: Any) -> None:
            inner.append(p.sys.panic("again: %d", len(inner)))  # must return at once
            printf(fmt, *args)

        p.sys.printf = panicky_printf  # type: ignore[method-assign]
        p.sys.panic("first")
        return 0

    start = len(system.console.text)
    assert system.run(svc, name="svc", service=True) == 1
    out = system.console.text[start:]
    assert inner == [None, None]  # one per line panic printed, each a no-op
    assert out.count("panic:") == 1 and "again" not in out
    assert re.match(r"svc\(\d+\): panic: first\nsyslib:panic.c: stacktrace: ", out)
    assert system.run(lambda p: 0) == 0


class AbortingSystem(System):
    """A system whose boot image has one more process: it gives up at once."""

    def _boot_image(self) -> list[BootProc]:
        def rs(port: TrapPort) -> None:
            sys = SysLib(port)
            sys.printf("rs: cannot start the services\n")
            sys.sys_abort()

        return [*super()._boot_image(),
                BootProc(RS_PROC_NR, "rs", rs, SERVER_Q, frozenset({SYS_ABORT, SYS_DIAGCTL}))]


def test_kernel_panic_stops_boot_and_says_why() -> None:
    console: list[str] = []
    with pytest.raises(KernelPanic, match=r"^rs\(2\): rs panicked$"):
        AbortingSystem.boot(ram="32M", echo=console.append)
    text = "".join(console)
    assert "rs: cannot start the services\nkernel panic: rs(2): rs panicked\n" in text
    assert re.search(r"^kernel stacktrace: .*do_abort", text, re.MULTILINE)
    assert text.count("kernel panic:") == 1


def test_server_panic_brings_the_system_down(monkeypatch) -> None:
    """PM cannot simply exit: its panic aborts the whole system."""

    def broken_getpid(pm: pm_main.PM, mp: Any, m: Any) -> None:
        pm.sys.panic("mproc table corrupt at %d", 3)

    monkeypatch.setitem(pm_main.CALLS, PM_GETPID, broken_getpid)
    with System.boot(ram="32M") as system:
        assert system.run(lambda p: 0) == 0
        start = len(system.console.text)
        with pytest.raises(KernelPanic, match=r"^pm\(0\): pm panicked$"):
            system.run(lambda p: p.getpid())
        out = system.console.text[start:]
        assert out.startswith("pm(0): panic: mproc table corrupt at 3\n"
                              "syslib:panic.c: stacktrace:")
        assert "kernel panic: pm(0): pm panicked\n" in out
        # A stopped system stays stopped.
        with pytest.raises(KernelPanic):
            system.run(lambda p: 0)


def test_cli_boot_reports_a_kernel_panic(monkeypatch, capsys) -> None:
    monkeypatch.setattr(cli, "System", AbortingSystem)
    status = cli.main(["boot", "--ram", "32M"])
    out = capsys.readouterr().out
    assert status != 0
    assert "minixvm: the system stopped: rs(2): rs panicked" in out
    assert "Traceback" not in out


def test_cli_boot_reports_a_bad_ram_size(capsys) -> None:
    status = cli.main(["boot", "--ram", "8M"])
    out = capsys.readouterr().out
    assert status == 2
    assert "out of range" in out


def test_cli_boot_runs_the_demo(capsys) -> None:
    assert cli.main(["boot", "--ram", "32M"]) == 0
    out = capsys.readouterr().out
    assert "forker: parent's pages intact" in out
    assert "segv: child" in out and "killed by signal 11" in out
