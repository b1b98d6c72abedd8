"""MINIX's test/safemap, ported: a grantor G and a requestor R share four
pages through a CPF_MAP grant (R=10, G=20 are the values each writes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from remote import Remote

from minixvm import System
from minixvm.errors import EFAULT, EINVAL, EPERM, OK
from minixvm.include.grant import CPF_MAP, CPF_READ, CPF_WRITE
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE

P = PAGE_SIZE
PAGES = 4
R_VAL, G_VAL = 10, 20


class Pair:
    """Grantor and requestor, each with a 4-page buffer; G grants R its buffer."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.g = Remote.start(system, "grantor", service=True)
        self.r = Remote.start(system, "requestor", service=True)
        self.gbuf = self.g.do(lambda p: p.mmap(PAGES * P))
        self.rbuf = self.r.do(lambda p: p.mmap(PAGES * P))
        self.grant = self.new_grant()

    def new_grant(self, access: int = CPF_READ | CPF_WRITE | CPF_MAP) -> int:
        return self.g.do(lambda p: p.sys.grants.cpf_grant_direct(
            self.r.endpoint, self.gbuf, PAGES * P, access))

    @staticmethod
    def fill(remote: Remote, buf: int, value: int) -> None:
        remote.do(lambda p: p.mem.__setitem__(slice(buf, buf + PAGES * P),
                                              bytes([value]) * PAGES * P))

    @staticmethod
    def seen(remote: Remote, buf: int) -> int:
        """The value every page holds (each page's first and last byte agree)."""
        data = remote.do(lambda p: p.mem[buf : buf + PAGES * P])
        values = {data[i] for i in range(0, PAGES * P, P)} | {data[i - 1] for i in
                                                                range(P, PAGES * P + 1, P)}
        assert len(values) == 1, f"pages disagree: {values}"
        return values.pop()

    def g_sees(self) -> int:
        return self.seen(self.g, self.gbuf)

    def r_sees(self) -> int:
        return self.seen(self.r, self.rbuf)

    def map(self, writable: bool = True, grant: int | None = None) -> int:
        grant = self.grant if grant is None else grant
        return self.r.do(lambda p: p.sys.sys_safemap(self.g.endpoint, grant, 0, self.rbuf,
                                                     PAGES * P, writable))

    def unmap(self) -> int:
        return self.r.do(lambda p: p.sys.sys_safeunmap(self.rbuf))

    def revoke(self) -> int:
        """G ends every mapping of its grant (MINIX: sys_saferevmap_gid)."""
        return self.g.do(lambda p: p.sys.sys_saferevmap_gid(self.grant))


@pytest.fixture
def pair(system: System) -> Iterator[Pair]:
    yield Pair(system)


def test_the_six_scenarios_in_order(pair: Pair) -> None:
    # 1. MAP: R maps, sees G's value, writes its own; G sees it.
    pair.fill(pair.g, pair.gbuf, G_VAL)
    assert pair.map() == OK
    assert pair.r_sees() == G_VAL
    pair.fill(pair.r, pair.rbuf, R_VAL)
    assert pair.g_sees() == R_VAL
    assert pair.unmap() == OK
    assert pair.g_sees() == R_VAL

    # 2. UNMAP: R keeps a private copy; mapping again shows G's memory.
    pair.fill(pair.g, pair.gbuf, G_VAL)
    assert pair.r_sees() == R_VAL
    assert pair.map() == OK
    assert pair.r_sees() == G_VAL
    assert pair.g_sees() == G_VAL

    # 3. REVOKE: R keeps a snapshot of what it saw; the two are separate again.
    assert pair.revoke() == OK
    pair.fill(pair.g, pair.gbuf, G_VAL + 1)
    assert pair.r_sees() == G_VAL
    pair.fill(pair.r, pair.rbuf, R_VAL)
    assert pair.g_sees() == G_VAL + 1

    # 4. SMAP_COW: R maps and writes; R's child gets a copy at fork.
    assert pair.map() == OK
    pair.fill(pair.r, pair.rbuf, R_VAL)
    assert pair.g_sees() == R_VAL
    child = pair.r.fork()
    pair.fill(pair.g, pair.gbuf, G_VAL)
    assert pair.r_sees() == G_VAL
    assert pair.seen(child, pair.rbuf) == R_VAL, "the child's copy was made at fork"
    child.exit()

    # 5. COW_SMAP: G's pages are shared copy-on-write with G's child when R
    #    maps them; VM gives G its own copy first, so the child is not affected.
    assert pair.revoke() == OK
    pair.fill(pair.g, pair.gbuf, G_VAL + 1)
    gchild = pair.g.fork()
    pair.fill(pair.r, pair.rbuf, R_VAL)
    assert pair.map() == OK
    pair.fill(gchild, pair.gbuf, G_VAL + 2)
    assert pair.g_sees() == G_VAL + 1
    assert pair.r_sees() == G_VAL + 1
    gchild.exit()

    # 6. COW_SMAP2: R safecopies into G (shared copy-on-write), then maps.
    assert pair.revoke() == OK
    pair.fill(pair.r, pair.rbuf, R_VAL)
    assert pair.r.do(lambda p: p.sys.sys_safecopyto(pair.g.endpoint, pair.grant, 0, pair.rbuf,
                                                    PAGES * P)) == OK
    assert pair.map() == OK
    assert pair.g_sees() == R_VAL
    assert pair.r_sees() == R_VAL


