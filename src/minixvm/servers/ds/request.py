"""How a DS request fails: the one exception its handlers raise.

A handler returns OK after setting reply fields on the request message,
or raises RequestError; DS's loop (and nothing else) turns that into the
reply's -errno. A request's fields are fixed-width integers of its layout,
so a handler checks their values, never their presence.
"""

from __future__ import annotations

from minixvm.errors import OK, RequestError
from minixvm.machine.ram import PAGE_SIZE


def check(r: int) -> None:
    """Fail the request with a kernel call's error, if it failed."""
    if r != OK:
        raise RequestError(-r)


def page_ceil(n: int) -> int:
    """``n`` rounded up to whole pages."""
    return -(-n // PAGE_SIZE) * PAGE_SIZE
