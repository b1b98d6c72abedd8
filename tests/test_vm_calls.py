"""VM's requests, each with its success and error paths (MINIX semantics)."""

from __future__ import annotations

import pytest
from remote import Remote

from minixvm import MinixError, System
from minixvm.errors import EFAULT, EINVAL, ENOMEM, ENOSYS, EPERM, OK
from minixvm.include.arch import PY_DATA_BASE, USER_BASE
from minixvm.include.com import PM_PROC_NR, SELF
from minixvm.include.vm import (
    MAP_ANON,
    MAP_CONTIG,
    MAP_FIXED,
    MAP_LOWER1M,
    MAP_LOWER16M,
    MAP_PREALLOC,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_THIRDPARTY,
    MAP_UNINITIALIZED,
    MAX_VRI_COUNT,
    PROT_READ,
    PROT_WRITE,
    VM_BRK,
    VM_EXIT,
    VM_FORK,
    VM_GETPHYS,
    VM_GETREF,
    VM_INFO,
    VM_MAP_PHYS,
    VM_MMAP,
    VM_MUNMAP,
    VM_MUNMAP_TEXT,
    VM_PROCCTL,
    VM_REMAP,
    VM_RS_SET_PRIV,
    VM_SHM_UNMAP,
    VM_UNMAP_PHYS,
    VM_WILLEXIT,
    VMIW_REGION,
    VMIW_STATS,
    VMIW_USAGE,
    VMPPARAM_HANDLEMEM,
    VMRegionInfo,
    VMStatsInfo,
    VMUsageInfo,
)
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.slab import SlabLockError, use

P = PAGE_SIZE
RW = PROT_READ | PROT_WRITE


def mmap_raw(p: Process, length: int, flags: int = MAP_PRIVATE | MAP_ANON, addr: int = 0,
             prot: int = RW, fd: int = -1, **extra: int) -> tuple[int, int]:
    reply = p.sys.vm_call(VM_MMAP, addr=addr, len=length, prot=prot, flags=flags, fd=fd,
                          offset=0, **extra)
    return reply.m_type, getattr(reply, "retaddr", 0)


def info_buffer(p: Process) -> int:
    """A page for VM_INFO to copy its answers into, present already (so
    that copying the answer changes nothing it reports)."""
    buf = p.mmap(P)
    p.mem[buf] = 0
    return buf


def info_stats(p: Process, buf: int) -> VMStatsInfo:
    assert p.sys.vm_call(VM_INFO, what=VMIW_STATS, ptr=buf).m_type == OK
    return VMStatsInfo.unpack(p.mem[buf : buf + VMStatsInfo.FORMAT.size])


def info_usage(p: Process, buf: int) -> VMUsageInfo:
    assert p.sys.vm_call(VM_INFO, what=VMIW_USAGE, endpoint=SELF, ptr=buf).m_type == OK
    return VMUsageInfo.unpack(p.mem[buf : buf + VMUsageInfo.FORMAT.size])


def info_regions(p: Process, buf: int, start: int = 0) -> tuple[VMRegionInfo, ...]:
    reply = p.sys.vm_call(VM_INFO, what=VMIW_REGION, endpoint=SELF, ptr=buf,
                          count=MAX_VRI_COUNT, next=start)
    assert reply.m_type == OK
    return VMRegionInfo.unpack_all(p.mem[buf : buf + reply.count * VMRegionInfo.FORMAT.size],
                                   reply.count)


def faults(system: System) -> int:
    return system.statistics().vm.pagefaults


# -- VM_MMAP ----------------------------------------------------------------------------


def test_mmap_gives_zeroed_writable_memory_on_demand(system: System) -> None:
    def prog(p: Process) -> int:
        a = p.mmap(4 * P)
        assert a % P == 0 and a >= USER_BASE
        assert p.mem[a : a + 4 * P] == bytes(4 * P)
        p.mem[a + 3 * P + 7] = 9
        return p.mem[a + 3 * P + 7]

    before = system.statistics().vm.demand_zero
    assert system.run(prog) == 9
    assert system.statistics().vm.demand_zero - before >= 4


