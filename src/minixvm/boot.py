"""The boot image and the System: the Python API to a running minixvm.

``System.boot()`` builds a machine, loads the boot image (PM, VM, VFS, the
memory driver, the console, DS, the disk driver, MFS, init), and runs it
until every server waits for work: by then VFS has mounted the root file
system, from the disk image given or from a small image made in memory
that holds the built-in programs in /bin. Programs are started through
init; ``run`` drives the system until the program has exited.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minixvm.commands.mkfs import make_image
from minixvm.errors import EEXIST, KernelPanic, MinixError, SystemHalted
from minixvm.include import com
from minixvm.include.arch import VM_STACKTOP
from minixvm.include.com import (
    DISK_PROC_NR,
    DS_PROC_NR,
    HARDWARE,
    INIT_PROC_NR,
    MEM_PROC_NR,
    MFS_PROC_NR,
    PM_PROC_NR,
    TTY_PROC_NR,
    VFS_PROC_NR,
    VM_PROC_NR,
)
from minixvm.include.pm import PATH_MAX
from minixvm.include.signal import returncode
from minixvm.include.vfs import O_CREAT, O_TRUNC, O_WRONLY
from minixvm.kernel.kernel import BootProc, Kernel
from minixvm.kernel.proc import SERVER_Q, USER_Q
from minixvm.kernel.trace import Trace
from minixvm.kernel.trap import Entry
from minixvm.lib.c import Process, Program, program_entry
from minixvm.lib.elf import elf_unpack
from minixvm.lib.exec import DEFAULT_STACK_LIMIT
from minixvm.lib.sys import SysLib
from minixvm.machine.ram import RAM
from minixvm.servers.disk.main import Disk, Media
from minixvm.servers.ds.main import DS
from minixvm.servers.init.main import Init, SpawnRequest
from minixvm.servers.memory.main import MemoryDriver
from minixvm.servers.mfs.cache import MfsStats
from minixvm.servers.mfs.main import MFS, MfsOptions
from minixvm.servers.pm.exec import ModuleTable
from minixvm.servers.pm.main import PM
from minixvm.servers.tty.main import TTY
from minixvm.servers.vfs.main import VFS, VfsOptions, VfsStats
from minixvm.servers.vm import sanity
from minixvm.servers.vm.main import VM, VMOptions, VMStats
from minixvm.servers.vm.regiontree import RegionStore, RegionTree

# The i386 programs built from userland/ (committed beside their sources):
# the default disk holds them in /bin.
USERLAND_BIN = Path(__file__).resolve().parents[2] / "userland" / "bin"
DEFAULT_DISK_SIZE = 8 << 20
# install() writes a file in pieces of this size.
INSTALL_CHUNK = 64 << 10

# Kernel calls every system process may make: who am I, and printf.
_BASE = {com.SYS_GETINFO, com.SYS_DIAGCTL, com.SYS_TIMES}
# PM is the exec caller: SYS_MEMSET is libexec's clearmem.
PM_CALLS = frozenset(_BASE | {com.SYS_EXEC, com.SYS_CLEAR, com.SYS_KILL, com.SYS_GETKSIG,
                              com.SYS_ENDKSIG, com.SYS_VIRCOPY, com.SYS_MEMSET, com.SYS_ABORT})
VM_CALLS = frozenset(_BASE | {com.SYS_FORK, com.SYS_VMCTL, com.SYS_MEMSET, com.SYS_PHYSCOPY,
                              com.SYS_KILL, com.SYS_ABORT})
DRIVER_CALLS = frozenset(_BASE | {com.SYS_SAFECOPYFROM, com.SYS_SAFECOPYTO, com.SYS_SETGRANT,
                                  com.SYS_UMAP})
# VFS hands drivers and file servers magic grants of its callers' buffers,
# and is an exec caller: it copies the frame in (VIRCOPY) and clears
# memory of the process it loads (MEMSET).
VFS_CALLS = frozenset(_BASE | {com.SYS_SETGRANT, com.SYS_SAFECOPYFROM, com.SYS_SAFECOPYTO,
                               com.SYS_VIRCOPY, com.SYS_MEMSET})
# A file server copies through the grants VFS and its driver give it.
FS_CALLS = frozenset(_BASE | {com.SYS_SETGRANT, com.SYS_SAFECOPYFROM, com.SYS_SAFECOPYTO,
                              com.SYS_VSAFECOPY})
DS_CALLS = frozenset(_BASE | {com.SYS_SAFECOPYFROM, com.SYS_SAFECOPYTO, com.SYS_SAFEMAP,
                              com.SYS_SAFEREVMAP, com.SYS_SAFEUNMAP, com.SYS_SETGRANT})
# init starts services and publishes their labels in DS (a key goes by grant).
INIT_CALLS = frozenset(_BASE | {com.SYS_PRIVCTL, com.SYS_SETGRANT})
# What a service started by init may do (MINIX's test services are like this).
SERVICE_CALLS = frozenset(_BASE | {com.SYS_SAFECOPYFROM, com.SYS_SAFECOPYTO, com.SYS_VSAFECOPY,
                                   com.SYS_SETGRANT, com.SYS_SAFEMAP, com.SYS_SAFEREVMAP,
                                   com.SYS_SAFEUNMAP, com.SYS_UMAP})


@dataclass
class Spawned:
    """A program started through init."""

    name: str
    request: SpawnRequest
    status: int | None = None
    error: BaseException | None = None

    @property
    def pid(self) -> int:
        return self.request.pid

    @property
    def done(self) -> bool:
        return self.status is not None

    @property
    def returncode(self) -> int | None:
        """The exit code, or -signal if a signal killed it (as subprocess says)."""
        return None if self.status is None else returncode(self.status)


@dataclass(frozen=True)
class Statistics:
    """A snapshot of the whole system's counters."""

    ticks: int
    switches: int
    processes: int
    messages: int
    notifies: int
    kernel_calls: int
    page_faults: int
    frames_total: int
    frames_free: int
    vm: VMStats
    vfs: VfsStats
    mfs: MfsStats

    @property
    def frames_used(self) -> int:
        return self.frames_total - self.frames_free


