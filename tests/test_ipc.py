"""Message passing on a bare kernel: no VM, no PM, only processes we boot.

Each test boots a handful of processes straight from a boot image. A
process's script gets its SysLib and runs to the end, then stops for good
(``park``), so ``run`` returns when nothing can run any more. Scripts
append to one log, which shows the order things happened in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minixvm.errors import (
    EBADREQUEST,
    ECALLDENIED,
    EDEADSRCDST,
    EFAULT,
    ELOCKED,
    ENOTREADY,
    EPERM,
    ETRAPDENIED,
    OK,
)
from minixvm.include import arch
from minixvm.include.com import (
    _ENDPOINT,
    _ENDPOINT_G,
    _ENDPOINT_MAX_GENERATION,
    _ENDPOINT_P,
    ANY,
    CLOCK,
    KERNEL,
    KERNEL_CALL,
    NONE,
    NOTIFY_MESSAGE,
    SELF,
    SYS_CLEAR,
    SYS_FORK,
    SYS_GETINFO,
    SYS_PRIV_SET_SYS,
    SYS_PRIVCTL,
    SYS_TIMES,
    SYSTEM,
)
from minixvm.include.ipc import Message, layout, m1_i1, m1_i2, m1_i3, m3_ca1
from minixvm.kernel.kernel import BootProc, Kernel
from minixvm.kernel.proc import (
    ALL_TRAPS,
    NOTIFY,
    RECEIVE,
    RTS_PROC_STOP,
    RTS_RECEIVING,
    RTS_SENDING,
    SEND,
    SENDNB,
    SENDREC,
    SERVER_Q,
    SYS_PROC,
    USER_Q,
    USER_TRAPS,
    Proc,
    ProcTable,
)
from minixvm.kernel.trap import TrapPort
from minixvm.lib.sys import SysLib
from minixvm.machine.ram import RAM

Script = Callable[[SysLib], Any]

REQUEST = 0x100
REPLY = 0x101
OTHER = 0x102


@layout(REQUEST, REPLY, OTHER)
class ScriptMessage(Message):
    """The test's own request and replies."""

    x = m1_i1
    y = m1_i2
    n = m1_i3
    tag = m3_ca1


class Bare:
    """A kernel, a boot image being built, and a log the scripts write to."""

    def __init__(self) -> None:
        self.console: list[str] = []
        self.ram = RAM("16M")
        self.kernel = Kernel(self.ram, console=self.console.append)
        self.image: list[BootProc] = []
        self.log: list[tuple[Any, ...]] = []

    def proc(
        self,
        nr: int,
        name: str,
        script: Script,
        *,
        traps: frozenset[int] = ALL_TRAPS,
        calls: frozenset[int] = frozenset(),
        flags: int = SYS_PROC,
        priority: int = SERVER_Q,
    ) -> int:
        """Add a boot process running ``script``; its endpoint."""
        k = self.kernel

        def entry(port: TrapPort) -> None:
            script(SysLib(port))
            park(k)

        self.image.append(BootProc(nr, name, entry, priority, calls, traps, flags))
        return nr  # a boot process's endpoint is its slot (generation 0)

    def run(self) -> None:
        """Boot if not yet booted, then run until nothing can run (or, if the
        kernel has gone wrong, until the log shows it is running wild)."""
        if self.kernel.kinfo is None:
            self.kernel.boot(self.image)
        self.kernel.sched.run(lambda: len(self.log) > 100, until_idle=True)

    def p(self, endpoint: int) -> Proc:
        p = self.kernel.procs.isokendpt(endpoint)
        assert p is not None, f"no live process {endpoint}"
        return p

    def close(self) -> None:
        self.kernel.sched.close()
        self.ram.close()


def park(k: Kernel) -> None:
    """Stop the running process for good: the end of a script."""
    proc = k.sched.caller()
    k.sched.rts_set(proc, RTS_PROC_STOP)
    k.sched.block(proc)


@pytest.fixture
def bare() -> Iterator[Bare]:
    b = Bare()
    yield b
    b.close()


A, B, C, D = 20, 21, 22, 23


# --- send and receive --------------------------------------------------------------------


def test_send_blocks_until_the_receiver_takes_the_message(bare: Bare) -> None:
    def a(sys: SysLib) -> None:
        bare.log.append(("a sends",))
        bare.log.append(("a send done", sys.send(B, Message(REQUEST, x=42))))

    def b(sys: SysLib) -> None:
        sys.yield_cpu()  # if a's send did not block, a would finish first
        bare.log.append(("b: a is", bare.p(A).flags_text()))
        r, m = sys.receive(ANY)
        bare.log.append(("b got", r, m.m_type, m.m_source, m.x))

    bare.proc(A, "a", a)
    bare.proc(B, "b", b)
    bare.run()
    assert bare.log == [
        ("a sends",),
        ("b: a is", "SENDING"),
        ("b got", OK, REQUEST, A, 42),
        ("a send done", OK),
    ]


