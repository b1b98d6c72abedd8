"""The grant table libsys keeps in the process's own memory (cpf_* calls).

Entries are written into memory the kernel reads; the Python side only
mirrors which slots are in use and each slot's sequence number. A new grant
in a slot takes the next sequence number, so a revoked grant's id can never
be honoured again. The table grows 2 -> 6 -> 14 -> 30 ... entries, as in
MINIX, each time announced to the kernel with SYS_SETGRANT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, ENOMEM, OK, MinixError
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
        """Let ``who_to`` access our [addr, addr+nbytes) with ``access``; the grant id."""
        self._check_access(access, addr, nbytes)
        return self._install(lambda seq: g.direct(seq, who_to, addr, nbytes, access),
                             access & CPF_MAP)

    def cpf_grant_indirect(self, who_to: int, who_from: int, grant: int) -> int:
        """Pass on ``who_from``'s grant ``grant`` (made to us) to ``who_to``."""
        return self._install(lambda seq: g.indirect(seq, who_to, who_from, grant), True)

    def cpf_grant_magic(self, who_to: int, who_from: int, addr: int, nbytes: int,
                        access: int) -> int:
        """Grant ``who_to`` access to ``who_from``'s memory (only VFS may)."""
        self._check_access(access, addr, nbytes)
        return self._install(lambda seq: g.magic(seq, who_from, who_to, addr, nbytes, access),
                             access & CPF_MAP)

    def cpf_revoke(self, grant: int) -> int:
        """Invalidate ``grant``; mappings made through it end first (saferevmap)."""
        index = GRANT_IDX(grant)
        if grant < 0 or index >= len(self.used) or not self.used[index] \
                or self.seq[index] != GRANT_SEQ(grant):
            return -EINVAL
        if index in self.maps:
            self.sys.sys_saferevmap_gid(grant)
            self.maps.discard(index)
        self._write(index, g.unused(self.seq[index]))
        self.used[index] = False
        return OK

    def _check_access(self, access: int, addr: int, nbytes: int) -> None:
        if access & ~CPF_ACCESS or nbytes < 0 or addr < 0:
            raise MinixError(EINVAL, "bad grant")
        if access & CPF_MAP and (addr % PAGE_SIZE or nbytes % PAGE_SIZE):
            raise MinixError(EINVAL, "a CPF_MAP grant must be page-aligned")

    def _install(self, make, maps: int | bool) -> int:
        index = self._free_slot()
        seq = (self.seq[index] + 1) % GRANT_MAX_SEQ
        self._write(index, make(seq))
        self.seq[index], self.used[index] = seq, True
        if maps:
            self.maps.add(index)
        else:
            self.maps.discard(index)
        return GRANT_ID(index, seq)

    def _free_slot(self) -> int:
        for i, used in enumerate(self.used):
            if not used:
                return i
        index = len(self.used)
        self._grow()
        return index

    def _write(self, index: int, entry: GrantEntry) -> None:
        self.sys.mem_write(self.addr + index * GRANT_ENTRY_SIZE, entry.pack())

    def _grow(self) -> None:
        """Move to a table twice as large (plus two), in fresh memory."""
        old_n = len(self.used)
        new_n = old_n * 2 + 2 if old_n else GRANT_TABLE_START
        size = -(-new_n * GRANT_ENTRY_SIZE // PAGE_SIZE) * PAGE_SIZE
        new = self.sys.minix_mmap(size)
        if new < 0:
            raise MinixError(ENOMEM, "cannot grow the grant table")
        if old_n:
            self.sys.mem_write(new, self.sys.mem_read(self.addr, old_n * GRANT_ENTRY_SIZE))
        self.sys.sys_setgrant(new, new_n)
        old_addr, old_size = self.addr, -(-old_n * GRANT_ENTRY_SIZE // PAGE_SIZE) * PAGE_SIZE
        self.addr = new
        self.seq += [0] * (new_n - old_n)
        self.used += [False] * (new_n - old_n)
        if old_n:
            self.sys.vm_call(VM_MUNMAP, addr=old_addr, len=old_size)
