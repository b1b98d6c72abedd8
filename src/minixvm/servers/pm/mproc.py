"""PM's process table (MINIX struct mproc)."""

from __future__ import annotations

from dataclasses import dataclass

IN_USE = 0x01
WAITING = 0x02
ZOMBIE = 0x04
EXITING = 0x08
PARTIAL_EXEC = 0x10  # VFS has loaded part of a new image: a failure now kills
SRV_NEW = 0x20  # a child of RS that has not been started yet (SRV_FORK)


@dataclass(eq=False)
class MProc:
    """What PM knows of one process."""

    slot: int
    endpoint: int
    pid: int
    parent: int  # the parent's slot
    name: str
    flags: int = IN_USE
    # The status a waiting parent gets (POSIX wait status).
    status: int = 0
    # A pending waitpid: which pid (-1: any) and with what options.
    wait_pid: int = 0
    wait_options: int = 0
    # Is it a system process (its parent learns of a child's exit by notify)?
    system: bool = False
    # The end of its heap, set by exec and moved by brk (0: not known: a boot
    # process, whose heap is its own business).
    brk: int = 0
    # The request to VFS about it whose answer PM waits for (VFS_PM_EXEC or
    # VFS_PM_FORK; 0: none; MINIX's VFS_CALL), and the signals that came
    # meanwhile, acted on once VFS has answered.
    vfs_call: int = 0
    sig_delayed: int = 0