def test_receive_blocks_until_a_message_comes_and_send_then_does_not_block(bare: Bare) -> None:
    def b(sys: SysLib) -> None:
        bare.log.append(("b receives",))
        r, m = sys.receive(ANY)
        bare.log.append(("b got", r, m.m_type, m.m_source, m.x))

    def a(sys: SysLib) -> None:
        bare.log.append(("a: b is", bare.p(B).flags_text()))
        m = Message(REQUEST, x=1)
        bare.log.append(("a send done", sys.send(B, m)))
        m.x = 2  # the kernel delivered a copy: b must still see 1

    bare.proc(B, "b", b)
    bare.proc(A, "a", a)
    bare.run()
    assert bare.log == [
        ("b receives",),
        ("a: b is", "RECEIVING"),
        ("a send done", OK),  # a went on running: the send did not block
        ("b got", OK, REQUEST, A, 1),
    ]


def test_the_kernel_stamps_the_source_of_a_message(bare: Bare) -> None:
    def a(sys: SysLib) -> None:
        sys.send(B, Message(REQUEST, m_source=D))  # a lie

    def b(sys: SysLib) -> None:
        r, m = sys.receive(ANY)
        bare.log.append((r, m.m_source))

    bare.proc(A, "a", a)
    bare.proc(B, "b", b)
    bare.proc(D, "d", lambda sys: None)
    bare.run()
    assert bare.log == [(OK, A)]


def test_receive_from_one_source_leaves_the_others_queued_in_order(bare: Bare) -> None:
    def sender(tag: str) -> Script:
        return lambda sys: bare.log.append((tag, "sent", sys.send(B, Message(REQUEST, tag=tag))))

    def b(sys: SysLib) -> None:
        r, m = sys.receive(C)
        queued = [bare.p(e).rts_flags & RTS_SENDING != 0 for e in (A, D)]
        bare.log.append(("b from c", r, m.tag, m.m_source, queued))
        for _ in range(2):
            r, m = sys.receive(ANY)
            bare.log.append(("b from any", r, m.tag))

    bare.proc(A, "a", sender("a"))
    bare.proc(D, "d", sender("d"))
    bare.proc(C, "c", sender("c"))
    bare.proc(B, "b", b)
    bare.run()
    got = [entry for entry in bare.log if entry[0].startswith("b")]
    assert got == [
        ("b from c", OK, "c", C, [True, True]),
        ("b from any", OK, "a"),
        ("b from any", OK, "d"),
    ]
    assert {entry for entry in bare.log if entry[1] == "sent"} == {
        ("a", "sent", OK), ("c", "sent", OK), ("d", "sent", OK)}


def test_receive_from_one_source_ignores_notifications_from_others(bare: Bare) -> None:
    def b(sys: SysLib) -> None:
        sys.yield_cpu()  # let d notify and a send
        r, m = sys.receive(A)
        bare.log.append(("b from a", r, m.m_type, m.m_source))
        r, m = sys.receive(ANY)
        bare.log.append(("b from any", r, m.m_type, m.m_source))

    bare.proc(B, "b", b)
    bare.proc(D, "d", lambda sys: sys.notify(B))
    bare.proc(A, "a", lambda sys: sys.send(B, Message(REQUEST)))
    bare.run()
    assert bare.log == [
        ("b from a", OK, REQUEST, A),
        ("b from any", OK, NOTIFY_MESSAGE, D),
    ]


def test_nonblocking_send_needs_a_waiting_receiver(bare: Bare) -> None:
    def a(sys: SysLib) -> None:
        bare.log.append(("first", sys.sendnb(B, Message(REQUEST, n=1))))
        sys.yield_cpu()  # b now waits
        bare.log.append(("second", sys.sendnb(B, Message(REQUEST, n=2))))

    def b(sys: SysLib) -> None:
        r, m = sys.receive(ANY)
        bare.log.append(("b got", r, m.n))

    bare.proc(A, "a", a)
    bare.proc(B, "b", b)
    bare.run()
    assert bare.log == [("first", -ENOTREADY), ("second", OK), ("b got", OK, 2)]


def test_send_and_receive_with_a_dead_endpoint_fail(bare: Bare) -> None:
    def a(sys: SysLib) -> None:
        bare.log.append(sys.send(D, Message(REQUEST)))
        bare.log.append(sys.sendrec(D, Message(REQUEST))[0])
        bare.log.append(sys.notify(D))
        bare.log.append(sys.receive(D)[0])

    bare.proc(A, "a", a)
    bare.run()
    assert bare.log == [-EDEADSRCDST] * 4


# --- sendrec -----------------------------------------------------------------------------


def server(bare: Bare, *, before_reply: Script | None = None, nonblocking: bool = False) -> Script:
    """Answer one request: REPLY with the request's x doubled."""

    def serve(sys: SysLib) -> None:
        r, m = sys.receive(ANY)
        bare.log.append(("server got", r, m.m_type, m.m_source))
        if before_reply:
            before_reply(sys)
        reply = Message(REPLY, y=m.x * 2)
        r = sys.sendnb(m.m_source, reply) if nonblocking else sys.send(m.m_source, reply)
        bare.log.append(("server replied", r))

    return serve


