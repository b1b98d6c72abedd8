"""DS requests as 36-byte messages: their layouts, and every malformed
request answered with an error reply, from a user process and from a
service alike; DS goes on serving and keeps no memory of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from remote import Remote

from minixvm import System
from minixvm.errors import EINVAL, ENOMEM, EPERM, ESRCH, OK
from minixvm.include.com import ANY, DS_PROC_NR, NONE, NOTIFY_MESSAGE, SELF, SYSTEM
from minixvm.include.ds import (
    DS_CHECK,
    DS_DELETE,
    DS_MAX_KEYLEN,
    DS_PUBLISH,
    DS_RETRIEVE,
    DS_RETRIEVE_LABEL,
    DS_SNAPSHOT,
    DS_SUBSCRIBE,
    DSF_OVERWRITE,
    DSF_PRIV_SNAPSHOT,
    DSF_TYPE_LABEL,
    DSF_TYPE_MAP,
    DSF_TYPE_MEM,
    DSF_TYPE_STR,
    DSF_TYPE_U32,
    DSMF_COPY_MAPPED,
    DSMF_COPY_SNAPSHOT,
    DsCheck,
    DsKeyRequest,
    DsPublish,
    DsRetrieve,
    DsRetrieveLabel,
    DsSnapshot,
)
from minixvm.include.grant import CPF_MAP, CPF_READ, CPF_WRITE, GRANT_ID
from minixvm.include.ipc import MESSAGE_SIZE, Message, layout_of
from minixvm.include.vm import VM_MMAP
from minixvm.lib.c import Process
from minixvm.lib.ds import (
    ds_publish_map,
    ds_publish_mem,
    ds_publish_u32,
    ds_retrieve_mem,
    ds_retrieve_u32,
    ds_snapshot_map,
)
from minixvm.machine.ram import PAGE_SIZE

P = PAGE_SIZE
REQUESTS = (DS_PUBLISH, DS_RETRIEVE, DS_SUBSCRIBE, DS_CHECK, DS_DELETE, DS_SNAPSHOT,
            DS_RETRIEVE_LABEL)

# -- layouts --------------------------------------------------------------------------

# MINIX 3.2's com.h: DS_KEY_GRANT m2_i1, DS_FLAGS m2_i2, DS_NR_SNAPSHOT and
# DS_OWNER m2_i3, DS_VAL m2_l1, DS_VAL_LEN m2_l2, DS_KEY_LEN m2_s1.
OFFSETS = {"key_grant": (8, 4), "flags": (12, 4), "nr_snapshot": (16, 4), "owner": (16, 4),
           "val": (20, 4), "endpoint": (20, 4), "val_len": (24, 4), "key_len": (32, 2)}


@pytest.mark.parametrize("m_type", REQUESTS)
def test_a_layout_round_trips_through_36_bytes(m_type: int) -> None:
    cls = layout_of(m_type)
    assert cls is not Message
    values = {"key_grant": 0x7FFFFFFF, "key_len": -2, "flags": 0x12345678, "val": 0xFFFFFFFE,
              "endpoint": -7, "val_len": 0x7FFF0000, "nr_snapshot": -1, "owner": 0x4000}
    fields = {name: values[name] for name in cls.FIELDS}
    if "val" in fields and "endpoint" in fields:
        del fields["endpoint"]  # the same slot
    m = Message(m_type, m_source=42, **fields)
    data = bytes(m)
    assert len(data) == MESSAGE_SIZE
    back = Message.decode(data)
    assert type(back) is cls and back.m_type == m_type and back.m_source == 42
    for name, value in fields.items():
        assert getattr(back, name) == value, name
        offset, size = OFFSETS[name]
        assert int.from_bytes(data[offset : offset + size], "little", signed=value < 0) == value
    if "endpoint" in cls.FIELDS and "val" in cls.FIELDS:
        assert back.endpoint == -2  # 0xfffffffe read as an endpoint


@pytest.mark.parametrize("m_type", REQUESTS)
def test_an_unset_field_is_zero(m_type: int) -> None:
    m = Message(m_type)
    assert bytes(m)[8:] == bytes(MESSAGE_SIZE - 8)
    assert all(getattr(m, name) == 0 for name in m.FIELDS)


def test_a_field_that_does_not_fit_is_refused_by_the_sender() -> None:
    with pytest.raises(OverflowError):
        DsPublish(key_len=DS_MAX_KEYLEN * 1000)
    with pytest.raises(OverflowError):
        DsPublish(val=1 << 32)
    with pytest.raises(TypeError):
        DsPublish(flags="u32")
    with pytest.raises(TypeError):
        DsCheck(val=1)


# -- malformed requests -----------------------------------------------------------------


@dataclass
class Kit:
    """Keys, values and grants a sender has made to DS, in its own memory."""

    keys: dict[str, tuple[int, int]]  # key -> (grant, key_len)
    raw: dict[str, int]  # odd key grants, by what is odd about them
    revoked: int  # a grant of "fresh", revoked
    short: int  # a grant of the first 2 bytes of "fresh\0"
    value: int  # CPF_READ, 16 bytes
    value_revoked: int
    out: int  # CPF_WRITE, DS_MAX_KEYLEN bytes
    out_ro: int  # CPF_READ, DS_MAX_KEYLEN bytes
    out_short: int  # CPF_WRITE, 2 bytes
    page: int  # CPF_READ | CPF_MAP, one page
    page_nomap: int  # CPF_READ, one page


KEYS = ("fresh", "mem", "map", "u32", "(")
ODD = {"nonul": b"abc", "empty": b"\0\0", "utf8": b"\xff\xfe\0"}


def make_kit(p: Process) -> Kit:
    buf, page = p.mmap(P), p.mmap(P)
    g = p.sys.grants

    def grant(addr: int, n: int, access: int = CPF_READ) -> int:
        r = g.cpf_grant_direct(DS_PROC_NR, addr, n, access)
        assert r >= 0
        return r

    keys, raw, at = {}, {}, buf
    for name in KEYS:
        data = name.encode() + b"\0"
        p.mem[at : at + len(data)] = data
        keys[name] = (grant(at, len(data)), len(data))
        at += len(data)
    for why, data in ODD.items():
        p.mem[at : at + len(data)] = data
        raw[why] = grant(at, len(data))
        at += len(data)
    revoked = grant(buf, 6)
    assert g.cpf_revoke(revoked) == OK
    value_revoked = grant(buf, 16)
    assert g.cpf_revoke(value_revoked) == OK
    return Kit(keys, raw, revoked, grant(buf, 2), grant(buf, 16), value_revoked,
               grant(buf + 2048, DS_MAX_KEYLEN, CPF_WRITE), grant(buf + 2048, DS_MAX_KEYLEN),
               grant(buf + 2048, 2, CPF_WRITE),
               grant(page, P, CPF_READ | CPF_MAP), grant(page, P))


Build = Callable[[Kit], Message]
Field = int | Callable[[Kit], int]


def req(cls: type[Message], m_type: int, name: str = "fresh", **fields: Field) -> Build:
    """A request of key ``name`` (its grant and length) with ``fields``; a field
    may be taken from the sender's kit."""
    def build(kit: Kit) -> Message:
        grant, length = kit.keys[name]
        values = {"key_grant": grant, "key_len": length}
        values.update({f: v(kit) if callable(v) else v for f, v in fields.items()})
        return cls(m_type, **values)
    return build


