"""VFS: the virtual file system server (MINIX servers/vfs).

VFS owns every process's descriptors, working and root directories, and
the mounted file systems; file servers (MFS) own the files. A user's call
is one message; VFS answers each one, with a result or an error (ENOSYS
for a call it does not know). PM's requests about processes (fork, exit,
exec) are answered by asynsend, since PM must never wait for VFS; the
one request on which VFS waits for PM is PM_NEWEXEC.

Data never passes through VFS: a user's buffer goes to the FS or the
driver by magic grant (CPF_MAGIC, which only VFS may make), so their
safecopy reaches the caller's memory directly, faulting in unmapped and
copy-on-write pages as a kernel copy does. Every process starts with the
console on descriptors 0, 1 and 2; without a root file system (it failed
to mount) the console still works and every call on a path is ENOENT.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from minixvm.errors import ENOMEM, ENOSYS, EPERM, OK, RequestError
from minixvm.include import vfs as calls
from minixvm.include.com import DS_PROC_NR, NONE, PM_PROC_NR
from minixvm.include.ds import DSF_INITIAL, DSF_TYPE_LABEL
from minixvm.include.ipc import Message
from minixvm.include.vfs import (
    O_RDWR,
    S_IFCHR,
    VFS_PM_EXEC,
    VFS_PM_EXIT,
    VFS_PM_EXIT_REPLY,
    VFS_PM_FORK,
    VFS_PM_FORK_REPLY,
    VFS_PM_REBOOT,
    VFS_PM_REBOOT_REPLY,
    VfsPmExit,
    VfsPmFork,
    VfsPmReboot,
)
from minixvm.lib.ds import ds_check_all, ds_retrieve_label_num, ds_subscribe
from minixvm.lib.sys import Scratch, SysLib
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vfs import link, misc, protect, read, stadir
from minixvm.servers.vfs.dmap import CONSOLE_DEV
from minixvm.servers.vfs.exec import pm_exec
from minixvm.servers.vfs.filedes import Filp
from minixvm.servers.vfs.fproc import FProc, exit_fproc, fork_fproc
from minixvm.servers.vfs.mount import (
    ROOT_FS_LABEL,
    Vmnt,
    do_mount,
    do_umount,
    mount_root,
    unmount_all,
)
from minixvm.servers.vfs.open import do_close, do_creat, do_mkdir, do_mknod, do_open
from minixvm.servers.vfs.path import lookup
from minixvm.servers.vfs.vnode import Vnode, VnodeTable

# A call's handler: the result (or the whole reply, when it has fields).
Handler = Callable[["VFS", FProc, Message], "int | Message"]

CALLS: dict[int, Handler] = {
    calls.READ: read.do_read_write,
    calls.WRITE: read.do_read_write,
    calls.OPEN: do_open,
    calls.CLOSE: do_close,
    calls.CREAT: do_creat,
    calls.LINK: link.do_link,
    calls.UNLINK: link.do_unlink,
    calls.CHDIR: stadir.do_chdir,
    calls.MKNOD: do_mknod,
    calls.CHMOD: protect.do_chmod,
    calls.PREV_STAT: stadir.do_stat,
    calls.LSEEK: read.do_lseek,
    calls.MOUNT: do_mount,
    calls.UMOUNT: do_umount,
    calls.PREV_FSTAT: stadir.do_fstat,
    calls.SYNC: misc.do_sync,
    calls.RENAME: link.do_rename,
    calls.MKDIR: do_mkdir,
    calls.RMDIR: link.do_unlink,
    calls.DUP: misc.do_dup,
    calls.SYMLINK: link.do_symlink,
    calls.RDLNK: link.do_rdlink,
    calls.PREV_LSTAT: stadir.do_stat,
    calls.STAT: stadir.do_stat,
    calls.FSTAT: stadir.do_fstat,
    calls.LSTAT: stadir.do_stat,
    calls.FCNTL: misc.do_fcntl,
    calls.STAT_O: stadir.do_stat,
    calls.FSTAT_O: stadir.do_fstat,
    calls.LSTAT_O: stadir.do_stat,
    calls.GETDENTS: read.do_getdents,
    calls.TRUNCATE: link.do_truncate,
    calls.FTRUNCATE: link.do_ftruncate,
}

PM_REQUESTS = (VFS_PM_EXEC, VFS_PM_FORK, VFS_PM_EXIT, VFS_PM_REBOOT)

# VFS's small buffers, in one page of its memory: two names, a struct
# stat, an exec_info, a driver label.
PATH_BUF, PATH_BUF2, STAT_BUF, INFO_BUF, LABEL_BUF = 0, 0x100, 0x200, 0x280, 0x2C0


@dataclass(frozen=True)
class VfsOptions:
    """How VFS starts. ``root_label``: the DS label of the root file
    system's block driver (None: no root file system). ``exec_copies`` 2:
    exec reads each segment into a VFS buffer and copies it on (the old
    path, for the benchmark)."""

    root_label: str | None = "disk"
    root_readonly: bool = False
    exec_copies: int = 1

    def __post_init__(self) -> None:
        if self.exec_copies not in (1, 2):
            raise ValueError(f"exec_copies is 1 or 2, not {self.exec_copies}")


@dataclass
class VfsStats:
    """VFS's counters."""

    exec_read: int = 0  # bytes of program segments the FS read for exec
    exec_copied: int = 0  # of those, bytes VFS copied on from its buffer (exec_copies 2)


