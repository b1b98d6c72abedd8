"""REBOOT (MINIX pm/misc.c do_reboot): the file systems are written back
and unmounted before the machine stops."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EAGAIN, OK
from minixvm.include.ipc import Message
from minixvm.include.pm import PmReboot
from minixvm.include.vfs import VFS_PM_REBOOT, VfsPmReboot
from minixvm.servers.pm.forkexit import tell_vfs, vfs_done
from minixvm.servers.pm.mproc import MProc

if TYPE_CHECKING:
    from minixvm.servers.pm.main import PM

SUSPEND = None


def do_reboot(pm: PM, mp: MProc, m: Message) -> Message | None:
    """PM_REBOOT: VFS unmounts everything; the caller's answer waits for it.
    MINIX lets only the superuser, and here every process is root.
    Stopping the machine is its owner's business (System.close), so PM
    does not call sys_abort as MINIX's does."""
    if tell_vfs(pm, VfsPmReboot(VFS_PM_REBOOT)) != OK:
        return PmReboot(-EAGAIN)
    mp.vfs_call = VFS_PM_REBOOT
    return SUSPEND


def reboot_restart(pm: PM, m: Message) -> None:
    """VFS_PM_REBOOT_REPLY: every process waiting in REBOOT gets its answer."""
    for mp in list(pm.mproc.values()):
        if mp.vfs_call == VFS_PM_REBOOT:
            vfs_done(mp)
            pm.reply(mp, PmReboot(OK))
            pm.restart_sigs(mp)
