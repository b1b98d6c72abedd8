"""DS, the data store: MINIX's test/ds case by case, then labels, permissions,
errors, snapshots and deletion.

Every client is a process of its own talking to DS by messages and grants:
services (which have labels, published by init) and user programs (which
have none).
"""

from __future__ import annotations

import pytest
from remote import Remote

from minixvm import System
from minixvm.errors import EEXIST, EINVAL, ENOMEM, EPERM, ESRCH, OK
from minixvm.include.com import ANY, DS_PROC_NR, INIT_PROC_NR, PM_PROC_NR, VM_PROC_NR
from minixvm.include.ds import (
    DS_MAX_KEYLEN,
    DS_MAX_STRLEN,
    DS_PUBLISH,
    DS_RETRIEVE,
    DSF_OVERWRITE,
    DSF_PRIV_OVERWRITE,
    DSF_PRIV_RETRIEVE,
    DSF_PRIV_SNAPSHOT,
    DSF_TYPE_LABEL,
    DSF_TYPE_MEM,
    DSF_TYPE_U32,
    DSMF_COPY_MAPPED,
    DSMF_COPY_SNAPSHOT,
    DSMF_MAP_MAPPED,
    NR_DS_KEYS,
)
from minixvm.include.grant import CPF_READ
from minixvm.include.ipc import Message
from minixvm.lib.c import Process
from minixvm.lib.ds import (
    ds_delete_label,
    ds_delete_map,
    ds_delete_mem,
    ds_delete_str,
    ds_delete_u32,
    ds_publish_label,
    ds_publish_map,
    ds_publish_mem,
    ds_publish_str,
    ds_publish_u32,
    ds_retrieve_label_name,
    ds_retrieve_label_num,
    ds_retrieve_map,
    ds_retrieve_mem,
    ds_retrieve_str,
    ds_retrieve_u32,
    ds_snapshot_map,
    ds_subscribe,
)
from minixvm.machine.ram import PAGE_SIZE

P = PAGE_SIZE


@pytest.fixture
def dstest(system: System) -> Remote:
    """MINIX's dstest: a service (so it has a label)."""
    return Remote.start(system, "dstest", service=True)


def serving(remote: Remote) -> bool:
    """DS still answers: a u32 round trip works."""
    return remote.do(lambda p: (ds_publish_u32(p.sys, "alive", 7, DSF_OVERWRITE),
                                ds_retrieve_u32(p.sys, "alive"))) == (OK, (OK, 7))


def raw_request(p: Process, request: int, key: bytes, key_len: int | None = None,
                **fields: int) -> int:
    """Send DS a hand-made request with ``key`` granted; the reply's result."""
    buf = p.mmap(P)
    p.mem[buf : buf + len(key)] = key
    grant = p.sys.grants.cpf_grant_direct(DS_PROC_NR, buf, max(len(key), 1), CPF_READ)
    reply = p.sys.taskcall(DS_PROC_NR, request, key_grant=grant,
                           key_len=len(key) if key_len is None else key_len, **fields)
    p.sys.grants.cpf_revoke(grant)
    p.munmap(buf, P)
    return reply.m_type


# -- MINIX test/ds ----------------------------------------------------------------------


def test_u32(dstest: Remote) -> None:
    def run(p: Process) -> None:
        s = p.sys
        assert ds_publish_u32(s, "test_u32", 1234) == OK
        assert ds_retrieve_u32(s, "test_u32") == (OK, 1234)
        assert ds_publish_u32(s, "test_u32", 4321) == -EEXIST
        assert ds_publish_u32(s, "test_u32", 4321, DSF_OVERWRITE) == OK
        assert ds_retrieve_u32(s, "test_u32") == (OK, 4321)
        assert ds_delete_u32(s, "test_u32") == OK
        assert ds_retrieve_u32(s, "test_u32") == (-ESRCH, 0)

    dstest.do(run)


