"""SENDA (MINIX asynsend) on a bare kernel: a system process hands the
kernel a table of messages in its own memory and never blocks; each
message is delivered when its destination receives, and its entry is
marked done with the result. Then libsys's asynsend, which keeps the
table (with a stand-in VM that answers its one VM_MMAP).

The boot processes of a bare kernel share one mapping of the boot area,
so a script's table lies a page above its static data.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_ipc import OTHER, REPLY, REQUEST, Bare, ScriptMessage

from minixvm.errors import (
    EAGAIN,
    ECALLDENIED,
    EDEADSRCDST,
    EFAULT,
    EINVAL,
    ENOMEM,
    ETRAPDENIED,
    OK,
)
from minixvm.include import arch
from minixvm.include.com import ANY, ASYNCM, NOTIFY_MESSAGE, SYS_CLEAR, SYSTEM, VM_PROC_NR
from minixvm.include.ipc import (
    AMF_DONE,
    AMF_NOREPLY,
    AMF_NOTIFY,
    AMF_VALID,
    ASYNMSG,
    ASYNMSG_SIZE,
    Message,
)
from minixvm.include.vm import VM_MMAP, VmMmap
from minixvm.kernel.ipc import ASYN_MAX
from minixvm.kernel.proc import SENDA, USER_Q, USER_TRAPS
from minixvm.lib.sys import ASYN_NR, SysLib

A, B, C, D, E = 20, 21, 22, 23, 24
DEAD = 30  # a slot no process has
DONE = AMF_VALID | AMF_DONE


@pytest.fixture
def bare() -> Iterator[Bare]:
    b = Bare()
    yield b
    b.close()


def table_addr(sys: SysLib) -> int:
    return sys.data_base + 0x1000


def senda(sys: SysLib, *entries: tuple[int, Message] | tuple[int, Message, int]) -> int:
    """Write (dst, message[, flags]) entries as a table and SENDA it."""
    raw = b"".join(ASYNMSG.pack(e[2] if len(e) == 3 else AMF_VALID, e[0], 0, bytes(e[1].buf))
                   for e in entries)
    sys.mem_write(table_addr(sys), raw)
    return sys.port.senda(table_addr(sys), len(entries))


def entries(bare: Bare, endpoint: int, n: int) -> list[tuple[int, int]]:
    """(flags, result) of the first ``n`` entries of ``endpoint``'s table."""
    addr = bare.kernel.procs.slot(endpoint).context.data_base + 0x1000
    raw = bare.ram.read(addr, n * ASYNMSG_SIZE)  # the boot area maps one to one
    return [(flags, result) for flags, _, result, _ in ASYNMSG.iter_unpack(raw)]


def receiver(bare: Bare, n: int, src: int = ANY, first_yield: bool = True) -> object:
    def receive(sys: SysLib) -> None:
        if first_yield:
            sys.yield_cpu()
        for _ in range(n):
            r, m = sys.receive(src)
            bare.log.append(("got", r, m.m_type, m.m_source, m.n))

    return receive


# -- delivery -------------------------------------------------------------------------------


def test_the_sender_never_blocks_and_messages_arrive_in_table_order(bare: Bare) -> None:
    def a(sys: SysLib) -> None:
        r = senda(sys, *[(B, Message(REQUEST, n=n)) for n in (1, 2, 3)])
        bare.log.append(("senda", r, bare.p(A).flags_text(), bare.p(B).flags_text()))

    bare.proc(A, "a", a)
    bare.proc(B, "b", receiver(bare, 3))
    bare.run()
    assert bare.log == [
        ("senda", OK, "RUNNABLE", "RUNNABLE"),  # b has not received yet: a went on
        ("got", OK, REQUEST, A, 1),
        ("got", OK, REQUEST, A, 2),
        ("got", OK, REQUEST, A, 3),
    ]
    assert entries(bare, A, 3) == [(DONE, OK)] * 3


def test_a_waiting_receiver_gets_the_message_during_the_senda(bare: Bare) -> None:
    def a(sys: SysLib) -> None:
        r = senda(sys, (B, Message(REQUEST, n=7)), (B, Message(REQUEST, n=8)))
        bare.log.append(("senda", r, entries(bare, A, 2)))

    bare.proc(B, "b", receiver(bare, 2, first_yield=False))
    bare.proc(A, "a", a)
    bare.run()
    assert bare.log == [
        # The first went to b at once; b was no longer receiving for the second.
        ("senda", OK, [(DONE, OK), (AMF_VALID, 0)]),
        ("got", OK, REQUEST, A, 7),
        ("got", OK, REQUEST, A, 8),
    ]