def client(bare: Bare, dst: int) -> Script:
    def ask(sys: SysLib) -> None:
        r, m = sys.sendrec(dst, Message(REQUEST, x=21))
        bare.log.append(("client got", r, m.m_type, m.m_source, m.y))

    return ask


@pytest.mark.parametrize("server_first", [True, False], ids=["server-waits", "client-first"])
@pytest.mark.parametrize("nonblocking", [False, True], ids=["send", "sendnb"])
def test_sendrec_gets_the_reply_even_when_the_server_replies_at_once(
    bare: Bare, server_first: bool, nonblocking: bool
) -> None:
    """The client is receiving before the server can run: even a reply by
    non-blocking send (which fails unless the destination waits) arrives."""
    procs = [(B, "server", server(bare, nonblocking=nonblocking)), (A, "client", client(bare, B))]
    for nr, name, script in procs if server_first else reversed(procs):
        bare.proc(nr, name, script)
    bare.run()
    assert bare.log == [
        ("server got", OK, REQUEST, A),
        ("server replied", OK),
        ("client got", OK, REPLY, B, 42),
    ]


def test_a_notification_from_the_server_does_not_satisfy_sendrec(bare: Bare) -> None:
    def notify_first(sys: SysLib) -> None:
        bare.log.append(("server notifies", sys.notify(A)))
        bare.log.append(("client is", bare.p(A).flags_text()))

    def ask(sys: SysLib) -> None:
        client(bare, B)(sys)
        r, m = sys.receive(ANY)  # the notification waited
        bare.log.append(("client then got", r, m.m_type, m.m_source))

    bare.proc(B, "server", server(bare, before_reply=notify_first))
    bare.proc(A, "client", ask)
    bare.run()
    assert bare.log == [
        ("server got", OK, REQUEST, A),
        ("server notifies", OK),
        ("client is", "RECEIVING"),
        ("server replied", OK),
        ("client got", OK, REPLY, B, 42),
        ("client then got", OK, NOTIFY_MESSAGE, B),
    ]


def test_a_notification_pending_before_sendrec_does_not_satisfy_it(bare: Bare) -> None:
    def early_notifier(sys: SysLib) -> None:
        bare.log.append(("server notifies", sys.notify(A)))
        server(bare)(sys)

    def ask(sys: SysLib) -> None:
        sys.yield_cpu()  # the server's notification comes first
        bare.log.append(("client has pending", sorted(bare.p(A).notify_pending)))
        client(bare, B)(sys)
        r, m = sys.receive(B)
        bare.log.append(("client then got", r, m.m_type, m.m_source))

    bare.proc(A, "client", ask)
    bare.proc(B, "server", early_notifier)
    bare.run()
    assert bare.log == [
        ("server notifies", OK),
        ("client has pending", [B]),
        ("server got", OK, REQUEST, A),
        ("server replied", OK),
        ("client got", OK, REPLY, B, 42),
        ("client then got", OK, NOTIFY_MESSAGE, B),
    ]


def test_sendrec_takes_nothing_but_the_reply(bare: Bare) -> None:
    """While a client waits for its reply, other messages and notifications
    for it wait too."""

    def meddle(sys: SysLib) -> None:
        bare.log.append(("other notifies", sys.notify(A)))
        bare.log.append(("other sends", sys.send(A, Message(OTHER))))

    def ask(sys: SysLib) -> None:
        client(bare, B)(sys)
        for _ in range(2):
            r, m = sys.receive(ANY)
            bare.log.append(("client then got", r, m.m_type, m.m_source))

    def slow_server(sys: SysLib) -> None:
        r, m = sys.receive(ANY)  # the meddler runs before this returns
        bare.log.append(("server replies", sys.send(m.m_source, Message(REPLY, y=0))))

    bare.proc(B, "server", slow_server)
    bare.proc(A, "client", ask)
    bare.proc(D, "other", meddle)
    bare.run()
    assert bare.log == [
        ("other notifies", OK),
        ("server replies", OK),
        ("client got", OK, REPLY, B, 0),
        ("client then got", OK, NOTIFY_MESSAGE, D),
        ("client then got", OK, OTHER, D),
        ("other sends", OK),
    ]


# --- notify ------------------------------------------------------------------------------


