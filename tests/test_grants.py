"""Grants: libsys's table, verify_grant's checks in MINIX's order and codes,
and sequence numbers that keep a revoked grant's id dead for good."""

from __future__ import annotations

import pytest
from remote import Remote

from minixvm import System
from minixvm.errors import EINVAL, ELOOP, EPERM, OK
from minixvm.include.com import ANY, RS_PROC_NR, VFS_PROC_NR
from minixvm.include.grant import (
    CPF_MAP,
    CPF_READ,
    CPF_WRITE,
    GRANT_IDX,
    GRANT_INVALID,
    GRANT_SEQ,
)
from minixvm.kernel.grants import verify_grant
from minixvm.kernel.proc import Proc
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE

P = PAGE_SIZE


@pytest.fixture
def trio(system: System) -> tuple[Remote, Remote, Remote]:
    return tuple(Remote.start(system, name, service=True) for name in ("a", "b", "c"))


def buffer(remote: Remote, data: bytes = b"secret!!") -> int:
    addr = remote.do(lambda p: p.mmap(P))
    remote.do(lambda p: p.mem.__setitem__(slice(addr, addr + len(data)), data))
    return addr


def read(remote: Remote, granter: Remote, grant: int, n: int = 8, offset: int = 0) -> int:
    """The requestor's safecopy result (OK or -errno)."""
    dst = remote.do(lambda p: p.mmap(P))
    return remote.do(lambda p: p.sys.sys_safecopyfrom(granter.endpoint, grant, offset, dst, n))


def test_grant_flags_and_ranges_are_checked_by_libsys(
    trio: tuple[Remote, Remote, Remote],
) -> None:
    a, b, _ = trio
    addr = buffer(a)
    for start, n, access, why in ((addr + 8, 12, 0x80, "unknown flag"),
                                  (addr + 8, 12, CPF_READ | CPF_MAP, "map grants page-aligned"),
                                  (addr, -1, CPF_READ, "negative length"),
                                  (0xFFFFF000, 2 * P, CPF_READ, "past 4 GiB"),
                                  (1 << 32, 1, CPF_READ, "not a 32-bit address")):
        r = a.do(lambda p, s=start, n=n, acc=access: p.sys.grants.cpf_grant_direct(
            b.endpoint, s, n, acc))
        assert r == -EINVAL, why
    assert a.do(lambda p: p.sys.grants.cpf_grant_magic(b.endpoint, a.endpoint, addr, 8,
                                                       0x80)) == -EINVAL
    assert a.do(lambda p: p.sys.grants.cpf_revoke(GRANT_INVALID)) == -EINVAL
    assert read(b, a, a.do(lambda p: p.sys.grants.cpf_grant_direct(b.endpoint, addr, 8,
                                                                   CPF_READ))) == OK


def test_verify_grant_refusals_in_order(system: System,
                                        trio: tuple[Remote, Remote, Remote]) -> None:
    a, b, c = trio
    addr = buffer(a)
    to_b = a.do(lambda p: p.sys.grants.cpf_grant_direct(b.endpoint, addr, 64, CPF_READ))
    assert read(b, a, to_b) == OK
    assert read(b, a, -5) == -EINVAL, "bad grant id"
    assert b.do(lambda p: p.sys.sys_safecopyfrom(12345, to_b, 0, addr, 8)) == -EINVAL, \
        "bad granter endpoint"
    assert read(a, b, 0) == -EPERM, "b has no grant table"
    assert read(b, a, to_b + 40) == -EPERM, "beyond the table"
    assert read(c, a, to_b) == -EPERM, "granted to b, not c"
    assert read(b, a, to_b, n=16, offset=60) == -EPERM, "past the end"
    write = b.do(lambda p: p.sys.sys_safecopyto(a.endpoint, to_b, 0, p.mmap(P), 8))
    assert write == -EPERM, "no CPF_WRITE"
    magic = a.do(lambda p: p.sys.grants.cpf_grant_magic(b.endpoint, c.endpoint, addr, 8,
                                                        CPF_READ))
    assert read(b, a, magic) == -EPERM, "only VFS may make magic grants"
    assert VFS_PROC_NR not in {a.endpoint, b.endpoint, c.endpoint}
    to_any = a.do(lambda p: p.sys.grants.cpf_grant_direct(ANY, addr, 8, CPF_READ))
    assert read(c, a, to_any) == OK