def test_str(dstest: Remote) -> None:
    def run(p: Process) -> None:
        s = p.sys
        assert ds_publish_str(s, "test_str", "little") == OK
        assert ds_retrieve_str(s, "test_str") == (OK, "little")
        assert ds_delete_str(s, "test_str") == OK
        assert ds_publish_str(s, "test_str", "verylooooooongstring") == -EINVAL
        assert ds_retrieve_str(s, "test_str") == (-ESRCH, "")
        longest = "x" * (DS_MAX_STRLEN - 1)
        assert ds_publish_str(s, "test_str", longest) == OK
        assert ds_retrieve_str(s, "test_str") == (OK, longest)

    dstest.do(run)


def test_mem(dstest: Remote) -> None:
    string1, string2 = b"ok, this is a string\0", b"ok, this is a very looooong string\0"

    def run(p: Process) -> None:
        s = p.sys
        src, buf = p.mmap(P), p.mmap(P)
        p.mem[src : src + len(string1)] = string1
        assert ds_publish_mem(s, "test_mem", src, len(string1)) == OK
        p.mem[src : src + 2] = b"KO"  # DS has its own copy
        assert ds_retrieve_mem(s, "test_mem", buf, 100) == (OK, len(string1)) == (OK, 21)
        assert p.mem[buf : buf + 21] == string1
        p.mem[buf : buf + 21] = bytes(21)
        assert ds_retrieve_mem(s, "test_mem", buf, 8) == (OK, 8)
        assert p.mem[buf : buf + 21] == string1[:8] + bytes(13)
        p.mem[src : src + len(string2)] = string2
        assert ds_publish_mem(s, "test_mem", src, len(string2), DSF_OVERWRITE) == OK
        assert ds_retrieve_mem(s, "test_mem", buf, 100) == (OK, 35)
        assert p.mem[buf : buf + 35] == string2
        assert ds_delete_mem(s, "test_mem") == OK

    dstest.do(run)


def test_map(system: System, dstest: Remote) -> None:
    def run(p: Process) -> None:
        s = p.sys
        buf, buf2, get = p.mmap(P), p.mmap(P), p.mmap(P)
        p.mem.write_u32(buf, 1)
        assert ds_publish_map(s, "test_map", buf, P) == OK
        assert ds_snapshot_map(s, "test_map") == (OK, 0)
        p.mem.write_u32(buf, 2)  # the mapped range changes with it
        assert ds_retrieve_map(s, "test_map", get, P, 0, DSMF_COPY_MAPPED) == (OK, P)
        assert p.mem.read_u32(get) == 2
        assert ds_retrieve_map(s, "test_map", get, P, 0, DSMF_COPY_SNAPSHOT) == (OK, P)
        assert p.mem.read_u32(get) == 1
        assert ds_retrieve_map(s, "test_map", buf2, P, 0, DSMF_MAP_MAPPED) == (OK, P)
        p.mem.write_u32(buf, 3)
        assert p.mem.read_u32(buf2) == 3
        assert ds_delete_map(s, "test_map") == OK
        # The mapping ended with the entry: buf2 keeps what it saw.
        p.mem.write_u32(buf, 4)
        assert p.mem.read_u32(buf2) == 3

    dstest.do(run)
    assert not system.kernel.safemaps.entries


def test_a_publisher_exiting_ends_its_map(system: System, dstest: Remote) -> None:
    """The publisher's label goes with it, and its map: a process that had
    it mapped keeps what it last saw."""
    other = Remote.start(system, "other", service=True)
    buf = dstest.do(lambda p: p.mmap(P))
    dstest.do(lambda p: p.mem.write_u32(buf, 5))
    assert dstest.do(lambda p: ds_publish_map(p.sys, "gone", buf, P)) == OK
    obuf = other.do(lambda p: p.mmap(P))
    assert other.do(lambda p: ds_retrieve_map(p.sys, "gone", obuf, P, 0, DSMF_MAP_MAPPED)) == \
        (OK, P)
    dstest.do(lambda p: p.mem.write_u32(buf, 6))
    assert other.do(lambda p: p.mem.read_u32(obuf)) == 6
    dstest.exit()
    assert other.do(lambda p: ds_retrieve_map(p.sys, "gone", obuf, P)) == (-ESRCH, 0)
    assert other.do(lambda p: p.mem.read_u32(obuf)) == 6
    other.do(lambda p: p.mem.write_u32(obuf, 7))  # a private copy now
    assert not system.kernel.safemaps.entries
    assert serving(other)


