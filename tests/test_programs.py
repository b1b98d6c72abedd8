"""Real i386 programs (userland/, built for MINIX 3.2's ABI) on minixvm.

Each program checks what MINIX's own test of the same name checks and exits
0 (or prints the failed check and exits 1); the test also reads what it
printed and what the system saw (faults, copy-on-write breaks, signals).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from wild import wild

from minixvm import System
from minixvm.include.signal import SIGSEGV

BIN = Path(__file__).resolve().parent.parent / "userland" / "bin"


def run(system: System, name: str, *args: str) -> int:
    """Run a built-in program (the default disk holds them in /bin)."""
    return system.exec(f"/bin/{name}", [name, *args])


@pytest.mark.parametrize("name", ["hello", "test6", "test1a", "test44", "cow", "segv",
                                  "trapdenied", "big"])
def test_a_program_that_checks_itself_exits_0(system: System, name: str) -> None:
    code = run(system, name)
    assert code == 0, system.console.text[-2000:]


def test_bss_is_demand_zero(system: System) -> None:
    """sweep's 64 KiB .bss is mapped, not allocated: each first touch of one of
    its 16 pages is a demand-zero fault."""
    faults = system.statistics().vm.demand_zero
    assert run(system, "sweep", "1") == 0
    assert system.statistics().vm.demand_zero - faults >= 16


def test_hello_writes_through_vfs_to_the_console(system: System) -> None:
    assert run(system, "hello") == 0
    assert system.console.text.endswith("hello, world\n")


def test12_fork_exit_wait_a_thousand_times(system: System) -> None:
    forks = system.statistics().vm.forks
    assert run(system, "test12") == 0, system.console.text[-2000:]
    assert system.statistics().vm.forks - forks == 1000 + 1  # and init's, to start it
    assert "test12 ok" in system.console.text


def test64_runs_out_of_contiguous_memory_and_recovers() -> None:
    with System.boot(ram="32M", sanity_checks=True) as system:
        assert run(system, "test64") == 0, system.console.text[-2000:]
        system.run_until_idle()
        # MFS's cache keeps the file's blocks: the baseline comes after.
        free = system.statistics().frames_free
        assert run(system, "test64") == 0, system.console.text[-2000:]
        system.run_until_idle()
        assert system.statistics().frames_free == free
        system.vm_sanity_check()


def test_an_exec_chain_passes_arguments_and_environment(system: System) -> None:
    assert run(system, "execchain") == 0, system.console.text[-2000:]
    out = system.console.text
    assert "execprint: argc = 3\n" in out
    for line in ('argv[0] = "execprint"', 'argv[1] = "one"', 'argv[2] = "two"',
                 'envp[0] = "FOO=bar"'):
        assert f"execprint: {line}\n" in out


def test_cow_after_a_register_level_fork_breaks_copy_on_write(system: System) -> None:
    breaks = system.statistics().vm.cow_breaks
    assert run(system, "cow") == 0, system.console.text[-2000:]
    assert system.statistics().vm.cow_breaks > breaks


def test_segv_children_die_of_sigsegv_and_the_system_goes_on(system: System) -> None:
    segv = system.statistics().vm.sigsegv
    assert run(system, "segv") == 0, system.console.text[-2000:]
    assert system.statistics().vm.sigsegv - segv >= 3
    assert run(system, "hello") == 0


def test_a_wild_program_dies_of_sigsegv_itself(system: System) -> None:
    """hello with its first instruction made a store to an unmapped address:
    its own SIGSEGV is its status, -SIGSEGV as subprocess says."""
    system.install("/bin/wild", wild(BIN / "hello"))
    assert system.exec("/bin/wild", ["wild"]) == -SIGSEGV


def test_the_same_program_gives_the_same_trace_fault_for_fault() -> None:
    def traced() -> list[str]:
        with System.boot(ram="32M", trace=True) as system:
            assert run(system, "cow") == 0
            return list(system.kernel.trace.lines)

    first, second = traced(), traced()
    assert first == second
    assert any(line.startswith("fault") for line in first)
    assert any(line.startswith("cow") for line in first)