class VFS:
    """The virtual file system server."""

    def __init__(self, sys: SysLib, options: VfsOptions | None = None) -> None:
        self.sys = sys
        self.options = options or VfsOptions()
        self.stats = VfsStats()
        self.vnodes = VnodeTable(sys)
        self.fprocs: dict[int, FProc] = {}
        self.mounts: list[Vmnt] = []
        self.root: Vmnt | None = None
        # The console as VFS opens it when no file system has /dev/console.
        self.console = Vnode(NONE, 0, 0, S_IFCHR | 0o620, 0, sdev=CONSOLE_DEV, refs=1)
        self.buffers = 0
        self._scratch = Scratch(sys)

    def main(self) -> None:
        self.buffers = self.sys.minix_mmap(PAGE_SIZE)
        if self.buffers < 0:
            self.sys.panic("no memory for VFS's buffers: %d", self.buffers)
        if self.options.root_label is not None:
            # RS starts the root file server: VFS mounts it once DS names it.
            r = ds_subscribe(self.sys, ROOT_FS_LABEL, DSF_INITIAL | DSF_TYPE_LABEL)
            if r != OK:
                self.sys.panic("cannot subscribe to the root file server's label: %d", r)
        while True:
            r, m = self.sys.receive()
            if r != OK or m is None:
                continue
            if self.sys.notified:
                if m.m_source == DS_PROC_NR:
                    self.label_changed()
                continue  # notifications are not answered
            if m.m_source == PM_PROC_NR and m.m_type in PM_REQUESTS:
                self.pm_request(m)
            else:
                self.sys.sendnb(m.m_source, self.dispatch(m))

    def label_changed(self) -> None:
        """DS says a label changed: mount the root once its file server is there."""
        ds_check_all(self.sys)
        if self.root is not None or self.options.root_label is None:
            return
        r, fs_e = ds_retrieve_label_num(self.sys, ROOT_FS_LABEL)
        if r != OK:
            return
        self.root = mount_root(self, fs_e, self.options.root_label, self.options.root_readonly)
        if self.root is None:
            return
        # Processes met before the mount (RS, whose services inherit its
        # directories) get the root now.
        for fp in self.fprocs.values():
            if fp.root is None:
                fp.root = VnodeTable.dup(self.root.root)
                fp.cwd = VnodeTable.dup(self.root.root)

    def dispatch(self, m: Message) -> Message:
        """Run a user's call ``m``: the reply."""
        handler = CALLS.get(m.m_type)
        if handler is None:
            return Message(-EPERM if m.m_type in PM_REQUESTS else -ENOSYS)
        try:
            result = handler(self, self.fproc(m.m_source), m)
        except RequestError as e:
            return Message(-e.errno)
        return result if isinstance(result, Message) else Message(result)

    # -- PM's requests -------------------------------------------------------------

    def pm_request(self, m: Message) -> None:
        """VFS_PM_EXEC, VFS_PM_FORK, VFS_PM_EXIT or VFS_PM_REBOOT: do it, then
        answer PM."""
        if m.m_type == VFS_PM_EXEC:
            pm_exec(self, m)
        elif m.m_type == VFS_PM_FORK:
            req = VfsPmFork.view(m.buf)
            self.fprocs[req.child] = fork_fproc(self.fproc(req.endpoint), req.child)
            self.reply_pm(VfsPmFork(VFS_PM_FORK_REPLY, endpoint=req.child))
        elif m.m_type == VFS_PM_REBOOT:
            unmount_all(self)
            self.reply_pm(VfsPmReboot(VFS_PM_REBOOT_REPLY))
        else:
            endpoint = VfsPmExit.view(m.buf).endpoint
            fp = self.fprocs.pop(endpoint, None)
            if fp is not None:
                exit_fproc(self.vnodes, fp)
            self.reply_pm(VfsPmExit(VFS_PM_EXIT_REPLY, endpoint=endpoint))

    def reply_pm(self, m: Message) -> None:
        """Answer PM without waiting for it."""
        r = self.sys.asynsend(PM_PROC_NR, m)
        if r != OK:
            self.sys.panic("cannot answer PM: %d", r)

    # -- processes -----------------------------------------------------------------

    def fproc(self, endpoint: int) -> FProc:
        """``endpoint``'s state; a process met for the first time gets the root
        as its directories and the console on 0, 1 and 2."""
        fp = self.fprocs.get(endpoint)
        if fp is None:
            fp = FProc(endpoint)
            if self.root is not None:
                fp.root = VnodeTable.dup(self.root.root)
                fp.cwd = VnodeTable.dup(self.root.root)
            console = Filp(self.console_vnode(fp), O_RDWR, count=3)
            fp.fds[0:3] = [console] * 3
            self.fprocs[endpoint] = fp
        return fp

    def console_vnode(self, fp: FProc) -> Vnode:
        """/dev/console of the root file system, or VFS's own console node."""
        try:
            vp = lookup(self, fp, b"/dev/console")
        except RequestError:
            return VnodeTable.dup(self.console)
        if vp.is_chr():
            return vp
        self.vnodes.put(vp)
        return VnodeTable.dup(self.console)

    # -- file systems --------------------------------------------------------------

    def vmnt_of(self, fs_e: int) -> Vmnt | None:
        return next((v for v in self.mounts if v.fs_e == fs_e), None)

    def read_only(self, vp: Vnode) -> bool:
        vmnt = self.vmnt_of(vp.fs_e)
        return vmnt is not None and vmnt.readonly

    # -- VFS's own memory ----------------------------------------------------------

    @property
    def path_buf(self) -> int:
        return self.buffers + PATH_BUF

    @property
    def path_buf2(self) -> int:
        return self.buffers + PATH_BUF2

    @property
    def stat_buf(self) -> int:
        return self.buffers + STAT_BUF

    @property
    def info_buf(self) -> int:
        return self.buffers + INFO_BUF

    @property
    def label_buf(self) -> int:
        return self.buffers + LABEL_BUF

    def scratch(self, n: int) -> int:
        """A buffer of at least ``n`` bytes in VFS's memory (a frame, an exec
        header, a segment or a device's sectors on their way); ENOMEM if VM
        has no memory for it."""
        addr = self._scratch.get(n)
        if addr < 0:
            raise RequestError(ENOMEM)
        return addr