def test_label(system: System, dstest: Remote) -> None:
    """A real endpoint without a label (a user program) gets one."""
    user = Remote.start(system, "user")
    ep = user.endpoint

    def run(p: Process) -> None:
        s = p.sys
        assert ds_publish_label(s, "test_label", ep) == OK
        assert ds_retrieve_label_num(s, "test_label") == (OK, ep)
        assert ds_publish_label(s, "hello", ep) == -EEXIST
        assert ds_retrieve_label_name(s, ep) == (OK, "test_label")
        assert ds_delete_label(s, "test_label") == OK
        assert ds_retrieve_label_name(s, ep) == (-ESRCH, "")

    dstest.do(run)


# -- labels -----------------------------------------------------------------------------


def test_boot_processes_and_services_have_labels(system: System, dstest: Remote) -> None:
    names = dstest.do(lambda p: {ep: ds_retrieve_label_name(p.sys, ep) for ep in
                                 (PM_PROC_NR, DS_PROC_NR, VM_PROC_NR, INIT_PROC_NR)})
    assert names == {PM_PROC_NR: (OK, "pm"), DS_PROC_NR: (OK, "ds"), VM_PROC_NR: (OK, "vm"),
                     INIT_PROC_NR: (OK, "init")}
    assert dstest.do(lambda p: ds_retrieve_label_num(p.sys, "dstest")) == (OK, dstest.endpoint)
    twin = Remote.start(system, "dstest", service=True)
    assert twin.do(lambda p: ds_retrieve_label_name(p.sys, p.endpoint)) == \
        (OK, "dstest.1")


def test_a_label_is_renamed_with_overwrite_but_others_are_protected(
    system: System, dstest: Remote,
) -> None:
    user = Remote.start(system, "user")

    def run(p: Process) -> None:
        s = p.sys
        assert ds_publish_label(s, "test_label", user.endpoint) == OK
        assert ds_publish_label(s, "hello", user.endpoint, DSF_OVERWRITE) == OK
        assert ds_retrieve_label_name(s, user.endpoint) == (OK, "hello")
        assert ds_retrieve_label_num(s, "test_label") == (-ESRCH, 0)
        # The labels of boot processes and services are init's and DS's.
        assert ds_publish_label(s, "vm", p.endpoint, DSF_OVERWRITE) == -EEXIST
        assert ds_publish_label(s, "vm", user.endpoint, DSF_OVERWRITE) == -EEXIST
        assert ds_delete_label(s, "hello") == OK
        assert ds_publish_label(s, "vm", user.endpoint, DSF_OVERWRITE) == -EPERM
        assert ds_publish_label(s, "me", p.endpoint, DSF_OVERWRITE) == -EPERM
        assert ds_delete_label(s, "vm") == -EPERM

    dstest.do(run)


def test_a_service_label_goes_when_the_service_exits(system: System, dstest: Remote) -> None:
    other = Remote.start(system, "other", service=True)
    other.do(lambda p: ds_publish_u32(p.sys, "other_u32", 5))
    assert dstest.do(lambda p: ds_retrieve_u32(p.sys, "other_u32")) == (OK, 5)
    other.exit()
    assert dstest.do(lambda p: ds_retrieve_label_num(p.sys, "other")) == (-ESRCH, 0)
    assert dstest.do(lambda p: ds_retrieve_u32(p.sys, "other_u32")) == (-ESRCH, 0)


# -- permissions ------------------------------------------------------------------------