def test_notify_never_blocks_and_coalesces_per_source(bare: Bare) -> None:
    def noisy(sys: SysLib) -> None:
        bare.log.append(("noisy", [sys.notify(B) for _ in range(5)]))

    def quiet(sys: SysLib) -> None:
        bare.log.append(("quiet", sys.notify(B)))

    def closer(sys: SysLib) -> None:
        sys.send(B, Message(OTHER))  # blocks until b has had every notification

    def b(sys: SysLib) -> None:
        while True:
            r, m = sys.receive(ANY)
            bare.log.append(("b got", r, m.m_type, m.m_source))
            if m.m_type == OTHER:
                return

    bare.proc(A, "noisy", noisy)
    bare.proc(D, "quiet", quiet)
    bare.proc(C, "closer", closer)
    bare.proc(B, "b", b)
    bare.run()
    assert bare.log == [
        ("noisy", [OK] * 5),
        ("quiet", OK),
        ("b got", OK, NOTIFY_MESSAGE, A),  # five notifications, one message
        ("b got", OK, NOTIFY_MESSAGE, D),
        ("b got", OK, OTHER, C),
    ]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 3), max_size=20))
def test_pending_notifications_arrive_once_per_source_lowest_slot_first(
    sources: list[int],
) -> None:
    """Whatever the order and number of notifications, the receiver gets one
    message per source that notified, then the closing message."""
    b = Bare()
    try:
        notifiers = [30, 31, 32, 33]
        got: list[int] = []

        def notifier(index: int) -> Script:
            def script(sys: SysLib) -> None:
                for _ in range(sources.count(index)):
                    assert sys.notify(B) == OK

            return script

        def receiver(sys: SysLib) -> None:
            while True:
                r, m = sys.receive(ANY)
                got.append(m.m_source if m.m_type == NOTIFY_MESSAGE else -1)
                if m.m_type == OTHER:
                    return

        for index, nr in enumerate(notifiers):
            b.proc(nr, f"n{index}", notifier(index))
        b.proc(C, "closer", lambda sys: sys.send(B, Message(OTHER)))
        b.proc(B, "receiver", receiver, priority=USER_Q)  # runs after all the others
        b.run()
        assert got == [notifiers[i] for i in sorted(set(sources))] + [-1]
        assert b.kernel.ipc.notifies == len(sources)
    finally:
        b.close()


def test_notify_wakes_a_waiting_receiver_at_once(bare: Bare) -> None:
    def b(sys: SysLib) -> None:
        r, m = sys.receive(ANY)
        bare.log.append(("b got", r, m.m_type, m.m_source))

    def a(sys: SysLib) -> None:
        bare.log.append(("notify", sys.notify(B)))
        bare.log.append(("b is", bare.p(B).flags_text(), sorted(bare.p(B).notify_pending)))

    bare.proc(B, "b", b)
    bare.proc(A, "a", a)
    bare.run()
    assert bare.log == [
        ("notify", OK),
        ("b is", "RUNNABLE", []),
        ("b got", OK, NOTIFY_MESSAGE, A),
    ]


def test_notification_after_receipt_is_a_new_one(bare: Bare) -> None:
    def a(sys: SysLib) -> None:
        for _ in range(3):
            sys.notify(B)
            sys.notify(B)
            sys.yield_cpu()

    def b(sys: SysLib) -> None:
        for _ in range(3):
            r, m = sys.receive(A)
            bare.log.append((r, m.m_type, m.m_source))

    bare.proc(A, "a", a)
    bare.proc(B, "b", b)
    bare.run()
    assert bare.log == [(OK, NOTIFY_MESSAGE, A)] * 3


# --- deadlock ------------------------------------------------------------------------------


def test_sendrec_cycle_of_two_is_refused_with_elocked(bare: Bare) -> None:
    def a(sys: SysLib) -> None:
        r, m = sys.sendrec(B, Message(REQUEST, x=1))
        bare.log.append(("a", r, m.m_type))

    def b(sys: SysLib) -> None:
        r, m = sys.sendrec(A, Message(REQUEST, x=2))
        bare.log.append(("b", r, m))
        # Not stuck: b can still serve a.
        r, m = sys.receive(ANY)
        sys.send(m.m_source, Message(REPLY))

    bare.proc(A, "a", a)
    bare.proc(B, "b", b)
    bare.run()
    assert bare.log == [("b", -ELOCKED, None), ("a", OK, REPLY)]


def test_sendrec_cycle_of_three_is_refused_with_elocked(bare: Bare) -> None:
    def link(me: str, dst: int) -> Script:
        def script(sys: SysLib) -> None:
            r, m = sys.sendrec(dst, Message(REQUEST))
            bare.log.append((me, r, m and m.m_type))
            if r != OK:
                # The last in the cycle was refused: serve the one that asked it.
                r, m = sys.receive(ANY)
                sys.send(m.m_source, Message(REPLY))
                return
            r, m = sys.receive(ANY)
            sys.send(m.m_source, Message(REPLY))

        return script

    bare.proc(A, "a", link("a", B))
    bare.proc(B, "b", link("b", C))
    bare.proc(C, "c", link("c", A))
    bare.run()
    assert bare.log == [("c", -ELOCKED, None), ("b", OK, REPLY), ("a", OK, REPLY)]


