"""libbdev: a file server's calls to a block driver (MINIX 3.2 lib/libbdev).

Each call grants the caller's buffers to the driver (direct grants), sends
one BDEV_* request, waits for BDEV_REPLY and revokes the grants. The answer
is the bytes moved (or the device's size, or OK) or a negative errno; an
IPC failure (``-EDEADSRCDST``: the driver is gone) is returned as it is.
Positions are byte offsets on the device; the driver wants them and the
counts in whole 512-byte sectors.

GATHER and SCATTER pass their vector of ``IOVEC_GRANT`` elements by grant
too: it is built in a page of the caller's memory this library maps on
first use (one per process), as MINIX's libbdev keeps it on its stack.
Request ids count up per process, so a run's messages stay the same.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from minixvm.errors import EAGAIN, EDEADSRCDST, EINVAL, EIO, OK
from minixvm.include.bdev import (
    BDEV_CLOSE,
    BDEV_GATHER,
    BDEV_IOCTL,
    BDEV_OPEN,
    BDEV_READ,
    BDEV_REPLY,
    BDEV_SCATTER,
    BDEV_WRITE,
    DIOCGETSIZE,
    IOVEC_GRANT,
    NR_IOREQS,
    BdevIo,
    BdevIoctl,
    BdevOpen,
    BdevReply,
)
from minixvm.include.com import DS_PROC_NR
from minixvm.include.ds import DSF_TYPE_LABEL
from minixvm.include.grant import CPF_READ, CPF_WRITE
from minixvm.include.ipc import Message
from minixvm.lib.ds import ds_check_all, ds_retrieve_label_num, ds_subscribe
from minixvm.lib.sys import SysLib
from minixvm.machine.ram import PAGE_SIZE

SIZE_BYTES = 4
assert NR_IOREQS * IOVEC_GRANT.size + SIZE_BYTES <= PAGE_SIZE


@dataclass
class _State:
    """A process's libbdev state."""

    page: int = 0  # where it builds I/O vectors and receives the size
    last_id: int = 0


_states: weakref.WeakKeyDictionary[SysLib, _State] = weakref.WeakKeyDictionary()


def bdev_open(sys: SysLib, ep: int, minor: int, access: int) -> int:
    """Open ``minor`` of driver ``ep`` with BDEV_R_BIT/BDEV_W_BIT ``access``: OK or -errno."""
    return _call(sys, ep, BdevOpen(BDEV_OPEN, minor=minor, access=access))


def bdev_close(sys: SysLib, ep: int, minor: int) -> int:
    """Close ``minor``: OK or -errno."""
    return _call(sys, ep, BdevOpen(BDEV_CLOSE, minor=minor))


def bdev_read(sys: SysLib, ep: int, minor: int, pos: int, addr: int, n: int) -> int:
    """Read ``n`` bytes at device position ``pos`` into our [addr, addr+n)."""
    return _transfer(sys, ep, minor, pos, addr, n, write=False)


def bdev_write(sys: SysLib, ep: int, minor: int, pos: int, addr: int, n: int) -> int:
    """Write our [addr, addr+n) at device position ``pos``."""
    return _transfer(sys, ep, minor, pos, addr, n, write=True)


def bdev_gather(sys: SysLib, ep: int, minor: int, pos: int,
                vector: Sequence[tuple[int, int]]) -> int:
    """Read from ``pos`` into the buffers ``[(addr, n), ...]`` in turn."""
    return _vector(sys, ep, minor, pos, vector, write=False)


def bdev_scatter(sys: SysLib, ep: int, minor: int, pos: int,
                 vector: Sequence[tuple[int, int]]) -> int:
    """Write the buffers ``[(addr, n), ...]`` in turn from ``pos`` on."""
    return _vector(sys, ep, minor, pos, vector, write=True)


def bdev_size(sys: SysLib, ep: int, minor: int) -> int:
    """The size of ``minor`` in bytes (BDEV_IOCTL DIOCGETSIZE), or -errno."""
    page = _page(sys)
    if page < 0:
        return page
    buf = page + NR_IOREQS * IOVEC_GRANT.size
    grant = sys.grants.cpf_grant_direct(ep, buf, SIZE_BYTES, CPF_WRITE)
    if grant < 0:
        return grant
    r = _call(sys, ep, BdevIoctl(BDEV_IOCTL, minor=minor, request=DIOCGETSIZE, grant=grant))
    sys.grants.cpf_revoke(grant)
    if r != OK:
        return r
    return int.from_bytes(sys.mem_read(buf, SIZE_BYTES), "little")


def _transfer(sys: SysLib, ep: int, minor: int, pos: int, addr: int, n: int,
              write: bool) -> int:
    if pos < 0:
        return -EINVAL
    grant = sys.grants.cpf_grant_direct(ep, addr, n, CPF_READ if write else CPF_WRITE)
    if grant < 0:
        return grant
    r = _call(sys, ep, _io(BDEV_WRITE if write else BDEV_READ, minor, pos, grant, n))
    sys.grants.cpf_revoke(grant)
    return r