@dataclass
class Console:
    """Everything printed on the console."""

    echo: Callable[[str], None] | None = None
    parts: list[str] = field(default_factory=list)

    def write(self, text: str) -> None:
        self.parts.append(text)
        if self.echo:
            self.echo(text)

    @property
    def text(self) -> str:
        return "".join(self.parts)


class System:
    """A booted minixvm: kernel, servers and the programs running on them."""

    def __init__(
        self,
        ram: str | int = "64M",
        trace: bool = False,
        sanity_checks: bool = False,
        cow_safecopy: bool = True,
        cow_fork: bool = True,
        region_store: Callable[[], RegionStore] = RegionTree,
        echo: Callable[[str], None] | None = None,
        trace_sink: Callable[[str], None] | None = None,
        exec_copies: int = 1,
        disk: Media | None = None,
        mfs: MfsOptions | None = None,
    ) -> None:
        self.ram = RAM(ram)
        self.console = Console(echo)
        self.kernel = Kernel(self.ram, self.console.write, Trace(trace, trace_sink))
        self.kernel.cow_safecopy = cow_safecopy
        self.vm_options = VMOptions(sanity_checks, cow_fork, region_store)
        # What PM execs itself, by path: the Python program images loaded
        # into the machine. Every other path is a file, which VFS execs.
        self.modules = ModuleTable()
        self.exec_copies = exec_copies
        # The root disk: a host image file, an image in memory, or (None)
        # a small image made now, holding the built-in programs.
        self.disk = default_disk() if disk is None else disk
        self.mfs_options = mfs or MfsOptions()
        self.vfs: VFS | None = None
        self.mfs: MFS | None = None
        self.disk_driver: Disk | None = None
        self._requests: deque[SpawnRequest] = deque()
        self._pending: list[Spawned] = []
        self._errors: dict[int, BaseException] = {}
        self.vm: VM | None = None
        self.pm: PM | None = None
        self.kernel.boot(self._boot_image())
        self.run_until_idle()

    @classmethod
    def boot(cls, ram: str | int = "64M", trace: bool = False, **options: Any) -> System:
        """Boot a machine with ``ram`` of memory; the running System."""
        return cls(ram=ram, trace=trace, **options)

    def _boot_image(self) -> list[BootProc]:
        def server(make: Callable[[SysLib], Any]) -> Entry:
            return lambda port: make(SysLib(port)).main()

        def pm(sys: SysLib) -> PM:
            self.pm = PM(sys, self.modules)
            return self.pm

        def vm(sys: SysLib) -> VM:
            self.vm = VM(sys, self.ram, self.vm_options)
            return self.vm

        def vfs(sys: SysLib) -> VFS:
            self.vfs = VFS(sys, VfsOptions(root_label="disk", exec_copies=self.exec_copies))
            return self.vfs

        def disk(sys: SysLib) -> Disk:
            self.disk_driver = Disk(sys, self.disk)
            return self.disk_driver

        def mfs(sys: SysLib) -> MFS:
            self.mfs = MFS(sys, self.mfs_options)
            return self.mfs

        return [
            BootProc(PM_PROC_NR, "pm", server(pm), SERVER_Q, PM_CALLS),
            BootProc(MEM_PROC_NR, "memory", server(MemoryDriver), SERVER_Q, DRIVER_CALLS),
            BootProc(TTY_PROC_NR, "tty", server(lambda s: TTY(s, self.console.write)),
                     SERVER_Q, DRIVER_CALLS),
            BootProc(DS_PROC_NR, "ds", server(DS), SERVER_Q, DS_CALLS),
            BootProc(DISK_PROC_NR, "disk", server(disk), SERVER_Q, DRIVER_CALLS),
            BootProc(MFS_PROC_NR, "mfs", server(mfs), SERVER_Q, FS_CALLS),
            BootProc(VFS_PROC_NR, "vfs", server(vfs), SERVER_Q, VFS_CALLS),
            BootProc(VM_PROC_NR, "vm", server(vm), SERVER_Q, VM_CALLS),
            BootProc(INIT_PROC_NR, "init",
                     server(lambda s: Init(s, self._requests, self._exited)), USER_Q - 1,
                     INIT_CALLS),
        ]

    # -- programs ---------------------------------------------------------------------

    def spawn(self, program: Program, name: str | None = None, service: bool = False) -> Spawned:
        """Have init start ``program`` (a callable taking a Process). It runs
        when the system next runs (``run``, ``wait``, ``run_until_idle``).
        A service gets system privileges (grants, safecopy, safemap)."""
        image = self.kernel.load_text(program_entry(program, self._error))
        name = (name or str(getattr(program, "__name__", "program")))[:15]
        # Its path ends in its name: PM names a program after its path.
        path = f"/py/{image:#x}/{name.replace('/', '_')}"
        self.modules.modules[path] = image
        return self._start(SpawnRequest(path, [name], [], name, service,
                                        SERVICE_CALLS if service else frozenset()))

    def install(self, path: str, data: bytes, mode: int = 0o755) -> None:
        """Write the file ``path`` (parent directories made as needed) with
        ``data``, through the file system, by a program started for it."""
        if not path.startswith("/") or len(path.encode()) >= PATH_MAX:
            raise ValueError(f"{path!r}: not an absolute path of at most {PATH_MAX - 1} bytes")

        def installer(p: Process) -> int:
            make_parents(p, path)
            fd = p.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
            for at in range(0, len(data), INSTALL_CHUNK):
                p.write(data[at : at + INSTALL_CHUNK], fd)
            p.close(fd)
            return 0

        self.run(installer, name="install")

    def spawn_exec(self, program: str | os.PathLike[str] | bytes, argv: Sequence[str] | None = None,
                   env: Sequence[str] | None = None, name: str | None = None) -> Spawned:
        """Have init start an i386 ELF program: an absolute path of a file in
        the system, or a host file (a relative path or a PathLike), or a
        file's bytes; the last two are installed as /bin/NAME first, after
        the checks exec makes (ElfError, naming what is wrong). ``argv``
        defaults to [NAME]."""
        path = self._installed(program, name)
        name = name or path.rsplit("/", 1)[-1]
        argv = [name] if argv is None else list(argv)
        return self._start(SpawnRequest(path, argv, list(env or []), name[:15], False,
                                        frozenset()))

    def exec(self, program: str | os.PathLike[str] | bytes, argv: Sequence[str] | None = None,
             env: Sequence[str] | None = None, name: str | None = None) -> int:
        """Run an i386 ELF program (as ``spawn_exec``) until it exits; its
        return code, as ``run``'s."""
        return self.wait(self.spawn_exec(program, argv, env, name))

    def _installed(self, program: str | os.PathLike[str] | bytes, name: str | None) -> str:
        """The path in the system of ``program``, installing it if need be."""
        if isinstance(program, str) and program.startswith("/"):
            return program
        if isinstance(program, bytes | bytearray):
            data, base = bytes(program), "a.out"
        else:
            data, base = Path(program).read_bytes(), Path(program).name
        elf_unpack(data, VM_STACKTOP - DEFAULT_STACK_LIMIT)
        path = f"/bin/{name or base}"
        self.install(path, data)
        return path

    def _start(self, req: SpawnRequest) -> Spawned:
        """Queue ``req`` for init and wake it up."""
        handle = Spawned(req.name, req)
        self._requests.append(req)
        self._pending.append(handle)
        init = self.kernel.procs.slot(INIT_PROC_NR)
        self.kernel.ipc.mini_notify(self.kernel.procs.slot(HARDWARE), init.endpoint)
        return handle

    def wait(self, handle: Spawned) -> int:
        """Run until ``handle``'s program has exited; its return code. A
        program init could not start raises MinixError (fork's error)."""
        self.kernel.sched.run(lambda: handle.done or bool(handle.request.error))
        if not handle.done:
            self._pending.remove(handle)
            raise MinixError(handle.request.error, f"cannot start {handle.name}: fork failed")
        if handle.error is not None:
            raise handle.error
        assert handle.returncode is not None
        return handle.returncode

    def run(self, program: Program, name: str | None = None, service: bool = False) -> int:
        """Start ``program`` and run until it exits. The return code is its exit
        status, or -signal if a signal killed it; an exception the program
        did not catch is raised here."""
        return self.wait(self.spawn(program, name, service))

    def run_until_idle(self) -> None:
        """Run until no process can run (every server waiting for work)."""
        self.kernel.sched.run(lambda: False, until_idle=True)

    def _exited(self, pid: int, status: int) -> None:
        handle = self._by_pid(pid)
        if handle is not None:
            handle.status = status
            handle.error = self._errors.pop(pid, None)

    def _error(self, pid: int, error: BaseException) -> None:
        """A program died of an exception: ``run`` raises it (a forked child's
        exception only shows on the console and in its exit status)."""
        if any(handle.pid == pid for handle in self._pending):
            self._errors[pid] = error

    def _by_pid(self, pid: int) -> Spawned | None:
        for handle in self._pending:
            if handle.pid == pid:
                self._pending.remove(handle)
                return handle
        return None

    # -- looking inside -------------------------------------------------------------------

    def statistics(self) -> Statistics:
        """Counters of the kernel, VM, VFS and MFS, and memory use, right now."""
        k, vm = self.kernel, self.vm
        assert vm is not None
        return Statistics(
            ticks=k.clock.ticks,
            switches=k.sched.switches,
            processes=sum(1 for p in k.procs.live() if p.nr >= 0),
            messages=k.ipc.messages,
            notifies=k.ipc.notifies,
            kernel_calls=sum(k.calls.counts.values()),
            page_faults=k.vmctl.faults,
            frames_total=self.ram.frames,
            frames_free=vm.alloc.free_pages,
            vm=copy.copy(vm.stats),
            vfs=copy.copy(self.vfs.stats) if self.vfs else VfsStats(),
            mfs=copy.copy(self.mfs.stats) if self.mfs else MfsStats(),
        )

    def vm_sanity_check(self) -> dict[str, int]:
        """Run VM's full sanity check now; pages per use of memory."""
        assert self.vm is not None
        return sanity.vm_sanity_check(self.vm)

    # -- shutdown -----------------------------------------------------------------------

    def close(self) -> None:
        """Unmount the file systems (REBOOT: the disk is left clean), stop
        every process and release the machine. A system that can no longer
        run a program (it panicked, or halted) is only stopped."""
        if self.kernel.panicked is None:
            with contextlib.suppress(MinixError, SystemHalted, KernelPanic):
                self.run(lambda p: p.reboot(), name="shutdown")
        self.kernel.close()
        self.ram.close()

    def __enter__(self) -> System:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_disk() -> bytearray:
    """The disk a System boots from when given none: the built-in programs in
    /bin (a fresh copy each time: a System writes to its disk)."""
    return bytearray(_default_image())


@functools.cache
def _default_image() -> bytes:
    files = {f"/bin/{p.name}": p.read_bytes() for p in sorted(USERLAND_BIN.glob("*"))
             if p.is_file() and p.read_bytes()[:4] == b"\x7fELF"}
    return bytes(make_image(DEFAULT_DISK_SIZE, files=files))


def make_parents(p: Process, path: str) -> None:
    """Make the directories above ``path`` that do not exist yet."""
    parts = path.split("/")[1:-1]
    for i in range(1, len(parts) + 1):
        try:
            p.mkdir("/" + "/".join(parts[:i]), 0o755)
        except MinixError as e:
            if e.errno != EEXIST:
                raise
