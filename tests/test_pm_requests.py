"""Malformed requests to PM, init, the console and the memory driver: each
gets an error reply, and the server goes on serving.

A request is what a program puts in 36 bytes; none of these servers may
trust a field of it. The layouts themselves are checked against MINIX
3.2's slots (reference B2/B3) and round-trip through their 36 bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from remote import Remote

from minixvm import System
from minixvm.errors import (
    ECHILD,
    EINVAL,
    ENOMEM,
    ENOSYS,
    ENXIO,
    EPERM,
    ESRCH,
    OK,
)
from minixvm.include.com import (
    INIT_PROC_NR,
    MEM_PROC_NR,
    NOTIFY_MESSAGE,
    PM_PROC_NR,
    TTY_PROC_NR,
)
from minixvm.include.dev import DEV_READ, DEV_WRITE, MEMORY_DEV, NULL_DEV, ZERO_DEV, DevIo
from minixvm.include.grant import CPF_READ, CPF_WRITE
from minixvm.include.ipc import MESSAGE_SIZE, CharSlot, Message, layout_of
from minixvm.include.pm import (
    EXEC_RESTART,
    PM_BRK,
    PM_EXEC,
    PM_EXIT,
    PM_FORK,
    PM_GETPID,
    PM_KILL,
    PM_WAIT,
    PM_WAITPID,
    SRV_FORK,
    ExecRestart,
    PmBrk,
    PmExec,
    PmExit,
    PmFork,
    PmGetpid,
    PmKill,
    PmWaitpid,
    SrvFork,
)
from minixvm.include.rs import RS_INIT, RS_LOOKUP, RsInit, RsRequest
from minixvm.include.signal import _NSIG, SIGKILL, WNOHANG, WUNTRACED
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE

SELF_PID = object()  # stands for the sender's own pid in a table row


@pytest.fixture
def remote(system: System) -> Iterator[Remote]:
    yield Remote.start(system)


def call(remote: Remote, server: int, m_type: int, **fields: Any) -> int:
    """Send ``server`` a raw request from ``remote``: the reply's m_type."""
    fields = {k: remote.pid if v is SELF_PID else v for k, v in fields.items()}
    return int(remote.do(lambda p: p.sys.taskcall(server, m_type, **fields).m_type))


def pm_still_serves(remote: Remote) -> None:
    assert call(remote, PM_PROC_NR, PM_GETPID) == remote.pid


# -- layouts ----------------------------------------------------------------------------

# Each layout's fields at MINIX 3.2's byte offsets (B2: m1_i1 @8, m1_i2 @12,
# m1_p1 @20, m1_p2 @24, m2_i1 @8, m2_i2 @12, m2_i3 @16, m2_l1 @20, m2_p1 @28,
# m3_i1 @8, m3_ca1 @20).
OFFSETS = {
    PmExit: {"status": 8},
    PmFork: {"endpoint": 8},
    PmWaitpid: {"pid": 8, "options": 12, "status": 8},
    PmBrk: {"addr": 20, "brk": 28},
    PmGetpid: {"ppid": 8},
    PmKill: {"pid": 8, "sig": 12},
    PmExec: {"path_len": 8, "frame_len": 12, "flags": 16, "path": 20, "frame": 24},
    DevIo: {"minor": 8, "endpt": 12, "count": 16, "position": 20, "grant": 28},
}


@pytest.mark.parametrize(("m_type", "kind"), [
    (PM_EXIT, PmExit), (PM_FORK, PmFork), (PM_WAIT, PmWaitpid), (PM_WAITPID, PmWaitpid),
    (PM_BRK, PmBrk), (PM_GETPID, PmGetpid), (PM_KILL, PmKill), (PM_EXEC, PmExec),
    (DEV_READ, DevIo), (DEV_WRITE, DevIo), (SRV_FORK, SrvFork), (EXEC_RESTART, ExecRestart),
    (RS_LOOKUP, RsRequest), (RS_INIT, RsInit),
])
def test_each_call_has_its_layout(m_type: int, kind: type[Message]) -> None:
    assert layout_of(m_type) is kind
    assert type(Message(m_type)) is kind


@pytest.mark.parametrize("kind", list(OFFSETS), ids=lambda k: k.__name__)
def test_layout_fields_sit_at_minix_offsets(kind: type[Message]) -> None:
    assert {name: s.offset for name, s in kind.FIELDS.items()} == OFFSETS[kind]


