"""Memory protection: mmap's prot and VM_MPROTECT (beyond MINIX 3.2, which
ignored prot). Faults on protected pages are SIGSEGV for the program and
EFAULT for a kernel copy; mprotect cuts regions and keeps copy-on-write."""

from __future__ import annotations

import pytest
from remote import Remote
from vfscalls import Files

from minixvm import MinixError, System
from minixvm.errors import EFAULT, EINVAL, ENOMEM, OK
from minixvm.include.com import ANY, SELF
from minixvm.include.grant import CPF_READ, CPF_WRITE
from minixvm.include.signal import SIGSEGV
from minixvm.include.vfs import O_RDONLY
from minixvm.include.vm import (
    MAP_ANON,
    MAP_PREALLOC,
    MAP_PRIVATE,
    MAX_VRI_COUNT,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    VM_GETREF,
    VM_INFO,
    VM_MPROTECT,
    VMIW_REGION,
    VMRegionInfo,
)
from minixvm.lib.c import Process
from minixvm.machine.mmu import PTE_P, PTE_W
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.region import VR_NOACCESS, VR_WRITABLE

P = PAGE_SIZE
RW = PROT_READ | PROT_WRITE


def mprotect_raw(p: Process, addr: int, length: int, prot: int) -> int:
    return p.sys.vm_call(VM_MPROTECT, addr=addr, len=length, prot=prot).m_type


def regions(p: Process, start: int, end: int) -> list[tuple[int, int, int]]:
    """(address, length, prot) of the regions VM_INFO reports in [start, end)."""
    buf = p.mmap(P, addr=0x70000000)
    p.mem[buf] = 0
    reply = p.sys.vm_call(VM_INFO, what=VMIW_REGION, endpoint=SELF, ptr=buf,
                          count=MAX_VRI_COUNT, next=start)
    assert reply.m_type == OK
    info = VMRegionInfo.unpack_all(p.mem[buf : buf + reply.count * VMRegionInfo.FORMAT.size],
                                   reply.count)
    p.munmap(buf, P)
    return [(r.addr, r.length, r.prot) for r in info if start <= r.addr < end]


def pte(system: System, endpoint: int, vaddr: int) -> int:
    """The page-table entry of ``endpoint`` for ``vaddr`` (0: no page table)."""
    vm = system.vm
    assert vm is not None
    vmp = vm.proc(endpoint)
    assert vmp is not None
    table = vmp.pt.tables.get(vaddr >> 22)
    return vm.ram.read_u32(table + ((vaddr >> 12) & 0x3FF) * 4) if table is not None else 0


def refcount(p: Process, addr: int) -> int:
    """How many share the page at ``addr`` (a service's call)."""
    reply = p.sys.vm_call(VM_GETREF, endpoint=SELF, addr=addr)
    assert reply.m_type == OK
    return int(reply.retcount)


# -- mmap's prot ---------------------------------------------------------------------------


@pytest.mark.parametrize("store", [False, True])
def test_any_access_to_a_prot_none_mapping_is_sigsegv(system: System, store: bool) -> None:
    def prog(p: Process) -> int:
        a = p.mmap(P, prot=PROT_NONE)
        if store:
            p.mem[a] = 1
        return p.mem[a]

    assert system.run(prog) == -SIGSEGV
    assert "PROT_NONE" in system.console.text


def test_a_store_to_a_read_only_mapping_is_sigsegv_and_a_load_is_not(system: System) -> None:
    def prog(p: Process) -> int:
        a = p.mmap(P, prot=PROT_READ)
        assert p.mem[a] == 0
        p.mem[a] = 1
        return 0

    assert system.run(prog) == -SIGSEGV


def test_exec_alone_reads_and_write_alone_reads_and_writes(system: System) -> None:
    def prog(p: Process) -> int:
        x = p.mmap(P, prot=PROT_EXEC)
        w = p.mmap(P, prot=PROT_WRITE)
        p.mem[w] = 7
        assert (p.mem[x], p.mem[w]) == (0, 7)
        assert regions(p, x, x + P) == [(x, P, PROT_READ)]
        assert regions(p, w, w + P) == [(w, P, RW)]
        return 0

    assert system.run(prog) == 0