def test_read_only_mapping_refuses_writes(pair: Pair) -> None:
    pair.fill(pair.g, pair.gbuf, G_VAL)
    assert pair.map(writable=False) == OK
    assert pair.r_sees() == G_VAL
    pair.fill(pair.g, pair.gbuf, G_VAL + 1)
    assert pair.r_sees() == G_VAL + 1, "G's writes show through"
    from remote import ProcessDied

    with pytest.raises(ProcessDied):
        pair.fill(pair.r, pair.rbuf, R_VAL)
    assert pair.g_sees() == G_VAL + 1


def test_map_errors(pair: Pair) -> None:
    assert pair.r.do(lambda p: p.sys.sys_safemap(pair.g.endpoint, pair.grant, 0, pair.rbuf + 1,
                                                 P, True)) == -EINVAL
    assert pair.r.do(lambda p: p.sys.sys_safemap(pair.g.endpoint, pair.grant, 0, pair.rbuf,
                                                 P + 1, True)) == -EINVAL
    no_map = pair.new_grant(CPF_READ | CPF_WRITE)
    assert pair.map(grant=no_map) == -EPERM
    read_only = pair.new_grant(CPF_READ | CPF_MAP)
    assert pair.map(writable=True, grant=read_only) == -EPERM
    assert pair.map(writable=False, grant=read_only) == OK
    assert pair.r.do(lambda p: p.sys.sys_safeunmap(pair.rbuf + P)) == -EFAULT
    assert pair.unmap() == OK


def test_revoking_the_grant_object_revokes_its_mappings(pair: Pair) -> None:
    pair.fill(pair.g, pair.gbuf, G_VAL)
    assert pair.map() == OK
    assert pair.g.do(lambda p: p.sys.grants.cpf_revoke(pair.grant)) == OK
    pair.fill(pair.g, pair.gbuf, G_VAL + 1)
    assert pair.r_sees() == G_VAL
    assert pair.map() == -EPERM, "the grant is gone"


def test_revoke_by_address_and_every_match(system: System, pair: Pair) -> None:
    other = Remote.start(system, "other", service=True)
    obuf = other.do(lambda p: p.mmap(PAGES * P))
    shared = pair.g.do(lambda p: p.sys.grants.cpf_grant_direct(
        other.endpoint, pair.gbuf, PAGES * P, CPF_READ | CPF_MAP))
    pair.fill(pair.g, pair.gbuf, G_VAL)
    assert pair.map() == OK
    assert other.do(lambda p: p.sys.sys_safemap(pair.g.endpoint, shared, 0, obuf, PAGES * P,
                                                False)) == OK
    assert pair.g.do(lambda p: p.sys.sys_saferevmap_addr(pair.gbuf + P)) == OK
    pair.fill(pair.g, pair.gbuf, G_VAL + 1)
    assert pair.r_sees() == G_VAL
    assert pair.seen(other, obuf) == G_VAL
    assert not system.kernel.safemaps.entries


def test_indirect_grants_map_and_revoke_through_the_chain(system: System, pair: Pair) -> None:
    """G grants a middleman M, M passes it on to R indirectly. Revoking M's
    grant, or M's exit, ends R's mapping (MINIX could do neither)."""
    m = Remote.start(system, "middle", service=True)
    to_m = pair.g.do(lambda p: p.sys.grants.cpf_grant_direct(
        m.endpoint, pair.gbuf, PAGES * P, CPF_READ | CPF_WRITE | CPF_MAP))
    via_m = m.do(lambda p: p.sys.grants.cpf_grant_indirect(pair.r.endpoint, pair.g.endpoint,
                                                          to_m))

    def map_via_m() -> int:
        return pair.r.do(lambda p: p.sys.sys_safemap(m.endpoint, via_m, 0, pair.rbuf,
                                                     PAGES * P, True))

    pair.fill(pair.g, pair.gbuf, G_VAL)
    assert map_via_m() == OK
    pair.fill(pair.r, pair.rbuf, R_VAL)
    assert pair.g_sees() == R_VAL, "mapped to the final grantor's memory"
    assert m.do(lambda p: p.sys.sys_saferevmap_gid(via_m)) == OK
    pair.fill(pair.g, pair.gbuf, G_VAL)
    assert pair.r_sees() == R_VAL

    assert map_via_m() == OK
    m.exit()
    pair.fill(pair.g, pair.gbuf, G_VAL + 1)
    assert pair.r_sees() == G_VAL, "the middleman's exit revoked the mapping"
    assert not system.kernel.safemaps.entries


def test_grantor_exit_leaves_the_grantee_its_snapshot(system: System, pair: Pair) -> None:
    pair.fill(pair.g, pair.gbuf, G_VAL)
    assert pair.map() == OK
    pair.g.exit()
    assert pair.r_sees() == G_VAL
    pair.fill(pair.r, pair.rbuf, R_VAL)
    assert pair.r_sees() == R_VAL
    assert not system.kernel.safemaps.entries


def prog_maps_itself(p: Process) -> int:
    buf = p.mmap(P)
    grant = p.sys.grants.cpf_grant_direct(p.endpoint, buf, P, CPF_READ | CPF_MAP)
    other = p.mmap(P)
    return -p.sys.sys_safemap(p.endpoint, grant, 0, other, P, False)


def test_a_process_cannot_map_its_own_grant(system: System) -> None:
    assert system.run(prog_maps_itself, service=True) == EINVAL
