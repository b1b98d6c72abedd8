"""How DS keeps each type of value, and gives it back.

U32 and LABEL values are numbers in the entry. A string is copied into the
entry's slot of DS's string pool; a memory range into a buffer DS maps
for the entry (reused while the new value fits, as MINIX's ``reallen``).
A mapped range is the publisher's pages safemapped read-only into DS:
the publisher's writes show, COPY_MAPPED copies the live data, a
snapshot copies it into the next of NR_DS_SNAPSHOT slots, and MAP_MAPPED
grants DS's view to the caller, which safemaps it.

A ``publish_*`` function fills an entry from a request and changes
nothing if it fails; ``retrieve_*`` sets the reply fields; ``release``
gives back what an entry held.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, OK, RequestError
from minixvm.include.ds import (
    DS_MAX_STRLEN,
    DSF_TYPE_LABEL,
    DSF_TYPE_MAP,
    DSF_TYPE_MEM,
    DSF_TYPE_STR,
    DSF_TYPE_U32,
    DSMF_COPY_MAPPED,
    DSMF_COPY_SNAPSHOT,
    DSMF_MAP_MAPPED,
    DSMF_MASK,
    NR_DS_SNAPSHOT,
    DsPublish,
    DsRetrieve,
)
from minixvm.include.grant import CPF_MAP, CPF_READ
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.ds.request import check, page_ceil
from minixvm.servers.ds.store import Entry

if TYPE_CHECKING:
    from minixvm.servers.ds.main import DS

# -- publish ------------------------------------------------------------------------


def publish_u32(ds: DS, e: Entry, m: DsPublish) -> None:
    """The value is in the message."""
    e.value = m.val


def publish_str(ds: DS, e: Entry, m: DsPublish) -> None:
    """Copy at most DS_MAX_STRLEN bytes (with the NUL) into the entry's pool slot."""
    length = m.val_len
    if not 1 <= length <= DS_MAX_STRLEN:
        raise RequestError(EINVAL)
    addr = ds.strings + e.slot * DS_MAX_STRLEN
    check(ds.sys.sys_safecopyfrom(m.m_source, m.val, 0, addr, length))
    ds.sys.mem_write(addr + length - 1, b"\0")
    e.value, e.length = addr, length


def publish_mem(ds: DS, e: Entry, m: DsPublish) -> None:
    """Copy the range into the entry's buffer, or into a larger new one."""
    length, grant = m.val_len, m.val
    if length <= 0:
        raise RequestError(EINVAL)
    fits = length <= e.size
    addr = e.value if fits else ds.alloc(length)
    r = ds.sys.sys_safecopyfrom(m.m_source, grant, 0, addr, length)
    if r != OK and not fits:
        ds.free(addr, length)
    check(r)
    if not fits:
        if e.size:
            ds.free(e.value, e.size)
        e.value, e.size = addr, page_ceil(length)
    e.length = length


def publish_map(ds: DS, e: Entry, m: DsPublish) -> None:
    """Safemap the publisher's pages read-only into fresh memory of DS."""
    length, grant = m.val_len, m.val
    if length <= 0 or length % PAGE_SIZE:
        raise RequestError(EINVAL)
    addr = ds.alloc(length)
    r = ds.sys.sys_safemap(m.m_source, grant, 0, addr, length, False)
    if r != OK:
        ds.free(addr, length)
    check(r)
    e.value, e.length, e.size = addr, length, length


PUBLISH: dict[int, Callable[[DS, Entry, DsPublish], None]] = {
    DSF_TYPE_U32: publish_u32,
    DSF_TYPE_STR: publish_str,
    DSF_TYPE_MEM: publish_mem,
    DSF_TYPE_MAP: publish_map,
}

# -- retrieve -----------------------------------------------------------------------


def retrieve_u32(ds: DS, e: Entry, m: DsRetrieve) -> None:
    """The number goes back in the reply."""
    m.val = e.value