def _vector(sys: SysLib, ep: int, minor: int, pos: int, vector: Sequence[tuple[int, int]],
            write: bool) -> int:
    """GATHER/SCATTER: grant every buffer, then the vector itself."""
    if pos < 0 or not 0 < len(vector) <= NR_IOREQS:
        return -EINVAL
    page = _page(sys)
    if page < 0:
        return page
    access = CPF_READ if write else CPF_WRITE
    grants: list[int] = []
    try:
        for addr, n in vector:
            grant = sys.grants.cpf_grant_direct(ep, addr, n, access)
            if grant < 0:
                return grant
            grants.append(grant)
        sys.mem_write(page, b"".join(IOVEC_GRANT.pack(g, n)
                                     for g, (_, n) in zip(grants, vector, strict=True)))
        vgrant = sys.grants.cpf_grant_direct(ep, page, len(vector) * IOVEC_GRANT.size, CPF_READ)
        if vgrant < 0:
            return vgrant
        grants.append(vgrant)
        m_type = BDEV_SCATTER if write else BDEV_GATHER
        return _call(sys, ep, _io(m_type, minor, pos, vgrant, len(vector)))
    finally:
        for grant in grants:
            sys.grants.cpf_revoke(grant)


def _io(m_type: int, minor: int, pos: int, grant: int, count: int) -> BdevIo:
    return BdevIo(m_type, minor=minor, grant=grant, count=count,
                  pos=pos & 0xFFFFFFFF, pos_hi=pos >> 32)


def _call(sys: SysLib, ep: int, m: BdevOpen | BdevIo | BdevIoctl) -> int:
    """Send request ``m`` with a fresh id; the reply's status or -errno."""
    state = _states.setdefault(sys, _State())
    state.last_id = request_id = state.last_id % 0x7FFFFFFF + 1
    m.id = request_id
    r, reply = sys.sendrec(ep, m)
    if r != OK or reply is None:
        return r if r != OK else -EIO
    if reply.m_type != BDEV_REPLY:
        # Not a block driver's answer: a plain error reply, or nonsense.
        return reply.m_type if reply.m_type < 0 else -EIO
    answer = BdevReply.view(reply.buf)
    return answer.status if answer.id == request_id else -EIO


def _page(sys: SysLib) -> int:
    """This process's scratch page (mapped on first use), or -errno."""
    state = _states.setdefault(sys, _State())
    if not state.page:
        page = sys.minix_mmap(PAGE_SIZE)
        if page < 0:
            return page
        state.page = page
    return state.page


# How many times a request is reissued to restarted drivers before it fails
# (MINIX libbdev's DRIVER_TRIES).
DRIVER_TRIES = 5


class BdevDriver:
    """A block driver a file server uses, known by its DS label (MINIX
    libbdev's driver table). A request the driver died on (EDEADSRCDST) is
    reissued to its next instance: the caller waits, answering RS's pings,
    until DS names a new endpoint for the label, reopens what it had open
    there and sends the request again. If the label goes (RS gave up on the
    driver), the request fails with EIO."""

    def __init__(self, sys: SysLib, label: str, endpoint: int) -> None:
        self.sys = sys
        self.label = label
        self.endpoint = endpoint
        self.opened: dict[int, int] = {}  # minor -> access
        self.recoveries = 0
        # DS tells us when the label changes (the driver restarted); without
        # that, a dead driver's requests fail at once.
        self.subscribed = ds_subscribe(sys, re.escape(label), DSF_TYPE_LABEL) == OK

    def open(self, minor: int, access: int) -> int:
        r = self._retry(lambda ep: bdev_open(self.sys, ep, minor, access))
        if r == OK:
            self.opened[minor] = access
        return r

    def close(self, minor: int) -> int:
        self.opened.pop(minor, None)
        return self._retry(lambda ep: bdev_close(self.sys, ep, minor))

    def read(self, minor: int, pos: int, addr: int, n: int) -> int:
        return self._retry(lambda ep: bdev_read(self.sys, ep, minor, pos, addr, n))

    def write(self, minor: int, pos: int, addr: int, n: int) -> int:
        return self._retry(lambda ep: bdev_write(self.sys, ep, minor, pos, addr, n))

    def scatter(self, minor: int, pos: int, vector: Sequence[tuple[int, int]]) -> int:
        return self._retry(lambda ep: bdev_scatter(self.sys, ep, minor, pos, vector))

    def size(self, minor: int) -> int:
        return self._retry(lambda ep: bdev_size(self.sys, ep, minor))

    def _retry(self, request: Callable[[int], int]) -> int:
        """``request(endpoint)``, reissued to each new instance of a dead driver."""
        for _ in range(DRIVER_TRIES):
            r = request(self.endpoint)
            if r != -EDEADSRCDST:
                return r
            if not self.subscribed or not self._recover():
                return -EIO
        return -EIO

    def _recover(self) -> bool:
        """Wait for the driver's next instance and reopen our minors on it;
        False if there will be none."""
        dead = self.endpoint
        while True:
            r, endpoint = ds_retrieve_label_num(self.sys, self.label)
            if r != OK:
                return False
            if endpoint != dead:
                self.endpoint = endpoint
                if all(bdev_open(self.sys, endpoint, minor, access) == OK
                       for minor, access in self.opened.items()):
                    self.recoveries += 1
                    return True
                dead = endpoint  # died again before it could be reopened
            self._wait_for_ds()

    def _wait_for_ds(self) -> None:
        """Block until DS notifies a change; anyone else asking now is told to
        try again (EAGAIN), as this server cannot serve while its driver is away."""
        while True:
            r, m = self.sys.receive()
            if r != OK or m is None:
                continue
            if self.sys.notified:
                if m.m_source == DS_PROC_NR:
                    ds_check_all(self.sys)
                    return
                continue
            self.sys.sendnb(m.m_source, Message(-EAGAIN))