def publish(flags: int, **fields: Field) -> Build:
    return req(DsPublish, DS_PUBLISH, flags=flags, **fields)


def retrieve(flags: int, name: str, **fields: Field) -> Build:
    return req(DsRetrieve, DS_RETRIEVE, name, flags=flags, **fields)


def label_of(endpoint: int, key_grant: Callable[[Kit], int], key_len: int) -> Build:
    return req(DsRetrieveLabel, DS_RETRIEVE_LABEL, endpoint=endpoint, key_grant=key_grant,
               key_len=key_len)


def raw(m_type: int, payload: bytes = b"") -> Build:
    """A message of ``m_type`` with the payload bytes ``payload``."""
    def build(kit: Kit) -> Message:
        data = (0).to_bytes(4, "little") + m_type.to_bytes(4, "little", signed=True)
        return Message.decode(data + payload.ljust(MESSAGE_SIZE - 8, b"\0"))
    return build


U32, MEM, STR, MAP = DSF_TYPE_U32, DSF_TYPE_MEM, DSF_TYPE_STR, DSF_TYPE_MAP
HUGE = 0x7FFFFFFF


def value(k: Kit) -> int:
    return k.value


def page(k: Kit) -> int:
    return k.page


# (what, request, errno for a user process, errno for a service). A user
# process has no label: its publish or delete fails with EPERM, its
# subscribe with ESRCH, before DS looks further.
CASES: list[tuple[str, Build, int, int]] = [
    # Flags, checked first.
    ("publish: no type", publish(0), EINVAL, EINVAL),
    ("publish: two types", publish(U32 | MEM), EINVAL, EINVAL),
    ("publish: unknown type bit", publish(0x200), EINVAL, EINVAL),
    ("publish: unknown flag bit", publish(U32 | 0x100000), EINVAL, EINVAL),
    ("publish: the sign bit", publish(U32 | -(1 << 31)), EINVAL, EINVAL),
    ("publish: map with overwrite", publish(MAP | DSF_OVERWRITE), EINVAL, EINVAL),
    # The key.
    *[(f"key_len {n}", publish(U32, key_len=n), EPERM, EINVAL)
      for n in (0, 1, DS_MAX_KEYLEN + 1, -1, -32768, 32767)],
    ("key grant -5", publish(U32, key_grant=-5), EPERM, EINVAL),
    ("key grant beyond the table", publish(U32, key_grant=GRANT_ID(1000, 1)), EPERM, EPERM),
    ("key grant revoked", publish(U32, key_grant=lambda k: k.revoked), EPERM, EPERM),
    ("key grant too short", publish(U32, key_grant=lambda k: k.short), EPERM, EPERM),
    ("key without a NUL", publish(U32, key_len=3, key_grant=lambda k: k.raw["nonul"]),
     EPERM, EINVAL),
    ("empty key", publish(U32, key_len=2, key_grant=lambda k: k.raw["empty"]), EPERM, EINVAL),
    ("key not UTF-8", publish(U32, key_len=3, key_grant=lambda k: k.raw["utf8"]),
     EPERM, EINVAL),
    # Values.
    *[(f"str: val_len {n}", publish(STR, val=value, val_len=n), EPERM, EINVAL)
      for n in (0, 17, -1, -HUGE)],
    ("str: val grant -5", publish(STR, val=0xFFFFFFFB, val_len=4), EPERM, EINVAL),
    *[(f"mem: val_len {n}", publish(MEM, val=value, val_len=n), EPERM, EINVAL) for n in (0, -1)],
    ("mem: val_len past the grant", publish(MEM, val=value, val_len=17), EPERM, EPERM),
    ("mem: val_len 2**31 - 1", publish(MEM, val=value, val_len=HUGE), EPERM, ENOMEM),
    ("mem: val grant revoked", publish(MEM, val=lambda k: k.value_revoked, val_len=16),
     EPERM, EPERM),
    *[(f"map: val_len {n}", publish(MAP, val=page, val_len=n), EPERM, EINVAL)
      for n in (0, P + 1, -P)],
    ("map: val_len past the grant", publish(MAP, val=page, val_len=2 * P), EPERM, EPERM),
    ("map: val_len huge", publish(MAP, val=page, val_len=HUGE - P + 1), EPERM, ENOMEM),
    ("map: grant without CPF_MAP", publish(MAP, val=lambda k: k.page_nomap, val_len=P),
     EPERM, EPERM),
    *[(f"label of endpoint {ep}", publish(DSF_TYPE_LABEL, endpoint=ep), EPERM, EINVAL)
      for ep in (ANY, NONE, SELF, SYSTEM, -1, HUGE)],
    # Retrieve: the type, the key, then the value.
    ("retrieve: no type", retrieve(0, "u32"), EINVAL, EINVAL),
    ("retrieve: key_len 0", retrieve(U32, "u32", key_len=0), EINVAL, EINVAL),
    ("retrieve: no such key", retrieve(U32, "fresh"), ESRCH, ESRCH),
    ("retrieve: mem val_len -1", retrieve(MEM, "mem", val=lambda k: k.out, val_len=-1),
     EINVAL, EINVAL),
    ("retrieve: mem val grant -5", retrieve(MEM, "mem", val=0xFFFFFFFB, val_len=4),
     EINVAL, EINVAL),
    ("retrieve: mem into a read-only grant", retrieve(MEM, "mem", val=lambda k: k.out_ro,
                                                      val_len=4), EPERM, EPERM),
    ("retrieve: map without a mode", retrieve(MAP, "map"), EINVAL, EINVAL),
    ("retrieve: map with two modes", retrieve(MAP | DSMF_COPY_MAPPED | DSMF_COPY_SNAPSHOT, "map"),
     EINVAL, EINVAL),
    *[(f"retrieve: snapshot {n}", retrieve(MAP | DSMF_COPY_SNAPSHOT, "map", nr_snapshot=n,
                                           val=lambda k: k.out, val_len=4), EINVAL, EINVAL)
      for n in (-1, 1, HUGE, -(1 << 31))],
    # Subscribe, delete, snapshot, check.
    ("subscribe: unknown type bit", req(DsKeyRequest, DS_SUBSCRIBE, flags=0x400),
     EINVAL, EINVAL),
    ("subscribe: key_len 0", req(DsKeyRequest, DS_SUBSCRIBE, key_len=0), ESRCH, EINVAL),
    ("subscribe: bad regex", req(DsKeyRequest, DS_SUBSCRIBE, "("), ESRCH, EINVAL),
    ("delete: no type", req(DsKeyRequest, DS_DELETE, "u32"), EINVAL, EINVAL),
    ("delete: key_len -1", req(DsKeyRequest, DS_DELETE, "u32", flags=U32, key_len=-1),
     EPERM, EINVAL),
    ("delete: another's entry", req(DsKeyRequest, DS_DELETE, "u32", flags=U32), EPERM, EPERM),
    ("snapshot: key_len 0", req(DsSnapshot, DS_SNAPSHOT, "map", key_len=0), EINVAL, EINVAL),
    ("snapshot: not a map", req(DsSnapshot, DS_SNAPSHOT, "u32"), ESRCH, ESRCH),
    ("snapshot: another's private map", req(DsSnapshot, DS_SNAPSHOT, "map"), EPERM, EPERM),
    ("check: no subscription", req(DsCheck, DS_CHECK), ESRCH, ESRCH),
    # Retrieve a label: the key grant receives it.
    ("label: into a read-only grant", label_of(DS_PROC_NR, lambda k: k.out_ro, DS_MAX_KEYLEN),
     EPERM, EPERM),
    ("label: key_len too small for it", label_of(DS_PROC_NR, lambda k: k.out, 2),
     EINVAL, EINVAL),
    ("label: key_len 0", label_of(DS_PROC_NR, lambda k: k.out, 0), EINVAL, EINVAL),
    ("label: key_len past the grant", label_of(DS_PROC_NR, lambda k: k.out_short, 10),
     EPERM, EPERM),
    ("label: of ANY", label_of(ANY, lambda k: k.out, DS_MAX_KEYLEN), ESRCH, ESRCH),
    # Not a DS request at all.
    *[(f"type {t:#x}", raw(t), EINVAL, EINVAL)
      for t in (0, 0x807, 0x8FF, -1, HUGE, VM_MMAP, NOTIFY_MESSAGE)],
    *[(f"{t:#x} full of ones", raw(t, b"\xff" * 28), EINVAL, EINVAL) for t in REQUESTS],
]


