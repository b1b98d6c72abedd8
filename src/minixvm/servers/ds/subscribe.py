"""Subscriptions: who wants to hear of which keys, and DS_SUBSCRIBE / DS_CHECK.

A subscription belongs to a label: a regex over keys, anchored at both
ends (MINIX meant ``^regex$`` and lost the ``^``), and a set of types.
Patterns are RE2's: matched in time linear in the key, so no subscriber's
pattern (``(a+)+b``, say) can stall DS, which every service waits on; what
RE2 cannot match that way (backreferences) is refused at subscribe time. It
keeps the slots of the matching entries that changed since it last
checked (MINIX's bitmap). Every publish of a matching entry marks its slot
and every delete unmarks it, and either way the subscriber gets a kernel
notification; DS_CHECK hands out the lowest marked slot's key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import re2

from minixvm.errors import EAGAIN, EEXIST, EINVAL, ENOENT, ESRCH, OK, RequestError
from minixvm.include.ds import (
    DSF_INITIAL,
    DSF_OVERWRITE,
    DSF_PRIV_SUBSCRIBE,
    DSF_TYPES,
    DsCheck,
    DsKeyRequest,
)
from minixvm.servers.ds.store import Entry, KeyPattern, Subscription

if TYPE_CHECKING:
    from minixvm.servers.ds.main import DS

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is the subscriber's EINVAL, not a log line


def sub_match(ds: DS, sub: Subscription, e: Entry, endpoint: int) -> bool:
    """Does ``e`` concern ``sub`` (whose owner is ``endpoint``)?"""
    return (bool(sub.types & e.type) and ds.store.allowed(e, endpoint, DSF_PRIV_SUBSCRIBE)
            and sub.regex.fullmatch(e.key) is not None)


def update_subscribers(ds: DS, e: Entry, changed: bool) -> None:
    """``e`` was published (``changed``) or deleted: mark or unmark its slot in
    every subscription it matches, and notify their owners."""
    for sub in ds.store.subs:
        endpoint = ds.endpoint(sub.owner)
        if not sub_match(ds, sub, e, endpoint):
            sub.changed.discard(e.slot)  # the slot now holds something it may not see
            continue
        if changed:
            sub.changed.add(e.slot)
        else:
            sub.changed.discard(e.slot)
        ds.sys.notify(endpoint)


def compile_regex(pattern: str) -> KeyPattern:
    """The subscription's regex; EINVAL if RE2 does not take it."""
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except (re2.error, OverflowError, TypeError):
        raise RequestError(EINVAL) from None


def do_subscribe(ds: DS, m: DsKeyRequest) -> int:
    """DS_SUBSCRIBE: the caller's label subscribes to the keys its regex
    matches; with DSF_INITIAL the entries that already match count as changed."""
    owner = ds.label(m.m_source, ESRCH)
    flags = m.flags
    sub = ds.store.sub_of(owner)
    if sub is None and ds.store.subs_full():
        raise RequestError(EAGAIN)
    if sub is not None and not flags & DSF_OVERWRITE:
        raise RequestError(EEXIST)
    regex = compile_regex(ds.get_key_name(m))
    types = flags & DSF_TYPES or DSF_TYPES
    if sub is None:
        sub = Subscription(owner, regex, types)
        ds.store.subs.append(sub)
    else:
        sub.regex, sub.types, sub.changed = regex, types, set()
    if flags & DSF_INITIAL:
        sub.changed = {e.slot for e in ds.store.entries() if sub_match(ds, sub, e, m.m_source)}
        if sub.changed:
            ds.sys.notify(m.m_source)
    return OK


def do_check(ds: DS, m: DsCheck) -> int:
    """DS_CHECK: the lowest changed entry of the caller's subscription: its key
    (through the key grant), its type (``flags``) and its owner's endpoint
    (``owner``). ENOENT if nothing changed (a deleted key is no longer marked)."""
    owner = ds.label(m.m_source, ESRCH)
    sub = ds.store.sub_of(owner)
    if sub is None:
        raise RequestError(ESRCH)
    if not sub.changed:
        raise RequestError(ENOENT)
    slot = min(sub.changed)
    e = ds.store.slots[slot]
    if e is None:
        ds.panic("subscription of %s marks free slot %d", owner, slot)
    ds.put_key_name(m, e.key)
    m.flags, m.owner = e.type, ds.endpoint(e.owner)
    sub.changed.discard(slot)
    return OK