@pytest.mark.parametrize(
    ("length", "flags", "fd", "err"),
    [
        (0, MAP_PRIVATE | MAP_ANON, -1, EINVAL),
        (P, MAP_PRIVATE | MAP_ANON, 3, EINVAL),
        (P, MAP_PRIVATE, -1, EINVAL),
        (P, MAP_PRIVATE | MAP_ANON | MAP_CONTIG, -1, EINVAL),
        (P, MAP_PRIVATE | MAP_ANON | MAP_UNINITIALIZED, -1, EPERM),
        (P, MAP_PRIVATE | MAP_ANON | MAP_THIRDPARTY, -1, EPERM),
        (1 << 31, MAP_PRIVATE | MAP_ANON | MAP_PREALLOC, -1, ENOMEM),
    ],
)
def test_mmap_errors(system: System, length: int, flags: int, fd: int, err: int) -> None:
    def prog(p: Process) -> int:
        r, _ = mmap_raw(p, length, flags, fd=fd, forwhom=PM_PROC_NR)
        return -r

    assert system.run(prog) == err


def test_mmap_fixed_places_exactly_and_replaces(system: System) -> None:
    def prog(p: Process) -> int:
        a = p.mmap(4 * P)
        p.mem[a : a + 4 * P] = b"x" * 4 * P
        b = p.mmap(P, flags=MAP_PRIVATE | MAP_ANON | MAP_FIXED, addr=a + P)
        assert b == a + P
        assert p.mem[b : b + P] == bytes(P), "MAP_FIXED replaces what was there"
        assert p.mem[a : a + P] == b"x" * P and p.mem[a + 2 * P : a + 4 * P] == b"x" * 2 * P
        r, _ = mmap_raw(p, P, MAP_PRIVATE | MAP_ANON | MAP_FIXED, addr=a + 5)
        assert r == -ENOMEM, "unaligned MAP_FIXED"
        r, _ = mmap_raw(p, P, MAP_PRIVATE | MAP_ANON | MAP_FIXED, addr=0x1000)
        assert r == -ENOMEM, "MAP_FIXED on the kernel's addresses"
        return 0

    assert system.run(prog) == 0


def test_mmap_address_hint_is_used_when_free(system: System) -> None:
    def prog(p: Process) -> int:
        want = 0x50000000
        assert p.mmap(P, addr=want) == want
        assert p.mmap(P, addr=want) != want, "taken: placed elsewhere"
        return 0

    assert system.run(prog) == 0


def test_mmap_prealloc_takes_no_faults(system: System) -> None:
    seen: dict[str, int] = {}

    def touch(p: Process) -> int:
        a = p.mmap(8 * P, flags=MAP_PRIVATE | MAP_ANON | MAP_PREALLOC)
        seen["before"] = faults(system)
        p.mem[a : a + 8 * P] = b"y" * 8 * P
        seen["after"] = faults(system)
        return 0

    assert system.run(touch) == 0
    assert seen["after"] == seen["before"]


def test_mmap_contig_lower16m_is_contiguous_and_low(system: System) -> None:
    def prog(p: Process) -> int:
        a = p.mmap(4 * P, flags=MAP_PRIVATE | MAP_ANON | MAP_PREALLOC | MAP_CONTIG | MAP_LOWER16M)
        phys = [p.sys.vm_call(VM_GETPHYS, endpoint=SELF, addr=a + i * P).retaddr
                for i in range(4)]
        assert phys == [phys[0] + i * P for i in range(4)]
        assert phys[-1] + P <= 16 << 20
        # Below 1 MiB is all kernel here: no room, and nothing is left behind.
        regions = len(system.vm.proc(p.endpoint).regions)
        r, _ = mmap_raw(p, P, MAP_PRIVATE | MAP_ANON | MAP_PREALLOC | MAP_LOWER1M)
        assert r == -ENOMEM
        assert len(system.vm.proc(p.endpoint).regions) == regions
        return 0

    assert system.run(prog, service=True) == 0


def test_read_only_mapping_faults_on_write(system: System) -> None:
    def prog(p: Process) -> int:
        a = p.mmap(P, prot=PROT_READ)
        assert p.mem[a] == 0
        p.mem[a] = 1
        return 0

    assert system.run(prog) == -11
    assert "SIGSEGV" in system.console.text


# -- VM_MUNMAP ----------------------------------------------------------------------------


