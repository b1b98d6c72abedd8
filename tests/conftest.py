"""Shared fixtures: a booted system with VM's sanity checks on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from campaign import summary
from remote import Remote

from minixvm import System


@pytest.fixture
def system() -> Iterator[System]:
    """A 32 MiB machine that checks VM's invariants after every request
    and once more when the test is over."""
    with System.boot(ram="32M", sanity_checks=True) as s:
        yield s
        Remote.exit_all(s)
        s.run_until_idle()
        s.vm_sanity_check()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault campaign's counts (cases, allocations failed, kills, images)."""
    for line in summary():
        terminalreporter.write_line(line)
