"""MFS, the MINIX v3 file system server (MINIX servers/mfs).

MFS serves one mounted device for VFS: it answers VFS's REQ_* requests
(include/vfsif.py), and only VFS's (anyone else: EPERM). Names, paths and
struct stat come in and go out by the grants VFS makes, file data by the
magic grant of the user's buffer, copied straight between that buffer
and MFS's block cache. Every request gets exactly one reply: OK or a
result, or an error (ENOSYS for a request MFS does not know; EINVAL for
any but REQ_READSUPER while nothing is mounted; EROFS for a change to a
read-only mount; EIO for a file system found corrupt, whose blocks MFS
never reads or writes outside the device).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from minixvm.errors import EINVAL, ENOSYS, EPERM, EROFS, OK, RequestError
from minixvm.include import vfsif
from minixvm.include.com import VFS_PROC_NR
from minixvm.include.ipc import Message
from minixvm.include.mfs import MAX_BLOCK_SIZE, Superblock
from minixvm.lib.bdev import BdevDriver
from minixvm.lib.sys import SysLib
from minixvm.servers.mfs import link, misc, mount, path, protect, read, stadir
from minixvm.servers.mfs.cache import Cache, MfsStats
from minixvm.servers.mfs.const import SCRATCH_SIZE
from minixvm.servers.mfs.inode import Inode, do_putnode
from minixvm.servers.mfs.open import do_create, do_mkdir, do_mknod, do_slink
from minixvm.servers.mfs.protect import Credentials

# A request's handler: the result, or the whole reply when it has fields.
Handler = Callable[["MFS", Any], "int | Message"]

CALLS: dict[int, Handler] = {
    vfsif.REQ_PUTNODE: do_putnode,
    vfsif.REQ_SLINK: do_slink,
    vfsif.REQ_FTRUNC: link.do_ftrunc,
    vfsif.REQ_CHMOD: protect.do_chmod,
    vfsif.REQ_STAT: stadir.do_stat,
    vfsif.REQ_UNLINK: link.do_unlink,
    vfsif.REQ_RMDIR: link.do_unlink,
    vfsif.REQ_UNMOUNT: mount.do_unmount,
    vfsif.REQ_SYNC: misc.do_sync,
    vfsif.REQ_FLUSH: misc.do_flush,
    vfsif.REQ_READ: read.do_read_write,
    vfsif.REQ_WRITE: read.do_read_write,
    vfsif.REQ_MKNOD: do_mknod,
    vfsif.REQ_MKDIR: do_mkdir,
    vfsif.REQ_CREATE: do_create,
    vfsif.REQ_LINK: link.do_link,
    vfsif.REQ_RENAME: link.do_rename,
    vfsif.REQ_LOOKUP: path.do_lookup,
    vfsif.REQ_MOUNTPOINT: mount.do_mountpoint,
    vfsif.REQ_READSUPER: mount.do_readsuper,
    vfsif.REQ_RDLINK: stadir.do_rdlink,
    vfsif.REQ_GETDENTS: read.do_getdents,
}

# The requests that change the file system: EROFS on a read-only mount.
CHANGES = frozenset({
    vfsif.REQ_SLINK, vfsif.REQ_FTRUNC, vfsif.REQ_CHMOD, vfsif.REQ_UNLINK, vfsif.REQ_RMDIR,
    vfsif.REQ_WRITE, vfsif.REQ_MKNOD, vfsif.REQ_MKDIR, vfsif.REQ_CREATE, vfsif.REQ_LINK,
    vfsif.REQ_RENAME,
})


@dataclass(frozen=True)
class MfsOptions:
    """How MFS caches blocks."""

    cache_blocks: int | None = None  # MFS's own buffers (None: MINIX's heuristic)
    vm_cache: bool = True  # yield evicted blocks to VM (f78d8e74f)


@dataclass
class Volume:
    """The mounted file system."""

    driver: BdevDriver  # the block driver, followed across its restarts
    dev: int
    sb: Superblock
    super_raw: bytes  # the superblock's 1024 bytes as read (the rest is kept)
    readonly: bool
    is_root: bool
    cache: Cache
    isearch: int = 0  # inode bits below this one are in use
    zsearch: int = 0  # zone bits below this one are in use

    @property
    def block_size(self) -> int:
        return self.sb.block_size

    @property
    def nindirs(self) -> int:
        """Zone numbers in an indirect block."""
        return self.sb.block_size // 4


class MFS:
    """The file system server."""

    def __init__(self, sys: SysLib, options: MfsOptions) -> None:
        self.sys = sys
        self.options = options
        self.stats = MfsStats()
        self.mounted: Volume | None = None
        self.inodes: dict[int, Inode] = {}
        self.caller = Credentials()
        self.scratch = 0
        self.zeros = 0  # a block of zeros MFS never writes (holes read from it)

    @property
    def vol(self) -> Volume:
        """The mounted file system (EINVAL if there is none)."""
        if self.mounted is None:
            raise RequestError(EINVAL)
        return self.mounted

    @property
    def cache(self) -> Cache:
        return self.vol.cache

    def main(self) -> None:
        self.sys.sef_startup()
        self.scratch = self.sys.minix_mmap(SCRATCH_SIZE)
        self.zeros = self.sys.minix_mmap(MAX_BLOCK_SIZE)
        if self.scratch < 0 or self.zeros < 0:
            self.sys.panic("cannot map its buffers")
        while True:
            r, m = self.sys.receive()
            if r != OK or m is None or self.sys.notified:
                continue
            self.sys.sendnb(m.m_source, self.reply(m))

    def reply(self, m: Message) -> Message:
        """Serve request ``m``: its reply."""
        try:
            result = self.dispatch(m)
        except RequestError as e:
            result = -e.errno
        if isinstance(result, Message):
            return result
        out = Message()
        out.m_type = result
        return out

    def dispatch(self, m: Message) -> int | Message:
        """The handler of ``m``'s type, after the checks every request gets."""
        if m.m_source != VFS_PROC_NR:
            raise RequestError(EPERM)
        handler = CALLS.get(m.m_type)
        if handler is None:
            raise RequestError(ENOSYS)
        if m.m_type in CHANGES and self.vol.readonly:
            raise RequestError(EROFS)
        return handler(self, m)
