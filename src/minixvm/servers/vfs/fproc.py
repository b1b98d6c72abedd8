"""Per-process state (MINIX vfs/fproc.h): the descriptor table, the working
and root directories, the credentials.

VFS learns of a process from PM (VFS_PM_FORK copies the parent's table,
VFS_PM_EXIT closes it) or, for a process PM never told it of (the boot
processes, init), on first contact: it then starts with the console open
on 0, 1 and 2, one open file shared by the three descriptors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from minixvm.errors import EBADF, EMFILE, RequestError
from minixvm.include.vfs import OPEN_MAX
from minixvm.servers.vfs.filedes import Filp
from minixvm.servers.vfs.vnode import Vnode, VnodeTable


@dataclass(eq=False)
class FProc:
    """What VFS knows of one process."""

    endpoint: int
    fds: list[Filp | None] = field(default_factory=lambda: [None] * OPEN_MAX)
    cloexec: set[int] = field(default_factory=set)  # descriptors with FD_CLOEXEC
    cwd: Vnode | None = None  # None: no root file system
    root: Vnode | None = None
    uid: int = 0  # every process is the super-user (no setuid here)
    gid: int = 0

    def filp(self, fd: int) -> Filp:
        """The open file of descriptor ``fd``; EBADF if there is none."""
        f = self.fds[fd] if 0 <= fd < OPEN_MAX else None
        if f is None:
            raise RequestError(EBADF)
        return f

    def free_fd(self, start: int = 0) -> int:
        """The lowest free descriptor from ``start``; EMFILE if none is."""
        for fd in range(max(start, 0), OPEN_MAX):
            if self.fds[fd] is None:
                return fd
        raise RequestError(EMFILE)

    def install(self, fd: int, f: Filp) -> int:
        """Point ``fd`` (free) at ``f``, with FD_CLOEXEC clear."""
        self.fds[fd] = f
        self.cloexec.discard(fd)
        return fd


def close_fd(vnodes: VnodeTable, fp: FProc, fd: int) -> None:
    """Close descriptor ``fd`` (open); the last one of a filp closes it."""
    f = fp.filp(fd)
    fp.fds[fd] = None
    fp.cloexec.discard(fd)
    f.count -= 1
    if f.count == 0:
        vnodes.put(f.vnode)


def fork_fproc(parent: FProc, child_e: int) -> FProc:
    """The child's state: the same open files (shared), directories and ids."""
    child = FProc(child_e, list(parent.fds), set(parent.cloexec), parent.cwd, parent.root,
                  parent.uid, parent.gid)
    for f in child.fds:
        if f is not None:
            f.count += 1
    for vp in (child.cwd, child.root):
        if vp is not None:
            VnodeTable.dup(vp)
    return child


def exit_fproc(vnodes: VnodeTable, fp: FProc) -> None:
    """Close everything the process held."""
    for fd, f in enumerate(fp.fds):
        if f is not None:
            close_fd(vnodes, fp, fd)
    for vp in (fp.cwd, fp.root):
        if vp is not None:
            vnodes.put(vp)
    fp.cwd = fp.root = None
