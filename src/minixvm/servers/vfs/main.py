"""A minimal VFS: the console on descriptors 0, 1 and 2.

Until a file system exists, every process has the console open on 0, 1
and 2, and VFS serves READ, WRITE and CLOSE on them through the same
messages a full VFS takes (other descriptors are EBADF). Data never
passes through VFS: it makes a magic grant of the caller's buffer to the
console driver (CPF_MAGIC, which only VFS may make), so the driver's
safecopy reaches the caller's memory directly, faulting in unmapped and
copy-on-write pages as a kernel copy does. A bad buffer is the driver's
EFAULT.
"""

from __future__ import annotations

from minixvm.errors import EBADF, EINVAL, ENOSYS, OK
from minixvm.include.com import TTY_PROC_NR
from minixvm.include.dev import CONSOLE_MINOR, DEV_WRITE
from minixvm.include.grant import CPF_READ
from minixvm.include.ipc import Message
from minixvm.include.vfs import STDERR_FILENO, WRITE, VfsClose, VfsReadWrite
from minixvm.lib.sys import SysLib

# One write goes to the driver in pieces of at most this (as a tty's buffer).
CHUNK = 1 << 20


class VFS:
    """The console's file descriptors."""

    def __init__(self, sys: SysLib) -> None:
        self.sys = sys

    def main(self) -> None:
        while True:
            r, m = self.sys.receive()
            if r != OK or m is None or m.m_source < 0:
                continue  # kernel notifications: nothing to answer
            m.m_type = self.dispatch(m)
            self.sys.sendnb(m.m_source, m)

    def dispatch(self, m: Message) -> int:
        """Run request ``m``: its result."""
        if isinstance(m, VfsReadWrite):
            return self.transfer(m, m.m_type == WRITE)
        if isinstance(m, VfsClose):
            return self.close(m)
        return -ENOSYS

    @staticmethod
    def is_open(fd: int) -> bool:
        return 0 <= fd <= STDERR_FILENO

    def transfer(self, m: VfsReadWrite, write: bool) -> int:
        """READ or WRITE on the console: bytes moved, or -errno. Reading the
        console gives end of file (it has no keyboard)."""
        if not self.is_open(m.fd):
            return -EBADF
        if m.nbytes < 0:
            return -EINVAL
        if not write or m.nbytes == 0:
            return 0
        done = 0
        while done < m.nbytes:
            n = min(CHUNK, m.nbytes - done)
            r = self.console_write(m.m_source, m.buffer + done, n)
            if r < 0:
                return r if done == 0 else done
            done += r
        return done

    def console_write(self, endpoint: int, addr: int, n: int) -> int:
        """Have the console copy ``n`` bytes straight from ``endpoint``'s memory."""
        grants = self.sys.grants
        grant = grants.cpf_grant_magic(TTY_PROC_NR, endpoint, addr, n, CPF_READ)
        if grant < 0:
            return grant
        reply = self.sys.taskcall(TTY_PROC_NR, DEV_WRITE, minor=CONSOLE_MINOR, endpt=endpoint,
                                  count=n, grant=grant)
        grants.cpf_revoke(grant)
        return int(reply.m_type)

    def close(self, m: VfsClose) -> int:
        """CLOSE: the console is not really closed (this VFS keeps no table of
        descriptors, so it has nothing to lose when PM does not tell it of
        forks and exits)."""
        return OK if self.is_open(m.fd) else -EBADF
