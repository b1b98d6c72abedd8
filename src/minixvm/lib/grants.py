"""The grant table libsys keeps in the process's own memory (cpf_* calls).

Entries are written into memory the kernel reads; the Python side only
mirrors which slots are in use and each slot's sequence number. A new grant
in a slot takes the next sequence number, and a slot whose sequence numbers
are used up is retired for good (MINIX's wrap around, so an id came back
after 2,048 reuses of its slot): a revoked grant's id is never honoured
again. The table grows 2 -> 6 -> 14 -> 30 ... entries, as in
MINIX, each time announced to the kernel with SYS_SETGRANT.

As every libsys call, a cpf_* call answers with a negative errno when it
fails: a grant id is never negative (MINIX's GRANT_INVALID and errno).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, ENOMEM, OK
from minixvm.include import grant as g
from minixvm.include.grant import (
    CPF_ACCESS,
    CPF_MAP,
    GRANT_ENTRY_SIZE,
    GRANT_ID,
    GRANT_IDX,
    GRANT_MAX_SEQ,
    GRANT_SEQ,
    GRANT_TABLE_START,
    GrantEntry,
)
from minixvm.include.vm import VM_MUNMAP
from minixvm.machine.ram import PAGE_SIZE

if TYPE_CHECKING:
    from minixvm.lib.sys import SysLib

ADDRESS_SPACE = 1 << 32


class GrantTable:
    """cpf_grant_direct / cpf_grant_indirect / cpf_grant_magic / cpf_revoke."""

    def __init__(self, sys: SysLib) -> None:
        self.sys = sys
        self.addr = 0
        self.seq: list[int] = []
        self.used: list[bool] = []
        self.maps: set[int] = set()

    def clone_for(self, sys: SysLib) -> GrantTable:
        """The table as a forked child sees it (its memory is a copy of ours)."""
        t = GrantTable(sys)
        t.addr, t.seq, t.used, t.maps = self.addr, list(self.seq), list(self.used), set(self.maps)
        return t

    def cpf_grant_direct(self, who_to: int, addr: int, nbytes: int, access: int) -> int:
        """Let ``who_to`` access our [addr, addr+nbytes) with ``access``; the
        grant id, or -EINVAL for a bad range or access, -ENOMEM for no room."""
        if not access_ok(access, addr, nbytes):
            return -EINVAL
        return self._install(lambda seq: g.direct(seq, who_to, addr, nbytes, access),
                             bool(access & CPF_MAP))

    def cpf_grant_indirect(self, who_to: int, who_from: int, grant: int) -> int:
        """Pass on ``who_from``'s grant ``grant`` (made to us) to ``who_to``."""
        return self._install(lambda seq: g.indirect(seq, who_to, who_from, grant), True)

    def cpf_grant_magic(self, who_to: int, who_from: int, addr: int, nbytes: int,
                        access: int) -> int:
        """Grant ``who_to`` access to ``who_from``'s memory (only VFS may)."""
        if not access_ok(access, addr, nbytes):
            return -EINVAL
        return self._install(lambda seq: g.magic(seq, who_from, who_to, addr, nbytes, access),
                             bool(access & CPF_MAP))

    def cpf_revoke(self, grant: int) -> int:
        """Invalidate ``grant``; mappings made through it end first (saferevmap)."""
        index = GRANT_IDX(grant)
        if grant < 0 or index >= len(self.used) or not self.used[index] \
                or self.seq[index] != GRANT_SEQ(grant):
            return -EINVAL
        if index in self.maps:
            r = self.sys.sys_saferevmap_gid(grant)
            if r != OK:
                return r  # the mappings live on: so does the grant
            self.maps.discard(index)
        self._write(index, g.unused(self.seq[index]))
        # A slot at its last sequence number stays taken: never reissued.
        self.used[index] = self.seq[index] == GRANT_MAX_SEQ - 1
        return OK

    def _install(self, make: Callable[[int], GrantEntry], maps: bool) -> int:
        """Write the entry ``make(seq)`` into a free slot; its grant id, or -ENOMEM."""
        index = self._free_slot()
        if index < 0:
            return index
        seq = self.seq[index] + 1  # below GRANT_MAX_SEQ: a used-up slot is never free
        self._write(index, make(seq))
        self.seq[index], self.used[index] = seq, True
        if maps:
            self.maps.add(index)
        else:
            self.maps.discard(index)
        return GRANT_ID(index, seq)

    def _free_slot(self) -> int:
        """The lowest free slot, growing the table if it is full; or -errno."""
        for i, used in enumerate(self.used):
            if not used:
                return i
        index = len(self.used)
        r = self._grow()
        return index if r == OK else r

    def _write(self, index: int, entry: GrantEntry) -> None:
        self.sys.mem_write(self.addr + index * GRANT_ENTRY_SIZE, entry.pack())

    def _grow(self) -> int:
        """Move to a table twice as large (plus two), in fresh memory: OK, or
        -ENOMEM, or why the kernel would not take the new table."""
        old_n = len(self.used)
        new_n = old_n * 2 + 2 if old_n else GRANT_TABLE_START
        new = self.sys.minix_mmap(table_size(new_n))
        if new < 0:
            return -ENOMEM
        if old_n:
            self.sys.mem_write(new, self.sys.mem_read(self.addr, old_n * GRANT_ENTRY_SIZE))
        r = self.sys.sys_setgrant(new, new_n)
        if r != OK:
            # The kernel still reads the old table: it stays the table.
            self.sys.vm_call(VM_MUNMAP, addr=new, len=table_size(new_n))
            return r
        old_addr = self.addr
        self.addr = new
        self.seq += [0] * (new_n - old_n)
        self.used += [False] * (new_n - old_n)
        if old_n:
            self.sys.vm_call(VM_MUNMAP, addr=old_addr, len=table_size(old_n))
        return OK


def access_ok(access: int, addr: int, nbytes: int) -> bool:
    """Can a grant give ``access`` to [addr, addr+nbytes)? Known CPF_* bits, a
    range inside the 32-bit address space, and whole pages for CPF_MAP."""
    if access & ~CPF_ACCESS or nbytes < 0 or addr < 0 or addr + nbytes > ADDRESS_SPACE:
        return False
    return not access & CPF_MAP or (addr % PAGE_SIZE == 0 and nbytes % PAGE_SIZE == 0)


def table_size(entries: int) -> int:
    """Bytes (whole pages) of a table of ``entries``."""
    return -(-entries * GRANT_ENTRY_SIZE // PAGE_SIZE) * PAGE_SIZE
