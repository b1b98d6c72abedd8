"""SYNC and FLUSH (MINIX servers/mfs/misc.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EBUSY, OK, RequestError
from minixvm.include.vfsif import ReqFlush, ReqNoArgs
from minixvm.servers.mfs.inode import write_inode

if TYPE_CHECKING:
    from minixvm.servers.mfs.main import MFS


def sync(fs: MFS) -> None:
    """Write every changed inode into its block and every dirty block to disk."""
    for ip in list(fs.inodes.values()):
        if ip.dirty:
            write_inode(fs, ip)
    fs.cache.flushall()


def do_sync(fs: MFS, m: ReqNoArgs) -> int:
    """REQ_SYNC."""
    if not fs.vol.readonly:
        sync(fs)
    return OK


def do_flush(fs: MFS, m: ReqFlush) -> int:
    """REQ_FLUSH of a device's blocks: MFS caches only its own device, which
    it cannot let go of while mounted (EBUSY)."""
    if m.dev == fs.vol.dev:
        raise RequestError(EBUSY)
    return OK
