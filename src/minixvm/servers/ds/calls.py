"""DS's requests (MINIX servers/ds/store.c): publish, retrieve, delete,
snapshot, retrieve a label's name; and the labels DS registers itself.

Owners are labels. Publishing and deleting need one (EPERM without);
retrieving does not, unless the entry is DSF_PRIV_RETRIEVE. Deleting a
label deletes what that label owned and its subscription too (MINIX's
later behaviour), so every owner in the table always has a label entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from minixvm.errors import EEXIST, EINVAL, ENOMEM, EPERM, ESRCH, OK, RequestError
from minixvm.include.com import _ENDPOINT_P, NR_PROCS
from minixvm.include.ds import (
    DS_CHECK,
    DS_DELETE,
    DS_PUBLISH,
    DS_RETRIEVE,
    DS_RETRIEVE_LABEL,
    DS_SNAPSHOT,
    DS_SUBSCRIBE,
    DS_TYPES,
    DSF_MASK_PRIV,
    DSF_MASK_TYPE,
    DSF_OVERWRITE,
    DSF_PRIV_OVERWRITE,
    DSF_PRIV_RETRIEVE,
    DSF_PRIV_SNAPSHOT,
    DSF_TYPE_LABEL,
    DSF_TYPE_MAP,
    DsKeyRequest,
    DsPublish,
    DsRequest,
    DsRetrieve,
    DsRetrieveLabel,
    DsSnapshot,
)
from minixvm.servers.ds.store import Entry, Store
from minixvm.servers.ds.subscribe import do_check, do_subscribe, update_subscribers
from minixvm.servers.ds.values import PUBLISH, RETRIEVE, release, take_snapshot

if TYPE_CHECKING:
    from minixvm.servers.ds.main import DS

DS_LABEL = "ds"  # DS's own label, the owner of the boot processes' labels


def entry_type(flags: int) -> int:
    """The one entry type a request's flags name; EINVAL otherwise."""
    kind = flags & DSF_MASK_TYPE
    if kind not in DS_TYPES:
        raise RequestError(EINVAL)
    return kind


def label_endpoint(m: DsPublish) -> int:
    """The endpoint a LABEL publish names: one a process can have (not a
    kernel task, ANY, NONE or SELF), else EINVAL."""
    ep = m.endpoint
    if ep < 0 or not 0 <= _ENDPOINT_P(ep) < NR_PROCS:
        raise RequestError(EINVAL)
    return ep


def map_service(ds: DS, label: str, endpoint: int) -> None:
    """Register a boot process's label, owned by DS and protected from overwriting."""
    slot = ds.store.free_slot()
    if slot is None:
        ds.panic("no slot for the label of %s", label)
    ds.store.install(Entry(slot, label, DSF_TYPE_LABEL, DS_LABEL, DSF_PRIV_OVERWRITE, endpoint))


def label_target(store: Store, e: Entry | None, endpoint: int) -> Entry | None:
    """The LABEL entry a publish of ``endpoint`` changes: the key's, else the
    endpoint's (a second name for it renames it). EEXIST if the key's entry
    would give an endpoint that already has another name a second one."""
    named = store.label_of(endpoint)
    if e is None:
        return named
    if named is not None and named is not e:
        raise RequestError(EEXIST)
    return e


def do_publish(ds: DS, m: DsPublish) -> int:
    """DS_PUBLISH: store a value under a key, as a new entry, or over an
    existing one with DSF_OVERWRITE (if its DSF_PRIV_OVERWRITE allows)."""
    flags = m.flags
    kind = entry_type(flags)
    if kind == DSF_TYPE_MAP and flags & DSF_OVERWRITE:
        raise RequestError(EINVAL)
    source = ds.label(m.m_source, EPERM)
    key = ds.get_key_name(m)
    e = publish_target(ds, m, key, kind, flags)
    if kind != DSF_TYPE_LABEL:
        PUBLISH[kind](ds, e, m)
    e.owner, e.flags = source, flags & DSF_MASK_PRIV
    if kind == DSF_TYPE_LABEL:
        ds.store.set_label(e, key, label_endpoint(m))
    elif not ds.store.installed(e):
        ds.store.install(e)
    update_subscribers(ds, e, changed=True)
    return OK


