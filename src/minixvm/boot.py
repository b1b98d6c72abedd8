"""The boot image and the System: the Python API to a running minixvm.

``System.boot()`` builds a machine, loads the boot image of the service
table (PM, VM, VFS, RS, DS, the memory driver, the console, init), and runs
it until every server waits for work: by then RS has started the disk
driver and MFS, and VFS has mounted the root file system, from the disk
image given or from a small image made in memory that holds the built-in
programs in /bin. Programs are started through init, services through RS;
``run`` drives the system until the program has exited.
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
from minixvm.errors import EEXIST, ESRCH, KernelPanic, MinixError, SystemHalted
from minixvm.include.arch import VM_STACKTOP
from minixvm.include.com import _ENDPOINT_P, ANY, HARDWARE, INIT_PROC_NR, RS_PROC_NR
from minixvm.include.pm import PATH_MAX
from minixvm.include.signal import SIGKILL, returncode
from minixvm.include.vfs import O_CREAT, O_TRUNC, O_WRONLY
from minixvm.kernel.kernel import BootProc, Kernel
from minixvm.kernel.proc import RTS_RECEIVING, SERVER_Q, USER_Q
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
from minixvm.servers.rs.main import RS, RsControl
from minixvm.servers.rs.service import EXITED, UP, Service, ServiceImage
from minixvm.servers.rs.table import BOOT_SERVICES, DISK, ServiceDescription
from minixvm.servers.rs.table import MFS as MFS_SERVICE
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

@dataclass
class Spawned:
    """A program started through init, or as a service through RS."""

    name: str
    request: SpawnRequest | None
    status: int | None = None
    error: BaseException | None = None
    service: Service | None = None
    _pid: int = 0

    @property
    def pid(self) -> int:
        if self.request is not None:
            return self.request.pid
        assert self.service is not None
        self._pid = self.service.pid or self._pid  # a dead service's record forgets it
        return self._pid

    @property
    def start_error(self) -> int:
        """Why it could not be started (-errno), or 0."""
        if self.request is not None:
            return self.request.error
        assert self.service is not None
        return self.service.start_error if self.service.state == EXITED else 0

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
    restarts: dict[str, int] = field(default_factory=dict)  # per service RS started

    @property
    def frames_used(self) -> int:
        return self.frames_total - self.frames_free


@dataclass(frozen=True)
class ServiceInfo:
    """One line of ``minixvm services``."""

    label: str
    endpoint: int | None
    pid: int | None
    state: str
    restarts: int
    uptime: int  # ticks since this instance started
    boot: bool  # a boot process (the kernel started it; RS does not restart it)


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
        record: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.ram = RAM(ram)
        self.console = Console(echo)
        # ``record`` sees every trace event as a dict (a recorded run).
        self.kernel = Kernel(self.ram, self.console.write,
                             Trace(trace or record is not None, trace_sink, record, self._pid))
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
        self._rs_controls: deque[RsControl] = deque()
        self.rs: RS | None = None
        self.rs_log: list[str] = []  # RS's log lines (deaths, restarts, give-ups)
        self._pending: list[Spawned] = []
        self._errors: dict[int, BaseException] = {}
        self.vm: VM | None = None
        self.pm: PM | None = None
        self.kernel.boot(self._boot_image())
        self.kernel.idle_waits = self._time_passes_when_idle
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

        def rs(sys: SysLib) -> RS:
            boot = [Service(d, None, endpoint=d.boot_slot or 0, state=UP)
                    for d in BOOT_SERVICES]
            start = [self._service(DISK, "disk", server(disk)),
                     self._service(MFS_SERVICE, "mfs", server(mfs))]
            self.rs = RS(sys, boot, start, self._rs_controls, self.rs_log.append)
            return self.rs

        entries: dict[str, Entry] = {
            "pm": server(pm), "memory": server(MemoryDriver),
            "tty": server(lambda s: TTY(s, self.console.write)), "ds": server(DS),
            "rs": server(rs), "vfs": server(vfs), "vm": server(vm),
            "init": server(lambda s: Init(s, self._requests, self._exited)),
        }
        # init is an ordinary process: below the servers, above programs.
        return [BootProc(d.boot_slot or 0, d.label, entries[d.label],
                         USER_Q - 1 if d.label == "init" else SERVER_Q, d.kernel_calls)
                for d in BOOT_SERVICES]

    def _service(self, desc: ServiceDescription, name: str, entry: Entry) -> Service:
        """A service record for RS, of the Python program image ``name``."""
        return Service(desc, ServiceImage(name, text=self.kernel.load_text(entry)))

    # -- programs ---------------------------------------------------------------------

    def spawn(self, program: Program, name: str | None = None, service: bool = False) -> Spawned:
        """Have init start ``program`` (a callable taking a Process). It runs
        when the system next runs (``run``, ``wait``, ``run_until_idle``).
        A service is started by RS instead, with a service's privileges
        (grants, safecopy, safemap), once: it is not restarted."""
        entry = program_entry(program, self._error)
        name = (name or str(getattr(program, "__name__", "program")))[:15]
        if service:
            label = self._free_label(name)
            svc = self._service(ServiceDescription(label).one_shot(), name, entry)
            handle = Spawned(name, None, service=svc)
            svc.on_exit = self._exited
            self._pending.append(handle)
            self._rs_control(RsControl("up", svc))
            return handle
        image = self.kernel.load_text(entry)
        # Its path ends in its name: PM names a program after its path.
        path = f"/py/{image:#x}/{name.replace('/', '_')}"
        self.modules.modules[path] = image
        return self._start(SpawnRequest(path, [name], [], name))

    def _free_label(self, name: str) -> str:
        """``name``, or if a service has that label, ``name`` and a number (as
        MINIX's service utility makes labels unique)."""
        assert self.rs is not None
        taken = {label for label, s in self.rs.services.items() if s.running}
        taken |= {c.service.label for c in self._rs_controls}
        if name not in taken:
            return name
        return next(f"{name[:11]}.{n}" for n in range(1, 1000) if f"{name[:11]}.{n}" not in taken)

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
        return self._start(SpawnRequest(path, argv, list(env or []), name[:15]))

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

    def _rs_control(self, control: RsControl) -> None:
        """Queue a request for RS and wake it up."""
        self._rs_controls.append(control)
        rs = self.kernel.procs.slot(RS_PROC_NR)
        self.kernel.ipc.mini_notify(self.kernel.procs.slot(HARDWARE), rs.endpoint)

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
        program that could not be started raises MinixError (the error)."""
        self.kernel.sched.run(lambda: handle.done or bool(handle.start_error))
        if not handle.done:
            self._pending.remove(handle)
            raise MinixError(-handle.start_error, f"cannot start {handle.name}")
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

    def run_until(self, done: Callable[[], bool]) -> None:
        """Run until ``done()`` holds; idle time passes while RS waits for
        it (a restart's backoff). SystemHalted if nothing can run before."""
        self.kernel.sched.run(done)

    # -- services (RS) ------------------------------------------------------------------

    def service_up(self, desc: ServiceDescription,
                   image: Callable[[SysLib], object] | bytes | str | os.PathLike[str],
                   ) -> Service:
        """Have RS start a service: a Python server (a callable given its
        SysLib, which calls ``sef_startup`` first if ``desc.sef``) or an
        i386 ELF file (its bytes, or a host path). RS starts it when the
        system next runs; the record follows it across restarts."""
        if self.rs is None:
            raise RuntimeError("RS is not running")
        old = self.rs.services.get(desc.label)
        if old is not None and (old.running or old.image is None) or any(
                c.service.label == desc.label for c in self._rs_controls):
            raise ValueError(f"{desc.label!r}: a service has that label")
        if callable(image):
            main = image
            svc = self._service(desc, desc.label, lambda port: main(SysLib(port)))
        else:
            data = image if isinstance(image, bytes) else Path(image).read_bytes()
            elf_unpack(data, VM_STACKTOP - DEFAULT_STACK_LIMIT)  # ElfError now, not later
            svc = Service(desc, ServiceImage(desc.label, elf=data))
        self._rs_control(RsControl("up", svc))
        return svc

    def service_down(self, label: str) -> None:
        """Have RS stop service ``label`` (it is not restarted)."""
        self._rs_control(RsControl("down", self.service(label)))

    def service_restart(self, label: str) -> None:
        """Have RS restart service ``label`` now, into a new endpoint."""
        self._rs_control(RsControl("restart", self.service(label)))

    def kill_service(self, label: str, sig: int = SIGKILL) -> None:
        """Signal the running instance of service ``label`` (from a service
        started for it: a user may not), as a crash would end it; RS sees it
        die when the system next runs."""
        svc = self.service(label)
        if not svc.running or svc.image is None:
            raise ValueError(f"{label}: not a running service RS started")
        pid = svc.pid

        def killer(p: Process) -> int:
            p.kill(pid, sig)
            return 0

        self.run(killer, name="kill", service=True)

    def service(self, label: str) -> Service:
        """RS's record of service ``label`` (KeyError if RS knows none)."""
        if self.rs is None or label not in self.rs.services:
            raise KeyError(f"no service {label!r}")
        return self.rs.services[label]

    def services(self) -> list[ServiceInfo]:
        """Every service RS knows: label, endpoint, pid, state, restarts, uptime."""
        assert self.rs is not None
        now = self.kernel.clock.ticks
        return [ServiceInfo(s.label, s.endpoint if s.running else None,
                            s.pid or (self._pid(s.endpoint) if s.image is None else None),
                            s.state, s.total_restarts,
                            (now - s.started) if s.running else 0, s.image is None)
                for s in self.rs.services.values()]

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

    def step(self) -> dict[str, Any] | None:
        """Run to the next trace event made since the first call and return
        it (None once nothing can run). The system stops only between two
        processes' turns: the events of a turn come one call at a time after
        it has run. Needs a system booted with ``trace`` or ``record``."""
        pending = self.kernel.trace.pending()
        if not pending:
            self.kernel.sched.run(lambda: bool(pending), until_idle=True)
        return pending.popleft() if pending else None

    def _time_passes_when_idle(self) -> bool:
        """Does anyone wait for time when nothing can run: an alarm of a
        process other than RS (whose alarm always ticks), RS waiting out a
        backoff or an answer, or a service blocked waiting for one process
        (it may be hung: RS's pings will tell)? Otherwise the system has
        halted, and time standing still lets the run say so."""
        if self.rs is None:
            return False
        if any(nr != RS_PROC_NR for nr in self.kernel.clock.alarms) or self.rs.needs_time():
            return True
        return any((p := self.kernel.procs.isokendpt(s.endpoint)) is not None
                   and p.rts_flags & RTS_RECEIVING and p.getfrom_e != ANY
                   for s in self.rs.services.values() if s.running and s.desc.period)

    def endpoint_of(self, label: str) -> int:
        """The endpoint of the running service (or boot process) ``label``."""
        assert self.rs is not None
        svc = self.rs.services.get(label)
        if svc is None or not svc.running:
            raise MinixError(ESRCH, f"no service {label!r} is running")
        return svc.endpoint

    def _pid(self, endpoint: int) -> int | None:
        """The pid PM gave the process ``endpoint`` (None for tasks and before PM runs)."""
        mp = self.pm.mproc.get(_ENDPOINT_P(endpoint)) if self.pm is not None else None
        return mp.pid if mp is not None and mp.endpoint == endpoint else None

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
            restarts={label: svc.total_restarts for label, svc in self.rs.services.items()
                      if svc.image is not None} if self.rs else {},
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
