"""libsys's data store calls (MINIX lib/libsys/ds.c).

Each call is one request to DS. The key travels through a grant on a
scratch buffer in the caller's own memory (mapped at the first call,
larger when a key needs it); strings travel the same way, memory ranges
through a grant on the caller's range. Every grant ends with its call,
except a published map's, which lasts until ``ds_delete_map`` (MINIX 2010
revoked it at once, which broke DS's mapping).

As every libsys call, each returns OK or a negative errno, and the values
it retrieves alongside: ``r, value = ds_retrieve_u32(sys, "key")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar
from weakref import WeakKeyDictionary

from minixvm.errors import EINVAL, OK
from minixvm.include.com import DS_PROC_NR
from minixvm.include.ds import (
    DS_DELETE,
    DS_MAX_KEYLEN,
    DS_MAX_STRLEN,
    DS_SUBSCRIBE,
    DSF_TYPE_LABEL,
    DSF_TYPE_MAP,
    DSF_TYPE_MEM,
    DSF_TYPE_STR,
    DSF_TYPE_U32,
    DSMF_COPY_MAPPED,
    DSMF_COPY_SNAPSHOT,
    DSMF_MAP_MAPPED,
    DsCheck,
    DsKeyRequest,
    DsPublish,
    DsRequest,
    DsRetrieve,
    DsRetrieveLabel,
    DsSnapshot,
)
from minixvm.include.grant import CPF_MAP, CPF_READ, CPF_WRITE
from minixvm.lib.sys import SysLib
from minixvm.machine.ram import PAGE_SIZE

Value = tuple[int, int, int]  # (address, length, access) of a value grant
R = TypeVar("R", bound=DsRequest)
V = TypeVar("V", DsPublish, DsRetrieve)  # the requests with a value


@dataclass
class _Client:
    """What the library keeps for one process."""

    maps: dict[str, int] = field(default_factory=dict)  # published map key -> its grant


_clients: WeakKeyDictionary[SysLib, _Client] = WeakKeyDictionary()


def _client(sys: SysLib) -> _Client:
    """The library's state for the process of ``sys``."""
    return _clients.setdefault(sys, _Client())


def _grant(sys: SysLib, addr: int, nbytes: int, access: int) -> int:
    """A grant to DS of our [addr, addr+nbytes); its id, or -errno."""
    return sys.grants.cpf_grant_direct(DS_PROC_NR, addr, nbytes, access)


def _failed(m: R, r: int) -> R:
    """Request ``m`` as the reply of a call that failed with ``r`` before DS answered."""
    m.m_type = r
    return m


def _invoke(sys: SysLib, m: R, key: bytes, access: int = CPF_READ) -> R:
    """MINIX do_invoke_ds: send request ``m`` with ``key`` granted from the
    scratch buffer (with CPF_WRITE, room DS writes a key into); the grant
    ends with the call. DS's reply in ``m``'s layout, or ``m`` with the error
    that came first (an IPC failure too, as MINIX's _taskcall)."""
    if len(key) > DS_MAX_KEYLEN:
        return _failed(m, -EINVAL)
    buf = sys.scratch(len(key))
    if buf < 0:
        return _failed(m, buf)
    sys.mem_write(buf, key)
    grant = _grant(sys, buf, len(key), access)
    if grant < 0:
        return _failed(m, grant)
    m.key_grant, m.key_len = grant, len(key)
    r, reply = sys.sendrec(DS_PROC_NR, m)
    sys.grants.cpf_revoke(grant)
    if r != OK or reply is None:
        return _failed(m, r)
    return type(m).view(reply.buf)


def _invoke_value(sys: SysLib, m: V, key: bytes, value: Value) -> V:
    """``_invoke`` with ``value`` granted to DS as ``val``/``val_len`` for the call."""
    grant = _grant(sys, *value)
    if grant < 0:
        return _failed(m, grant)
    m.val, m.val_len = grant, value[1]
    reply = _invoke(sys, m, key)
    sys.grants.cpf_revoke(grant)
    return reply


def _key(name: str) -> bytes:
    """A key as DS takes it: UTF-8 and a NUL."""
    return name.encode() + b"\0"


def _cstring(data: bytes) -> str:
    """The NUL-terminated string at the start of ``data``."""
    return data.split(b"\0", 1)[0].decode(errors="replace")


