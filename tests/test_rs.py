"""RS: services started through libexec, watched, and restarted.

The services here are small Python servers built on SEF: each answers
ECHO with its own endpoint, and on request panics, exits or stops
answering, so a test can watch RS notice and bring it back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from remote import Remote

from minixvm import System, cli
from minixvm.boot import USERLAND_BIN
from minixvm.errors import EINVAL, ENOSYS, EPERM, ESRCH, OK
from minixvm.include.com import (
    CLOCK,
    NOTIFY_MESSAGE,
    PM_PROC_NR,
    RS_PROC_NR,
    SYS_DIAGCTL,
    SYS_GETINFO,
    SYS_TIMES,
    SYSTEM_HZ,
)
from minixvm.include.ipc import Message
from minixvm.include.rs import (
    RS_INIT,
    RS_LOOKUP,
    RS_RQ_BASE,
    SEF_INIT_FRESH,
    SEF_INIT_RESTART,
    RsRequest,
)
from minixvm.include.vfs import O_CREAT, O_RDWR, O_TRUNC
from minixvm.lib.c import Process
from minixvm.lib.ds import ds_retrieve_label_num
from minixvm.lib.elf import ElfError
from minixvm.lib.rs import rs_down, rs_lookup, rs_restart
from minixvm.lib.sys import SysLib
from minixvm.servers.rs.service import FAILED, STOPPED, UP, Service
from minixvm.servers.rs.table import MAX_BACKOFF, RS_DELTA_T, ServiceDescription

ECHO, PANIC, EXIT, HANG = 0x3000, 0x3001, 0x3002, 0x3003


class Echo:
    """A test service: what it saw of its starts, and what to do next."""

    def __init__(self, crash_at_start: bool = False) -> None:
        self.inits: list[int] = []
        self.starts: list[int] = []  # uptime of each start
        self.crash_at_start = crash_at_start

    def __call__(self, sys: SysLib) -> None:
        self.inits.append(sys.sef_startup())
        self.starts.append(sys.sys_times()[2])
        if self.crash_at_start:
            sys.panic("cannot start: %s", "no luck")
        while True:
            r, m = sys.receive()
            if r != OK or m is None or sys.notified:
                continue
            if m.m_type == PANIC:
                sys.panic("asked to panic (%d)", 42)
            elif m.m_type == EXIT:
                sys.taskcall(PM_PROC_NR, 1, status=3)
            elif m.m_type == HANG:
                sys.receive(PM_PROC_NR)  # PM never sends: no ping is answered
            sys.sendnb(m.m_source, RsRequest(OK, endpoint=sys.endpoint))


@pytest.fixture
def echo(system: System) -> Iterator[tuple[Echo, Service]]:
    server = Echo()
    svc = system.service_up(ServiceDescription("echo"), server)
    system.run_until(lambda: svc.state == UP)
    yield server, svc


def ask(system: System, label: str, m_type: int = ECHO) -> int:
    """A user program's request to service ``label``: the endpoint it answers with."""
    endpoint = system.endpoint_of(label)

    def body(p: Process) -> int:
        r, reply = p.sys.sendrec(endpoint, Message(m_type))
        assert r == OK and reply is not None
        return RsRequest.view(reply.buf).endpoint if reply.m_type == OK else reply.m_type

    out: list[int] = []
    system.run(lambda p: out.append(body(p)) or 0, name="asker")
    return out[0]


def restarted(system: System, svc: Service, old: int) -> None:
    system.run_until(lambda: svc.state == UP and svc.endpoint != old)


# -- starting ---------------------------------------------------------------------------


def test_boot_services_are_started_by_rs_and_answer(system: System) -> None:
    infos = {i.label: i for i in system.services()}
    for label in ("disk", "mfs"):
        assert infos[label].state == UP and not infos[label].boot
        assert system.pm.by_endpoint(infos[label].endpoint).parent == RS_PROC_NR
    assert infos["pm"].boot and infos["init"].boot
    # Their labels are in DS, and the file system works through them.
    r = Remote.start(system)
    assert r.do(lambda p: ds_retrieve_label_num(p.sys, "disk")) == (OK, infos["disk"].endpoint)
    assert r.do(lambda p: p.stat("/bin/cow").st_size) > 0
    r.exit()


def test_a_service_started_through_rs_answers_and_is_listed(system: System,
                                                            echo: tuple[Echo, Service]) -> None:
    server, svc = echo
    assert server.inits == [SEF_INIT_FRESH]
    assert ask(system, "echo") == svc.endpoint
    info = next(i for i in system.services() if i.label == "echo")
    assert (info.endpoint, info.pid, info.state, info.restarts) == (svc.endpoint, svc.pid, UP, 0)
    # Its privileges are its description's: kernel calls, and VM calls.
    proc = system.kernel.procs.isokendpt(svc.endpoint)
    assert proc is not None and proc.is_system
    assert proc.priv.calls == set(svc.desc.kernel_calls)
    assert system.vm.proc(svc.endpoint).acl == svc.desc.vm_calls


