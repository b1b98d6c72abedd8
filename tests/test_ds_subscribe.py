"""DS subscriptions: MINIX's test/ds subscriber program, the type filter,
anchored regexes, DS_CHECK, and the notifications deletions send.

The subscriber is a service of its own (a user process cannot receive a
notification): it subscribes, waits for DS's notifications, and on each
one checks what changed and prints it, as MINIX's test/ds/subs.c does.
Each step of a test waits for its line, so no two notifications merge.
"""

from __future__ import annotations

import pytest
from remote import Remote

from minixvm import System
from minixvm.errors import EAGAIN, EEXIST, EINVAL, ENOENT, EPERM, ESRCH, OK
from minixvm.include.com import DS_PROC_NR, RS_PROC_NR
from minixvm.include.ds import (
    DSF_INITIAL,
    DSF_OVERWRITE,
    DSF_PRIV_SUBSCRIBE,
    DSF_TYPE_LABEL,
    DSF_TYPE_STR,
    DSF_TYPE_U32,
)
from minixvm.include.ipc import Message
from minixvm.lib.c import Process, Program
from minixvm.lib.ds import (
    ds_check,
    ds_delete_u32,
    ds_publish_mem,
    ds_publish_str,
    ds_publish_u32,
    ds_retrieve_label_num,
    ds_retrieve_str,
    ds_retrieve_u32,
    ds_subscribe,
)
from minixvm.servers.ds import store

STOP = 0x7100  # tells the subscriber to exit


def subscriber(regex: str, flags: int = DSF_INITIAL) -> Program:
    """MINIX's subs.c: subscribe, then report every change DS notifies."""

    def subs(p: Process) -> int:
        r = ds_subscribe(p.sys, regex, flags)
        if r != OK:
            return -r
        p.printf("SUBSCRIBER: subscribed to %s\n", regex)
        while True:
            r, m = p.sys.receive()
            if r != OK or m is None:
                return 1
            if m.m_source == DS_PROC_NR:
                report(p)
            elif m.m_type == STOP:
                return 0

    return subs


def report(p: Process) -> None:
    """One check per notification, as subs.c: print the changed key and its
    value; nothing changed means the key was deleted."""
    r, key, kind, owner = ds_check(p.sys)
    if r == -ENOENT:
        p.printf("SUBSCRIBER: a key was deleted\n")
    elif kind == DSF_TYPE_U32:
        p.printf("SUBSCRIBER: key: %s, U32: %d, owner %d\n", key,
                 ds_retrieve_u32(p.sys, key)[1], owner)
    elif kind == DSF_TYPE_STR:
        p.printf("SUBSCRIBER: key: %s, STR: %s, owner %d\n", key,
                 ds_retrieve_str(p.sys, key)[1], owner)
    else:
        p.printf("SUBSCRIBER: key: %s, type %#x, owner %d\n", key, kind, owner)


def said(system: System) -> list[str]:
    """What the subscriber printed so far."""
    return [line for line in system.console.text.splitlines() if line.startswith("SUBSCRIBER")]


def wait_for(system: System, count: int) -> list[str]:
    """Run until the subscriber has printed ``count`` lines; the lines."""
    system.kernel.sched.run(lambda: len(said(system)) >= count)
    return said(system)


def stop(sender: Remote, label: str) -> None:
    """``sender`` finds the subscriber by its label and tells it to exit."""
    def send(p: Process) -> int:
        r, ep = ds_retrieve_label_num(p.sys, label)
        assert r == OK
        return p.sys.send(ep, Message(STOP))

    assert sender.do(send) == OK


@pytest.fixture
def dstest(system: System) -> Remote:
    """The publisher, a service."""
    return Remote.start(system, "dstest", service=True)


def notified(system: System, remote: Remote) -> bool:
    """Has DS a notification pending for ``remote`` (which then takes it)?"""
    pending = DS_PROC_NR in system.kernel.procs.isokendpt(remote.endpoint).notify_pending
    if pending:
        remote.do(lambda p: p.sys.receive(DS_PROC_NR))
    return pending


# -- the subscriber program ---------------------------------------------------------------