def test_receive_cycle_is_refused_with_elocked(bare: Bare) -> None:
    def a(sys: SysLib) -> None:
        bare.log.append(("a", sys.receive(B)))

    def b(sys: SysLib) -> None:
        r, m = sys.receive(A)
        bare.log.append(("b", r, m))
        sys.send(A, Message(OTHER))

    bare.proc(A, "a", a)
    bare.proc(B, "b", b)
    bare.run()
    assert bare.log[0] == ("b", -ELOCKED, None)
    assert bare.log[1][0] == "a" and bare.log[1][1][0] == OK


def test_send_to_a_process_receiving_from_the_sender_is_not_a_deadlock(bare: Bare) -> None:
    def b(sys: SysLib) -> None:
        r, m = sys.receive(A)
        bare.log.append(("b", r, m.m_type))
        r, m = sys.receive(A)
        bare.log.append(("b", r, m.m_type))
        sys.send(A, Message(REPLY))

    def a(sys: SysLib) -> None:
        bare.log.append(("a send", sys.send(B, Message(REQUEST))))
        r, m = sys.sendrec(B, Message(OTHER))
        bare.log.append(("a sendrec", r, m.m_type))

    bare.proc(B, "b", b)
    bare.proc(A, "a", a)
    bare.run()
    assert bare.log == [
        ("a send", OK),
        ("b", OK, REQUEST),
        ("b", OK, OTHER),
        ("a sendrec", OK, REPLY),
    ]


def test_a_chain_that_ends_in_a_receive_from_any_is_not_a_deadlock(bare: Bare) -> None:
    def b(sys: SysLib) -> None:
        sys.sendrec(C, Message(REQUEST))  # c serves it later
        r, m = sys.receive(ANY)  # then b serves a
        sys.send(m.m_source, Message(REPLY))

    def c(sys: SysLib) -> None:
        sys.yield_cpu()
        bare.log.append(("c", bare.p(A).flags_text(), bare.p(B).flags_text()))
        r, m = sys.receive(ANY)
        sys.send(m.m_source, Message(REPLY))

    def a(sys: SysLib) -> None:
        r, m = sys.sendrec(B, Message(REQUEST))  # b waits on c, c on nobody yet
        bare.log.append(("a", r))

    bare.proc(B, "b", b)
    bare.proc(A, "a", a)
    bare.proc(C, "c", c)
    bare.run()
    assert bare.log == [("c", "SENDING|RECEIVING", "SENDING|RECEIVING"), ("a", OK)]


# --- endpoints and process death -----------------------------------------------------------


def test_next_endpoint_moves_to_the_next_generation_and_wraps() -> None:
    p = Proc(nr=30, endpoint=NONE)
    assert ProcTable.next_endpoint(p) == 30
    p.endpoint = 30
    e = ProcTable.next_endpoint(p)
    assert (_ENDPOINT_G(e), _ENDPOINT_P(e)) == (1, 30)
    p.endpoint = _ENDPOINT(_ENDPOINT_MAX_GENERATION, 30)
    e = ProcTable.next_endpoint(p)
    assert (_ENDPOINT_G(e), _ENDPOINT_P(e)) == (1, 30)  # never 0 again: that was the first


def test_isokendpt_refuses_special_and_out_of_range_endpoints(bare: Bare) -> None:
    bare.proc(A, "a", lambda sys: None)
    bare.run()
    procs = bare.kernel.procs
    assert procs.isokendpt(A) is procs.slot(A)
    for e in (ANY, NONE, SELF, -6, procs.nr_procs, _ENDPOINT(1, A), B):
        assert procs.isokendpt(e) is None