@pytest.mark.parametrize("kind", [*OFFSETS, RsInit, RsRequest, ExecRestart],
                         ids=lambda k: k.__name__)
def test_layouts_round_trip_through_36_bytes(kind: type[Message]) -> None:
    assert all(getattr(kind(), name) in (0, "") for name in kind.FIELDS)  # unset: zero
    values: dict[str, int | str] = {}
    taken: set[int] = set()
    for i, (name, s) in enumerate(kind.FIELDS.items()):
        if s.offset not in taken:  # one value per slot; an alias reads it back
            taken.add(s.offset)
            values[name] = "init.12" if isinstance(s, CharSlot) else -3 - 1000 * i
    m = kind(**values)
    m.m_source = 77
    data = bytes(m)
    assert len(data) == MESSAGE_SIZE
    back = Message.decode(data)
    assert type(back) is kind and back.m_source == 77 and back.m_type == m.m_type
    for name, value in values.items():
        got = getattr(back, name)
        assert got == value or got == value % 2**32  # a pointer slot reads unsigned


def test_wait_and_waitpid_replies_read_the_pid_from_m_type() -> None:
    reply = PmWaitpid(status=0x0B00)
    reply.m_type = 7  # pid 7, which is also PM_WAIT's number
    back = PmWaitpid().reply_view(bytes(reply))
    assert (back.m_type, back.status) == (7, 0x0B00)


# -- PM ---------------------------------------------------------------------------------

def test_kill_without_fields_is_einval_and_pm_goes_on(remote: Remote) -> None:
    """The issue's case: PM_KILL with no sig (and no pid). There are no
    process groups here, so pid 0 is EINVAL; PM keeps serving."""
    assert call(remote, PM_PROC_NR, PM_KILL) == -EINVAL
    pm_still_serves(remote)


def test_kill_with_sig_0_checks_that_the_process_exists(remote: Remote) -> None:
    """POSIX: signal 0 is an existence check; nothing is sent."""
    assert call(remote, PM_PROC_NR, PM_KILL, pid=remote.pid) == OK
    assert call(remote, PM_PROC_NR, PM_KILL, pid=remote.pid, sig=0) == OK
    assert call(remote, PM_PROC_NR, PM_KILL, pid=4321) == -ESRCH
    pm_still_serves(remote)  # still alive: no signal was sent


PM_CASES = [
    ("kill-nothing", PM_KILL, {}, -EINVAL),
    ("kill-sig-negative", PM_KILL, {"pid": SELF_PID, "sig": -1}, -EINVAL),
    ("kill-sig-nsig", PM_KILL, {"pid": SELF_PID, "sig": _NSIG}, -EINVAL),
    ("kill-sig-huge", PM_KILL, {"pid": SELF_PID, "sig": 2**31 - 1}, -EINVAL),
    ("kill-pid-group", PM_KILL, {"pid": -1, "sig": SIGKILL}, -EINVAL),
    ("kill-pid-min", PM_KILL, {"pid": -(2**31), "sig": SIGKILL}, -EINVAL),
    ("kill-no-such-pid", PM_KILL, {"pid": 2**31 - 1, "sig": SIGKILL}, -ESRCH),
    ("kill-init", PM_KILL, {"pid": 1, "sig": SIGKILL}, -EPERM),
    ("waitpid-pid-0", PM_WAITPID, {"pid": 0}, -EINVAL),
    ("waitpid-group", PM_WAITPID, {"pid": -5}, -EINVAL),
    ("waitpid-bad-options", PM_WAITPID, {"pid": -1, "options": 0x100}, -EINVAL),
    ("waitpid-all-options", PM_WAITPID, {"pid": -1, "options": -1}, -EINVAL),
    ("waitpid-no-child", PM_WAITPID, {"pid": -1, "options": WNOHANG | WUNTRACED}, -ECHILD),
    ("waitpid-not-a-child", PM_WAITPID, {"pid": 1}, -ECHILD),
    ("wait-no-child", PM_WAIT, {}, -ECHILD),
    ("brk-nothing", PM_BRK, {}, -ENOMEM),
    ("brk-top", PM_BRK, {"addr": 0xFFFFFFFF}, -ENOMEM),
    ("brk-kernel", PM_BRK, {"addr": 0xF0001000}, -ENOMEM),
    ("exec-nothing", PM_EXEC, {}, -EINVAL),
    ("unknown-0", 0, {}, -ENOSYS),
    ("unknown-read", 3, {}, -ENOSYS),
    ("unknown-negative", -5, {}, -ENOSYS),
    ("unknown-huge", 0x7FFFFFFF, {}, -ENOSYS),
    ("forged-notification", NOTIFY_MESSAGE, {}, -ENOSYS),
]


