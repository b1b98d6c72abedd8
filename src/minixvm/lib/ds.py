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
from typing import Any
from weakref import WeakKeyDictionary

from minixvm.errors import EINVAL, OK, MinixError
from minixvm.include.com import DS_PROC_NR
from minixvm.include.ds import (
    DS_CHECK,
    DS_DELETE,
    DS_MAX_KEYLEN,
    DS_MAX_STRLEN,
    DS_PUBLISH,
    DS_RETRIEVE,
    DS_RETRIEVE_LABEL,
    DS_SNAPSHOT,
    DS_SUBSCRIBE,
    DSF_TYPE_LABEL,
    DSF_TYPE_MAP,
    DSF_TYPE_MEM,
    DSF_TYPE_STR,
    DSF_TYPE_U32,
    DSMF_COPY_MAPPED,
    DSMF_COPY_SNAPSHOT,
    DSMF_MAP_MAPPED,
)
from minixvm.include.grant import CPF_MAP, CPF_READ, CPF_WRITE
from minixvm.include.ipc import Message
from minixvm.include.vm import VM_MUNMAP
from minixvm.lib.sys import SysLib
from minixvm.machine.ram import PAGE_SIZE

Value = tuple[int, int, int]  # (address, length, access) of a value grant


@dataclass
class _Client:
    """What the library keeps for one process."""

    buf: int = 0  # the scratch buffer
    size: int = 0
    maps: dict[str, int] = field(default_factory=dict)  # published map key -> its grant


_clients: WeakKeyDictionary[SysLib, _Client] = WeakKeyDictionary()


def _client(sys: SysLib) -> _Client:
    """The library's state for the process of ``sys``."""
    return _clients.setdefault(sys, _Client())


