"""Devices (MINIX vfs/device.c). Character devices: DEV_READ and DEV_WRITE
to the driver, with a magic grant of the caller's buffer, so data never
passes through VFS and the driver's safecopy faults in the caller's pages
as a kernel copy does. Block devices: the driver moves whole sectors
(lib/bdev), so VFS goes through a buffer of its own, reading the partial
sectors at the ends of a write first. (MINIX routed block special files
through a file server's cache; here no FS caches a device VFS reads, so
reading a mounted device shows what is on disk.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from minixvm.errors import ENXIO, OK
from minixvm.include.dev import DEV_READ, DEV_WRITE, DevIo
from minixvm.include.grant import CPF_READ, CPF_WRITE
from minixvm.lib.bdev import bdev_read, bdev_write
from minixvm.lib.sys import SysLib
from minixvm.servers.vfs.dmap import dmap_of, driver_endpoint, minor
from minixvm.servers.vfs.request import call, grant_user

if TYPE_CHECKING:
    from minixvm.servers.vfs.main import VFS

SECTOR_SIZE = 512
# A block transfer goes through VFS's buffer this much at a time.
BLOCK_CHUNK = 64 << 10
# One transfer goes to the driver in pieces of at most this (a tty's buffer).
CHUNK = 1 << 20


def char_io(sys: SysLib, dev: int, write: bool, who: int, addr: int, nbytes: int,
            pos: int) -> int:
    """Move ``nbytes`` between ``who``'s memory at ``addr`` and device
    ``dev`` at ``pos``: the bytes moved, or -errno (an error after some
    bytes moved ends the transfer with what was moved)."""
    d = dmap_of(dev)
    if d is None:
        return -ENXIO
    if not write and not d.has_input:
        return 0
    dev_minor = minor(dev) if d.minor is None else d.minor
    driver = driver_endpoint(sys, d)
    if driver < 0:
        return -ENXIO

    def piece(done: int) -> tuple[int, int]:
        n = min(CHUNK, nbytes - done)
        with grant_user(sys, driver, who, addr + done, n, CPF_READ if write else CPF_WRITE) as g:
            return n, call(sys, driver, DevIo(DEV_WRITE if write else DEV_READ,
                                                minor=dev_minor, endpt=who, count=n,
                                                position=pos + done, grant=g)).m_type

    return in_pieces(nbytes, piece)


def block_io(vfs: VFS, dev: int, write: bool, who: int, addr: int, nbytes: int,
             pos: int) -> int:
    """Move ``nbytes`` between ``who``'s memory and block device ``dev`` at
    ``pos``: the bytes moved (fewer at the device's end), or -errno."""
    d = dmap_of(dev)
    driver = -ENXIO if d is None else driver_endpoint(vfs.sys, d)
    if driver < 0:
        return -ENXIO
    buf = vfs.scratch(BLOCK_CHUNK + SECTOR_SIZE)

    def piece(done: int) -> tuple[int, int]:
        here = pos + done
        start = here - here % SECTOR_SIZE
        n = min(nbytes - done, BLOCK_CHUNK - (here - start))
        span = -(-(here + n) // SECTOR_SIZE) * SECTOR_SIZE - start
        return n, block_piece(vfs, driver, minor(dev), write, who, addr + done, here - start,
                              n, start, span, buf)

    return in_pieces(nbytes, piece)


def in_pieces(nbytes: int, piece: Callable[[int], tuple[int, int]]) -> int:
    """Move ``nbytes`` by ``piece(done)`` calls, each (bytes asked, bytes
    moved or -errno): the bytes moved, or -errno if none moved. A short
    piece ends the transfer (the device's end, or its input ran out)."""
    done = 0
    while done < nbytes:
        n, r = piece(done)
        if r < 0:
            return r if done == 0 else done
        done += r
        if r < n:
            break
    return done


def block_piece(vfs: VFS, driver: int, dev_minor: int, write: bool, who: int, addr: int,
                skip: int, n: int, start: int, span: int, buf: int) -> int:
    """One piece of block_io: the sectors [start, start+span) through
    ``buf``, of which the caller's ``n`` bytes begin ``skip`` bytes in."""
    sys = vfs.sys
    if not write or skip or n != span:
        r = bdev_read(sys, driver, dev_minor, start, buf, span)
        if r < 0:
            return r
        n = min(n, max(r - skip, 0))
    if n == 0:
        return 0
    if not write:
        r = sys.sys_vircopy(sys.endpoint, buf + skip, who, addr, n)
        return n if r == OK else r
    r = sys.sys_vircopy(who, addr, sys.endpoint, buf + skip, n)
    if r != OK:
        return r
    r = bdev_write(sys, driver, dev_minor, start, buf, -(-(skip + n) // SECTOR_SIZE) * SECTOR_SIZE)
    return min(n, max(r - skip, 0)) if r >= 0 else r
