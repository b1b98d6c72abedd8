"""PM and VFS: exec of a file, fork and exit, as PM sees them.

PM asks VFS by asynsend and never waits for it; VFS answers the same way
(VFS_PM_*_REPLY), and waits for PM only in PM_NEWEXEC. Most tests run
with a stand-in VFS that answers PM as the test says (now, later, or
wrongly) and knows one kind of file, a Python program; the last ones use
the real VFS.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from remote import Remote

import minixvm.boot
from minixvm import System
from minixvm.errors import EINVAL, EIO, ENOENT, ENOEXEC, ENOSYS, EPERM, ESRCH, OK, MinixError
from minixvm.include.arch import DEFAULT_STACK_SIZE, PY_DATA_BASE
from minixvm.include.com import ANY, HARDWARE, INIT_PROC_NR, PM_PROC_NR, RS_PROC_NR, VFS_PROC_NR
from minixvm.include.ipc import Message
from minixvm.include.pm import EXC_NM_RF_ALLOW_SETUID, EXEC_INFO, PM_NEWEXEC, PmNewexec
from minixvm.include.signal import SIGKILL
from minixvm.include.vfs import (
    VFS_PM_EXEC,
    VFS_PM_EXEC_REPLY,
    VFS_PM_EXIT,
    VFS_PM_EXIT_REPLY,
    VFS_PM_FORK,
    VFS_PM_FORK_REPLY,
    VfsPmExec,
    VfsPmExit,
    VfsPmFork,
)
from minixvm.lib.c import Process, program_entry
from minixvm.lib.exec import exec_info_for, libexec_load, text_image
from minixvm.lib.sys import SysLib
from minixvm.machine.ram import PAGE_SIZE

PM_REQUESTS = (VFS_PM_EXEC, VFS_PM_FORK, VFS_PM_EXIT)
# The stand-in VFS's buffers, in one page of its memory.
PATH_BUF, INFO_BUF, DATA_BUF, FRAME_BUF = 0, 0x100, 0x200, 0x400


@dataclass
class Control:
    """What the stand-in VFS does, and what it saw."""

    programs: dict[str, int] = field(default_factory=dict)  # path -> Python text
    hold: set[int] = field(default_factory=set)  # PM requests answered only on release
    held: list[Message] = field(default_factory=list)
    requests: list[Message] = field(default_factory=list)
    # exec: (status, partial) to answer with, before touching the process
    # ("before") or after PM_NEWEXEC ("after"); None: load the program.
    fail: tuple[str, int, int] | None = None
    allow_setuid: int = 0
    newexec: list[tuple[int, int, int]] = field(default_factory=list)  # PM's answers
    actions: deque[Callable[[FakeVFS], Any]] = field(default_factory=deque)
    results: list[Any] = field(default_factory=list)
    unexpected: list[Message] = field(default_factory=list)  # from PM, not a request


class FakeVFS:
    """Answers PM's requests as ``Control`` says; runs the test's actions
    when the kernel interrupts it (a notification from HARDWARE)."""

    def __init__(self, sys: SysLib, ctl: Control) -> None:
        self.sys, self.ctl = sys, ctl
        self.buf = 0

    def main(self) -> None:
        self.buf = self.sys.minix_mmap(PAGE_SIZE)
        while True:
            r, m = self.sys.receive(ANY)
            assert r == OK and m is not None
            if m.m_source == HARDWARE:
                while self.ctl.actions:
                    self.ctl.results.append(self.ctl.actions.popleft()(self))
            elif m.m_source == PM_PROC_NR and m.m_type in PM_REQUESTS:
                self.ctl.requests.append(m)
                reply = self.answer(m)
                if m.m_type in self.ctl.hold:
                    self.ctl.held.append(reply)
                else:
                    self.to_pm(reply)
            elif m.m_source == PM_PROC_NR:
                self.ctl.unexpected.append(m)
            elif m.m_source >= 0:
                self.sys.sendnb(m.m_source, Message(-ENOSYS))

    def to_pm(self, m: Message) -> None:
        assert self.sys.asynsend(PM_PROC_NR, m) == OK

    def release(self) -> None:
        while self.ctl.held:
            self.to_pm(self.ctl.held.pop(0))

    def answer(self, m: Message) -> Message:
        if m.m_type == VFS_PM_FORK:
            return VfsPmFork(VFS_PM_FORK_REPLY, endpoint=VfsPmFork.view(m.buf).child)
        if m.m_type == VFS_PM_EXIT:
            return VfsPmExit(VFS_PM_EXIT_REPLY, endpoint=VfsPmExit.view(m.buf).endpoint)
        return self.exec(VfsPmExec.view(m.buf))

    def exec(self, req: VfsPmExec) -> Message:
        """Load the Python program at the path as VFS loads a file: libexec
        with the default callbacks, PM_NEWEXEC, the frame."""
        sys, ctl, ep = self.sys, self.ctl, req.endpoint
        reply = VfsPmExec(VFS_PM_EXEC_REPLY, endpoint=ep)
        if ctl.fail and ctl.fail[0] == "before":
            reply.status = ctl.fail[1]
            return reply
        sys.sys_vircopy(ep, req.path, sys.endpoint, self.buf + PATH_BUF, req.path_len)
        path = sys.mem_read(self.buf + PATH_BUF, req.path_len)[:-1].decode()
        frame_addr = self.buf + FRAME_BUF
        sys.sys_vircopy(ep, req.frame, sys.endpoint, frame_addr, req.frame_len)
        frame = sys.mem_read(frame_addr, req.frame_len)
        if path not in ctl.programs:
            reply.status = -ENOENT
            return reply
        progname = path.rsplit("/", 1)[-1]
        data = progname.encode() + b"\0"
        sys.mem_write(self.buf + DATA_BUF, data)
        info = exec_info_for(sys, ep, progname, frame, lambda i, off, v, n: sys.sys_vircopy(
            sys.endpoint, self.buf + DATA_BUF + off, i.proc_e, v, n))
        info.stack_size = DEFAULT_STACK_SIZE
        image = text_image(ctl.programs[path], data)
        r = libexec_load(info, image)
        assert r == OK
        sys.mem_write(self.buf + INFO_BUF, EXEC_INFO.pack(
            ep, data, len(info.frame), info.stack_high, 0, 0, ctl.allow_setuid,
            PY_DATA_BASE + PAGE_SIZE))
        r, answer = sys.sendrec(PM_PROC_NR, PmNewexec(endpoint=ep, info=self.buf + INFO_BUF))
        assert r == OK and answer is not None
        ctl.newexec.append((answer.m_type, answer.frame, answer.flags))
        if ctl.fail:
            reply.status, reply.partial = ctl.fail[1], ctl.fail[2]
            return reply
        sys.mem_write(frame_addr, info.frame)
        sys.sys_vircopy(sys.endpoint, frame_addr, ep, info.vsp, len(info.frame))
        reply.pc, reply.sp = info.pc, PY_DATA_BASE
        return reply


@pytest.fixture
def ctl(monkeypatch: pytest.MonkeyPatch) -> Control:
    control = Control()
    monkeypatch.setattr(minixvm.boot, "VFS", lambda sys, *options: FakeVFS(sys, control))
    return control


@pytest.fixture
def system(ctl: Control) -> Iterator[System]:
    with System.boot(ram="32M") as s:
        yield s
        Remote.exit_all(s)


def vfs_do(system: System, ctl: Control, action: Callable[[FakeVFS], Any]) -> Any:
    """Run ``action`` in the stand-in VFS; its result."""
    ctl.actions.append(action)
    before = len(ctl.results)
    system.kernel.ipc.mini_notify(system.kernel.procs.slot(HARDWARE), VFS_PROC_NR)
    system.kernel.sched.run(lambda: len(ctl.results) > before)
    return ctl.results[-1]


def load(system: System, program: Callable[[Process], Any]) -> int:
    """A Python program's text in the machine (not in PM's module table)."""
    return system.kernel.load_text(program_entry(program, lambda pid, e: None))


def pm_state(system: System, endpoint: int) -> Any:
    assert system.pm is not None
    return system.pm.by_endpoint(endpoint)


# -- exec of a file ---------------------------------------------------------------------------


def test_exec_of_a_path_pm_does_not_know_is_vfs_s_and_starts_the_program(
        system: System, ctl: Control) -> None:
    seen: list[tuple[str, int]] = []

    def hello(p: Process) -> int:
        mp = pm_state(system, p.endpoint)
        seen.append((p.name, mp.name, mp.brk, p.getpid()))
        return 42

    ctl.programs["/bin/hello"] = load(system, hello)

    def caller(p: Process) -> int:
        seen.append(("caller", p.getpid()))
        p.execve("/bin/hello", ["hello"], [])

    assert system.run(caller) == 42
    pid = seen[0][1]
    assert seen[1] == ("hello", "hello", PY_DATA_BASE + PAGE_SIZE, pid)  # the same process
    execs = [VfsPmExec.view(m.buf) for m in ctl.requests if m.m_type == VFS_PM_EXEC]
    assert len(execs) == 1 and execs[0].path_len == len("/bin/hello") + 1
    assert ctl.newexec[0][0] == OK


@pytest.mark.parametrize(("allow", "flags"), [(0, 0), (1, EXC_NM_RF_ALLOW_SETUID),
                                              (-1, EXC_NM_RF_ALLOW_SETUID)])
def test_newexec_answers_the_frame_address_and_only_the_setuid_bit(
        system: System, ctl: Control, allow: int, flags: int) -> None:
    ctl.allow_setuid = allow
    ctl.programs["/bin/t"] = load(system, lambda p: 0)
    assert system.run(lambda p: p.execve("/bin/t", ["t"], [])) == 0
    r, frame, got = ctl.newexec[0]
    assert (r, got) == (OK, flags)
    assert 0x7FFF0000 < frame < 0x80000000 and frame % 4 == 0


def test_an_exec_that_fails_before_the_point_of_no_return_is_the_caller_s_error(
        system: System, ctl: Control) -> None:
    ctl.fail = ("before", -ENOEXEC, 0)

    def caller(p: Process) -> int:
        with pytest.raises(MinixError) as e:
            p.execve("/bin/anything", ["x"], [])
        return 100 + e.value.errno

    assert system.run(caller) == 100 + ENOEXEC


@pytest.mark.parametrize("partial", [1, 0], ids=["vfs-says-partial", "pm-knows-partial"])
def test_an_exec_that_fails_after_newexec_kills_the_process(
        system: System, ctl: Control, partial: int) -> None:
    """VFS says the old image is gone, or PM knows it from PM_NEWEXEC."""
    ctl.fail = ("after", -EIO, partial)
    ctl.programs["/bin/t"] = load(system, lambda p: 0)
    assert system.run(lambda p: p.execve("/bin/t", ["t"], [])) == -SIGKILL
    assert system.run(lambda p: 7) == 7  # PM goes on


def test_an_unknown_file_is_vfs_s_enoent(system: System, ctl: Control) -> None:
    def caller(p: Process) -> int:
        with pytest.raises(MinixError) as e:
            p.execve("/no/such/file", ["x"], [])
        return e.value.errno

    assert system.run(caller) == ENOENT


# -- who may say what ---------------------------------------------------------------------------


@pytest.mark.parametrize("m_type", [PM_NEWEXEC, VFS_PM_EXEC_REPLY, VFS_PM_FORK_REPLY,
                                    VFS_PM_EXIT_REPLY])
@pytest.mark.parametrize("service", [False, True], ids=["user", "service"])
def test_only_vfs_may_send_pm_its_messages(system: System, m_type: int, service: bool) -> None:
    remote = Remote.start(system, service=service)
    me = remote.endpoint
    assert remote.do(lambda p: p.sys.taskcall(PM_PROC_NR, m_type, endpoint=me).m_type) == -EPERM
    # PM still serves, and nothing changed: a service's parent is RS.
    parent = system.pm.mproc[RS_PROC_NR].pid if service else 1
    assert remote.do(lambda p: p.getppid()) == parent


def test_newexec_about_a_process_pm_is_not_exec_ing_is_refused(system: System,
                                                              ctl: Control) -> None:
    def newexec(endpoint: int) -> Callable[[FakeVFS], int]:
        def ask(v: FakeVFS) -> int:
            r, m = v.sys.sendrec(PM_PROC_NR, PmNewexec(endpoint=endpoint, info=v.buf))
            return r or m.m_type

        return ask

    assert vfs_do(system, ctl, newexec(INIT_PROC_NR)) == -EINVAL
    assert vfs_do(system, ctl, newexec(12345)) == -ESRCH
    assert system.run(lambda p: 3) == 3


def test_answers_pm_did_not_ask_for_are_ignored(system: System, ctl: Control) -> None:
    remote = Remote.start(system)
    ep = remote.endpoint

    def junk(v: FakeVFS) -> None:
        for m in (VfsPmFork(VFS_PM_FORK_REPLY, endpoint=ep),
                  VfsPmExec(VFS_PM_EXEC_REPLY, endpoint=ep, status=OK, pc=1, sp=2),
                  VfsPmExec(VFS_PM_EXEC_REPLY, endpoint=ep, status=-EIO, partial=1),
                  VfsPmExit(VFS_PM_EXIT_REPLY, endpoint=ep),
                  VfsPmFork(VFS_PM_FORK_REPLY, endpoint=-77),
                  Message(-ENOSYS), Message(0x7FFFFFFF)):
            v.to_pm(m)

    vfs_do(system, ctl, junk)
    assert remote.do(lambda p: p.getpid()) == remote.pid  # untouched, and PM serves
    assert pm_state(system, ep).vfs_call == 0
    assert ctl.unexpected == []  # PM answered none of it
    assert system.kernel.panicked is None


# -- fork and exit wait for VFS ---------------------------------------------------------------


def test_a_fork_returns_in_parent_and_child_only_when_vfs_has_answered(
        system: System, ctl: Control) -> None:
    log: list[Any] = []
    go: list[bool] = []

    def parent(p: Process) -> int:
        log.append("started")
        while not go:
            p.sched_yield()
        pid = p.fork(lambda c: log.append("child") or 9)
        log.append(("parent", pid))
        return p.waitpid(pid)[1] >> 8

    handle = system.spawn(parent, name="parent")
    system.kernel.sched.run(lambda: bool(log))
    ctl.hold = {VFS_PM_FORK}
    go.append(True)
    system.kernel.sched.run(lambda: bool(ctl.held))
    system.run_until_idle()
    fork = VfsPmFork.view(ctl.requests[-1].buf)
    child, mp = pm_state(system, fork.child), pm_state(system, fork.endpoint)
    assert log == ["started"]  # neither side has returned
    assert child.vfs_call == mp.vfs_call == VFS_PM_FORK and fork.child_pid == child.pid
    vfs_do(system, ctl, FakeVFS.release)
    assert system.wait(handle) == 9
    assert sorted(log[1:], key=str) == [("parent", fork.child_pid), "child"]


def test_an_exited_process_s_slot_is_not_reused_until_vfs_has_answered(
        system: System, ctl: Control) -> None:
    pm = system.pm
    assert pm is not None
    ctl.hold = {VFS_PM_EXIT}
    assert system.run(lambda p: 4) == 4
    (slot, endpoint), = pm.held.items()
    assert system.kernel.procs.isokendpt(endpoint) is None  # gone from the kernel
    assert pm.free_slot() != slot
    ctl.hold = set()
    vfs_do(system, ctl, FakeVFS.release)
    system.run_until_idle()
    assert pm.held == {}
    assert pm.free_slot() == slot


def test_a_signal_during_an_exec_waits_for_vfs(system: System, ctl: Control) -> None:
    ran: list[str] = []
    ctl.programs["/bin/t"] = load(system, lambda p: ran.append("new image") or 0)
    killer = Remote.start(system, name="killer")
    ctl.hold = {VFS_PM_EXEC}
    handle = system.spawn(lambda p: p.execve("/bin/t", ["t"], []), name="victim")
    system.kernel.sched.run(lambda: bool(ctl.held))
    killer.do(lambda p: p.kill(handle.pid, SIGKILL))
    victim = pm_state(system, VfsPmExec.view(ctl.requests[-1].buf).endpoint)
    assert victim.sig_delayed == 1 << SIGKILL and victim.vfs_call == VFS_PM_EXEC
    vfs_do(system, ctl, FakeVFS.release)
    assert system.wait(handle) == -SIGKILL
    assert ran == []  # the new image never ran


def test_pm_never_waits_for_a_busy_vfs(system: System, ctl: Control) -> None:
    """VFS is stuck in a receive from someone else: PM's request waits in
    PM's SENDA table, PM serves on, and VFS gets it when it receives again."""
    probe = Remote.start(system, name="probe")
    stuck: list[bool] = []
    ctl.actions.append(lambda v: stuck.append(True) or v.sys.receive(HARDWARE))
    system.kernel.ipc.mini_notify(system.kernel.procs.slot(HARDWARE), VFS_PROC_NR)
    system.kernel.sched.run(lambda: bool(stuck))
    asked = len(ctl.requests)
    handle = system.spawn(lambda p: 6, name="late")  # init's fork: PM tells VFS
    assert probe.do(lambda p: p.getpid()) == probe.pid
    assert not handle.done and len(ctl.requests) == asked
    assert system.kernel.procs.slot(PM_PROC_NR).priv.asyn_size > 0  # waiting in the table
    system.kernel.ipc.mini_notify(system.kernel.procs.slot(HARDWARE), VFS_PROC_NR)
    assert system.wait(handle) == 6
    assert [m.m_type for m in ctl.requests[asked:]][:1] == [VFS_PM_FORK]


# -- the real VFS ---------------------------------------------------------------------------


@pytest.fixture
def real() -> Iterator[System]:
    with System.boot(ram="32M") as s:
        yield s
        Remote.exit_all(s)


def test_forks_and_exits_through_vfs_leave_nothing_behind(real: System) -> None:
    pm = real.pm
    assert pm is not None
    assert real.run(lambda p: 0) == 0
    real.run_until_idle()
    procs, frames = len(pm.mproc), real.statistics().frames_free

    def tree(p: Process) -> int:
        for i in range(20):
            pid = p.fork(lambda c, i=i: i)
            assert p.waitpid(pid) == (pid, i << 8)
        return 0

    assert real.run(tree) == 0
    real.run_until_idle()
    assert pm.held == {} and len(pm.mproc) == procs
    assert real.statistics().frames_free == frames


def test_exec_of_a_missing_file_is_enoent_from_vfs(real: System) -> None:
    def caller(p: Process) -> int:
        with pytest.raises(MinixError) as e:
            p.execve("/no/such/program", ["x"], [])
        return e.value.errno

    assert real.run(caller) == ENOENT
