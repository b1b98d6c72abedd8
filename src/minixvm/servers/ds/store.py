"""DS's tables: the entries (NR_DS_KEYS slots) and the subscriptions (NR_DS_SUBS).

This is DS's private bookkeeping, plain Python objects (MINIX ds_store[]
and ds_subs[]). The values that cross processes are not here: strings and
memory ranges are bytes in DS's own address space, and an entry only
records where. An entry is found by its key *and* its type; owners are
labels, and a LABEL entry is what ties a label to an endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from minixvm.include.ds import DSF_TYPE_LABEL, NR_DS_KEYS, NR_DS_SUBS


@dataclass(eq=False)
class Entry:
    """One published value (MINIX struct data_store)."""

    slot: int
    key: str
    type: int
    owner: str = ""
    flags: int = 0  # DSF_PRIV_* bits
    # U32 and LABEL: the value; STR, MEM and MAP: its address in DS's memory.
    value: int = 0
    length: int = 0  # STR, MEM, MAP: bytes of value
    size: int = 0  # MEM, MAP: bytes of DS memory mapped at ``value``
    # MAP only: snapshot area (NR_DS_SNAPSHOT slots of ``length``), the last
    # snapshot's number, and the grants DS made to map the range, per endpoint.
    snapshots: int = 0
    sindex: int = -1
    grants: dict[int, int] = field(default_factory=dict)


class KeyPattern(Protocol):
    """A compiled subscription pattern (RE2's)."""

    def fullmatch(self, text: str) -> object | None: ...


@dataclass(eq=False)
class Subscription:
    """A label's interest in keys (MINIX struct subscription)."""

    owner: str
    regex: KeyPattern
    types: int  # DSF_TYPE_* bits it wants
    changed: set[int] = field(default_factory=set)  # slots changed since checked


class Store:
    """The data store's tables and their lookups."""

    def __init__(self) -> None:
        self.slots: list[Entry | None] = [None] * NR_DS_KEYS
        self.index: dict[tuple[str, int], Entry] = {}
        self.labels: dict[int, Entry] = {}  # endpoint -> its LABEL entry
        self.subs: list[Subscription] = []

    # -- entries --------------------------------------------------------------

    def lookup(self, key: str, kind: int) -> Entry | None:
        """The entry of ``key`` and type ``kind``, if any."""
        return self.index.get((key, kind))

    def label_of(self, endpoint: int) -> Entry | None:
        """The LABEL entry naming ``endpoint``, if any."""
        return self.labels.get(endpoint)

    def free_slot(self) -> int | None:
        """The lowest free slot, or None when the table is full."""
        return next((i for i, e in enumerate(self.slots) if e is None), None)

    def install(self, e: Entry) -> None:
        """Put a new entry in its slot and the indexes."""
        self.slots[e.slot] = e
        self.index[e.key, e.type] = e
        if e.type == DSF_TYPE_LABEL:
            self.labels[e.value] = e

    def remove(self, e: Entry) -> None:
        """Take an entry out of its slot and the indexes."""
        self.slots[e.slot] = None
        del self.index[e.key, e.type]
        if e.type == DSF_TYPE_LABEL:
            del self.labels[e.value]

    def owned_by(self, label: str) -> list[Entry]:
        """Every entry whose owner is ``label``."""
        return [e for e in self.slots if e is not None and e.owner == label]

    def entries(self) -> Iterator[Entry]:
        """Every entry, in slot order."""
        return (e for e in self.slots if e is not None)

    # -- labels ---------------------------------------------------------------

    def procname(self, endpoint: int) -> str | None:
        """The label of ``endpoint`` (MINIX ds_getprocname), if it has one."""
        e = self.labels.get(endpoint)
        return e.key if e is not None else None

    def procep(self, label: str) -> int | None:
        """The endpoint labelled ``label`` (MINIX ds_getprocep), if any."""
        e = self.index.get((label, DSF_TYPE_LABEL))
        return e.value if e is not None else None

    def allowed(self, e: Entry, endpoint: int, perm: int) -> bool:
        """May ``endpoint`` do what DSF_PRIV_* bit ``perm`` guards on ``e`` (MINIX
        check_auth)? Yes unless the bit is set; then only the owner may."""
        return not e.flags & perm or self.procname(endpoint) == e.owner

    def installed(self, e: Entry) -> bool:
        """Is ``e`` in the table (not a new entry still being filled)?"""
        return self.slots[e.slot] is e

    def set_label(self, e: Entry, key: str, endpoint: int) -> None:
        """Make LABEL entry ``e`` name ``endpoint`` ``key``; if it had another
        name, what that name owned (entries, a subscription) goes with it."""
        old = e.key
        if self.installed(e):
            self.remove(e)
        e.key, e.value = key, endpoint
        self.install(e)
        if key != old:
            for owned in self.owned_by(old):
                owned.owner = key
            for sub in self.subs:
                if sub.owner == old:
                    sub.owner = key

    # -- subscriptions --------------------------------------------------------

    def sub_of(self, owner: str) -> Subscription | None:
        """The subscription of label ``owner``, if any."""
        return next((s for s in self.subs if s.owner == owner), None)

    def subs_full(self) -> bool:
        """Is there no room for another subscription?"""
        return len(self.subs) >= NR_DS_SUBS

    def drop_subs(self, owner: str) -> None:
        """Forget the subscription of label ``owner``."""
        self.subs = [s for s in self.subs if s.owner != owner]