def publish_target(ds: DS, m: DsPublish, key: str, kind: int, flags: int) -> Entry:
    """The entry a publish fills: the existing one if it may be overwritten,
    else a new one in a free slot (not installed yet)."""
    e = ds.store.lookup(key, kind)
    if kind == DSF_TYPE_LABEL:
        e = label_target(ds.store, e, label_endpoint(m))
    if e is None:
        slot = ds.store.free_slot()
        if slot is None:
            raise RequestError(ENOMEM)
        return Entry(slot, key, kind)
    if not flags & DSF_OVERWRITE:
        raise RequestError(EEXIST)
    if not ds.store.allowed(e, m.m_source, DSF_PRIV_OVERWRITE):
        raise RequestError(EPERM)
    return e


def lookup(ds: DS, m: DsRequest, kind: int) -> Entry:
    """The entry of the request's key and type ``kind``; ESRCH if none."""
    e = ds.store.lookup(ds.get_key_name(m), kind)
    if e is None:
        raise RequestError(ESRCH)
    return e


def do_retrieve(ds: DS, m: DsRetrieve) -> int:
    """DS_RETRIEVE: the value of a key of the type the flags name."""
    kind = entry_type(m.flags)
    e = lookup(ds, m, kind)
    if not ds.store.allowed(e, m.m_source, DSF_PRIV_RETRIEVE):
        raise RequestError(EPERM)
    RETRIEVE[kind](ds, e, m)
    return OK


def do_retrieve_label(ds: DS, m: DsRetrieveLabel) -> int:
    """DS_RETRIEVE_LABEL: the label of ``endpoint``, through the key grant."""
    e = ds.store.label_of(m.endpoint)
    if e is None:
        raise RequestError(ESRCH)
    ds.put_key_name(m, e.key)
    return OK


def do_snapshot(ds: DS, m: DsSnapshot) -> int:
    """DS_SNAPSHOT: copy a mapped range's live data into its next snapshot
    slot; the snapshot's number in ``nr_snapshot``."""
    e = lookup(ds, m, DSF_TYPE_MAP)
    if not ds.store.allowed(e, m.m_source, DSF_PRIV_SNAPSHOT):
        raise RequestError(EPERM)
    m.nr_snapshot = take_snapshot(ds, e)
    return OK


def do_delete(ds: DS, m: DsKeyRequest) -> int:
    """DS_DELETE: the owner deletes one of its entries."""
    kind = entry_type(m.flags)
    source = ds.label(m.m_source, EPERM)
    e = lookup(ds, m, kind)
    if e.owner != source:
        raise RequestError(EPERM)
    drop(ds, e)
    return OK


def drop(ds: DS, e: Entry) -> None:
    """Delete ``e`` and tell its subscribers; a label takes its subscription
    and everything it owned with it."""
    ds.store.remove(e)
    if e.type == DSF_TYPE_LABEL:
        ds.store.drop_subs(e.key)
    release(ds, e)
    update_subscribers(ds, e, changed=False)
    if e.type == DSF_TYPE_LABEL:
        for owned in ds.store.owned_by(e.key):
            drop(ds, owned)


# Each handler takes the layout its type has (receive typed the message by it).
CALLS: dict[int, Callable[[DS, Any], int]] = {
    DS_PUBLISH: do_publish,
    DS_RETRIEVE: do_retrieve,
    DS_SUBSCRIBE: do_subscribe,
    DS_CHECK: do_check,
    DS_DELETE: do_delete,
    DS_SNAPSHOT: do_snapshot,
    DS_RETRIEVE_LABEL: do_retrieve_label,
}