def test_a_message_waits_for_a_receive_from_any_or_from_its_sender(bare: Bare) -> None:
    """b's receive from c takes c's message and leaves a's; a receive from
    ANY takes a notification first, then a pending SENDA message, then a
    blocked sender's message (MINIX mini_receive's order)."""

    def b(sys: SysLib) -> None:
        sys.yield_cpu()  # everyone else posts first
        for src in (C, ANY, ANY, ANY):
            r, m = sys.receive(src)
            bare.log.append(("got", r, m.m_type, m.m_source, ScriptMessage.view(m.buf).n))

    bare.proc(B, "b", b)
    bare.proc(A, "a", lambda sys: senda(sys, (B, Message(REQUEST, n=1))))
    bare.proc(D, "d", lambda sys: sys.send(B, Message(OTHER, n=4)))
    bare.proc(C, "c", lambda sys: senda(sys, (B, Message(REQUEST, n=3))))
    bare.proc(E, "e", lambda sys: sys.notify(B))
    bare.run()
    assert bare.log == [
        ("got", OK, REQUEST, C, 3),
        ("got", OK, NOTIFY_MESSAGE, E, 0),
        ("got", OK, REQUEST, A, 1),
        ("got", OK, OTHER, D, 4),
    ]


def test_a_sendrec_takes_an_asynchronous_reply_but_not_one_marked_noreply(
        bare: Bare) -> None:
    def client(sys: SysLib) -> None:
        r, m = sys.sendrec(B, Message(REQUEST, n=1))
        bare.log.append(("reply", r, m.m_type, m.n))
        r, m = sys.receive(ANY)
        bare.log.append(("then", r, m.m_type, m.n))

    def server(sys: SysLib) -> None:
        r, m = sys.receive(ANY)
        senda(sys, (m.m_source, Message(OTHER, n=2), AMF_VALID | AMF_NOREPLY),
              (m.m_source, Message(REPLY, n=3)))
        bare.log.append(("server", entries(bare, B, 2)))

    bare.proc(A, "client", client)
    bare.proc(B, "server", server)
    bare.run()
    assert bare.log == [
        ("server", [(AMF_VALID | AMF_NOREPLY, 0), (DONE, OK)]),
        ("reply", OK, REPLY, 3),
        ("then", OK, OTHER, 2),
    ]


def test_amf_notify_tells_the_sender_when_the_message_is_delivered(bare: Bare) -> None:
    def a(sys: SysLib) -> None:
        senda(sys, (B, Message(REQUEST, n=5), AMF_VALID | AMF_NOTIFY))
        r, m = sys.receive(ANY)
        bare.log.append(("a", r, m.m_type, m.m_source))

    bare.proc(A, "a", a)
    bare.proc(B, "b", receiver(bare, 1))
    bare.run()
    assert bare.log == [("got", OK, REQUEST, A, 5), ("a", OK, NOTIFY_MESSAGE, ASYNCM)]


def test_asynchronous_messages_are_traced_like_other_messages(bare: Bare) -> None:
    bare.kernel.trace.enabled = True

    def a(sys: SysLib) -> None:
        sys.send(B, Message(REQUEST, n=6))
        senda(sys, (B, Message(REQUEST, n=6)))

    bare.proc(A, "a", a)
    bare.proc(B, "b", receiver(bare, 2))
    bare.run()
    lines = [line for line in bare.kernel.trace.lines if line.startswith("msg")]
    assert len(lines) == 2 and lines[0] == lines[1]
    assert lines[0].startswith("msg    a(20) -> b(21) ")
    assert bare.kernel.ipc.messages == 2


# -- failures ---------------------------------------------------------------------------------