def test_prealloc_prot_none_holds_memory_but_maps_nothing_present(system: System) -> None:
    remote = Remote.start(system, "prealloc", service=True)
    a = remote.do(lambda p: p.mmap(2 * P, prot=PROT_NONE, flags=MAP_PRIVATE | MAP_ANON
                                   | MAP_PREALLOC))
    assert remote.do(lambda p: refcount(p, a)) == 1, "the memory is there"
    assert not pte(system, remote.endpoint, a) & PTE_P
    remote.do(lambda p: p.mprotect(a, 2 * P, PROT_READ))
    assert pte(system, remote.endpoint, a + P) & (PTE_P | PTE_W) == PTE_P
    assert remote.do(lambda p: p.mem[a : a + 2 * P]) == bytes(2 * P)


# -- mprotect --------------------------------------------------------------------------------


def test_mprotect_read_only_keeps_data_and_refuses_stores(system: System) -> None:
    remote = Remote.start(system, "ro")
    a = remote.do(lambda p: p.mmap(2 * P))
    remote.do(lambda p: p.mem.__setitem__(slice(a, a + 4), b"data"))
    remote.do(lambda p: p.mprotect(a, 2 * P, PROT_READ))
    assert pte(system, remote.endpoint, a) & (PTE_P | PTE_W) == PTE_P
    assert remote.do(lambda p: p.mem[a : a + 4]) == b"data"
    remote.do(lambda p: p.mprotect(a, 2 * P, RW))
    remote.do(lambda p: p.mem.__setitem__(a + P, 9))
    assert remote.do(lambda p: (p.mem[a : a + 4], p.mem[a + P])) == (b"data", 9)


def test_a_store_after_mprotect_read_is_sigsegv(system: System) -> None:
    def prog(p: Process) -> int:
        a = p.mmap(P)
        p.mem[a] = 1
        p.mprotect(a, P, PROT_READ)
        assert p.mem[a] == 1
        p.mem[a] = 2
        return 0

    assert system.run(prog) == -SIGSEGV


def test_prot_none_hides_pages_that_come_back_intact(system: System) -> None:
    remote = Remote.start(system, "none")
    a = remote.do(lambda p: p.mmap(3 * P))
    remote.do(lambda p: p.mem.__setitem__(slice(a, a + 3 * P), b"xyz" * P))
    remote.do(lambda p: p.mprotect(a, 3 * P, PROT_NONE))
    assert all(not pte(system, remote.endpoint, a + i * P) & PTE_P for i in range(3))
    remote.do(lambda p: p.mprotect(a, 3 * P, RW))
    assert remote.do(lambda p: p.mem[a : a + 3 * P]) == b"xyz" * P


def test_a_load_from_a_page_made_prot_none_is_sigsegv(system: System) -> None:
    def prog(p: Process) -> int:
        a = p.mmap(P)
        p.mem[a] = 1
        p.mprotect(a, P, PROT_NONE)
        return p.mem[a]

    assert system.run(prog) == -SIGSEGV


def test_mprotect_of_a_middle_part_splits_the_region_in_three(system: System) -> None:
    def prog(p: Process) -> int:
        a = p.mmap(6 * P, addr=0x60000000)
        p.mem[a : a + 6 * P] = bytes(range(6)) * P
        p.mprotect(a + 2 * P, 2 * P, PROT_READ)
        assert regions(p, a, a + 6 * P) == [(a, 2 * P, RW), (a + 2 * P, 2 * P, PROT_READ),
                                             (a + 4 * P, 2 * P, RW)]
        p.mem[a + P] = 0xAA  # the outer parts stay writable
        p.mem[a + 5 * P] = 0xBB
        # Back to read-write: nothing is merged wrongly, every byte is where it was.
        p.mprotect(a + 2 * P, 2 * P, RW)
        assert [r[2] for r in regions(p, a, a + 6 * P)] == [RW, RW, RW]
        p.mem[a + 3 * P] = 0xCC
        want = bytearray(bytes(range(6)) * P)
        want[P], want[5 * P], want[3 * P] = 0xAA, 0xBB, 0xCC
        assert p.mem[a : a + 6 * P] == bytes(want)
        p.munmap(a, 6 * P)
        assert regions(p, a, a + 6 * P) == []
        return 0

    assert system.run(prog) == 0


