"""MINIX's test/safecopy, ported: a grantor makes an 8-page READ|WRITE grant
and a requestor safecopies 1 B .. 32 KiB from and to it, with the
copy-on-write optimisation on and off; every byte is checked."""

from __future__ import annotations

import pytest
from remote import Remote

from minixvm import System
from minixvm.errors import EDOM, EFAULT, EINVAL, EPERM, OK
from minixvm.include.com import SELF
from minixvm.include.grant import CPF_READ, CPF_WRITE
from minixvm.include.vm import VM_GETPHYS
from minixvm.machine.ram import PAGE_SIZE

P = PAGE_SIZE
GRANT_PAGES = 8
SIZES = [1 << i for i in range(16)]  # 1 B .. 32 KiB


def pattern(n: int, seed: int) -> bytes:
    return bytes((i * 31 + seed) & 0xFF for i in range(n))


@pytest.fixture(params=[True, False], ids=["cow", "copy"])
def cow_system(request: pytest.FixtureRequest) -> System:
    with System.boot(ram="32M", sanity_checks=True, cow_safecopy=request.param) as s:
        yield s
        Remote.exit_all(s)
        s.run_until_idle()
        s.vm_sanity_check()


def grant_pair(system: System) -> tuple[Remote, Remote, int, int, int]:
    """(grantor, requestor, grantor's buffer, grant, requestor's buffer)."""
    g = Remote.start(system, "grantor", service=True)
    r = Remote.start(system, "requestor", service=True)
    gbuf = g.do(lambda p: p.mmap(GRANT_PAGES * P))
    g.do(lambda p: p.mem.__setitem__(slice(gbuf, gbuf + GRANT_PAGES * P),
                                     pattern(GRANT_PAGES * P, 100)))
    grant = g.do(lambda p: p.sys.grants.cpf_grant_direct(r.endpoint, gbuf, GRANT_PAGES * P,
                                                        CPF_READ | CPF_WRITE))
    rbuf = r.do(lambda p: p.mmap(GRANT_PAGES * P))
    return g, r, gbuf, grant, rbuf


def test_safecopy_from_every_size(cow_system: System) -> None:
    g, r, gbuf, grant, rbuf = grant_pair(cow_system)
    expected = pattern(GRANT_PAGES * P, 100)
    for size in SIZES:
        assert r.do(lambda p, n=size: p.sys.sys_safecopyfrom(g.endpoint, grant, 0, rbuf, n)) \
            == OK
        got = r.do(lambda p, n=size: p.mem[rbuf : rbuf + n])
        assert got == expected[:size], f"{size} bytes"
        assert got[0] == 100  # MINIX's own check: buf[0] == 100


def test_safecopy_to_every_size_and_offset(cow_system: System) -> None:
    g, r, gbuf, grant, rbuf = grant_pair(cow_system)
    for size in SIZES[:-1]:
        offset = (size * 3) % P if size < P else 0
        data = pattern(size, size)
        r.do(lambda p, d=data: p.mem.__setitem__(slice(rbuf, rbuf + len(d)), d))
        assert r.do(lambda p, n=size, o=offset: p.sys.sys_safecopyto(
            g.endpoint, grant, o, rbuf, n)) == OK
        assert g.do(lambda p, n=size, o=offset: p.mem[gbuf + o : gbuf + o + n]) == data
    # The requestor's later writes never reach the grantor (nor the other way).
    r.do(lambda p: p.mem.__setitem__(slice(rbuf, rbuf + P), b"r" * P))
    g.do(lambda p: p.mem.__setitem__(slice(gbuf + P, gbuf + 2 * P), b"g" * P))
    assert g.do(lambda p: p.mem[gbuf : gbuf + 4]) == pattern(4, 1 << 14)
    assert r.do(lambda p: p.mem[rbuf + P : rbuf + P + 1]) != b"g"


def test_whole_pages_are_shared_copy_on_write_only_with_the_switch_on(
        cow_system: System) -> None:
    g, r, gbuf, grant, rbuf = grant_pair(cow_system)
    breaks = cow_system.statistics().vm.cow_breaks
    assert r.do(lambda p: p.sys.sys_safecopyfrom(g.endpoint, grant, 0, rbuf, 4 * P)) == OK
    phys = [remote.do(lambda p, a=addr: p.sys.vm_call(VM_GETPHYS, endpoint=SELF, addr=a).retaddr)
            for remote, addr in ((g, gbuf), (r, rbuf))]
    shared = phys[0] == phys[1]
    assert shared == cow_system.kernel.cow_safecopy
    r.do(lambda p: p.mem.__setitem__(rbuf, 1))
    assert g.do(lambda p: p.mem[gbuf]) == 100
    assert (cow_system.statistics().vm.cow_breaks > breaks) == shared


def test_unaligned_copy_copies_head_and_tail(cow_system: System) -> None:
    g, r, gbuf, grant, rbuf = grant_pair(cow_system)
    n = 3 * P + 100
    assert r.do(lambda p: p.sys.sys_safecopyfrom(g.endpoint, grant, 50, rbuf + 50, n)) == OK
    assert r.do(lambda p: p.mem[rbuf + 50 : rbuf + 50 + n]) == \
        pattern(GRANT_PAGES * P, 100)[50 : 50 + n]
    assert r.do(lambda p: p.mem[rbuf : rbuf + 50]) == bytes(50)


def test_safecopy_errors(system: System) -> None:
    g, r, gbuf, grant, rbuf = grant_pair(system)

    def copy_from(offset: int, addr: int, n: int, grant_id: int = grant) -> int:
        return r.do(lambda p: p.sys.sys_safecopyfrom(g.endpoint, grant_id, offset, addr, n))

    assert copy_from(0, rbuf, 0) == -EDOM
    assert copy_from(0, 0x70000000, 16) == -EFAULT, "requestor address unmapped"
    assert copy_from(GRANT_PAGES * P - 8, rbuf, 16) == -EPERM, "past the grant"
    assert copy_from(0, rbuf, 16, grant_id=grant + 1) == -EPERM
    read_only = g.do(lambda p: p.sys.grants.cpf_grant_direct(r.endpoint, gbuf, P, CPF_READ))
    assert r.do(lambda p: p.sys.sys_safecopyto(g.endpoint, read_only, 0, rbuf, 16)) == -EPERM
    assert copy_from(0, rbuf, 16) == OK, "the requestor's errors changed nothing"


def test_vectored_safecopy_stops_at_the_first_failure(system: System) -> None:
    g, r, gbuf, grant, rbuf = grant_pair(system)
    vector = [
        (g.endpoint, SELF, grant, 0, rbuf, 100),
        (SELF, g.endpoint, grant, P, rbuf, 100),
        (g.endpoint, SELF, grant, GRANT_PAGES * P, rbuf + P, 1),  # past the grant
        (g.endpoint, SELF, grant, 0, rbuf + 2 * P, 100),
    ]
    assert r.do(lambda p: p.sys.sys_vsafecopy(vector)) == (-EPERM, 2)
    assert r.do(lambda p: p.mem[rbuf : rbuf + 100]) == pattern(100, 100)
    assert g.do(lambda p: p.mem[gbuf + P : gbuf + P + 100]) == pattern(100, 100)
    assert r.do(lambda p: p.mem[rbuf + 2 * P]) == 0, "nothing after the failure"
    both_self = [(SELF, SELF, grant, 0, rbuf, 1)]
    assert r.do(lambda p: p.sys.sys_vsafecopy(both_self))[0] == -EINVAL