def test_only_the_owner_overwrites_or_deletes(system: System, dstest: Remote) -> None:
    other = Remote.start(system, "other", service=True)
    assert dstest.do(lambda p: ds_publish_u32(p.sys, "mine", 1, DSF_PRIV_OVERWRITE)) == OK
    assert dstest.do(lambda p: ds_publish_u32(p.sys, "open", 1)) == OK
    assert other.do(lambda p: ds_publish_u32(p.sys, "mine", 2, DSF_OVERWRITE)) == -EPERM
    assert other.do(lambda p: ds_delete_u32(p.sys, "mine")) == -EPERM
    assert other.do(lambda p: ds_delete_u32(p.sys, "open")) == -EPERM
    assert other.do(lambda p: ds_retrieve_u32(p.sys, "mine")) == (OK, 1)
    assert dstest.do(lambda p: ds_publish_u32(p.sys, "mine", 3, DSF_OVERWRITE)) == OK
    # Without DSF_PRIV_OVERWRITE anyone with a label may overwrite, and then owns it.
    assert other.do(lambda p: ds_publish_u32(p.sys, "open", 2, DSF_OVERWRITE)) == OK
    assert dstest.do(lambda p: ds_delete_u32(p.sys, "open")) == -EPERM
    assert other.do(lambda p: ds_delete_u32(p.sys, "open")) == OK


def test_priv_retrieve_hides_a_value(system: System, dstest: Remote) -> None:
    other = Remote.start(system, "other", service=True)
    user = Remote.start(system, "user")
    assert dstest.do(lambda p: ds_publish_u32(p.sys, "secret", 42, DSF_PRIV_RETRIEVE)) == OK
    assert dstest.do(lambda p: ds_publish_u32(p.sys, "public", 43)) == OK
    assert other.do(lambda p: ds_retrieve_u32(p.sys, "secret")) == (-EPERM, 0)
    assert user.do(lambda p: ds_retrieve_u32(p.sys, "secret")) == (-EPERM, 0)
    assert dstest.do(lambda p: ds_retrieve_u32(p.sys, "secret")) == (OK, 42)
    assert user.do(lambda p: ds_retrieve_u32(p.sys, "public")) == (OK, 43)


def test_a_process_without_a_label_owns_nothing(system: System, dstest: Remote) -> None:
    """MINIX (later) answers EPERM to a publish or delete from a process
    without a label, ESRCH to its subscribe; it may still retrieve."""
    user = Remote.start(system, "user")
    dstest.do(lambda p: ds_publish_u32(p.sys, "key", 1))
    assert user.do(lambda p: ds_publish_u32(p.sys, "user_key", 1)) == -EPERM
    assert user.do(lambda p: ds_delete_u32(p.sys, "key")) == -EPERM
    assert user.do(lambda p: ds_subscribe(p.sys, "key")) == -ESRCH
    assert user.do(lambda p: ds_retrieve_u32(p.sys, "key")) == (OK, 1)


def test_priv_snapshot_and_map_errors(system: System, dstest: Remote) -> None:
    other = Remote.start(system, "other", service=True)
    buf = dstest.do(lambda p: p.mmap(2 * P))
    assert dstest.do(lambda p: ds_publish_map(p.sys, "m", buf + 1, P)) == -EINVAL
    assert dstest.do(lambda p: ds_publish_map(p.sys, "m", buf, P + 1)) == -EINVAL
    assert dstest.do(lambda p: ds_publish_map(p.sys, "m", buf, P, DSF_OVERWRITE)) == -EINVAL
    assert dstest.do(lambda p: ds_publish_map(p.sys, "m", buf, P, DSF_PRIV_SNAPSHOT)) == OK
    assert dstest.do(lambda p: ds_publish_map(p.sys, "m", buf + P, P)) == -EEXIST
    assert other.do(lambda p: ds_snapshot_map(p.sys, "m")) == (-EPERM, 0)
    assert dstest.do(lambda p: ds_snapshot_map(p.sys, "m")) == (OK, 0)
    obuf = other.do(lambda p: p.mmap(P))
    assert other.do(lambda p: ds_retrieve_map(p.sys, "m", obuf, P, 0, 0)) == (-EINVAL, 0)
    assert other.do(lambda p: ds_retrieve_map(p.sys, "m", obuf, P, 1, DSMF_COPY_SNAPSHOT)) == \
        (-EINVAL, 0)
    assert other.do(lambda p: ds_retrieve_map(p.sys, "m", obuf, P, 0, DSMF_MAP_MAPPED)) == (OK, P)
    assert other.do(lambda p: ds_delete_map(p.sys, "m")) == -EPERM
    assert dstest.do(lambda p: ds_delete_map(p.sys, "m")) == OK
    assert not system.kernel.safemaps.entries