def test_a_dead_destination_is_edeadsrcdst_in_the_entry(bare: Bare) -> None:
    """At the SENDA (no such process, a kernel task) or when the destination
    dies with the message still waiting; the other entries are unharmed."""

    def a(sys: SysLib) -> None:
        r = senda(sys, (DEAD, Message(REQUEST)), (C, Message(REQUEST)), (SYSTEM, Message(REQUEST)),
                  (B, Message(REQUEST, n=9)))
        bare.log.append(("senda", r, entries(bare, A, 4)))

    def killer(sys: SysLib) -> None:
        sys.yield_cpu()
        bare.log.append(("clear", sys.sys_clear(C)))

    bare.proc(A, "a", a)
    bare.proc(C, "c", lambda sys: None)  # stops at once: never receives
    bare.proc(D, "killer", killer, calls=frozenset({SYS_CLEAR}))
    bare.proc(B, "b", receiver(bare, 1))
    bare.run()
    assert bare.log[0] == ("senda", OK, [(DONE, -EDEADSRCDST), (AMF_VALID, 0),
                                         (DONE, -ECALLDENIED), (AMF_VALID, 0)])
    assert set(bare.log[1:]) == {("clear", OK), ("got", OK, REQUEST, A, 9)}
    assert entries(bare, A, 4) == [(DONE, -EDEADSRCDST), (DONE, -EDEADSRCDST),
                                   (DONE, -ECALLDENIED), (DONE, OK)]


@pytest.mark.parametrize(("table", "count", "error"), [
    (0, 1, -EFAULT),
    (arch.KERNEL_DATA, 1, -EFAULT),  # mapped, but not for user mode
    (0xFFFFFFF0, 1, -EFAULT),
    (None, -1, -EINVAL),
    (None, ASYN_MAX + 1, -EINVAL),
], ids=["null", "kernel", "wraps", "negative-count", "too-many"])
def test_a_bad_table_or_count_is_refused_and_nothing_is_sent(
        bare: Bare, table: int | None, count: int, error: int) -> None:
    def a(sys: SysLib) -> None:
        # b is waiting: a message the kernel took would reach it at once.
        sys.mem_write(table_addr(sys), ASYNMSG.pack(AMF_VALID, B, 0, bytes(Message(REQUEST))))
        bare.log.append(("senda", sys.port.senda(table_addr(sys) if table is None else table,
                                                  count)))
        sys.send(B, Message(OTHER))

    bare.proc(B, "b", receiver(bare, 1, first_yield=False))
    bare.proc(A, "a", a)
    bare.run()
    assert bare.log == [("senda", error), ("got", OK, OTHER, A, 0)]


@pytest.mark.parametrize("flags", [0x10, AMF_DONE, AMF_NOTIFY, 0x80000000])
def test_an_entry_with_bad_flags_is_einval_and_no_entry_is_sent(bare: Bare, flags: int) -> None:
    def a(sys: SysLib) -> None:
        r = senda(sys, (B, Message(REQUEST, n=1)), (B, Message(REQUEST, n=2), flags))
        bare.log.append(("senda", r, entries(bare, A, 2)[0]))
        sys.send(B, Message(OTHER))

    bare.proc(B, "b", receiver(bare, 1, first_yield=False))
    bare.proc(A, "a", a)
    bare.run()
    assert bare.log == [("senda", -EINVAL, (AMF_VALID, 0)), ("got", OK, OTHER, A, 0)]


def test_an_empty_table_takes_back_the_messages_still_waiting(bare: Bare) -> None:
    def a(sys: SysLib) -> None:
        senda(sys, (B, Message(REQUEST, n=1)))
        bare.log.append(("cancel", sys.port.senda(0, 0)))
        sys.send(B, Message(OTHER))

    bare.proc(A, "a", a)
    bare.proc(B, "b", receiver(bare, 1))
    bare.run()
    assert bare.log == [("cancel", OK), ("got", OK, OTHER, A, 0)]


def test_a_user_process_may_not_senda(bare: Bare) -> None:
    def user(sys: SysLib) -> None:
        bare.log.append(senda(sys, (B, Message(REQUEST))))
        bare.log.append(sys.port.ipc(SENDA, 1, table_addr(sys)))
        sys.sendrec(B, Message(OTHER))

    bare.proc(A, "user", user, traps=USER_TRAPS, flags=0, priority=USER_Q)
    bare.proc(B, "b", receiver(bare, 1))
    bare.run()
    assert bare.log == [-ETRAPDENIED, -ETRAPDENIED, ("got", OK, OTHER, A, 0)]


def test_the_ipc_trap_takes_the_table_in_ebx_and_the_count_in_eax(bare: Bare) -> None:
    def a(sys: SysLib) -> None:
        sys.mem_write(table_addr(sys), ASYNMSG.pack(AMF_VALID, B, 0,
                                                    bytes(Message(REQUEST, n=4))))
        bare.log.append(("senda", sys.port.ipc(SENDA, 1, table_addr(sys))))

    bare.proc(A, "a", a)
    bare.proc(B, "b", receiver(bare, 1))
    bare.run()
    assert bare.log == [("senda", OK), ("got", OK, REQUEST, A, 4)]