def test_a_reused_slot_gets_a_new_endpoint_and_old_messages_never_reach_it(bare: Bare) -> None:
    """The old occupant of slot 20 is cleared (SYS_CLEAR); a fork (SYS_FORK)
    puts a new process in the slot. Everything addressed to the old
    endpoint fails, and the new occupant sees none of it."""
    old = A
    child_log: list[tuple[Any, ...]] = []

    def child(port: TrapPort) -> None:
        # A forked child starts here when its "fork reply" arrives. The child
        # of a system process is a user process: it may only sendrec.
        sys = SysLib(port)
        child_log.append(("child runs as", sys.endpoint))
        r, m = sys.sendrec(D, Message(REQUEST))
        child_log.append(("child got", r, m.m_type, m.m_source))

    def parent(sys: SysLib) -> None:
        sys.set_fork_entry(child)
        r, m = sys.receive(D)  # the fork happens while this waits
        bare.log.append(("parent woke", r, m.m_type))

    def stale_sender(sys: SysLib) -> None:
        bare.log.append(("stale send", sys.send(old, Message(REQUEST))))  # never taken

    def manager(sys: SysLib) -> None:
        bare.log.append(("clear", sys.sys_clear(old)))
        m = sys.sys_fork(parent=B, slot=_ENDPOINT_P(old))
        new = m.child_ep
        bare.log.append(("fork", m.m_type, _ENDPOINT_P(new), _ENDPOINT_G(new)))
        procs = bare.kernel.procs
        bare.log.append(("isokendpt", procs.isokendpt(old), procs.isokendpt(new).endpoint))
        bare.log.append(("to old", sys.send(old, Message(REQUEST)), sys.notify(old),
                         sys.sendnb(old, Message(REQUEST)), sys.receive(old)[0]))
        bare.log.append(("wake new", sys.send(new, Message(REPLY))))
        r, m = sys.receive(ANY)
        bare.log.append(("request from", r, m.m_source))
        bare.log.append(("answer", sys.send(m.m_source, Message(OTHER))))
        sys.send(B, Message(REPLY))

    bare.proc(old, "old", lambda sys: None)  # stops at once; never receives
    bare.proc(B, "parent", parent)
    bare.proc(C, "stale", stale_sender)
    bare.proc(D, "manager", manager, calls=frozenset({SYS_CLEAR, SYS_FORK}))
    bare.run()
    new = _ENDPOINT(1, old)
    assert bare.log == [
        ("clear", OK),
        ("fork", OK, old, 1),
        ("isokendpt", None, new),
        ("to old", -EDEADSRCDST, -EDEADSRCDST, -EDEADSRCDST, -EDEADSRCDST),
        ("wake new", OK),
        ("stale send", -EDEADSRCDST),  # failed when the old one died
        ("request from", OK, new),
        ("answer", OK),
        ("parent woke", OK, REPLY),
    ]
    # The child's only message is the answer to its own request.
    assert child_log == [("child runs as", new), ("child got", OK, OTHER, D)]
    occupant = bare.kernel.procs.slot(old)
    assert (occupant.endpoint, occupant.name) == (new, "parent")
    assert not occupant.caller_q and not occupant.notify_pending


def test_each_reuse_of_a_slot_is_a_new_generation(bare: Bare) -> None:
    slot = 40

    def parent(sys: SysLib) -> None:
        while True:
            sys.set_fork_entry(lambda port: park(bare.kernel))
            sys.receive(D)

    def manager(sys: SysLib) -> None:
        for _ in range(3):
            ep = sys.sys_fork(parent=B, slot=slot).child_ep
            bare.log.append(ep)
            sys.send(ep, Message(REPLY))  # let it start (and stop)
            sys.send(B, Message(REPLY))
            sys.yield_cpu()  # the parent waits again, ready for the next fork
            sys.sys_clear(ep)

    bare.proc(B, "parent", parent)
    bare.proc(D, "manager", manager, calls=frozenset({SYS_CLEAR, SYS_FORK}))
    bare.run()
    assert bare.log == [_ENDPOINT(0, slot), _ENDPOINT(1, slot), _ENDPOINT(2, slot)]
    assert not bare.kernel.procs.slot(slot).alive


def test_blocked_partners_of_a_dying_process_get_edeadsrcdst(bare: Bare) -> None:
    def victim(sys: SysLib) -> None:
        sys.receive(B)  # takes b's request, never replies
        sys.yield_cpu()

    def requester(sys: SysLib) -> None:
        r, m = sys.sendrec(A, Message(REQUEST))
        bare.log.append(("sendrec", r, m))

    def sender(sys: SysLib) -> None:
        bare.log.append(("send", sys.send(A, Message(REQUEST))))

    def receiver(sys: SysLib) -> None:
        r, m = sys.receive(A)
        bare.log.append(("receive", r, m))

    def killer(sys: SysLib) -> None:
        sys.yield_cpu()
        sys.yield_cpu()
        bare.log.append(("states", [bare.p(e).flags_text() for e in (B, C, D)]))
        bare.log.append(("clear", sys.sys_clear(A)))

    bare.proc(A, "victim", victim, priority=SERVER_Q - 1)  # runs first
    bare.proc(B, "requester", requester)
    bare.proc(C, "sender", sender)
    bare.proc(D, "receiver", receiver)
    bare.proc(24, "killer", killer, calls=frozenset({SYS_CLEAR}))
    bare.run()
    assert bare.log[0] == ("states", ["RECEIVING", "SENDING", "RECEIVING"])
    assert bare.log[1] == ("clear", OK)
    assert sorted(bare.log[2:]) == [
        ("receive", -EDEADSRCDST, None),
        ("send", -EDEADSRCDST),
        ("sendrec", -EDEADSRCDST, None),
    ]
    assert not bare.kernel.procs.slot(A).alive


def test_notifications_from_a_dead_process_are_dropped(bare: Bare) -> None:
    def b(sys: SysLib) -> None:
        sys.yield_cpu()
        r, m = sys.receive(ANY)
        bare.log.append((r, m.m_type, m.m_source))

    def killer(sys: SysLib) -> None:
        sys.sys_clear(A)
        sys.send(B, Message(OTHER))

    bare.proc(A, "a", lambda sys: sys.notify(B))
    bare.proc(B, "b", b)
    bare.proc(C, "killer", killer, calls=frozenset({SYS_CLEAR}))
    bare.run()
    assert bare.log == [(OK, OTHER, C)]


# --- privileges ----------------------------------------------------------------------------