@pytest.mark.parametrize(("m_type", "fields", "expected"), [c[1:] for c in PM_CASES],
                         ids=[c[0] for c in PM_CASES])
def test_malformed_pm_request_gets_an_error(remote: Remote, m_type: int,
                                            fields: dict[str, Any], expected: int) -> None:
    assert call(remote, PM_PROC_NR, m_type, **fields) == expected
    pm_still_serves(remote)


def test_a_request_from_a_process_pm_does_not_know_is_answered(system: System,
                                                                remote: Remote) -> None:
    assert system.pm is not None
    slot = next(s for s, mp in system.pm.mproc.items() if mp.pid == remote.pid)
    mp = system.pm.mproc.pop(slot)
    try:
        assert call(remote, PM_PROC_NR, PM_GETPID) == -ESRCH
    finally:
        system.pm.mproc[slot] = mp
    pm_still_serves(remote)


@pytest.mark.parametrize(("status", "code"), [(0x1234, 0x34), (-1, 255), (2**31 - 1, 255),
                                              (256, 0)])
def test_exit_keeps_the_low_8_bits_of_the_status(system: System, status: int,
                                                 code: int) -> None:
    assert system.run(lambda p: p.sys.taskcall(PM_PROC_NR, PM_EXIT, status=status)) == code


def test_libc_fork_getpid_waitpid_brk_read_their_replies(system: System) -> None:
    def prog(p: Process) -> int:
        pid = p.getpid()
        child = p.fork(lambda c: 40 + int(c.getppid() == pid))
        got, status = p.waitpid(child)
        old = p.sbrk(2 * PAGE_SIZE)
        p.mem[old + PAGE_SIZE] = 9
        return (status >> 8) + int(got == child) + p.mem[old + PAGE_SIZE] - 9

    assert system.run(prog) == 42


def test_a_service_that_does_not_wait_for_its_reply_does_not_stop_pm(system: System) -> None:
    """PM answers with a non-blocking send (as MINIX's PM): a sender that is
    not receiving loses its reply, and PM does not wait for it."""
    service = Remote.start(system, name="svc", service=True)
    assert service.do(lambda p: p.sys.send(PM_PROC_NR, Message(PM_GETPID))) == OK
    assert service.do(lambda p: p.sys.notify(PM_PROC_NR)) == OK  # a forged notification
    pm_still_serves(service)


# -- init -------------------------------------------------------------------------------

@pytest.mark.parametrize(("m_type", "expected"), [(RS_LOOKUP, -ENOSYS), (PM_FORK, -ENOSYS),
                                                  (NOTIFY_MESSAGE, -ENOSYS)])
def test_init_answers_what_it_does_not_serve(system: System, remote: Remote, m_type: int,
                                             expected: int) -> None:
    assert call(remote, INIT_PROC_NR, m_type) == expected
    assert system.run(lambda p: 4) == 4  # init still starts programs


# -- the console and the memory driver --------------------------------------------------

def granted_buffer(p: Process, to: int, access: int, fill: bytes = b"\xff") -> tuple[int, int]:
    """A page of ``p``'s memory filled with ``fill`` and a grant on it for ``to``."""
    buf = p.mmap(PAGE_SIZE)
    p.mem[buf : buf + PAGE_SIZE] = fill * PAGE_SIZE
    return buf, p.sys.grants.cpf_grant_direct(to, buf, PAGE_SIZE, access)


def dev_request(server: int, access: int, m_type: int, fields: dict[str, Any]):
    """A command: request ``m_type`` of a driver with a real grant where
    ``fields`` asks for one (grant=None); the reply's m_type."""

    def run(p: Process) -> int:
        _, grant = granted_buffer(p, server, access)
        real = {k: grant if v is None else v for k, v in fields.items()}
        return p.sys.taskcall(server, m_type, **real).m_type

    return run


TTY_CASES = [
    ("bad-minor", DEV_WRITE, {"minor": 1, "count": 1, "grant": None}, -ENXIO),
    ("negative-minor", DEV_WRITE, {"minor": -1, "count": 1, "grant": None}, -ENXIO),
    ("negative-count", DEV_WRITE, {"count": -1, "grant": None}, -EINVAL),
    ("read", DEV_READ, {"count": 1, "grant": None}, -EINVAL),
    ("unknown", 0x4FF, {}, -EINVAL),
    ("type-0", 0, {}, -EINVAL),
    ("forged-notification", NOTIFY_MESSAGE, {}, -EINVAL),
]