# -- libsys's asynsend ----------------------------------------------------------------------


def fake_vm(bare: Bare, answer: int = OK) -> object:
    """Answer VM_MMAP requests with memory two pages above the caller's static data."""

    def serve(sys: SysLib) -> None:
        while True:
            r, m = sys.receive(ANY)
            assert m.m_type == VM_MMAP
            base = bare.kernel.procs.slot(m.m_source).context.data_base
            sys.send(m.m_source, VmMmap(answer, retaddr=base + 0x2000 if answer == OK else 0))

    return serve


def asyn_table(bare: Bare, endpoint: int) -> list[tuple[int, int, int]]:
    """(flags, dst, n) of every entry of ``endpoint``'s asynsend table."""
    addr = bare.kernel.procs.slot(endpoint).context.data_base + 0x2000
    raw = bare.ram.read(addr, ASYN_NR * ASYNMSG_SIZE)
    return [(flags, dst, ScriptMessage.view(bytearray(msg)).n)
            for flags, dst, _, msg in ASYNMSG.iter_unpack(raw)]


def test_asynsend_reuses_the_table_once_the_kernel_is_done_with_it(bare: Bare) -> None:
    def a(sys: SysLib) -> None:
        bare.log.append(("sent", [sys.asynsend(B, Message(REQUEST, n=n)) for n in (1, 2)]))
        sys.receive(B)  # b has taken both
        bare.log.append(("table", asyn_table(bare, A)[:3]))
        bare.log.append(("again", sys.asynsend(B, Message(REQUEST, n=3))))
        bare.log.append(("table", asyn_table(bare, A)[:3]))

    def b(sys: SysLib) -> None:
        receiver(bare, 2, first_yield=False)(sys)
        sys.send(A, Message(OTHER))
        receiver(bare, 1, first_yield=False)(sys)

    bare.proc(VM_PROC_NR, "vm", fake_vm(bare))
    bare.proc(A, "a", a)
    bare.proc(B, "b", b, priority=USER_Q)  # runs only when a waits
    bare.run()
    assert bare.log == [
        ("sent", [OK, OK]),
        ("got", OK, REQUEST, A, 1),
        ("got", OK, REQUEST, A, 2),
        ("table", [(DONE, B, 1), (DONE, B, 2), (0, 0, 0)]),
        # Everything was delivered: the next message takes the first slot
        # (and b, waiting, has it before the call returns).
        ("again", OK),
        ("table", [(DONE, B, 3), (DONE, B, 2), (0, 0, 0)]),
        ("got", OK, REQUEST, A, 3),
    ]


def test_a_full_asynsend_table_is_eagain_and_loses_nothing(bare: Bare) -> None:
    def a(sys: SysLib) -> None:
        results = [sys.asynsend(B, Message(REQUEST, n=n)) for n in range(ASYN_NR)]
        bare.log.append(("sent", set(results), sys.asynsend(B, Message(REQUEST, n=-1))))
        sys.send(B, Message(OTHER))
        bare.log.append(("after", sys.asynsend(B, Message(REQUEST, n=ASYN_NR))))

    def b(sys: SysLib) -> None:
        r, m = sys.receive(A)
        got = []
        while m.m_type == REQUEST:
            got.append(m.n)
            r, m = sys.receive(ANY)
        bare.log.append(("b got", got == list(range(ASYN_NR)), m.m_type))
        r, m = sys.receive(ANY)
        bare.log.append(("b got", m.n))

    bare.proc(VM_PROC_NR, "vm", fake_vm(bare))
    bare.proc(A, "a", a)
    bare.proc(B, "b", b, priority=USER_Q)  # runs only when a waits
    bare.run()
    assert bare.log == [
        ("sent", {OK}, -EAGAIN),
        ("b got", True, OTHER),
        ("after", OK),
        ("b got", ASYN_NR),
    ]


@pytest.mark.parametrize("vm", [True, False], ids=["vm-refuses", "no-vm"])
def test_asynsend_without_memory_for_its_table_says_why(bare: Bare, vm: bool) -> None:
    if vm:
        bare.proc(VM_PROC_NR, "vm", fake_vm(bare, -ENOMEM))
    bare.proc(A, "a", lambda sys: bare.log.append(sys.asynsend(B, Message(REQUEST))))
    bare.proc(B, "b", lambda sys: None)
    bare.run()
    assert bare.log == [-ENOMEM if vm else -EDEADSRCDST]