def _received_key(sys: SysLib) -> str:
    """The key DS wrote into the scratch buffer."""
    return _cstring(sys.mem_read(sys.scratch(DS_MAX_KEYLEN), DS_MAX_KEYLEN))


# -- publish --------------------------------------------------------------------------


def ds_publish_u32(sys: SysLib, key: str, value: int, flags: int = 0) -> int:
    """Publish a 32-bit number."""
    return _invoke(sys, DsPublish(flags=DSF_TYPE_U32 | flags, val=value), _key(key)).m_type


def ds_publish_label(sys: SysLib, key: str, endpoint: int, flags: int = 0) -> int:
    """Name ``endpoint`` ``key`` (what RS does for every service)."""
    m = DsPublish(flags=DSF_TYPE_LABEL | flags, endpoint=endpoint)
    return _invoke(sys, m, _key(key)).m_type


def ds_publish_str(sys: SysLib, key: str, value: str, flags: int = 0) -> int:
    """Publish a string (at most DS_MAX_STRLEN bytes with its NUL, else EINVAL)."""
    k, data = _key(key), value.encode() + b"\0"
    buf = sys.scratch(len(k) + len(data))
    if buf < 0:
        return buf
    sys.mem_write(buf + len(k), data)
    m = DsPublish(flags=DSF_TYPE_STR | flags)
    return _invoke_value(sys, m, k, (buf + len(k), len(data), CPF_READ)).m_type


def ds_publish_mem(sys: SysLib, key: str, addr: int, length: int, flags: int = 0) -> int:
    """Publish a copy of our memory [addr, addr+length)."""
    m = DsPublish(flags=DSF_TYPE_MEM | flags)
    return _invoke_value(sys, m, _key(key), (addr, length, CPF_READ)).m_type


def ds_publish_map(sys: SysLib, key: str, addr: int, length: int, flags: int = 0) -> int:
    """Publish our pages [addr, addr+length) (page-aligned, else EINVAL) for DS to
    map: later writes show in DS. The grant lasts until ``ds_delete_map``."""
    if addr % PAGE_SIZE or length % PAGE_SIZE:
        return -EINVAL
    grant = _grant(sys, addr, length, CPF_READ | CPF_MAP)
    if grant < 0:
        return grant
    m = DsPublish(flags=DSF_TYPE_MAP | flags, val=grant, val_len=length)
    r = _invoke(sys, m, _key(key)).m_type
    if r == OK:
        _client(sys).maps[key] = grant
    else:
        sys.grants.cpf_revoke(grant)
    return r


# -- retrieve -------------------------------------------------------------------------


def ds_retrieve_u32(sys: SysLib, key: str) -> tuple[int, int]:
    """(r, the number)."""
    reply = _invoke(sys, DsRetrieve(flags=DSF_TYPE_U32), _key(key))
    return reply.m_type, reply.val if reply.m_type == OK else 0


def ds_retrieve_label_num(sys: SysLib, key: str) -> tuple[int, int]:
    """(r, the endpoint labelled ``key``)."""
    reply = _invoke(sys, DsRetrieve(flags=DSF_TYPE_LABEL), _key(key))
    return reply.m_type, reply.endpoint if reply.m_type == OK else 0


def ds_retrieve_label_name(sys: SysLib, endpoint: int) -> tuple[int, str]:
    """(r, the label of ``endpoint``)."""
    m = DsRetrieveLabel(endpoint=endpoint)
    r = _invoke(sys, m, bytes(DS_MAX_KEYLEN), CPF_WRITE).m_type
    return r, _received_key(sys) if r == OK else ""


def ds_retrieve_str(sys: SysLib, key: str) -> tuple[int, str]:
    """(r, the string)."""
    k = _key(key)
    buf = sys.scratch(len(k) + DS_MAX_STRLEN)
    if buf < 0:
        return buf, ""
    m = DsRetrieve(flags=DSF_TYPE_STR)
    r = _invoke_value(sys, m, k, (buf + len(k), DS_MAX_STRLEN, CPF_WRITE)).m_type
    return r, _cstring(sys.mem_read(buf + len(k), DS_MAX_STRLEN)) if r == OK else ""