def test_mprotect_across_two_regions_cuts_both_ends(system: System) -> None:
    def prog(p: Process) -> int:
        a = p.mmap(3 * P, addr=0x60000000)
        b = p.mmap(3 * P, addr=a + 3 * P)
        assert b == a + 3 * P
        p.mprotect(a + 2 * P, 2 * P, PROT_NONE)
        assert regions(p, a, a + 6 * P) == [
            (a, 2 * P, RW), (a + 2 * P, P, PROT_NONE), (b, P, PROT_NONE), (b + P, 2 * P, RW)]
        return 0

    assert system.run(prog) == 0


def test_a_length_that_is_not_whole_pages_covers_the_last_page(system: System) -> None:
    def prog(p: Process) -> int:
        a = p.mmap(2 * P)
        p.mprotect(a, P + 1, PROT_READ)
        assert regions(p, a, a + 2 * P) == [(a, 2 * P, PROT_READ)]
        return 0

    assert system.run(prog) == 0


# -- copy-on-write ---------------------------------------------------------------------------


def test_a_cow_page_made_read_only_stays_shared(system: System) -> None:
    parent = Remote.start(system, "parent", service=True)
    a = parent.do(lambda p: p.mmap(P))
    parent.do(lambda p: p.mem.__setitem__(a, 1))
    child = parent.fork()
    parent.do(lambda p: p.mprotect(a, P, PROT_READ))
    assert parent.do(lambda p: (refcount(p, a), p.mem[a])) == (2, 1), "still shared"
    child.do(lambda c: c.mem.__setitem__(a, 2))
    assert child.do(lambda c: c.mem[a]) == 2
    assert parent.do(lambda p: (refcount(p, a), p.mem[a])) == (1, 1)
    assert pte(system, parent.endpoint, a) & PTE_W == 0, "the sole sharer stays read-only"
    child.exit()


def test_a_read_only_cow_page_made_writable_still_copies_on_write(system: System) -> None:
    parent = Remote.start(system, "parent", service=True)
    a = parent.do(lambda p: p.mmap(P))
    parent.do(lambda p: p.mem.__setitem__(a, 1))
    parent.do(lambda p: p.mprotect(a, P, PROT_READ))
    child = parent.fork()
    child.do(lambda c: c.mprotect(a, P, RW))
    assert pte(system, child.endpoint, a) & PTE_W == 0, "shared: not writable yet"
    child.do(lambda c: c.mem.__setitem__(a, 2))
    assert child.do(lambda c: c.mem[a]) == 2
    assert parent.do(lambda p: (refcount(p, a), p.mem[a])) == (1, 1)
    child.exit()


def test_the_child_inherits_protections(system: System) -> None:
    def prog(p: Process) -> int:
        a = p.mmap(P)
        p.mprotect(a, P, PROT_READ)

        def child(c: Process) -> int:
            c.mem[a] = 1
            return 0

        _, status = p.waitpid(p.fork(child))
        return status & 0x7F

    assert system.run(prog) == SIGSEGV


# -- kernel copies ---------------------------------------------------------------------------


@pytest.mark.parametrize(("prot", "err"), [(RW, 0), (PROT_READ, EFAULT), (PROT_NONE, EFAULT)])
def test_read_into_a_protected_buffer_is_efault(system: System, prot: int, err: int) -> None:
    def prog(p: Process) -> int:
        files = Files(p)
        buf = p.mmap(P)
        p.mem[buf : buf + 4] = b"keep"
        p.mprotect(buf, P, prot)
        fd = p.open("/dev/zero", O_RDONLY)
        try:
            got = files.read_into(fd, buf, 16)
        except MinixError as e:
            got = -e.errno
        p.mprotect(buf, P, RW)
        assert p.mem[buf : buf + 4] == (b"keep" if err else bytes(4))
        assert got == (-err if err else 16)
        return 0

    assert system.run(prog) == 0


