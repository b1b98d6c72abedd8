"""Bugs found trying the system from outside (issue 14, part 1): each test
failed before its fix."""

from __future__ import annotations

import pytest
from remote import ProcessDied, Remote

from minixvm import System
from minixvm.errors import EINVAL, OK
from minixvm.include.com import SELF
from minixvm.include.ds import DSF_OVERWRITE, DSF_TYPE_U32
from minixvm.include.grant import CPF_MAP, CPF_READ, GRANT_MAX_SEQ
from minixvm.include.signal import SIGSEGV, WEXITSTATUS, WIFSIGNALED, WTERMSIG
from minixvm.include.vm import MAP_ANON, MAP_FIXED, MAP_SHARED, VM_REMAP, VM_SHM_UNMAP
from minixvm.lib.c import Process
from minixvm.lib.ds import ds_publish_u32, ds_retrieve_u32, ds_subscribe
from minixvm.machine.ram import PAGE_SIZE


@pytest.mark.parametrize("shift", [1 << 32, -(1 << 32), 1 << 40])
@pytest.mark.parametrize("store", [False, True], ids=["load", "store"])
def test_an_address_outside_32_bits_is_sigsegv_not_a_livelock(
    system: System, shift: int, store: bool
) -> None:
    def wild(p: Process) -> int:
        a = p.mmap(PAGE_SIZE)
        p.mem[a] = 1  # mapped and present: the wrapped address would look fine
        if store:
            p.mem[a + shift] = 2
        else:
            p.mem[a + shift]
        return 0

    faults = system.statistics().page_faults
    assert system.run(wild) == -SIGSEGV
    assert system.statistics().page_faults - faults < 10
    assert system.run(lambda p: 7) == 7


def test_a_character_split_across_two_writes_stays_whole(system: System) -> None:
    """libc writes 4 KiB at a time: a 3-byte character at the boundary goes to
    the console in two writes."""
    text = "a" * (4096 - 1) + "✓ and é" + "b" * 4094 + "é"

    assert system.run(lambda p: p.write(text.encode()) and 0) == 0
    assert text in system.console.text
    assert "\ufffd" not in system.console.text


def test_a_stale_shared_memory_window_never_shows_another_region(system: System) -> None:
    """B's VM_REMAP window names A's region by identity, not by address: once
    A replaces the region, pages B had touched keep the old memory (B holds
    references to those blocks, as in MINIX), and a page B never touched is
    SIGSEGV (MINIX's getsrc finds no region with the recorded id)."""
    P = PAGE_SIZE
    a = Remote.start(system, "owner")
    b = Remote.start(system, "viewer", service=True)
    old = a.do(lambda p: p.mmap(2 * P, flags=MAP_SHARED | MAP_ANON))
    a.do(lambda p: (p.mem.__setitem__(old, 1), p.mem.__setitem__(old + P, 2)))
    window = b.do(lambda p: p.sys.vm_call(VM_REMAP, destination=SELF, source=a.endpoint,
                                          dest_addr=0, src_addr=old, size=2 * P).retaddr)
    assert b.do(lambda p: p.mem[window]) == 1  # touched while A's region lives

    def replace(p: Process) -> int:
        p.munmap(old, 2 * P)
        new = p.mmap(2 * P, flags=MAP_SHARED | MAP_ANON | MAP_FIXED, addr=old)
        p.mem[new], p.mem[new + P] = 3, 4
        return new

    assert a.do(replace) == old
    assert b.do(lambda p: p.mem[window]) == 1, "a touched page stays the old memory"
    b.do(lambda p: p.mem.__setitem__(window, 5))
    assert a.do(lambda p: p.mem[old]) == 3, "and is no longer A's"
    # A child inherits the stale window: its first touch of the other page.
    _, status = b.do(lambda p: p.waitpid(p.fork(lambda c: c.mem[window + P])))
    assert WIFSIGNALED(status) and WTERMSIG(status) == SIGSEGV, status
    with pytest.raises(ProcessDied):
        b.do(lambda p: p.mem[window + P])
    assert a.do(lambda p: (p.mem[old], p.mem[old + P])) == (3, 4)


