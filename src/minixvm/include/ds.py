"""The data store: requests and their layouts, entry types and flags, table
sizes (<minix/ds.h>, the DS_* field names of <minix/com.h>).

A request carries the key through a grant (``key_grant``, ``key_len``
bytes including the NUL), ``flags`` (one type, plus DSF_* and DSMF_*
bits) and a value: ``val`` (a u32 or a grant id; ``endpoint`` is the same
slot read as an endpoint) and ``val_len``. Replies put results in the same
fields, and ``nr_snapshot`` and ``owner`` where they apply. The slots are
MINIX 3.2's (v3.2.0 com.h): all requests are m2 messages.
"""

from __future__ import annotations

from minixvm.include.ipc import (
    Message,
    layout,
    m2_i1,
    m2_i2,
    m2_i3,
    m2_l1,
    m2_l2,
    m2_s1,
    register_names,
    unsigned,
)

DS_RQ_BASE = 0x800
DS_PUBLISH = DS_RQ_BASE + 0
DS_RETRIEVE = DS_RQ_BASE + 1
DS_SUBSCRIBE = DS_RQ_BASE + 2
DS_CHECK = DS_RQ_BASE + 3
DS_DELETE = DS_RQ_BASE + 4
DS_SNAPSHOT = DS_RQ_BASE + 5
DS_RETRIEVE_LABEL = DS_RQ_BASE + 6

# Who may do what to an entry (set by its publisher): only the owner may ...
DSF_PRIV_RETRIEVE = 0x002  # ... retrieve it
DSF_PRIV_OVERWRITE = 0x004  # ... overwrite it
DSF_PRIV_SNAPSHOT = 0x004  # ... snapshot it (the same bit)
DSF_PRIV_SUBSCRIBE = 0x008  # ... be told of its changes
DSF_MASK_PRIV = DSF_PRIV_RETRIEVE | DSF_PRIV_OVERWRITE | DSF_PRIV_SUBSCRIBE

# Entry types: a request names exactly one (a subscription any set, or none for all).
DSF_TYPE_U32 = 0x010
DSF_TYPE_STR = 0x020
DSF_TYPE_MEM = 0x040
DSF_TYPE_MAP = 0x080
DSF_TYPE_LABEL = 0x100
DSF_MASK_TYPE = 0xFF0
DS_TYPES = (DSF_TYPE_U32, DSF_TYPE_STR, DSF_TYPE_MEM, DSF_TYPE_MAP, DSF_TYPE_LABEL)
DSF_TYPES = DSF_TYPE_U32 | DSF_TYPE_STR | DSF_TYPE_MEM | DSF_TYPE_MAP | DSF_TYPE_LABEL

# Request flags.
DSF_OVERWRITE = 0x01000  # publish over an existing entry / subscription
DSF_INITIAL = 0x02000  # subscribe: mark every entry that already matches

# How to retrieve a mapped range.
DSMF_MAP_MAPPED = 0x10000  # map the live pages into the caller
DSMF_COPY_MAPPED = 0x20000  # copy the live data
DSMF_COPY_SNAPSHOT = 0x40000  # copy snapshot ``nr_snapshot``
DSMF_MASK = 0x70000

# Every flag bit a request may carry; any other is EINVAL.
DSF_KNOWN = DSF_MASK_PRIV | DSF_TYPES | DSF_OVERWRITE | DSF_INITIAL | DSMF_MASK

# Sizes.
NR_DS_KEYS = 64
NR_DS_SUBS = 128
NR_DS_SNAPSHOT = 5
DS_MAX_KEYLEN = 80  # including the NUL
DS_MAX_STRLEN = 16  # including the NUL (MINIX 2010)

register_names(globals(), "DS_", DS_RQ_BASE)


# -- message layouts ------------------------------------------------------------------

class DsRequest(Message):
    """What every DS request has: the key and the flags."""

    key_grant = m2_i1  # DS_KEY_GRANT
    key_len = m2_s1  # DS_KEY_LEN, the NUL included
    flags = m2_i2  # DS_FLAGS; DS_CHECK's reply: the changed entry's type


@layout(DS_PUBLISH)
class DsPublish(DsRequest):
    val = unsigned(m2_l1)  # DS_VAL: a u32 (U32), a grant id (STR, MEM, MAP)
    endpoint = m2_l1  # DS_VAL of a LABEL: the endpoint named
    val_len = m2_l2  # DS_VAL_LEN


@layout(DS_RETRIEVE)
class DsRetrieve(DsRequest):
    val = unsigned(m2_l1)  # a grant id to copy to; reply: a u32, or MAP_MAPPED's grant
    endpoint = m2_l1  # reply of a LABEL: its endpoint
    val_len = m2_l2  # bytes the grant holds; reply: bytes copied (MAP_MAPPED: mapped)
    nr_snapshot = m2_i3  # DS_NR_SNAPSHOT: which snapshot DSMF_COPY_SNAPSHOT copies


@layout(DS_SUBSCRIBE, DS_DELETE)
class DsKeyRequest(DsRequest):
    """DS_SUBSCRIBE (the key is a regex) and DS_DELETE: the key and flags only."""


@layout(DS_CHECK)
class DsCheck(DsRequest):
    owner = m2_i3  # DS_OWNER, reply: the changed entry's owner's endpoint


@layout(DS_SNAPSHOT)
class DsSnapshot(DsRequest):
    nr_snapshot = m2_i3  # reply: the snapshot's number


@layout(DS_RETRIEVE_LABEL)
class DsRetrieveLabel(DsRequest):
    endpoint = m2_l1  # DS_VAL: whose label; the key grant receives it