def ds_retrieve_mem(sys: SysLib, key: str, addr: int, length: int) -> tuple[int, int]:
    """Copy at most ``length`` bytes of the value to our ``addr``: (r, bytes copied)."""
    m = DsRetrieve(flags=DSF_TYPE_MEM)
    reply = _invoke_value(sys, m, _key(key), (addr, length, CPF_WRITE))
    return reply.m_type, reply.val_len if reply.m_type == OK else 0


def ds_retrieve_map(sys: SysLib, key: str, addr: int, length: int, nr_snapshot: int = 0,
                    flags: int = DSMF_COPY_MAPPED) -> tuple[int, int]:
    """A published map, by ``flags``: DSMF_MAP_MAPPED maps its live pages
    read-only at our page-aligned ``addr``; DSMF_COPY_MAPPED copies the live
    data, DSMF_COPY_SNAPSHOT snapshot ``nr_snapshot``, to ``addr``. (r, bytes)."""
    if flags & DSMF_MAP_MAPPED:
        reply = _invoke(sys, DsRetrieve(flags=DSF_TYPE_MAP | DSMF_MAP_MAPPED), _key(key))
        if reply.m_type != OK:
            return reply.m_type, 0
        n = min(length, reply.val_len) // PAGE_SIZE * PAGE_SIZE
        return sys.sys_safemap(DS_PROC_NR, reply.val, 0, addr, n, False), n
    if flags & (DSMF_COPY_MAPPED | DSMF_COPY_SNAPSHOT):
        mode = flags & (DSMF_COPY_MAPPED | DSMF_COPY_SNAPSHOT)
        m = DsRetrieve(flags=DSF_TYPE_MAP | mode, nr_snapshot=nr_snapshot)
        reply = _invoke_value(sys, m, _key(key), (addr, length, CPF_WRITE))
        return reply.m_type, reply.val_len if reply.m_type == OK else 0
    return -EINVAL, 0


# -- delete ---------------------------------------------------------------------------


def _delete(sys: SysLib, key: str, kind: int) -> int:
    """Delete our entry ``key`` of type ``kind``."""
    return _invoke(sys, DsKeyRequest(DS_DELETE, flags=kind), _key(key)).m_type


def ds_delete_u32(sys: SysLib, key: str) -> int:
    return _delete(sys, key, DSF_TYPE_U32)


def ds_delete_str(sys: SysLib, key: str) -> int:
    return _delete(sys, key, DSF_TYPE_STR)


def ds_delete_mem(sys: SysLib, key: str) -> int:
    return _delete(sys, key, DSF_TYPE_MEM)


def ds_delete_label(sys: SysLib, key: str) -> int:
    """Delete a label, and what it owned and its subscription with it."""
    return _delete(sys, key, DSF_TYPE_LABEL)


def ds_delete_map(sys: SysLib, key: str) -> int:
    """Delete a published map (every mapping of it ends), then end our grant."""
    r = _delete(sys, key, DSF_TYPE_MAP)
    grant = _client(sys).maps.pop(key, None) if r == OK else None
    if grant is not None:
        sys.grants.cpf_revoke(grant)
    return r


# -- snapshots and subscriptions ------------------------------------------------------


def ds_snapshot_map(sys: SysLib, key: str) -> tuple[int, int]:
    """Snapshot a published map's live data: (r, the snapshot's number)."""
    reply = _invoke(sys, DsSnapshot(), _key(key))
    return reply.m_type, reply.nr_snapshot if reply.m_type == OK else 0


def ds_subscribe(sys: SysLib, regex: str, flags: int = 0) -> int:
    """Be notified of every publish and delete of a key ``regex`` matches whole
    (of the DSF_TYPE_* in ``flags``, or any type); DSF_INITIAL: of existing ones too."""
    return _invoke(sys, DsKeyRequest(DS_SUBSCRIBE, flags=flags), _key(regex)).m_type


def ds_check_all(sys: SysLib) -> None:
    """Take every change DS has marked for our subscription (after its
    notification, when only "something changed" matters)."""
    while ds_check(sys)[0] == OK:
        pass


def ds_check(sys: SysLib) -> tuple[int, str, int, int]:
    """The next changed key of our subscription: (r, key, type, owner's endpoint);
    r is -ENOENT when nothing (more) changed."""
    reply = _invoke(sys, DsCheck(), bytes(DS_MAX_KEYLEN), CPF_WRITE)
    if reply.m_type != OK:
        return reply.m_type, "", 0, 0
    return OK, _received_key(sys), reply.flags, reply.owner