MEMORY_CASES = [
    ("bad-minor", DEV_READ, {"minor": 7, "count": 1, "grant": None}, -ENXIO),
    ("negative-minor", DEV_READ, {"minor": -1, "count": 1, "grant": None}, -ENXIO),
    ("negative-count", DEV_READ, {"minor": ZERO_DEV, "count": -5, "grant": None}, -EINVAL),
    ("negative-position", DEV_READ,
     {"minor": MEMORY_DEV, "count": 16, "position": -1, "grant": None}, -EINVAL),
    ("null-read", DEV_READ, {"minor": NULL_DEV, "count": 5}, 0),
    ("null-write", DEV_WRITE, {"minor": NULL_DEV, "count": 5}, 5),
    ("unknown", 0x4FF, {}, -EINVAL),
    ("type-0", 0, {}, -EINVAL),
    ("forged-notification", NOTIFY_MESSAGE, {}, -EINVAL),
]


@pytest.mark.parametrize(("m_type", "fields", "expected"), [c[1:] for c in TTY_CASES],
                         ids=[c[0] for c in TTY_CASES])
def test_malformed_tty_request_gets_an_error(system: System, remote: Remote, m_type: int,
                                             fields: dict[str, Any], expected: int) -> None:
    assert remote.do(dev_request(TTY_PROC_NR, CPF_READ, m_type, fields)) == expected
    assert remote.do(lambda p: p.printf("still here\n")) == 11
    assert system.console.text.endswith("still here\n")


@pytest.mark.parametrize(("m_type", "fields", "expected"), [c[1:] for c in MEMORY_CASES],
                         ids=[c[0] for c in MEMORY_CASES])
def test_malformed_memory_request_gets_an_error(remote: Remote, m_type: int,
                                                fields: dict[str, Any], expected: int) -> None:
    assert remote.do(dev_request(MEM_PROC_NR, CPF_WRITE, m_type, fields)) == expected
    assert remote.do(read_zeros) == bytes(16)


def read_zeros(p: Process) -> bytes:
    """A normal request of the memory driver: 16 bytes of /dev/zero."""
    buf, grant = granted_buffer(p, MEM_PROC_NR, CPF_WRITE)
    r = p.sys.taskcall(MEM_PROC_NR, DEV_READ, minor=ZERO_DEV, count=16, grant=grant).m_type
    assert r == 16
    return p.mem[buf : buf + 16]


@pytest.mark.parametrize("server", [TTY_PROC_NR, MEM_PROC_NR], ids=["tty", "memory"])
@pytest.mark.parametrize("grant", [-1, 0x7FFFFFFF, 12345], ids=["invalid", "huge", "unknown"])
def test_a_bad_grant_gets_the_safecopy_error(system: System, remote: Remote, server: int,
                                             grant: int) -> None:
    m_type, minor = (DEV_WRITE, 0) if server == TTY_PROC_NR else (DEV_READ, ZERO_DEV)
    r = call(remote, server, m_type, minor=minor, count=16, grant=grant)

    def same_copy(p: Process) -> int:
        """The copy the driver makes, made by a service: the kernel's verdict."""
        buf = p.mmap(PAGE_SIZE)
        copy = p.sys.sys_safecopyfrom if server == TTY_PROC_NR else p.sys.sys_safecopyto
        return copy(remote.endpoint, grant, 0, buf, 16)

    verdict = Remote.start(system, name="svc", service=True).do(same_copy)
    assert r < 0 and r == verdict
    assert remote.do(read_zeros) == bytes(16)


@pytest.mark.parametrize("server", [TTY_PROC_NR, MEM_PROC_NR], ids=["tty", "memory"])
def test_a_count_past_the_grant_gets_an_error(remote: Remote, server: int) -> None:
    access = CPF_READ if server == TTY_PROC_NR else CPF_WRITE
    fields = {"count": 2**31 - 1, "grant": None}
    if server == MEM_PROC_NR:
        fields["minor"] = ZERO_DEV
    assert remote.do(dev_request(server, access, DEV_WRITE if server == TTY_PROC_NR
                                 else DEV_READ, fields)) < 0
    assert remote.do(read_zeros) == bytes(16)
