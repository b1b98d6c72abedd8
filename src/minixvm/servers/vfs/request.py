"""Talking to file servers and drivers (MINIX vfs/request.c): grants that
last one request, and a request's reply.

VFS's own buffers (a path, a name, a struct stat, an exec header) go to
the FS by direct grant; a user's buffer by magic grant, so the FS copies
straight to and from the user. Each grant ends with its request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from minixvm.errors import EFAULT, EINVAL, OK, RequestError
from minixvm.include.grant import CPF_READ
from minixvm.include.ipc import Message
from minixvm.lib.sys import SysLib

if TYPE_CHECKING:
    from minixvm.servers.vfs.main import VFS


def call(sys: SysLib, dst: int, m: Message) -> Message:
    """Send request ``m`` to ``dst`` and wait: the reply (in ``m``'s layout),
    whose m_type is the result (an IPC failure's error too)."""
    r, reply = sys.sendrec(dst, m)
    if r != OK or reply is None:
        return type(m)(r if r != OK else -EINVAL)
    return reply


@contextmanager
def grant_own(sys: SysLib, to: int, addr: int, nbytes: int, access: int) -> Iterator[int]:
    """A direct grant to ``to`` of VFS's [addr, addr+nbytes), for one request."""
    grant = sys.grants.cpf_grant_direct(to, addr, nbytes, access)
    if grant < 0:
        sys.panic("cannot grant its own buffer: %d", grant)
    try:
        yield grant
    finally:
        sys.grants.cpf_revoke(grant)


@contextmanager
def grant_user(sys: SysLib, to: int, who: int, addr: int, nbytes: int,
               access: int) -> Iterator[int]:
    """A magic grant to ``to`` of ``who``'s [addr, addr+nbytes), for one
    request; EFAULT for a range outside the address space."""
    grant = sys.grants.cpf_grant_magic(to, who, addr, nbytes, access)
    if grant == -EINVAL:
        raise RequestError(EFAULT)
    if grant < 0:
        raise RequestError(-grant)
    try:
        yield grant
    finally:
        sys.grants.cpf_revoke(grant)


def check(r: int) -> int:
    """``r``, unless it is an error: then the request fails with it."""
    if r < 0:
        raise RequestError(-r)
    return r


@contextmanager
def grant_name(vfs: VFS, fs_e: int, name: bytes, second: bool = False) -> Iterator[int]:
    """``name`` and its NUL in VFS's name buffer (``second``: the other one,
    for a request with two names), granted to ``fs_e`` for one request."""
    addr = vfs.path_buf2 if second else vfs.path_buf
    vfs.sys.mem_write(addr, name + b"\0")
    with grant_own(vfs.sys, fs_e, addr, len(name) + 1, CPF_READ) as grant:
        yield grant