def test_user_process_may_only_sendrec(bare: Bare) -> None:
    def user(sys: SysLib) -> None:
        bare.log.append(("send", sys.send(B, Message(OTHER))))
        bare.log.append(("sendnb", sys.sendnb(B, Message(OTHER))))
        bare.log.append(("receive", sys.receive(ANY)))
        bare.log.append(("notify", sys.notify(B)))
        r, m = sys.sendrec(B, Message(REQUEST, x=5))
        bare.log.append(("sendrec", r, m.y))

    bare.proc(B, "server", server(bare))
    bare.proc(A, "user", user, traps=USER_TRAPS, flags=0, priority=USER_Q)
    bare.run()
    assert bare.log == [
        ("send", -ETRAPDENIED),
        ("sendnb", -ETRAPDENIED),
        ("receive", (-ETRAPDENIED, None)),
        ("notify", -ETRAPDENIED),
        ("server got", OK, REQUEST, A),  # the denied calls delivered nothing
        ("server replied", OK),
        ("sendrec", OK, 10),
    ]


def test_kernel_call_outside_the_call_mask_is_eperm(bare: Bare) -> None:
    def p(sys: SysLib) -> None:
        bare.log.append(sys.sys_whoami())
        bare.log.append(sys.kernel_call(SYS_TIMES, endpoint=SELF).m_type)

    bare.proc(A, "caller", p, calls=frozenset({SYS_GETINFO}))
    bare.run()
    assert bare.log == [("caller", A, SYS_PROC), -EPERM]
    assert bare.kernel.calls.counts[SYS_TIMES] == 1


@pytest.mark.parametrize("call", [KERNEL_CALL + 99, KERNEL_CALL + 3, 0])
def test_kernel_call_without_a_handler_is_ebadrequest(bare: Bare, call: int) -> None:
    def p(sys: SysLib) -> None:
        bare.log.append(sys.kernel_call(call).m_type)

    bare.proc(A, "caller", p, calls=frozenset({call, SYS_GETINFO}))
    bare.proc(B, "other", p)  # not even in its mask: still no such call
    bare.run()
    assert bare.log == [-EBADREQUEST, -EBADREQUEST]


def test_kernel_calls_are_refused_to_a_user_process(bare: Bare) -> None:
    def user(sys: SysLib) -> None:
        bare.log.append(sys.kernel_call(SYS_GETINFO, request=1).m_type)
        bare.log.append(sys.kernel_call(SYS_FORK, parent=A, slot=40).m_type)

    bare.proc(A, "user", user, traps=USER_TRAPS, flags=0, priority=USER_Q)
    bare.run()
    assert bare.log == [-EPERM, -EPERM]
    assert not bare.kernel.procs.slot(40).alive


def test_process_states_after_a_run(bare: Bare) -> None:
    """What a blocked system looks like from outside (the halted-system message)."""

    def b(sys: SysLib) -> None:
        sys.receive(A)

    bare.proc(A, "a", lambda sys: sys.send(C, Message(REQUEST)))
    bare.proc(B, "b", b)
    bare.proc(C, "c", lambda sys: None)
    bare.run()
    assert bare.p(A).rts_flags == RTS_SENDING
    assert bare.p(B).rts_flags == RTS_RECEIVING
    summary = bare.kernel.blocked_summary()
    assert "a(20) SENDING" in summary and "b(21) RECEIVING" in summary


# --- scheduling ------------------------------------------------------------------------------


def test_yield_lets_processes_that_became_runnable_run_first(bare: Bare) -> None:
    def waker(sys: SysLib) -> None:
        bare.log.append(("wake b", sys.send(B, Message(REQUEST))))
        bare.log.append(("wake c", sys.send(C, Message(REQUEST))))
        sys.yield_cpu()  # b and c became runnable after this process was picked
        bare.log.append(("waker again",))

    def sleeper(name: str) -> Script:
        def script(sys: SysLib) -> None:
            sys.receive(ANY)
            bare.log.append((name,))

        return script

    bare.proc(B, "b", sleeper("b"))
    bare.proc(C, "c", sleeper("c"))
    bare.proc(A, "waker", waker)
    bare.run()
    assert bare.log == [("wake b", OK), ("wake c", OK), ("b",), ("c",), ("waker again",)]


def test_higher_priority_runs_first_and_yield_does_not_cross_queues(bare: Bare) -> None:
    def low(sys: SysLib) -> None:
        bare.log.append("low")

    def high(sys: SysLib) -> None:
        bare.log.append("high 1")
        sys.yield_cpu()  # nothing else in its queue: it goes on
        bare.log.append("high 2")

    bare.proc(A, "low", low, priority=USER_Q)
    bare.proc(B, "high", high, priority=SERVER_Q)
    bare.run()
    assert bare.log == ["high 1", "high 2", "low"]