# -- snapshots ----------------------------------------------------------------------------


def test_the_snapshot_ring_keeps_the_last_five(dstest: Remote) -> None:
    def run(p: Process) -> list[tuple[int, int]]:
        s = p.sys
        buf, get = p.mmap(2 * P), p.mmap(2 * P)
        assert ds_publish_map(s, "ring", buf, 2 * P) == OK
        for i in range(7):
            p.mem.write_u32(buf, 100 + i)
            p.mem.write_u32(buf + P, 200 + i)
            assert ds_snapshot_map(s, "ring") == (OK, i)
        seen = []
        for i in range(-1, 8):
            r, n = ds_retrieve_map(s, "ring", get, 2 * P, i, DSMF_COPY_SNAPSHOT)
            seen.append((r, p.mem.read_u32(get) + p.mem.read_u32(get + P) if r == OK else n))
        assert ds_delete_map(s, "ring") == OK
        return seen

    assert dstest.do(run) == [(-EINVAL, 0)] * 3 + [(OK, 300 + 2 * i) for i in range(2, 7)] + \
        [(-EINVAL, 0)]


# -- errors: DS answers and goes on -------------------------------------------------------


def test_a_full_table_is_enomem(dstest: Remote) -> None:
    def run(p: Process) -> int:
        for i in range(NR_DS_KEYS):
            r = ds_publish_u32(p.sys, f"k{i}", i)
            if r != OK:
                assert r == -ENOMEM
                return i
        raise AssertionError("the table never filled")

    published = dstest.do(run)
    assert 0 < published < NR_DS_KEYS  # the labels take their slots too
    assert dstest.do(lambda p: ds_publish_u32(p.sys, "k0", 9, DSF_OVERWRITE)) == OK
    assert dstest.do(lambda p: ds_delete_u32(p.sys, "k1")) == OK
    assert serving(dstest)


def test_key_length(dstest: Remote) -> None:
    longest = "k" * (DS_MAX_KEYLEN - 1)  # 80 bytes with the NUL
    assert dstest.do(lambda p: ds_publish_u32(p.sys, longest, 1)) == OK
    assert dstest.do(lambda p: ds_retrieve_u32(p.sys, longest)) == (OK, 1)
    assert dstest.do(lambda p: ds_publish_u32(p.sys, longest + "k", 1)) == -EINVAL
    assert dstest.do(lambda p: ds_retrieve_u32(p.sys, longest + "k")) == (-EINVAL, 0)
    assert dstest.do(lambda p: ds_publish_u32(p.sys, "", 1)) == -EINVAL
    assert dstest.do(lambda p: raw_request(p, DS_PUBLISH, b"abc\0", 1,
                                           flags=DSF_TYPE_U32, val=1)) == -EINVAL
    assert dstest.do(lambda p: raw_request(p, DS_PUBLISH, b"abc", flags=DSF_TYPE_U32,
                                           val=1)) == -EINVAL  # no NUL
    assert dstest.do(lambda p: raw_request(p, DS_PUBLISH, b"\xff\xfe\0", flags=DSF_TYPE_U32,
                                           val=1)) == -EINVAL  # not UTF-8
    assert serving(dstest)


def test_bad_regex_is_einval(dstest: Remote) -> None:
    # RE2's syntax: a backreference or a repetition over 1,000 cannot be matched
    # in linear time, so they are refused too.
    for bad in ("(", "a**", "[z-a]", "a{1001}", "(a)\\1"):
        assert dstest.do(lambda p, bad=bad: ds_subscribe(p.sys, bad)) == -EINVAL
    assert dstest.do(lambda p: ds_subscribe(p.sys, "test_.*")) == OK
    assert serving(dstest)


