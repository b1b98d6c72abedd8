"""What every DS request handler uses: the error it raises and field access.

A handler either returns a result (OK, or a value the reply's type
carries) after setting reply fields on the request message, or raises
DSError; DS's loop turns that into a -errno reply. A field a client left
out, or filled with something that is not an integer, is EINVAL.
"""

from __future__ import annotations

from minixvm.errors import EINVAL, OK
from minixvm.include.ipc import Message
from minixvm.machine.ram import PAGE_SIZE


class DSError(Exception):
    """The request fails with ``errno`` (positive); the reply carries -errno."""

    def __init__(self, errno: int) -> None:
        super().__init__(errno)
        self.errno = errno


def arg(m: Message, name: str) -> int:
    """Integer field ``name`` of request ``m``; EINVAL if missing or not an int."""
    value = getattr(m, name, None)
    if not isinstance(value, int) or isinstance(value, bool):
        raise DSError(EINVAL)
    return value


def check(r: int) -> None:
    """Fail the request with a kernel call's error, if it failed."""
    if r != OK:
        raise DSError(-r)


def page_ceil(n: int) -> int:
    """``n`` rounded up to whole pages."""
    return -(-n // PAGE_SIZE) * PAGE_SIZE
