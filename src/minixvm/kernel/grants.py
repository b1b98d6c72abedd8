"""Grant verification (MINIX verify_grant) and SYS_SETGRANT.

The checks run in MINIX's order with MINIX's error codes; the one change
is the sequence number in the grant id (the seed's TO-DO), checked right
after the slot is found in use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from minixvm.errors import EINVAL, ELOOP, EPERM, OK, RequestError
from minixvm.include.com import ANY, VFS_PROC_NR, SysSetgrant
from minixvm.include.grant import (
    CPF_DIRECT,
    CPF_INDIRECT,
    CPF_MAGIC,
    CPF_USED,
    CPF_VALID,
    GRANT_ENTRY_SIZE,
    GRANT_IDX,
    GRANT_SEQ,
    MAX_INDIRECTION,
    GrantEntry,
    signed,
)
from minixvm.kernel.proc import Proc

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel

MAX_GRANT_ENTRIES = 1 << 20


class Granted(NamedTuple):
    """A verified grant: whose memory, where, and the chain of grants that led there."""

    granter: Proc
    addr: int
    chain: tuple[tuple[int, int], ...]  # (granter endpoint, grant id), outermost first


def read_grant(k: Kernel, granter: Proc, grant: int) -> GrantEntry:
    """The entry for ``grant`` in ``granter``'s table; EPERM if there is none."""
    index = GRANT_IDX(grant)
    if not granter.priv.grant_table or index >= granter.priv.grant_entries:
        raise RequestError(EPERM)
    addr = granter.priv.grant_table + index * GRANT_ENTRY_SIZE
    return GrantEntry.unpack(k.memory.read(granter, addr, GRANT_ENTRY_SIZE))


def verify_grant(
    k: Kernel, granter_e: int, grantee_e: int, grant: int, nbytes: int, access: int, offset: int
) -> Granted:
    """Check that ``grantee_e`` may access ``nbytes`` at ``offset`` of grant
    ``grant`` of ``granter_e`` with ``access``; raise RequestError otherwise."""
    chain: list[tuple[int, int]] = []
    while True:
        granter = k.procs.isokendpt(granter_e)
        if granter is None or grant < 0:
            raise RequestError(EINVAL)
        g = read_grant(k, granter, grant)
        if g.flags & (CPF_USED | CPF_VALID) != CPF_USED | CPF_VALID or g.seq != GRANT_SEQ(grant):
            raise RequestError(EPERM)
        chain.append((granter_e, grant))
        if not g.flags & CPF_INDIRECT:
            break
        if len(chain) > MAX_INDIRECTION:
            raise RequestError(ELOOP)
        if signed(g.w0) not in (grantee_e, ANY):
            raise RequestError(EPERM)
        grantee_e, granter_e, grant = granter_e, signed(g.w1), signed(g.w2)
    if g.flags & access != access:
        raise RequestError(EPERM)
    if g.flags & CPF_DIRECT:
        who_to, start, length = signed(g.w0), g.w1, g.w2
    elif g.flags & CPF_MAGIC:
        if granter.nr != VFS_PROC_NR:
            raise RequestError(EPERM)
        who_to, start, length = signed(g.w1), g.w2, g.w3
        granter = k.procs.isokendpt(signed(g.w0))
        if granter is None:
            raise RequestError(EPERM)
    else:
        raise RequestError(EPERM)
    if start + length > 1 << 32 or who_to not in (grantee_e, ANY):
        raise RequestError(EPERM)
    if offset < 0 or nbytes < 0 or offset + nbytes > length:
        raise RequestError(EPERM)
    return Granted(granter, start + offset, tuple(chain))


def do_setgrant(k: Kernel, caller: Proc, m: SysSetgrant) -> int:
    """SYS_SETGRANT: announce the caller's grant table (address, entry count)."""
    if not 0 <= m.entries <= MAX_GRANT_ENTRIES or m.addr < 0:
        raise RequestError(EINVAL)
    caller.priv.grant_table = m.addr if m.entries else 0
    caller.priv.grant_entries = m.entries
    return OK
