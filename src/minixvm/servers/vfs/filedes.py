"""Open files (MINIX vfs/filedes.c): the filp a descriptor points to.

A filp is one open: its vnode, its position and its open flags. dup,
fcntl(F_DUPFD) and fork make more descriptors pointing to the same filp,
so they share the position (a parent and child writing one file append
to each other); ``count`` is how many descriptors do.
"""

from __future__ import annotations

from dataclasses import dataclass

from minixvm.include.vfs import O_ACCMODE, O_RDONLY, O_RDWR, O_WRONLY, R_BIT, W_BIT
from minixvm.servers.vfs.vnode import Vnode

# The access an open mode gives (MINIX's mode_map); O_ACCMODE itself gives none.
MODE_MAP = {O_RDONLY: R_BIT, O_WRONLY: W_BIT, O_RDWR: R_BIT | W_BIT, O_ACCMODE: 0}


@dataclass(eq=False)
class Filp:
    """One open file."""

    vnode: Vnode
    flags: int  # the open flags that last: the access mode, O_APPEND, O_NONBLOCK
    pos: int = 0
    count: int = 1

    @property
    def mode(self) -> int:
        """R_BIT and W_BIT, as the open mode allows."""
        return MODE_MAP[self.flags & O_ACCMODE]

    def readable(self) -> bool:
        return bool(self.mode & R_BIT)

    def writable(self) -> bool:
        return bool(self.mode & W_BIT)