@pytest.mark.parametrize("call", [VM_MUNMAP, VM_MUNMAP_TEXT])
def test_munmap_middle_splits_region(system: System, call: int) -> None:
    def prog(p: Process) -> int:
        a = p.mmap(6 * P)
        for i in range(6):
            p.mem[a + i * P] = i + 1
        assert p.sys.vm_call(call, addr=a + 2 * P, len=2 * P).m_type == OK
        assert [p.mem[a + i * P] for i in (0, 1, 4, 5)] == [1, 2, 5, 6]
        pid = p.fork(lambda c: c.mem[a + 2 * P])
        _, status = p.waitpid(pid)
        return status & 0x7F

    assert system.run(prog) == 11


def test_munmap_across_regions_and_edges(system: System) -> None:
    def prog(p: Process) -> int:
        buf = info_buffer(p)
        a = p.mmap(4 * P, addr=0x60000000)
        b = p.mmap(4 * P, addr=0x60004000)
        assert (a, b) == (0x60000000, 0x60004000)
        p.mem[a : a + 8 * P] = bytes(range(256)) * (8 * P // 256)
        p.munmap(a + 3 * P, 2 * P)
        assert p.mem[a + 2 * P] == 0 and p.mem[b + P] == 0
        p.munmap(a, P)
        p.munmap(b + 3 * P, P)
        info = info_regions(p, buf, 0x60000000)
        spans = [(r.addr, r.length) for r in info if 0x60000000 <= r.addr < 0x60010000]
        assert spans == [(a + P, 2 * P), (b + P, 2 * P)]
        return 0

    assert system.run(prog) == 0


def test_munmap_errors(system: System) -> None:
    def prog(p: Process) -> int:
        a = p.mmap(2 * P)
        results = [
            p.sys.vm_call(VM_MUNMAP, addr=a + 1, len=P).m_type,
            p.sys.vm_call(VM_MUNMAP, addr=a, len=0).m_type,
            p.sys.vm_call(VM_MUNMAP, addr=0x70000000, len=P).m_type,
        ]
        assert results == [-EINVAL, -EINVAL, -EFAULT]
        p.mem[a] = 1
        return p.mem[a]

    assert system.run(prog) == 1


# -- VM_BRK -----------------------------------------------------------------------------------


def test_brk_grows_shrinks_and_regrows_zeroed(system: System) -> None:
    def prog(p: Process) -> int:
        base = p.sbrk(0)
        assert base == PY_DATA_BASE + P
        p.sbrk(3 * P)
        p.mem[base + 2 * P] = 7
        p.brk(base + P)
        p.brk(base + 3 * P)
        return p.mem[base + 2 * P]

    assert system.run(prog) == 0


def test_brk_into_another_region_fails(system: System) -> None:
    def prog(p: Process) -> int:
        base = p.sbrk(0)
        p.mmap(P, flags=MAP_PRIVATE | MAP_ANON | MAP_FIXED, addr=base + 2 * P)
        with pytest.raises(MinixError) as e:
            p.brk(base + 4 * P)
        assert e.value.errno == ENOMEM
        p.brk(base + P)
        p.mem[base + P - 1] = 3
        return p.mem[base + P - 1]

    assert system.run(prog) == 3


# -- VM_FORK, VM_EXIT ------------------------------------------------------------------------


def test_fork_shares_copy_on_write_and_last_sharer_writes_freely(system: System) -> None:
    parent = Remote.start(system, "parent", service=True)
    a = parent.do(lambda p: p.mmap(P))
    parent.do(lambda p: p.mem.__setitem__(a, 1))
    child = parent.fork()

    def refs(p: Process) -> int:
        return p.sys.vm_call(VM_GETREF, endpoint=SELF, addr=a).retcount

    assert parent.do(refs) == 2
    child.do(lambda c: c.mem.__setitem__(a, 2))
    assert parent.do(refs) == 1, "the child's write gave it its own copy"
    assert child.do(lambda c: c.mem[a]) == 2
    child.exit()
    before = faults(system)
    parent.do(lambda p: p.mem.__setitem__(a, p.mem[a] + 2))
    assert faults(system) == before, "the sole sharer got its write access back"
    assert parent.do(lambda p: p.mem[a]) == 3


def test_pm_only_calls_are_refused_to_others(system: System) -> None:
    def prog(p: Process) -> int:
        return -p.sys.vm_call(VM_FORK, parent=p.endpoint, slot=100).m_type

    assert system.run(prog) == ENOSYS
    assert system.run(lambda p: -p.sys.vm_call(VM_EXIT, endpoint=p.endpoint).m_type) == ENOSYS
    assert system.run(lambda p: -p.sys.vm_call(VM_PROCCTL, who=p.endpoint, param=1).m_type) \
        == ENOSYS


def test_exit_without_willexit_is_refused(system: System) -> None:
    def prog(p: Process) -> int:
        vmp = system.vm.proc(p.endpoint)
        vmp.acl = vmp.acl | {VM_EXIT}
        return -p.sys.vm_call(VM_EXIT, endpoint=p.endpoint).m_type

    assert system.run(prog) == EINVAL


def test_exit_gives_every_frame_back(system: System) -> None:
    system.run(lambda p: p.printf("warm up\n"))
    free = system.statistics().frames_free

    def prog(p: Process) -> int:
        a = p.mmap(64 * P)
        p.mem[a : a + 64 * P] = b"z" * 64 * P
        pid = p.fork(lambda c: c.mem.__setitem__(a, 1))
        p.waitpid(pid)
        p.printf("done\n")
        return 0

    assert system.run(prog) == 0
    system.run_until_idle()
    assert system.statistics().frames_free == free


# -- direct physical mappings -------------------------------------------------------------------


def test_map_phys_is_for_drivers_only(system: System) -> None:
    def prog(p: Process) -> int:
        return -p.sys.vm_call(VM_MAP_PHYS, endpoint=SELF, phys=0x100000, len=P).m_type

    assert system.run(prog) == EPERM
    assert system.run(prog, service=True) == EPERM


def test_unmap_phys_refuses_ordinary_memory(system: System) -> None:
    def prog(p: Process) -> int:
        a = p.mmap(P)
        return -p.sys.vm_call(VM_UNMAP_PHYS, endpoint=SELF, addr=a).m_type

    assert system.run(prog) == EINVAL


# -- shared memory -----------------------------------------------------------------------------


def test_remap_shares_memory_both_ways_and_across_fork(system: System) -> None:
    def prog(p: Process) -> int:
        src = p.mmap(2 * P, flags=MAP_SHARED | MAP_ANON)
        p.mem[src] = 5
        reply = p.sys.vm_call(VM_REMAP, destination=SELF, source=SELF, dest_addr=0,
                              src_addr=src, size=2 * P)
        assert reply.m_type == OK
        alias = reply.retaddr
        assert p.mem[alias] == 5
        p.mem[alias + P] = 6
        assert p.mem[src + P] == 6
        pid = p.fork(lambda c: c.mem.__setitem__(src + 1, 8))
        p.waitpid(pid)
        assert p.mem[alias + 1] == 8, "MAP_SHARED memory stays shared with a child"
        assert p.sys.vm_call(VM_SHM_UNMAP, endpoint=SELF, addr=alias).m_type == OK
        return p.mem[src + P]

    assert system.run(prog, service=True) == 6


def test_remap_errors(system: System) -> None:
    def prog(p: Process) -> int:
        shared = p.mmap(2 * P, flags=MAP_SHARED | MAP_ANON)
        private = p.mmap(2 * P)

        def remap(src: int, size: int, source: int = SELF) -> int:
            return p.sys.vm_call(VM_REMAP, destination=SELF, source=source, dest_addr=0,
                                 src_addr=src, size=size).m_type

        assert remap(shared + P, P) == -EFAULT, "not the start of the region"
        assert remap(shared, P) == -EFAULT, "not its size"
        assert remap(private, 2 * P) == -EFAULT, "not shared"
        assert remap(0x70000000, P) == -EINVAL, "no region"
        assert remap(shared, 0) == -EINVAL
        assert remap(shared, 2 * P, source=12345) == -EINVAL
        assert p.sys.vm_call(VM_SHM_UNMAP, endpoint=SELF, addr=private).m_type == -EFAULT
        assert p.sys.vm_call(VM_GETPHYS, endpoint=SELF, addr=0x70000000).m_type == -EINVAL
        assert p.sys.vm_call(VM_GETREF, endpoint=SELF, addr=private).m_type == -EINVAL
        return 0

    assert system.run(prog, service=True) == 0
    assert system.run(lambda p: -p.sys.vm_call(VM_GETREF, endpoint=SELF, addr=0).m_type) \
        == ENOSYS


# -- VM_INFO, VM_PROCCTL -----------------------------------------------------------------------


def test_info_stats_usage_regions(system: System) -> None:
    def prog(p: Process) -> int:
        buf = info_buffer(p)
        stats = info_stats(p, buf)
        assert stats.free_pages == system.vm.alloc.free_pages
        assert stats.total_pages == system.ram.frames
        a = p.mmap(3 * P)
        p.mem[a : a + 3 * P] = b"u" * 3 * P
        pid = p.fork(lambda c: c.sched_yield())
        usage = info_usage(p, buf)
        assert usage.common >= 3 * P and usage.shared == 0
        p.waitpid(pid)
        regions = info_regions(p, buf)
        assert (a, 3 * P) in [(r.addr, r.length) for r in regions]
        assert p.sys.vm_call(VM_INFO, what=99, ptr=buf).m_type == -EINVAL
        assert p.sys.vm_call(VM_INFO, what=VMIW_STATS, ptr=0x70000000).m_type == -EFAULT
        return 0

    assert system.run(prog) == 0


def test_procctl_handlemem_makes_memory_present(system: System) -> None:
    seen: dict[str, int] = {}

    def prog(p: Process) -> int:
        vmp = system.vm.proc(p.endpoint)
        vmp.acl = vmp.acl | {VM_PROCCTL}
        a = p.mmap(4 * P)
        r = p.sys.vm_call(VM_PROCCTL, who=p.endpoint, param=VMPPARAM_HANDLEMEM, addr=a,
                          len=4 * P, write=1).m_type
        seen["faults"] = faults(system)
        p.mem[a : a + 4 * P] = b"h" * 4 * P
        seen["after"] = faults(system)
        bad = p.sys.vm_call(VM_PROCCTL, who=p.endpoint, param=VMPPARAM_HANDLEMEM,
                            addr=0x70000000, len=P, write=0).m_type
        return -bad if r == OK else 99

    assert system.run(prog) == EFAULT
    assert seen["after"] == seen["faults"]


# -- VM's own bookkeeping --------------------------------------------------------------------------


def test_slab_objects_are_locked_outside_use(system: System) -> None:
    region = next(iter(system.vm.procs[PM_PROC_NR].regions))
    with pytest.raises(SlabLockError):
        region.flags = 0
    with use(region):
        region.flags = region.flags
    system.vm_sanity_check()


def test_privileged_calls_check_their_arguments(system: System) -> None:
    """The calls only PM, RS and drivers may make refuse bad arguments (the
    test process is given their rights, as their callers have them)."""

    results: list[int] = []

    def prog(p: Process) -> int:
        vmp = system.vm.proc(p.endpoint)
        vmp.acl = vmp.acl | {VM_EXIT, VM_FORK, VM_WILLEXIT, VM_BRK, VM_PROCCTL,
                             VM_RS_SET_PRIV}
        vmp.map_phys_ok = True
        bad = 12345
        results.extend([
            p.sys.vm_call(VM_WILLEXIT, endpoint=bad).m_type,
            p.sys.vm_call(VM_EXIT, endpoint=bad).m_type,
            p.sys.vm_call(VM_FORK, parent=bad, slot=100).m_type,
            p.sys.vm_call(VM_FORK, parent=p.endpoint, slot=PM_PROC_NR).m_type,
            p.sys.vm_call(VM_BRK, endpoint=bad, addr=0, old=0).m_type,
            p.sys.vm_call(VM_PROCCTL, who=bad, param=1).m_type,
            p.sys.vm_call(VM_PROCCTL, who=p.endpoint, param=99).m_type,
            p.sys.vm_call(VM_RS_SET_PRIV, endpoint=bad).m_type,
            p.sys.vm_call(VM_MAP_PHYS, endpoint=SELF, phys=system.ram.size, len=P).m_type,
            p.sys.vm_call(VM_MAP_PHYS, endpoint=SELF, phys=0x100000, len=0).m_type,
        ])
        return 0

    assert system.run(prog) == 0
    assert results == [-EINVAL] * 10