def retrieve_label(ds: DS, e: Entry, m: DsRetrieve) -> None:
    """The endpoint goes back in the reply."""
    m.endpoint = e.value


def copy_out(ds: DS, m: DsRetrieve, addr: int, length: int) -> None:
    """Copy the first bytes of ``length`` at ``addr`` to the caller's value grant,
    as many as it asked for; the reply's ``val_len`` says how many."""
    n = min(m.val_len, length)
    if n < 0:
        raise RequestError(EINVAL)
    if n:
        check(ds.sys.sys_safecopyto(m.m_source, m.val, 0, addr, n))
    m.val_len = n


def retrieve_bytes(ds: DS, e: Entry, m: DsRetrieve) -> None:
    """STR and MEM: copy the stored bytes."""
    copy_out(ds, m, e.value, e.length)


def retrieve_map(ds: DS, e: Entry, m: DsRetrieve) -> None:
    """MAP, in one of three ways: map the live range, copy it, copy a snapshot."""
    mode = m.flags & DSMF_MASK
    if mode == DSMF_MAP_MAPPED:
        m.val, m.val_len = map_grant(ds, e, m.m_source), e.length
    elif mode == DSMF_COPY_MAPPED:
        copy_out(ds, m, e.value, e.length)
    elif mode == DSMF_COPY_SNAPSHOT:
        copy_out(ds, m, snapshot_addr(e, m.nr_snapshot), e.length)
    else:
        raise RequestError(EINVAL)


def map_grant(ds: DS, e: Entry, endpoint: int) -> int:
    """DS's grant (CPF_READ|CPF_MAP) of the mapped range to ``endpoint``; one each."""
    grant = e.grants.get(endpoint)
    if grant is None:
        grant = ds.sys.grants.cpf_grant_direct(endpoint, e.value, e.size, CPF_READ | CPF_MAP)
        if grant < 0:
            raise RequestError(-grant)
        e.grants[endpoint] = grant
    return grant


def snapshot_addr(e: Entry, index: int) -> int:
    """Where snapshot ``index`` is: it must be one of the last NR_DS_SNAPSHOT taken."""
    if not max(0, e.sindex - NR_DS_SNAPSHOT + 1) <= index <= e.sindex:
        raise RequestError(EINVAL)
    return e.snapshots + index % NR_DS_SNAPSHOT * e.length


RETRIEVE: dict[int, Callable[[DS, Entry, DsRetrieve], None]] = {
    DSF_TYPE_U32: retrieve_u32,
    DSF_TYPE_LABEL: retrieve_label,
    DSF_TYPE_STR: retrieve_bytes,
    DSF_TYPE_MEM: retrieve_bytes,
    DSF_TYPE_MAP: retrieve_map,
}

# -- snapshots and release ------------------------------------------------------------


def take_snapshot(ds: DS, e: Entry) -> int:
    """Copy the live mapped data into the next snapshot slot; its number."""
    if not e.snapshots:
        e.snapshots = ds.alloc(NR_DS_SNAPSHOT * e.length)
    index = e.sindex + 1
    dst = e.snapshots + index % NR_DS_SNAPSHOT * e.length
    ds.sys.mem_write(dst, ds.sys.mem_read(e.value, e.length))
    e.sindex = index
    return index


def release(ds: DS, e: Entry) -> None:
    """Give back the memory, grants and mapping a deleted entry held."""
    if e.type == DSF_TYPE_MEM:
        ds.free(e.value, e.size)
    elif e.type == DSF_TYPE_MAP:
        for grant in e.grants.values():
            ds.sys.grants.cpf_revoke(grant)  # every caller's mapping ends, a copy kept
        # Ends DS's mapping; already gone (EFAULT) if the publisher has exited.
        ds.sys.sys_safeunmap(e.value)
        ds.free(e.value, e.size)
        if e.snapshots:
            ds.free(e.snapshots, NR_DS_SNAPSHOT * e.length)