@pytest.fixture
def owner(system: System) -> Remote:
    """A service owning entries the cases name: "mem", "u32", and "map"
    (snapshot 0 taken, snapshots private)."""
    owner = Remote.start(system, "owner", service=True)

    def publish_all(p: Process) -> None:
        buf, page = p.mmap(P), p.mmap(P)
        assert ds_publish_mem(p.sys, "mem", buf, 16) == OK
        assert ds_publish_u32(p.sys, "u32", 7) == OK
        assert ds_publish_map(p.sys, "map", page, P, DSF_PRIV_SNAPSHOT) == OK
        assert ds_snapshot_map(p.sys, "map") == (OK, 0)

    owner.do(publish_all)
    return owner


def send_all(remote: Remote, kit: Kit) -> list[int]:
    """Each case's request, sent by ``remote``: the results (IPC failures too)."""
    def run(p: Process) -> list[int]:
        results = []
        for _, build, _, _ in CASES:
            r, reply = p.sys.sendrec(DS_PROC_NR, build(kit))
            results.append(reply.m_type if r == OK and reply is not None else r)
        return results

    return remote.do(run)


@pytest.mark.parametrize("service", [False, True], ids=["user", "service"])
def test_every_malformed_request_gets_its_error_reply(system: System, owner: Remote,
                                                      service: bool) -> None:
    sender = Remote.start(system, "sender", service=service)
    kit = sender.do(make_kit)
    expected = [-(svc if service else user) for _, _, user, svc in CASES]
    got = send_all(sender, kit)
    wrong = [(what, want, r) for (what, *_), want, r in zip(CASES, expected, got, strict=True)
             if r != want]
    assert not wrong, wrong
    # Again, counting DS's frames: a failed request keeps none.
    frames, maps = system.vm.alloc.free_pages, len(system.kernel.safemaps.entries)
    assert send_all(sender, kit) == expected
    assert (system.vm.alloc.free_pages, len(system.kernel.safemaps.entries)) == (frames, maps)
    # DS still serves, both of them.
    assert sender.do(lambda p: ds_retrieve_u32(p.sys, "u32")) == (OK, 7)
    assert owner.do(lambda p: (ds_publish_u32(p.sys, "after", 9),
                               ds_retrieve_u32(p.sys, "after"))) == (OK, (OK, 9))
    assert sender.do(lambda p: ds_retrieve_mem(p.sys, "mem", p.mmap(P), 16)) == (OK, 16)


def test_a_forged_notification_gets_an_error_reply(system: System, owner: Remote) -> None:
    """A notification is the kernel's: one sent with sendrec is a forgery."""
    user = Remote.start(system, "user")

    def forge(p: Process) -> tuple[int, int]:
        r, reply = p.sys.sendrec(DS_PROC_NR, Message(NOTIFY_MESSAGE))
        assert reply is not None
        return r, reply.m_type

    assert user.do(forge) == (OK, -EINVAL)
    assert owner.do(forge) == (OK, -EINVAL)
    # A service may send without waiting (a user process may only sendrec):
    # nobody takes DS's reply, and DS goes on.
    assert owner.do(lambda p: p.sys.send(DS_PROC_NR, Message(NOTIFY_MESSAGE))) == OK
    assert user.do(lambda p: ds_retrieve_u32(p.sys, "u32")) == (OK, 7)
    assert owner.do(lambda p: ds_retrieve_u32(p.sys, "u32")) == (OK, 7)