def test_the_subscriber_sees_the_initial_value_updates_and_a_deletion(
    system: System, dstest: Remote,
) -> None:
    me = dstest.endpoint
    assert dstest.do(lambda p: ds_publish_u32(p.sys, "test_u32", 1234)) == OK
    subs = system.spawn(subscriber("test_.*"), name="subs", service=True)
    assert wait_for(system, 2) == ["SUBSCRIBER: subscribed to test_.*",
                                   f"SUBSCRIBER: key: test_u32, U32: 1234, owner {me}"]

    assert dstest.do(lambda p: ds_publish_u32(p.sys, "test_u32", 4321, DSF_OVERWRITE)) == OK
    assert wait_for(system, 3)[-1] == f"SUBSCRIBER: key: test_u32, U32: 4321, owner {me}"
    assert dstest.do(lambda p: ds_publish_str(p.sys, "test_str", "little")) == OK
    assert wait_for(system, 4)[-1] == f"SUBSCRIBER: key: test_str, STR: little, owner {me}"

    # The regex matches whole keys: these contain a match but do not match.
    assert dstest.do(lambda p: ds_publish_u32(p.sys, "my_test_u32", 1)) == OK
    assert dstest.do(lambda p: ds_publish_str(p.sys, "a_test_str", "no")) == OK
    assert dstest.do(lambda p: ds_delete_u32(p.sys, "test_u32")) == OK
    assert wait_for(system, 5)[-1] == "SUBSCRIBER: a key was deleted"

    stop(dstest, "subs")
    assert system.wait(subs) == 0
    assert len(said(system)) == 5


def test_the_type_filter(system: System, dstest: Remote) -> None:
    subs = system.spawn(subscriber("f_.*", DSF_TYPE_U32), name="subs", service=True)
    wait_for(system, 1)

    def publish(p: Process) -> None:
        buf = p.mmap(4096)
        assert ds_publish_mem(p.sys, "f_mem", buf, 16) == OK
        assert ds_publish_str(p.sys, "f_str", "s") == OK
        assert ds_publish_u32(p.sys, "f_u32", 5) == OK

    dstest.do(publish)
    assert wait_for(system, 2)[-1] == f"SUBSCRIBER: key: f_u32, U32: 5, owner {dstest.endpoint}"
    stop(dstest, "subs")
    assert system.wait(subs) == 0
    assert len(said(system)) == 2


def test_subscribe_without_initial_reports_only_later_changes(
    system: System, dstest: Remote,
) -> None:
    assert dstest.do(lambda p: ds_publish_u32(p.sys, "old", 1)) == OK
    subs = system.spawn(subscriber("old|new", 0), name="subs", service=True)
    wait_for(system, 1)
    assert dstest.do(lambda p: ds_publish_u32(p.sys, "new", 2)) == OK
    assert wait_for(system, 2) == ["SUBSCRIBER: subscribed to old|new",
                                   f"SUBSCRIBER: key: new, U32: 2, owner {dstest.endpoint}"]
    stop(dstest, "subs")
    assert system.wait(subs) == 0


# -- DS_SUBSCRIBE and DS_CHECK step by step ----------------------------------------------


def test_check_hands_out_the_lowest_changed_key_once(system: System, dstest: Remote) -> None:
    watcher = Remote.start(system, "watcher", service=True)
    assert watcher.do(lambda p: ds_check(p.sys)) == (-ESRCH, "", 0, 0)
    assert watcher.do(lambda p: ds_subscribe(p.sys, "w[0-9]", DSF_INITIAL)) == OK
    assert not notified(system, watcher), "nothing matched yet"
    assert watcher.do(lambda p: ds_check(p.sys)) == (-ENOENT, "", 0, 0)
    for key in ("w1", "w2", "w3"):
        assert dstest.do(lambda p, key=key: ds_publish_u32(p.sys, key, 0)) == OK
    assert notified(system, watcher)
    me = dstest.endpoint
    assert watcher.do(lambda p: [ds_check(p.sys) for _ in range(4)]) == [
        (OK, "w1", DSF_TYPE_U32, me), (OK, "w2", DSF_TYPE_U32, me),
        (OK, "w3", DSF_TYPE_U32, me), (-ENOENT, "", 0, 0)]
    assert dstest.do(lambda p: (ds_publish_u32(p.sys, "w2", 1, DSF_OVERWRITE),
                                ds_delete_u32(p.sys, "w1"))) == (OK, OK)
    assert notified(system, watcher)
    assert watcher.do(lambda p: [ds_check(p.sys) for _ in range(2)]) == [
        (OK, "w2", DSF_TYPE_U32, me), (-ENOENT, "", 0, 0)]


