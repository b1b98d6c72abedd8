"""The yielded-block cache (MINIX f78d8e74f): yield, get, forget, pressure."""

from __future__ import annotations

from minixvm import System
from minixvm.errors import EINVAL, ESRCH, OK
from minixvm.include.vm import (
    MAP_ANON,
    MAP_CONTIG,
    MAP_PREALLOC,
    MAP_PRIVATE,
    VM_BLOCKID_NONE,
    VM_FORGETBLOCK,
    VM_FORGETBLOCKS,
    VM_YIELDBLOCKGETBLOCK,
    split64,
)
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE

P = PAGE_SIZE
NONE = VM_BLOCKID_NONE
BUFFER = MAP_PRIVATE | MAP_ANON | MAP_PREALLOC | MAP_CONTIG


def ygb(p: Process, buf: int, yield_id: int, get_id: int, length: int = P) -> int:
    (yhi, ylo), (ghi, glo) = split64(yield_id), split64(get_id)
    return p.sys.vm_call(VM_YIELDBLOCKGETBLOCK, vaddr=buf, len=length, yieldid_hi=yhi,
                         yieldid_lo=ylo, getid_hi=ghi, getid_lo=glo).m_type


def tag(p: Process, buf: int) -> int:
    return int.from_bytes(p.mem[buf : buf + 8], "little")


def set_tag(p: Process, buf: int, value: int) -> None:
    p.mem[buf : buf + 8] = value.to_bytes(8, "little")


def test_yield_then_get_returns_the_block_without_copying(system: System) -> None:
    def prog(p: Process) -> int:
        buf = p.mmap(P, flags=BUFFER)
        set_tag(p, buf, 0xAA)
        assert ygb(p, buf, 7, NONE) == -ESRCH, "yield-only says ESRCH (MFS checks for OK)"
        assert tag(p, buf) == 0, "fresh zeroed pages in its place"
        set_tag(p, buf, 0xBB)
        assert ygb(p, buf, 8, 7) == OK, "yield 8 and get 7 in one call"
        assert tag(p, buf) == 0xAA
        assert ygb(p, buf, NONE, 8) == OK
        assert tag(p, buf) == 0xBB
        assert ygb(p, buf, NONE, 8) == -ESRCH, "a block comes back once"
        return 0

    assert system.run(prog) == 0
    stats = system.statistics().vm
    assert stats.cache_hits == 2 and stats.yields == 2


def test_get_misses_and_bad_requests(system: System) -> None:
    def prog(p: Process) -> int:
        buf = p.mmap(2 * P, flags=BUFFER)
        set_tag(p, buf, 1)
        assert ygb(p, buf, NONE, 99) == -ESRCH, "never yielded"
        assert ygb(p, buf, 1, NONE, length=2 * P) == -ESRCH
        assert ygb(p, buf, NONE, 1, length=P) == -ESRCH, "wrong length"
        set_tag(p, buf, 2)
        ygb(p, buf, 1, NONE, length=2 * P)  # id 1 exists: the yield is refused
        assert tag(p, buf) == 2, "a refused yield leaves the buffer alone"
        assert ygb(p, buf + 1, NONE, 1) == -EINVAL
        assert ygb(p, buf, NONE, 1, length=2 * P) == OK
        assert tag(p, buf) == 1
        return 0

    assert system.run(prog) == 0


def test_only_a_whole_unshared_block_can_be_yielded(system: System) -> None:
    def prog(p: Process) -> int:
        buf = p.mmap(2 * P, flags=BUFFER)
        ygb(p, buf, 1, NONE, length=P)  # half a block: refused
        assert ygb(p, buf, NONE, 1, length=P) == -ESRCH
        paged = p.mmap(2 * P)
        set_tag(p, paged, 5)
        p.mem[paged + P] = 1
        ygb(p, paged, 2, NONE, length=2 * P)  # two one-page blocks: refused
        assert tag(p, paged) == 5
        assert ygb(p, paged, NONE, 2, length=2 * P) == -ESRCH
        return 0

    assert system.run(prog) == 0


def test_forget_and_forget_all(system: System) -> None:
    def prog(p: Process) -> int:
        buf = p.mmap(P, flags=BUFFER)
        for block in (1, 2, 3):
            set_tag(p, buf, block)
            ygb(p, buf, block, NONE)
        assert p.sys.vm_call(VM_FORGETBLOCK, id_lo=2).m_type == OK
        assert p.sys.vm_call(VM_FORGETBLOCK, id_lo=2).m_type == OK, "always OK"
        assert ygb(p, buf, NONE, 2) == -ESRCH
        assert p.sys.vm_call(VM_FORGETBLOCKS).m_type == OK
        assert ygb(p, buf, NONE, 1) == -ESRCH
        assert ygb(p, buf, NONE, 3) == -ESRCH
        return 0

    assert system.run(prog) == 0


def test_ids_are_per_process_and_a_child_starts_empty(system: System) -> None:
    def prog(p: Process) -> int:
        buf = p.mmap(P, flags=BUFFER)
        set_tag(p, buf, 42)
        ygb(p, buf, 5, NONE)

        def child(c: Process) -> int:
            return 1 if ygb(c, buf, NONE, 5) == -ESRCH else 0

        pid = p.fork(child)
        _, status = p.waitpid(pid)
        assert status >> 8 == 1, "the child cannot get its parent's block"
        assert ygb(p, buf, NONE, 5) == OK
        return tag(p, buf)

    assert system.run(prog) == 42
    other = system.run(lambda p: ygb(p, p.mmap(P, flags=BUFFER), NONE, 5) == -ESRCH)
    assert other == 1


def test_memory_pressure_forgets_oldest_first() -> None:
    with System.boot(ram="16M", sanity_checks=True) as system:

        def prog(p: Process) -> int:
            buf = p.mmap(P, flags=BUFFER)
            for block in range(8):
                set_tag(p, buf, block)
                ygb(p, buf, block, NONE)
            free = system.vm.alloc.free_pages
            hog = p.mmap((free + 3) * P, flags=MAP_PRIVATE | MAP_ANON | MAP_PREALLOC)
            got = [ygb(p, buf, NONE, block) == OK for block in range(8)]
            p.munmap(hog, (free + 3) * P)
            return sum(1 << i for i, ok in enumerate(got) if ok)

        kept = system.run(prog)
        forgotten = system.statistics().vm.cache_forgotten
        assert 3 <= forgotten < 8
        assert kept == 0xFF & ~((1 << forgotten) - 1), "the oldest blocks went first"
        system.vm_sanity_check()


def test_exit_frees_yielded_blocks(system: System) -> None:
    system.run(lambda p: p.printf("warm up\n"))
    free = system.statistics().frames_free

    def prog(p: Process) -> int:
        buf = p.mmap(4 * P, flags=BUFFER)
        for block in range(5):
            ygb(p, buf, block, NONE, length=4 * P)
        p.printf("yielded\n")
        return 0

    assert system.run(prog) == 0
    system.run_until_idle()
    assert system.statistics().frames_free == free
    assert not system.vm.lru.blocks