def test_stale_grant_id_is_never_honoured_again(trio: tuple[Remote, Remote, Remote]) -> None:
    a, b, _ = trio
    addr = buffer(a)
    old = a.do(lambda p: p.sys.grants.cpf_grant_direct(b.endpoint, addr, 8, CPF_READ))
    assert a.do(lambda p: p.sys.grants.cpf_revoke(old)) == OK
    assert read(b, a, old) == -EPERM
    new = a.do(lambda p: p.sys.grants.cpf_grant_direct(b.endpoint, addr, 8, CPF_READ))
    assert GRANT_IDX(new) == GRANT_IDX(old), "the slot is reused..."
    assert GRANT_SEQ(new) != GRANT_SEQ(old), "...under a new sequence number"
    assert read(b, a, old) == -EPERM
    assert read(b, a, new) == OK
    assert a.do(lambda p: p.sys.grants.cpf_revoke(old)) == -EINVAL


def test_indirect_grants_and_their_limit(trio: tuple[Remote, Remote, Remote]) -> None:
    a, b, c = trio
    addr = buffer(a)
    to_b = a.do(lambda p: p.sys.grants.cpf_grant_direct(b.endpoint, addr, 8, CPF_READ))
    b_to_c = b.do(lambda p: p.sys.grants.cpf_grant_indirect(c.endpoint, a.endpoint, to_b))
    assert read(c, b, b_to_c) == OK
    assert read(a, b, b_to_c) == -EPERM, "the indirect grant is for c"
    # Pass the grant back and forth between b and c: each hop adds an indirection.
    grant, granter, holder = b_to_c, b, c
    for depth in range(2, 8):
        grant = holder.do(lambda p, g=grant, other=granter: p.sys.grants.cpf_grant_indirect(
            other.endpoint, other.endpoint, g))
        granter, holder = holder, granter
        assert read(holder, granter, grant) == (OK if depth <= 5 else -ELOOP), f"depth {depth}"


def test_a_user_process_cannot_read_anothers_memory_without_a_grant(system: System) -> None:
    secret = Remote.start(system, "secret", service=True)
    addr = buffer(secret)

    def snoop(p: Process) -> int:
        dst = p.mmap(P)
        v = p.sys.sys_vircopy(secret.endpoint, addr, p.endpoint, dst, 8)
        r = p.sys.sys_safecopyfrom(secret.endpoint, 0, 0, dst, 8)
        return -v * 100 + -r if p.mem[dst] == 0 else 0

    assert system.run(snoop) == EPERM * 100 + EPERM


def test_verify_grant_returns_the_whole_chain(system: System,
                                              trio: tuple[Remote, Remote, Remote]) -> None:
    a, b, c = trio
    addr = buffer(a)
    to_b = a.do(lambda p: p.sys.grants.cpf_grant_direct(b.endpoint, addr, 8, CPF_READ))
    b_to_c = b.do(lambda p: p.sys.grants.cpf_grant_indirect(c.endpoint, a.endpoint, to_b))
    seen: dict[str, object] = {}

    def check(p: Process) -> int:
        # verify_grant reads grant tables from process memory: run it inside a process.
        g = verify_grant(system.kernel, b.endpoint, c.endpoint, b_to_c, 8, CPF_READ, 0)
        seen["granted"] = g
        return 0

    c.do(check)
    granted = seen["granted"]
    assert isinstance(granted.granter, Proc) and granted.granter.endpoint == a.endpoint
    assert granted.addr == addr
    assert granted.chain == ((b.endpoint, b_to_c), (a.endpoint, to_b))


def test_grant_table_grows_and_keeps_old_grants(trio: tuple[Remote, Remote, Remote]) -> None:
    a, b, _ = trio
    addr = buffer(a, bytes(range(64)))
    grants = [a.do(lambda p, i=i: p.sys.grants.cpf_grant_direct(b.endpoint, addr + i, 1,
                                                                CPF_READ | CPF_WRITE))
              for i in range(40)]
    assert len({GRANT_IDX(g) for g in grants}) == 40
    for i, g in enumerate(grants):
        dst = b.do(lambda p: p.mmap(P))
        assert b.do(lambda p, g=g, d=dst: p.sys.sys_safecopyfrom(a.endpoint, g, 0, d, 1)) == OK
        assert b.do(lambda p, d=dst: p.mem[d]) == i


def test_a_new_program_starts_without_a_grant_table(system: System) -> None:
    """Services are forked from RS, which has a grant table (it hands DS the
    labels of services); exec must not leave the child pointing at it."""
    system.run(lambda p: 0, service=True)
    rs = system.kernel.procs.slot(RS_PROC_NR)
    assert rs.priv.grant_table != 0
    # The test looks at the kernel's table from inside the new program.
    def grant_table(p: Process) -> int:
        proc = system.kernel.procs.isokendpt(p.endpoint)
        assert proc is not None
        return proc.priv.grant_table

    assert system.run(grant_table, service=True) == 0