def test_safecopy_refuses_read_only_and_prot_none_pages(system: System) -> None:
    owner = Remote.start(system, "owner", service=True)
    copier = Remote.start(system, "copier", service=True)
    ro = owner.do(lambda p: p.mmap(P))
    none = owner.do(lambda p: p.mmap(P))
    owner.do(lambda p: p.mem.__setitem__(slice(ro, ro + 2), b"ro"))
    owner.do(lambda p: (p.mprotect(ro, P, PROT_READ), p.mprotect(none, P, PROT_NONE)))
    access = CPF_READ | CPF_WRITE
    g_ro, g_none = owner.do(lambda p: (p.sys.grants.cpf_grant_direct(ANY, ro, P, access),
                                       p.sys.grants.cpf_grant_direct(ANY, none, P, access)))
    buf = copier.do(lambda p: p.mmap(P))
    copier.do(lambda p: p.mem.__setitem__(buf, 0))
    ep = owner.endpoint

    def copies(p: Process) -> tuple[int, ...]:
        return (p.sys.sys_safecopyfrom(ep, g_ro, 0, buf, 2),
                p.sys.sys_safecopyto(ep, g_ro, 0, buf, 2),
                p.sys.sys_safecopyfrom(ep, g_none, 0, buf, 2),
                p.sys.sys_safecopyto(ep, g_none, 0, buf, 2))

    assert copier.do(copies) == (OK, -EFAULT, -EFAULT, -EFAULT)
    assert copier.do(lambda p: p.mem[buf : buf + 2]) == b"ro"
    assert owner.do(lambda p: p.mem[ro : ro + 2]) == b"ro"


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("where", "length", "prot", "err"), [
    (1, P, PROT_READ, EINVAL),  # unaligned
    (0, P, 0x8, EINVAL),  # unknown prot bit
    (0, P, -1, EINVAL),
    (0, 0, PROT_READ, EINVAL),  # nothing
    (0, -P, PROT_READ, EINVAL),
    (0, 2**31 - 1, PROT_READ, ENOMEM),  # beyond the mapping
    (P, P, PROT_READ, ENOMEM),  # partly unmapped
    (2 * P, P, PROT_READ, ENOMEM),  # wholly unmapped
    (-3 * P, P, PROT_READ, ENOMEM),  # below it
])
def test_mprotect_errors(system: System, where: int, length: int, prot: int, err: int) -> None:
    def prog(p: Process) -> int:
        a = p.mmap(2 * P, addr=0x60000000)
        p.munmap(a + P, P)
        before = regions(p, 0x5F000000, 0x61000000)
        r = mprotect_raw(p, a + where, length, prot)
        assert regions(p, 0x5F000000, 0x61000000) == before, "nothing changed"
        return -r

    assert system.run(prog) == err


def test_mprotect_past_the_top_of_memory_is_einval(system: System) -> None:
    def prog(p: Process) -> int:
        return -mprotect_raw(p, 0xFFFFF000, 2 * P, PROT_READ)

    assert system.run(prog) == EINVAL


def test_the_libc_wrapper_raises(system: System) -> None:
    def prog(p: Process) -> int:
        with pytest.raises(MinixError) as e:
            p.mprotect(0x60000000, P, PROT_READ)
        return e.value.errno

    assert system.run(prog) == ENOMEM


def test_region_flags_say_the_protection(system: System) -> None:
    remote = Remote.start(system, "flags")
    a = remote.do(lambda p: p.mmap(3 * P))
    remote.do(lambda p: (p.mprotect(a, P, PROT_NONE), p.mprotect(a + P, P, PROT_READ)))
    vm = system.vm
    assert vm is not None
    vmp = vm.proc(remote.endpoint)
    assert vmp is not None
    flags = [r.flags & (VR_WRITABLE | VR_NOACCESS) for r in vmp.regions.overlapping(a, a + 3 * P)]
    assert flags == [VR_NOACCESS, 0, VR_WRITABLE]


# -- the C library ---------------------------------------------------------------------------


def test_an_i386_program_uses_mprotect_through_the_c_library(system: System) -> None:
    segv = system.statistics().vm.sigsegv
    assert system.exec("/bin/mprotect", ["mprotect"]) == 0, system.console.text[-2000:]
    assert "mprotect ok" in system.console.text
    assert system.statistics().vm.sigsegv - segv == 2