def _scratch(sys: SysLib, nbytes: int) -> int:
    """The scratch buffer, at least ``nbytes`` long; its address, or -errno."""
    c = _client(sys)
    if c.size < nbytes:
        size = -(-nbytes // PAGE_SIZE) * PAGE_SIZE
        buf = sys.minix_mmap(size)
        if buf < 0:
            return buf
        if c.size:
            sys.vm_call(VM_MUNMAP, addr=c.buf, len=c.size)
        c.buf, c.size = buf, size
    return c.buf


def _grant(sys: SysLib, addr: int, nbytes: int, access: int) -> int:
    """A grant to DS of our [addr, addr+nbytes); its id, or -errno."""
    try:
        return sys.grants.cpf_grant_direct(DS_PROC_NR, addr, nbytes, access)
    except MinixError as e:
        return -e.errno


def _invoke(sys: SysLib, request: int, key: bytes, access: int = CPF_READ,
            value: Value | None = None, **fields: Any) -> Message:
    """MINIX do_invoke_ds: send ``request`` with ``key`` granted from the scratch
    buffer (with CPF_WRITE, room DS writes a key into), and ``value``, if
    given, granted as ``val``/``val_len``; both grants end with the call.
    DS's reply, or a message whose m_type is what failed first."""
    buf = _scratch(sys, len(key))
    if buf < 0:
        return Message(buf)
    sys.mem_write(buf, key)
    wanted = [(buf, len(key), access)] + ([value] if value is not None else [])
    grants = [_grant(sys, *g) for g in wanted]
    if min(grants) < 0:
        reply = Message(min(grants))
    else:
        if value is not None:
            fields.update(val=grants[1], val_len=value[1])
        reply = sys.taskcall(DS_PROC_NR, request, key_grant=grants[0], key_len=len(key),
                             **fields)
    for grant in grants:
        if grant >= 0:
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
    return _cstring(sys.mem_read(_client(sys).buf, DS_MAX_KEYLEN))


# -- publish --------------------------------------------------------------------------


def ds_publish_u32(sys: SysLib, key: str, value: int, flags: int = 0) -> int:
    """Publish a 32-bit number."""
    return _invoke(sys, DS_PUBLISH, _key(key), flags=DSF_TYPE_U32 | flags, val=value).m_type


def ds_publish_label(sys: SysLib, key: str, endpoint: int, flags: int = 0) -> int:
    """Name ``endpoint`` ``key`` (what RS does for every service)."""
    return _invoke(sys, DS_PUBLISH, _key(key), flags=DSF_TYPE_LABEL | flags,
                   val=endpoint).m_type


def ds_publish_str(sys: SysLib, key: str, value: str, flags: int = 0) -> int:
    """Publish a string (at most DS_MAX_STRLEN bytes with its NUL, else EINVAL)."""
    k, data = _key(key), value.encode() + b"\0"
    buf = _scratch(sys, len(k) + len(data))
    if buf < 0:
        return buf
    sys.mem_write(buf + len(k), data)
    return _invoke(sys, DS_PUBLISH, k, value=(buf + len(k), len(data), CPF_READ),
                   flags=DSF_TYPE_STR | flags).m_type


def ds_publish_mem(sys: SysLib, key: str, addr: int, length: int, flags: int = 0) -> int:
    """Publish a copy of our memory [addr, addr+length)."""
    return _invoke(sys, DS_PUBLISH, _key(key), value=(addr, length, CPF_READ),
                   flags=DSF_TYPE_MEM | flags).m_type


def ds_publish_map(sys: SysLib, key: str, addr: int, length: int, flags: int = 0) -> int:
    """Publish our pages [addr, addr+length) (page-aligned, else EINVAL) for DS to
    map: later writes show in DS. The grant lasts until ``ds_delete_map``."""
    if addr % PAGE_SIZE or length % PAGE_SIZE:
        return -EINVAL
    grant = _grant(sys, addr, length, CPF_READ | CPF_MAP)
    if grant < 0:
        return grant
    r = _invoke(sys, DS_PUBLISH, _key(key), flags=DSF_TYPE_MAP | flags, val=grant,
                val_len=length).m_type
    if r == OK:
        _client(sys).maps[key] = grant
    else:
        sys.grants.cpf_revoke(grant)
    return r


# -- retrieve -------------------------------------------------------------------------


def ds_retrieve_u32(sys: SysLib, key: str) -> tuple[int, int]:
    """(r, the number)."""
    reply = _invoke(sys, DS_RETRIEVE, _key(key), flags=DSF_TYPE_U32)
    return reply.m_type, reply.val if reply.m_type == OK else 0


def ds_retrieve_label_num(sys: SysLib, key: str) -> tuple[int, int]:
    """(r, the endpoint labelled ``key``)."""
    reply = _invoke(sys, DS_RETRIEVE, _key(key), flags=DSF_TYPE_LABEL)
    return reply.m_type, reply.val if reply.m_type == OK else 0


def ds_retrieve_label_name(sys: SysLib, endpoint: int) -> tuple[int, str]:
    """(r, the label of ``endpoint``)."""
    r = _invoke(sys, DS_RETRIEVE_LABEL, bytes(DS_MAX_KEYLEN), CPF_WRITE, val=endpoint).m_type
    return r, _received_key(sys) if r == OK else ""


def ds_retrieve_str(sys: SysLib, key: str) -> tuple[int, str]:
    """(r, the string)."""
    k = _key(key)
    buf = _scratch(sys, len(k) + DS_MAX_STRLEN)
    if buf < 0:
        return buf, ""
    r = _invoke(sys, DS_RETRIEVE, k, value=(buf + len(k), DS_MAX_STRLEN, CPF_WRITE),
                flags=DSF_TYPE_STR).m_type
    return r, _cstring(sys.mem_read(buf + len(k), DS_MAX_STRLEN)) if r == OK else ""


def ds_retrieve_mem(sys: SysLib, key: str, addr: int, length: int) -> tuple[int, int]:
    """Copy at most ``length`` bytes of the value to our ``addr``: (r, bytes copied)."""
    reply = _invoke(sys, DS_RETRIEVE, _key(key), value=(addr, length, CPF_WRITE),
                    flags=DSF_TYPE_MEM)
    return reply.m_type, reply.val_len if reply.m_type == OK else 0


def ds_retrieve_map(sys: SysLib, key: str, addr: int, length: int, nr_snapshot: int = 0,
                    flags: int = DSMF_COPY_MAPPED) -> tuple[int, int]:
    """A published map, by ``flags``: DSMF_MAP_MAPPED maps its live pages
    read-only at our page-aligned ``addr``; DSMF_COPY_MAPPED copies the live
    data, DSMF_COPY_SNAPSHOT snapshot ``nr_snapshot``, to ``addr``. (r, bytes)."""
    if flags & DSMF_MAP_MAPPED:
        reply = _invoke(sys, DS_RETRIEVE, _key(key), flags=DSF_TYPE_MAP | DSMF_MAP_MAPPED)
        if reply.m_type != OK:
            return reply.m_type, 0
        n = min(length, reply.val_len) // PAGE_SIZE * PAGE_SIZE
        return sys.sys_safemap(DS_PROC_NR, reply.val, 0, addr, n, False), n
    if flags & (DSMF_COPY_MAPPED | DSMF_COPY_SNAPSHOT):
        mode = flags & (DSMF_COPY_MAPPED | DSMF_COPY_SNAPSHOT)
        reply = _invoke(sys, DS_RETRIEVE, _key(key), value=(addr, length, CPF_WRITE),
                        flags=DSF_TYPE_MAP | mode, nr_snapshot=nr_snapshot)
        return reply.m_type, reply.val_len if reply.m_type == OK else 0
    return -EINVAL, 0


# -- delete ---------------------------------------------------------------------------


def _delete(sys: SysLib, key: str, kind: int) -> int:
    """Delete our entry ``key`` of type ``kind``."""
    return _invoke(sys, DS_DELETE, _key(key), flags=kind).m_type


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
    reply = _invoke(sys, DS_SNAPSHOT, _key(key))
    return reply.m_type, reply.nr_snapshot if reply.m_type == OK else 0


def ds_subscribe(sys: SysLib, regex: str, flags: int = 0) -> int:
    """Be notified of every publish and delete of a key ``regex`` matches whole
    (of the DSF_TYPE_* in ``flags``, or any type); DSF_INITIAL: of existing ones too."""
    return _invoke(sys, DS_SUBSCRIBE, _key(regex), flags=flags).m_type


def ds_check(sys: SysLib) -> tuple[int, str, int, int]:
    """The next changed key of our subscription: (r, key, type, owner's endpoint);
    r is -ENOENT when nothing (more) changed."""
    reply = _invoke(sys, DS_CHECK, bytes(DS_MAX_KEYLEN), CPF_WRITE)
    if reply.m_type != OK:
        return reply.m_type, "", 0, 0
    return OK, _received_key(sys), reply.flags, reply.owner