def test_an_elf_image_with_a_bad_header_is_refused_before_rs_sees_it(system: System) -> None:
    with pytest.raises(ElfError):
        system.service_up(ServiceDescription("bad", sef=False), b"\x7fELF" + bytes(60))


# -- restarts ---------------------------------------------------------------------------


def test_a_killed_service_is_restarted_with_a_new_endpoint_and_label(
        system: System, echo: tuple[Echo, Service]) -> None:
    server, svc = echo
    old = svc.endpoint
    system.kill_service("echo")
    restarted(system, svc, old)
    assert server.inits == [SEF_INIT_FRESH, SEF_INIT_RESTART]
    assert ask(system, "echo") == svc.endpoint != old
    r = Remote.start(system)
    assert r.do(lambda p: ds_retrieve_label_num(p.sys, "echo")) == (OK, svc.endpoint)
    r.exit()
    assert svc.crashes[-1].endpoint == old and "signal 9" in system.rs_log[-1]
    assert system.statistics().restarts["echo"] == 1


def test_a_panicking_service_is_reported_and_restarted(system: System,
                                                       echo: tuple[Echo, Service]) -> None:
    _, svc = echo
    old = svc.endpoint
    endpoint = svc.endpoint
    # The asker's sendrec ends when the service dies (EDEADSRCDST).
    system.spawn(lambda p: p.sys.sendrec(endpoint, Message(PANIC)) and 0, name="asker")
    restarted(system, svc, old)
    crash = svc.crashes[-1]
    assert crash.endpoint == old and "asked to panic (42)" in crash.panic
    assert "stacktrace:" in crash.panic
    assert f"echo({old}) died (exit status 1); panic: asked to panic (42)" in system.rs_log[-1]
    assert ask(system, "echo") == svc.endpoint


def test_a_service_that_stops_answering_pings_is_killed_and_restarted(
        system: System, echo: tuple[Echo, Service]) -> None:
    _, svc = echo
    old = svc.endpoint
    hung_at = system.kernel.clock.ticks
    system.spawn(lambda p: p.sys.sendrec(old, Message(HANG)) and 0, name="asker")
    restarted(system, svc, old)
    assert "rs: echo stopped answering; killed" in system.rs_log
    # Two periods without an answer, and up to two more to ping and notice.
    assert 2 * RS_DELTA_T < svc.crashes[-1].tick - hung_at <= 4 * RS_DELTA_T
    assert ask(system, "echo") == svc.endpoint


def test_a_service_that_exits_0_is_not_restarted(system: System) -> None:
    def once(sys: SysLib) -> None:
        sys.sef_startup()
        sys.taskcall(PM_PROC_NR, 1, status=0)

    svc = system.service_up(ServiceDescription("once"), once)
    system.run_until(lambda: svc.state == "exited")
    assert svc.total_restarts == 0 and svc.crashes == []


def test_the_backoff_grows_as_minix_and_a_crashing_service_is_given_up(system: System) -> None:
    server = Echo(crash_at_start=True)
    svc = system.service_up(ServiceDescription("crashy", max_restarts=7), server)
    system.run_until(lambda: svc.state == FAILED)
    assert len(server.starts) == 8 and len(svc.crashes) == 8
    gaps = [start - crash.tick
            for crash, start in zip(svc.crashes[:-1], server.starts[1:], strict=True)]
    # At once, then after 2, 4, 8 and 16 periods, and at most MAX_BACKOFF
    # (MINIX's rule), counted in RS's checks, one a period.
    assert gaps[0] < RS_DELTA_T
    periods = [round(gap / RS_DELTA_T) for gap in gaps[1:]]
    assert periods == [2, 4, 8, 16, MAX_BACKOFF, MAX_BACKOFF]
    assert "crashy crashed 8 times in a row; not restarted" in system.rs_log[-1]
    assert svc.endpoint not in {p.endpoint for p in system.kernel.procs.live()}
    r = Remote.start(system)
    assert r.do(lambda p: ds_retrieve_label_num(p.sys, "crashy")) == (-ESRCH, 0)
    r.exit()


def test_a_service_that_ran_long_enough_starts_its_backoff_again(
        system: System, echo: tuple[Echo, Service]) -> None:
    _, svc = echo
    for _ in range(2):
        old = svc.endpoint
        system.kill_service("echo")
        restarted(system, svc, old)
    assert svc.restarts == 2
    ticks = system.kernel.clock.ticks
    busy = Remote.start(system)  # time passes while something runs
    system.run_until(lambda: system.kernel.clock.ticks > ticks + 31 * SYSTEM_HZ)
    busy.exit()
    old = svc.endpoint
    system.kill_service("echo")
    restarted(system, svc, old)
    assert svc.restarts == 1  # restarted at once, as after a first crash


# -- controls and requests ----------------------------------------------------------------


