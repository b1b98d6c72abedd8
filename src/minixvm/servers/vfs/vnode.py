"""Vnodes: VFS's record of an inode some process uses (MINIX vfs/vnode.c).

A vnode is keyed by (file server endpoint, inode number). It counts two
things: ``refs``, the holders inside VFS (an open file, a working or root
directory, a mount, a call in progress), and ``fs_refs``, the references
the file server has handed out for it (one per LOOKUP, CREATE or
READSUPER reply that named it). When the last holder lets go, VFS gives
all of the FS's references back in one REQ_PUTNODE; an unlinked file's
inode is freed by the FS then, so an open file outlives its last name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from minixvm.include.vfs import S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG
from minixvm.include.vfsif import REQ_PUTNODE

if TYPE_CHECKING:
    from minixvm.lib.sys import SysLib
    from minixvm.servers.vfs.mount import Vmnt


@dataclass
class Vnode:
    """An inode in use: what VFS needs of it without asking its FS."""

    fs_e: int  # the file server's endpoint (NONE: VFS's own console node)
    dev: int  # the device number of the file system it lies on
    inode: int
    mode: int
    size: int
    uid: int = 0
    gid: int = 0
    sdev: int = 0  # a special file's device number
    refs: int = 0
    fs_refs: int = 0
    # The file system mounted on this directory, if any.
    mounted: Vmnt | None = None

    @property
    def kind(self) -> int:
        return self.mode & S_IFMT

    def is_dir(self) -> bool:
        return self.kind == S_IFDIR

    def is_reg(self) -> bool:
        return self.kind == S_IFREG

    def is_chr(self) -> bool:
        return self.kind == S_IFCHR

    def is_blk(self) -> bool:
        return self.kind == S_IFBLK

    def is_lnk(self) -> bool:
        return self.kind == S_IFLNK


class VnodeTable:
    """Every vnode in use, by (FS endpoint, inode)."""

    def __init__(self, sys: SysLib) -> None:
        self.sys = sys
        self.nodes: dict[tuple[int, int], Vnode] = {}

    def found(self, fs_e: int, dev: int, inode: int, mode: int, size: int, uid: int = 0,
              gid: int = 0, sdev: int = 0) -> Vnode:
        """The vnode of an inode an FS reply just named (with one FS
        reference), held once more by the caller."""
        vp = self.nodes.get((fs_e, inode))
        if vp is None:
            vp = Vnode(fs_e, dev, inode, mode, size, uid, gid, sdev)
            self.nodes[(fs_e, inode)] = vp
        else:
            vp.mode, vp.size, vp.uid, vp.gid, vp.sdev = mode, size, uid, gid, sdev
        vp.fs_refs += 1
        vp.refs += 1
        return vp

    @staticmethod
    def dup(vp: Vnode) -> Vnode:
        """One more holder of ``vp`` (no new FS reference)."""
        vp.refs += 1
        return vp

    def put(self, vp: Vnode) -> None:
        """A holder lets go; the last one returns the FS's references."""
        if vp.refs <= 0:
            self.sys.panic("put_vnode: inode %d of FS %d has no holders", vp.inode, vp.fs_e)
        vp.refs -= 1
        if vp.refs:
            return
        self.nodes.pop((vp.fs_e, vp.inode), None)
        if vp.fs_refs:
            self.sys.taskcall(vp.fs_e, REQ_PUTNODE, inode=vp.inode, count=vp.fs_refs)
            vp.fs_refs = 0
