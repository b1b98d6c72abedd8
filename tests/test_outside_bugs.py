"""Bugs found trying the system from outside (issue 14, part 1): each test
failed before its fix."""

from __future__ import annotations

import pytest

from minixvm import System
from minixvm.include.signal import SIGSEGV
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE


@pytest.mark.parametrize("shift", [1 << 32, -(1 << 32), 1 << 40])
@pytest.mark.parametrize("store", [False, True], ids=["load", "store"])
def test_an_address_outside_32_bits_is_sigsegv_not_a_livelock(
    system: System, shift: int, store: bool
) -> None:
    def wild(p: Process) -> int:
        a = p.mmap(PAGE_SIZE)
        p.mem[a] = 1  # mapped and present: the wrapped address would look fine
        if store:
            p.mem[a + shift] = 2
        else:
            p.mem[a + shift]
        return 0

    faults = system.statistics().page_faults
    assert system.run(wild) == -SIGSEGV
    assert system.statistics().page_faults - faults < 10
    assert system.run(lambda p: 7) == 7


def test_a_character_split_across_two_writes_stays_whole(system: System) -> None:
    """libc writes 4 KiB at a time: a 3-byte character at the boundary goes to
    the console in two writes."""
    text = "a" * (4096 - 1) + "✓ and é" + "b" * 4094 + "é"

    assert system.run(lambda p: p.write(text.encode()) and 0) == 0
    assert text in system.console.text
    assert "\ufffd" not in system.console.text