def test_a_process_whose_code_returns_stops_instead_of_starting_over(bare: Bare) -> None:
    starts: list[int] = []

    def entry(port: TrapPort) -> None:
        starts.append(port.endpoint)  # and return, without parking

    bare.image.append(BootProc(A, "returns", entry, SERVER_Q, frozenset()))
    bare.kernel.boot(bare.image)
    bare.kernel.sched.run(lambda: len(starts) > 1, until_idle=True)
    assert starts == [A]
    assert bare.p(A).rts_flags == RTS_PROC_STOP


def test_a_process_made_a_server_while_runnable_blocks_properly(bare: Bare) -> None:
    """SYS_PRIVCTL makes a runnable user process a system process; when it
    then blocks in receive it must stay blocked until a message comes."""

    def user(sys: SysLib) -> None:
        sys.yield_cpu()  # the manager makes this a system process meanwhile
        bare.log.append(("user is now a system process", bare.p(A).is_system))
        r, m = sys.receive(ANY)
        bare.log.append(("user got", r, m and m.m_type))

    def manager(sys: SysLib) -> None:
        bare.log.append(("privctl", sys.sys_privctl(A, SYS_PRIV_SET_SYS, frozenset())))
        sys.yield_cpu()
        bare.log.append(("user is", bare.p(A).flags_text()))
        sys.send(A, Message(REPLY))

    bare.proc(A, "user", user, traps=USER_TRAPS, flags=0, priority=USER_Q)
    bare.proc(B, "manager", manager, calls=frozenset({SYS_PRIVCTL}), priority=USER_Q)
    bare.run()
    assert bare.log == [
        ("privctl", OK),
        ("user is now a system process", True),
        ("user is", "RECEIVING"),
        ("user got", OK, REPLY),
    ]


# --- the IPC trap with the message in the process's memory (int $0x21) -----------------


def test_a_message_in_process_memory_is_sent_and_its_reply_written_back(bare: Bare) -> None:
    def a(sys: SysLib) -> None:
        addr = sys.data_base + 0x100
        sys.mem_write(addr, bytes(Message(REQUEST, x=21)))
        r = sys.port.ipc(SENDREC, B, addr)
        reply = ScriptMessage.view(bytearray(sys.mem_read(addr, 36)))
        bare.log.append(("a got", r, reply.m_type, reply.m_source, reply.y))

    bare.proc(A, "a", a)
    bare.proc(B, "server", server(bare))
    bare.run()
    assert bare.log == [
        ("server got", OK, REQUEST, A),
        ("server replied", OK),
        ("a got", OK, REPLY, B, 42),
    ]


@pytest.mark.parametrize("addr", [0, arch.KERNEL_DATA, 0xFFFFFFE0, 1 << 32, -4],
                         ids=["null", "kernel", "wraps", "beyond-32-bits", "negative"])
@pytest.mark.parametrize("call", [SEND, SENDREC, RECEIVE])
def test_a_message_at_a_bad_address_is_efault_and_nothing_is_sent(
    bare: Bare, addr: int, call: int
) -> None:
    def a(sys: SysLib) -> None:
        bare.log.append(("a", sys.port.ipc(call, B, addr)))
        sys.send(B, Message(OTHER))

    def b(sys: SysLib) -> None:
        r, m = sys.receive(ANY)
        bare.log.append(("b got", m.m_type))

    bare.proc(A, "a", a)
    bare.proc(B, "b", b)
    bare.run()
    assert bare.log == [("a", -EFAULT), ("b got", OTHER)]


def test_a_reply_into_a_read_only_page_is_efault(bare: Bare) -> None:
    """The kernel delivers messages itself, without VM: kernel text is mapped
    but not writable from user mode, so no reply can land there."""

    def a(sys: SysLib) -> None:
        bare.log.append(("receive", sys.port.ipc(RECEIVE, ANY, arch.KERNEL_TEXT)))

    bare.proc(A, "a", a)
    bare.run()
    assert bare.log == [("receive", -EFAULT)]


@pytest.mark.parametrize("call", [SEND, RECEIVE, NOTIFY, SENDNB, 0, 16, 99])
def test_a_user_process_may_only_sendrec(bare: Bare, call: int) -> None:
    def user(sys: SysLib) -> None:
        bare.log.append(sys.port.ipc(call, B, sys.data_base + 0x100))

    bare.proc(A, "user", user, traps=USER_TRAPS, flags=0, priority=USER_Q)
    bare.proc(B, "b", lambda sys: None)
    bare.run()
    assert bare.log == [-ETRAPDENIED]


@pytest.mark.parametrize("dst", [SYSTEM, KERNEL, CLOCK])
def test_a_message_to_a_kernel_task_is_refused_at_once(bare: Bare, dst: int) -> None:
    def a(sys: SysLib) -> None:
        bare.log.append((sys.sendrec(dst, Message(REQUEST))[0], sys.send(dst, Message(REQUEST)),
                         sys.notify(dst)))

    bare.proc(A, "a", a)
    bare.run()
    assert bare.log == [(-ECALLDENIED, -ECALLDENIED, -ECALLDENIED)]