def test_one_subscription_per_label(system: System, dstest: Remote) -> None:
    assert dstest.do(lambda p: ds_subscribe(p.sys, "a")) == OK
    assert dstest.do(lambda p: ds_subscribe(p.sys, "b")) == -EEXIST
    assert dstest.do(lambda p: ds_publish_u32(p.sys, "a", 1)) == OK
    assert dstest.do(lambda p: ds_subscribe(p.sys, "b", DSF_OVERWRITE)) == OK
    assert dstest.do(lambda p: ds_check(p.sys)) == (-ENOENT, "", 0, 0), "a's mark went"
    assert dstest.do(lambda p: ds_subscribe(p.sys, "(", DSF_OVERWRITE)) == -EINVAL


def test_a_full_subscription_table_is_eagain(system: System, dstest: Remote,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # VFS and MFS have one each: the root file server's label, the disk driver's.
    monkeypatch.setattr(store, "NR_DS_SUBS", 3)
    other = Remote.start(system, "other", service=True)
    assert dstest.do(lambda p: ds_subscribe(p.sys, "x")) == OK
    assert other.do(lambda p: ds_subscribe(p.sys, "x")) == -EAGAIN
    assert dstest.do(lambda p: ds_subscribe(p.sys, "y", DSF_OVERWRITE)) == OK


def test_priv_subscribe_hides_changes_from_others(system: System, dstest: Remote) -> None:
    watcher = Remote.start(system, "watcher", service=True)
    assert watcher.do(lambda p: ds_subscribe(p.sys, "s_.*")) == OK
    assert dstest.do(lambda p: ds_subscribe(p.sys, "s_.*")) == OK
    assert dstest.do(lambda p: ds_publish_u32(p.sys, "s_hidden", 1, DSF_PRIV_SUBSCRIBE)) == OK
    assert not notified(system, watcher)
    assert notified(system, dstest)
    assert dstest.do(lambda p: ds_check(p.sys))[:2] == (OK, "s_hidden")
    # Published openly, then hidden by an overwrite: the mark goes too.
    assert dstest.do(lambda p: ds_publish_u32(p.sys, "s_open", 1)) == OK
    assert notified(system, watcher)
    assert dstest.do(lambda p: ds_publish_u32(p.sys, "s_open", 2,
                                              DSF_OVERWRITE | DSF_PRIV_SUBSCRIBE)) == OK
    assert watcher.do(lambda p: ds_check(p.sys)) == (-ENOENT, "", 0, 0)
    assert watcher.do(lambda p: ds_retrieve_u32(p.sys, "s_open")) == (OK, 2)


def test_a_program_without_a_label_cannot_subscribe(system: System) -> None:
    user = Remote.start(system, "user")
    assert user.do(lambda p: ds_subscribe(p.sys, ".*")) == -ESRCH
    assert user.do(lambda p: ds_check(p.sys)) == (-ESRCH, "", 0, 0)
    assert user.do(lambda p: ds_publish_u32(p.sys, "u", 1)) == -EPERM


# -- deletions through labels ---------------------------------------------------------------


def test_dropping_a_label_notifies_the_subscribers_of_its_entries(
    system: System, dstest: Remote,
) -> None:
    watcher = Remote.start(system, "watcher", service=True)
    other = Remote.start(system, "other", service=True)
    assert watcher.do(lambda p: ds_subscribe(p.sys, "other_.*|other", DSF_TYPE_U32 |
                                             DSF_TYPE_LABEL)) == OK
    assert other.do(lambda p: ds_publish_u32(p.sys, "other_u32", 1)) == OK
    assert notified(system, watcher)
    assert watcher.do(lambda p: ds_check(p.sys)) == (OK, "other_u32", DSF_TYPE_U32,
                                                     other.endpoint)
    assert other.do(lambda p: ds_publish_u32(p.sys, "other_2", 2)) == OK
    other.exit()  # RS deletes its label: its entries go
    assert watcher.do(lambda p: ds_retrieve_u32(p.sys, "other_u32")) == (-ESRCH, 0)
    assert notified(system, watcher)
    assert watcher.do(lambda p: ds_check(p.sys)) == (-ENOENT, "", 0, 0)
    # A new "other" is announced (a label is an entry too).
    again = Remote.start(system, "other", service=True)
    assert notified(system, watcher)
    assert watcher.do(lambda p: ds_check(p.sys)) == (OK, "other", DSF_TYPE_LABEL, RS_PROC_NR)
    assert again.do(lambda p: ds_retrieve_u32(p.sys, "other_2")) == (-ESRCH, 0)