def test_a_window_cut_and_forked_still_names_its_source(system: System) -> None:
    """The window itself may be cut and forked: its parts keep naming the
    same source region and keep sharing it (this one guards the fix above
    rather than failing before it)."""
    P = PAGE_SIZE

    def prog(p: Process) -> int:
        src = p.mmap(3 * P, flags=MAP_SHARED | MAP_ANON)
        alias = p.sys.vm_call(VM_REMAP, destination=SELF, source=SELF, dest_addr=0,
                              src_addr=src, size=3 * P).retaddr
        p.munmap(alias + P, P)  # the window is now two regions
        p.mem[src + 2 * P] = 9
        pid = p.fork(lambda c: c.mem[alias + 2 * P])
        _, status = p.waitpid(pid)
        assert p.sys.vm_call(VM_SHM_UNMAP, endpoint=SELF, addr=alias + 2 * P).m_type == OK
        return WEXITSTATUS(status)

    assert system.run(prog, service=True) == 9


def test_a_user_program_revoking_a_map_grant_really_ends_the_mapping(system: System) -> None:
    user = Remote.start(system, "grantor")
    service = Remote.start(system, "mapper", service=True)
    ubuf = user.do(lambda p: p.mmap(PAGE_SIZE))
    sbuf = service.do(lambda p: p.mmap(PAGE_SIZE))
    user.do(lambda p: p.mem.__setitem__(ubuf, 1))
    grant = user.do(lambda p: p.sys.grants.cpf_grant_direct(
        service.endpoint, ubuf, PAGE_SIZE, CPF_READ | CPF_MAP))
    assert service.do(lambda p: p.sys.sys_safemap(user.endpoint, grant, 0, sbuf, PAGE_SIZE,
                                                  False)) == OK
    user.do(lambda p: p.mem.__setitem__(ubuf, 2))
    assert service.do(lambda p: p.mem[sbuf]) == 2  # mapped: the service sees the write
    assert user.do(lambda p: p.sys.grants.cpf_revoke(grant)) == OK
    user.do(lambda p: p.mem.__setitem__(ubuf, 3))
    assert service.do(lambda p: p.mem[sbuf]) == 2  # its own snapshot now, both ways
    service.do(lambda p: p.mem.__setitem__(sbuf, 4))
    assert user.do(lambda p: p.mem[ubuf]) == 3


def test_a_revoked_grant_id_is_never_issued_again(system: System) -> None:
    """A slot reused until its sequence numbers run out is retired: past the
    2,048 reuses after which MINIX's ids came round again, no id repeats and
    the first one stays dead."""
    user = Remote.start(system, "granter")
    service = Remote.start(system, "copier", service=True)
    buf = user.do(lambda p: p.mmap(PAGE_SIZE))
    sbuf = service.do(lambda p: p.mmap(PAGE_SIZE))

    def cycle(p: Process) -> list[int]:
        ids = []
        for _ in range(GRANT_MAX_SEQ + 4):
            grant = p.sys.grants.cpf_grant_direct(service.endpoint, buf, 16, CPF_READ)
            assert p.sys.grants.cpf_revoke(grant) == OK
            ids.append(grant)
        return ids

    ids = user.do(cycle)
    assert len(set(ids)) == len(ids)
    first = ids[0]
    assert service.do(lambda p: p.sys.sys_safecopyfrom(user.endpoint, first, 0, sbuf, 16)) < 0
    live = user.do(lambda p: p.sys.grants.cpf_grant_direct(service.endpoint, buf, 16, CPF_READ))
    assert live not in ids
    assert service.do(lambda p: p.sys.sys_safecopyfrom(user.endpoint, live, 0, sbuf, 16)) == OK


def test_a_pathological_subscription_pattern_does_not_stall_ds(system: System) -> None:
    """``(a+)+b`` against a long key of a's takes exponential time with a
    backtracking matcher; DS's matcher is linear, so the publish is answered
    at once, and a pattern it could not match so is refused up front."""
    service = Remote.start(system, "subscriber", service=True)
    assert service.do(lambda p: ds_subscribe(p.sys, "(a+)+b", DSF_TYPE_U32)) == OK
    bad = "(a)\\1"  # a backreference
    assert service.do(lambda p: ds_subscribe(p.sys, bad, DSF_TYPE_U32 | DSF_OVERWRITE)) == -EINVAL
    key = "a" * 70 + "c"  # within DS_MAX_KEYLEN: 2**70 steps for a backtracker
    assert service.do(lambda p: ds_publish_u32(p.sys, key, 1)) == OK
    assert service.do(lambda p: ds_retrieve_u32(p.sys, key)) == (OK, 1)
