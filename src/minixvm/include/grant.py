"""Memory grants: flags, ids and the grant-table entry layout (<minix/safecopies.h>).

A grant table lives in the granting process's own memory; libsys writes
entries and the kernel reads them. An entry is 36 bytes: flags, the slot's
sequence number, a 16-byte union and padding. A grant id carries the
sequence number above the slot index, so once a grant is revoked its id is
never honoured again, even after the slot is reused (as endpoints carry a
generation).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

CPF_READ = 0x001
CPF_WRITE = 0x002
CPF_MAP = 0x004
CPF_ACCESS = CPF_READ | CPF_WRITE | CPF_MAP
CPF_USED = 0x100
CPF_DIRECT = 0x200
CPF_INDIRECT = 0x400
CPF_MAGIC = 0x800
CPF_VALID = 0x1000

GRANT_INVALID = -1
GRANT_SHIFT = 20
GRANT_MAX_SEQ = 1 << (31 - GRANT_SHIFT)
GRANT_ENTRY_SIZE = 36
MAX_INDIRECTION = 5
# Table growth: 2, 6, 14, 30, ... entries (MINIX's NR_STATIC_GRANTS doubling).
GRANT_TABLE_START = 2

_ENTRY = struct.Struct("<IIIIII12x")
assert _ENTRY.size == GRANT_ENTRY_SIZE


def GRANT_ID(index: int, seq: int) -> int:  # noqa: N802
    return (seq << GRANT_SHIFT) | index


def GRANT_IDX(grant: int) -> int:  # noqa: N802
    return grant & ((1 << GRANT_SHIFT) - 1)


def GRANT_SEQ(grant: int) -> int:  # noqa: N802
    return grant >> GRANT_SHIFT


class GrantEntry(NamedTuple):
    """A decoded grant-table entry; the union's words are named per kind."""

    flags: int
    seq: int
    w0: int
    w1: int
    w2: int
    w3: int

    # The union's words: direct (who_to, start, len), indirect (who_to,
    # who_from, grant), magic (who_from, who_to, start, len). Endpoints and
    # grant ids are signed; they are stored as unsigned 32-bit words.
    def pack(self) -> bytes:
        m = 0xFFFFFFFF
        return _ENTRY.pack(self.flags, self.seq, self.w0 & m, self.w1 & m, self.w2 & m, self.w3 & m)

    @classmethod
    def unpack(cls, data: bytes) -> GrantEntry:
        return cls(*_ENTRY.unpack(data))


def signed(v: int) -> int:
    """A 32-bit word read back as a signed value (an endpoint or grant id)."""
    return v - (1 << 32) if v >= 1 << 31 else v


def direct(seq: int, who_to: int, start: int, length: int, access: int) -> GrantEntry:
    return GrantEntry(access | CPF_DIRECT | CPF_USED | CPF_VALID, seq, who_to, start, length, 0)


def indirect(seq: int, who_to: int, who_from: int, grant: int) -> GrantEntry:
    return GrantEntry(CPF_INDIRECT | CPF_USED | CPF_VALID, seq, who_to, who_from, grant, 0)


def magic(
    seq: int, who_from: int, who_to: int, start: int, length: int, access: int
) -> GrantEntry:
    flags = access | CPF_MAGIC | CPF_USED | CPF_VALID
    return GrantEntry(flags, seq, who_from, who_to, start, length)


def unused(seq: int) -> GrantEntry:
    return GrantEntry(0, seq, 0, 0, 0, 0)