def test_stop_and_restart_from_the_host(system: System, echo: tuple[Echo, Service]) -> None:
    _, svc = echo
    old = svc.endpoint
    system.service_restart("echo")
    restarted(system, svc, old)
    assert svc.crashes == []  # asked for: not a crash
    system.service_down("echo")
    system.run_until(lambda: svc.state == STOPPED)
    assert svc.pid == 0
    with pytest.raises(Exception):  # noqa: B017 - MinixError: not running
        system.endpoint_of("echo")


def test_rs_requests_lookup_stop_and_restart(system: System, echo: tuple[Echo, Service]) -> None:
    _, svc = echo
    user = Remote.start(system)
    assert user.do(lambda p: rs_lookup(p.sys, "echo")) == (OK, svc.endpoint)
    assert user.do(lambda p: rs_lookup(p.sys, "nosuch"))[0] == -ESRCH
    assert user.do(lambda p: rs_down(p.sys, "echo")) == -EPERM
    user.exit()
    admin = Remote.start(system, "admin", service=True)
    assert admin.do(lambda p: rs_down(p.sys, "pm")) == -EPERM
    old = svc.endpoint
    assert admin.do(lambda p: rs_restart(p.sys, "echo")) == OK
    admin.exit()
    restarted(system, svc, old)


@pytest.mark.parametrize(("m_type", "expected"), [
    (RS_RQ_BASE + 17, -ENOSYS), (NOTIFY_MESSAGE, -ENOSYS), (RS_INIT, -EINVAL),
    (RS_LOOKUP, -EINVAL), (-1, -ENOSYS)])
def test_rs_answers_every_request(system: System, m_type: int, expected: int) -> None:
    for service in (False, True):
        r = Remote.start(system, "odd", service=service)
        assert r.do(lambda p: p.sys.taskcall(RS_PROC_NR, m_type).m_type) == expected
        r.exit()
    assert system.run(lambda p: 5) == 5  # RS still starts services
    assert ask_rs_still_serves(system)


def ask_rs_still_serves(system: System) -> bool:
    svc = system.service_up(ServiceDescription("late"), Echo())
    system.run_until(lambda: svc.state == UP)
    return ask(system, "late") == svc.endpoint


def test_a_kernel_call_mask_limits_a_service(system: System) -> None:
    """A service may make only its description's kernel calls."""
    seen: list[int] = []

    def server(sys: SysLib) -> None:
        sys.sef_startup()
        seen.append(sys.sys_setalarm(0))  # not in its set
        while True:
            sys.receive()

    calls = frozenset({SYS_GETINFO, SYS_DIAGCTL, SYS_TIMES})
    svc = system.service_up(ServiceDescription("narrow", kernel_calls=calls), server)
    system.run_until(lambda: bool(seen) and svc.state == UP)
    assert seen == [-EPERM]


def test_rs_log_and_statistics_survive_a_crash_of_the_disk_driver(system: System) -> None:
    disk = system.service("disk")
    old = disk.endpoint
    system.kill_service("disk")
    restarted(system, disk, old)
    assert system.statistics().restarts["disk"] == 1
    assert system.exec("/bin/hello") == 0


def test_kernel_alarm_notifies_and_cancels() -> None:
    with System.boot(ram="32M") as system:
        got: list[int] = []

        def server(sys: SysLib) -> None:
            sys.sef_startup()
            sys.sys_setalarm(50)
            assert sys.sys_setalarm(100) > 0  # the old one had ticks left
            r, m = sys.receive()
            got.append(m.m_source if m is not None and sys.notified else r)
            got.append(sys.sys_times()[2])
            while True:
                sys.receive()

        start = system.kernel.clock.ticks
        system.service_up(ServiceDescription("alarm"), server)
        system.run_until(lambda: len(got) == 2)
        assert got[0] == CLOCK
        assert got[1] >= start + 100


def test_the_services_verb_lists_kills_and_restarts(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["services", "--run", "hello", "--kill", "disk", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {row["label"]: row for row in out["services"]}
    assert rows["disk"]["state"] == UP and rows["disk"]["restarts"] == 1
    assert rows["pm"]["boot"] and rows["mfs"]["restarts"] == 0
    assert any("disk(" in line and "died (signal 9)" in line for line in out["log"])
    assert cli.main(["services", "--run", "hello", "--down", "disk", "--up",
                     f"hi={USERLAND_BIN / 'hello'}"]) == 0
    text = capsys.readouterr().out
    assert "stopped" in text and "hi" in text


def test_a_service_uses_files_like_any_process(system: System) -> None:
    """RS met VFS before the root was mounted; its services still have it."""

    def body(p: Process) -> int:
        fd = p.open("/tmp/svc", O_RDWR | O_CREAT | O_TRUNC, 0o644)
        p.write(b"from a service", fd)
        p.close(fd)
        return 0 if p.stat("/tmp/svc").st_size == 14 else 1

    assert system.run(body, name="filer", service=True) == 0
