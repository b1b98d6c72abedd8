"""RS, the reincarnation server: the starter and keeper of system services.

At boot RS gives every boot process its VM calls from the service table,
then starts the services the System hands it (the root disk's driver and
the root file server first) through libexec. Every RS_DELTA_T it restarts
the services whose backoff is over and pings the others (in simulated
time: the kernel's clock, so a run is the same every time). PM tells RS
when one of its services ends; RS logs the death and restarts it, or not,
as the service's description says.

The System asks RS for more (start, stop or restart a service) through a
queue it fills and an interrupt (a notification from HARDWARE), as it
asks init for programs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from minixvm.errors import OK
from minixvm.include.com import CLOCK, HARDWARE, PM_PROC_NR
from minixvm.include.pm import PM_WAITPID
from minixvm.include.signal import WNOHANG
from minixvm.lib.sys import Scratch, SysLib
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.rs import manager, request
from minixvm.servers.rs.service import BACKOFF, EXITED, STARTING, STOPPING, UP, Service
from minixvm.servers.rs.table import RS_DELTA_T


@dataclass
class RsControl:
    """A request of the System's: ``what`` is "up", "down" or "restart"."""

    what: str
    service: Service


class RS:
    """The reincarnation server."""

    def __init__(self, sys: SysLib, boot: list[Service], start: list[Service],
                 controls: deque[RsControl], log: Callable[[str], None]) -> None:
        self.sys = sys
        self.services: dict[str, Service] = {s.label: s for s in boot}
        self.start = start
        self.controls = controls
        self.log_line = log
        self.delta = RS_DELTA_T
        self.info_buf = 0
        self._scratch = Scratch(sys)

    def main(self) -> None:
        self.init()
        while True:
            r, m = self.sys.receive()
            if r != OK or m is None:
                continue
            if self.sys.notified:
                self.notification(m.m_source)
                continue
            reply = request.handle(self, m)
            if reply is not None:
                self.sys.sendnb(m.m_source, reply)

    def init(self) -> None:
        """Boot processes' VM calls, the boot-time services, the first alarm."""
        self.info_buf = self.must_map(PAGE_SIZE)
        for svc in self.services.values():
            if svc.endpoint != self.vm_endpoint():
                manager.set_vm_priv(self, svc)
        for svc in self.start:
            self.up(svc)
        self.sys.sys_setalarm(self.delta)

    def notification(self, source: int) -> None:
        """The clock, PM (a child ended), the System (requests) or a ping answer."""
        if source == CLOCK:
            manager.do_period(self)
            self.sys.sys_setalarm(self.delta)
        elif source == PM_PROC_NR:
            self.reap()
        elif source == HARDWARE:
            while self.controls:
                self.control(self.controls.popleft())
        elif (svc := self.by_endpoint(source)) is not None:
            svc.alive_tm = self.now()

    def control(self, c: RsControl) -> None:
        if c.what == "up":
            self.up(c.service)
        elif c.what == "down":
            manager.stop_service(self, c.service)
        else:
            manager.restart_service(self, c.service)

    def up(self, svc: Service) -> None:
        """Take a new service into the table and start it."""
        self.services[svc.label] = svc
        r = manager.start_service(self, svc)
        if r != OK:
            svc.start_error = r
            svc.state = BACKOFF if svc.desc.restart else EXITED
            svc.backoff = 1

    def reap(self) -> None:
        """Collect every child that ended (PM notified RS, their parent)."""
        while True:
            reply = self.sys.taskcall(PM_PROC_NR, PM_WAITPID, pid=-1, options=WNOHANG)
            if reply.m_type <= 0:
                return
            pid, status = int(reply.m_type), int(reply.status)
            svc = next((s for s in self.services.values() if s.pid == pid), None)
            if svc is None:
                continue
            if svc.on_exit is not None:
                svc.on_exit(pid, status)
            manager.service_died(self, svc, status)

    # -- helpers -------------------------------------------------------------------

    def needs_time(self) -> bool:
        """Is RS waiting for time to pass (a backoff, an init answer, a ping
        answer, a stop)? Then idle time may jump to RS's next alarm."""
        return any(s.state in (BACKOFF, STARTING, STOPPING)
                   or s.state == UP and s.desc.period and s.alive_tm < s.check_tm
                   for s in self.services.values())

    def by_endpoint(self, endpoint: int) -> Service | None:
        return next((s for s in self.services.values()
                     if s.endpoint == endpoint and s.image is not None), None)

    def is_system(self, endpoint: int) -> bool:
        """Is ``endpoint`` a boot process or a service RS runs?"""
        return any(s.endpoint == endpoint and s.running for s in self.services.values())

    def vm_endpoint(self) -> int:
        return self.services["vm"].endpoint

    def now(self) -> int:
        return self.sys.sys_times()[2]

    def log(self, text: str) -> None:
        """A line of RS's log: on the console, and kept by the System."""
        line = f"rs: {text}"
        self.sys.printf("%s\n", line)
        self.log_line(line)

    def must_map(self, n: int) -> int:
        addr = self.sys.minix_mmap(n)
        if addr < 0:
            self.sys.panic("no memory for RS's buffers: %d", addr)
        return addr

    def scratch(self, n: int) -> int:
        """RS's own buffer of at least ``n`` bytes (an image being loaded, a
        label): its address, or -ENOMEM."""
        return self._scratch.get(n)