def test_a_publish_with_a_revoked_grant_fails(dstest: Remote) -> None:
    def run(p: Process) -> int:
        buf = p.mmap(P)
        p.mem[buf : buf + 5] = b"data\0"
        grant = p.sys.grants.cpf_grant_direct(DS_PROC_NR, buf, 5, CPF_READ)
        assert p.sys.grants.cpf_revoke(grant) == OK
        return raw_request(p, DS_PUBLISH, b"revoked\0", flags=DSF_TYPE_MEM, val=grant,
                           val_len=5)

    assert dstest.do(run) == -EPERM
    assert dstest.do(lambda p: ds_retrieve_mem(p.sys, "revoked", 0, 5)) == (-ESRCH, 0)
    assert serving(dstest)


def test_malformed_requests_are_einval(dstest: Remote) -> None:
    def run(p: Process) -> list[int]:
        sys = p.sys
        return [
            sys.taskcall(DS_PROC_NR, DS_PUBLISH).m_type,  # no fields at all: no type
            sys.taskcall(DS_PROC_NR, DS_PUBLISH, flags=DSF_TYPE_U32 | 0x100000).m_type,
            sys.taskcall(DS_PROC_NR, 0x8FF).m_type,  # no such request
            raw_request(p, DS_PUBLISH, b"k\0\0", flags=DSF_TYPE_U32 | DSF_TYPE_MEM, val=1),
            raw_request(p, DS_RETRIEVE, b"k\0", flags=0),
            raw_request(p, DS_PUBLISH, b"k\0", flags=DSF_TYPE_MEM, val=0, val_len=-1),
            raw_request(p, DS_PUBLISH, b"k\0", flags=DSF_TYPE_LABEL, endpoint=ANY),
        ]

    assert dstest.do(run) == [-EINVAL] * 7
    assert serving(dstest)


def test_a_caller_that_does_not_wait_for_its_reply_cannot_stall_ds(dstest: Remote) -> None:
    other = Remote.start(dstest.system, "other", service=True)
    # A plain send: DS's reply finds nobody receiving and is dropped.
    assert other.do(lambda p: p.sys.send(DS_PROC_NR, _publish_message(p))) == OK
    assert serving(dstest)
    assert dstest.do(lambda p: ds_retrieve_u32(p.sys, "sent")) == (OK, 8)


def _publish_message(p: Process) -> Message:
    buf = p.mmap(P)
    p.mem[buf : buf + 5] = b"sent\0"
    grant = p.sys.grants.cpf_grant_direct(DS_PROC_NR, buf, 5, CPF_READ)
    return Message(DS_PUBLISH, key_grant=grant, key_len=5, flags=DSF_TYPE_U32, val=8)


# -- deleting a label ---------------------------------------------------------------------


def test_deleting_a_label_drops_what_it_owned(system: System, dstest: Remote) -> None:
    """dstest names a user program; the program publishes and subscribes under
    that label; deleting the label deletes its entries and its subscription."""
    user = Remote.start(system, "user")
    watcher = Remote.start(system, "watcher", service=True)
    assert dstest.do(lambda p: ds_publish_label(p.sys, "named", user.endpoint)) == OK

    def publish(p: Process) -> None:
        buf = p.mmap(P)
        p.mem[buf : buf + 3] = b"abc"
        assert ds_publish_u32(p.sys, "named_u32", 1) == OK
        assert ds_publish_mem(p.sys, "named_mem", buf, 3) == OK
        assert ds_subscribe(p.sys, "named_.*") == OK

    user.do(publish)
    assert watcher.do(lambda p: ds_retrieve_u32(p.sys, "named_u32")) == (OK, 1)
    assert dstest.do(lambda p: ds_delete_label(p.sys, "named")) == OK
    assert watcher.do(lambda p: ds_retrieve_u32(p.sys, "named_u32")) == (-ESRCH, 0)
    assert watcher.do(lambda p: ds_retrieve_mem(p.sys, "named_mem", 0, 3)) == (-ESRCH, 0)
    # Named again, the program has no subscription left (a new one is no EEXIST).
    assert dstest.do(lambda p: ds_publish_label(p.sys, "named", user.endpoint)) == OK
    assert user.do(lambda p: ds_subscribe(p.sys, "named_.*")) == OK
    assert serving(dstest)
