"""Out of memory: fork, preallocated mmap and copy-on-write breaks fail with
ENOMEM, the system keeps running, nothing leaks, and the failed operation
leaves the process as it was."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from minixvm import MinixError, System
from minixvm.errors import ENOMEM, OK
from minixvm.include.com import ANY, NOTIFY_MESSAGE
from minixvm.include.grant import CPF_READ, CPF_WRITE
from minixvm.include.ipc import Message
from minixvm.include.vm import MAP_ANON, MAP_PREALLOC, MAP_PRIVATE, VM_GETREF
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE

P = PAGE_SIZE
PREALLOC = MAP_PRIVATE | MAP_ANON | MAP_PREALLOC


@pytest.fixture
def small() -> Iterator[System]:
    with System.boot(ram="16M", sanity_checks=True) as s:
        s.run(lambda p: p.printf("warm up\n"))
        s.run_until_idle()
        yield s
        s.run_until_idle()
        s.vm_sanity_check()


def exhaust(p: Process) -> list[tuple[int, int]]:
    """Take (nearly) all free memory with preallocated mappings."""
    taken = []
    size = 1 << 30
    while size >= P:
        try:
            taken.append((p.mmap(size, flags=PREALLOC), size))
        except MinixError as e:
            assert e.errno == ENOMEM
            size //= 2
    return taken


def release(p: Process, taken: list[tuple[int, int]]) -> None:
    for addr, size in taken:
        p.munmap(addr, size)


def pattern(n: int) -> bytes:
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


def test_fork_without_memory_fails_and_leaves_the_parent_whole(small: System) -> None:
    free = small.statistics().frames_free
    seen: dict[str, int] = {}

    def prog(p: Process) -> int:
        buf = p.mmap(64 * P)
        p.mem[buf : buf + 64 * P] = pattern(64 * P)
        taken = exhaust(p)
        with pytest.raises(MinixError) as e:
            p.fork(lambda c: 0)
        assert e.value.errno == ENOMEM
        seen["refs"] = p.sys.vm_call(VM_GETREF, endpoint=p.endpoint, addr=buf).m_type
        faults = small.statistics().vm.pagefaults
        p.mem[buf : buf + 64 * P] = pattern(64 * P)[::-1]
        seen["faults"] = small.statistics().vm.pagefaults - faults
        release(p, taken)
        assert p.fork(lambda c: 0) > 0, "memory back: fork works again"
        p.wait()
        return 0

    assert small.run(prog) == 0
    assert seen["faults"] == 0, "the parent's pages are writable again, not left COW-shared"
    small.run_until_idle()
    assert small.statistics().frames_free == free


def test_prealloc_mmap_without_memory_leaves_nothing(small: System) -> None:
    free = small.statistics().frames_free

    def prog(p: Process) -> int:
        vmp = small.vm.proc(p.endpoint)
        regions, before = len(vmp.regions), small.vm.alloc.free_pages
        with pytest.raises(MinixError) as e:
            p.mmap((before + 1) * P, flags=PREALLOC)
        assert e.value.errno == ENOMEM
        assert len(vmp.regions) == regions
        assert small.vm.alloc.free_pages == before
        return 0

    assert small.run(prog) == 0
    small.run_until_idle()
    assert small.statistics().frames_free == free


def test_cow_break_fault_without_memory_kills_only_the_writer(small: System) -> None:
    free = small.statistics().frames_free

    def prog(p: Process) -> int:
        buf = p.mmap(8 * P)
        p.mem[buf : buf + 8 * P] = pattern(8 * P)

        def child(c: Process) -> int:
            taken = exhaust(c)
            c.mem[buf] = 0  # a copy-on-write break with no memory left
            release(c, taken)
            return 0

        pid = p.fork(child)
        _, status = p.waitpid(pid)
        assert p.mem[buf : buf + 8 * P] == pattern(8 * P)
        p.mem[buf] = 1
        return status & 0x7F

    assert small.run(prog) == 11
    small.run_until_idle()
    assert small.statistics().frames_free == free


def test_cow_break_in_a_kernel_copy_fails_with_enomem(small: System) -> None:
    """safecopy into a page the granter shares copy-on-write, with no memory
    for the copy: ENOMEM to the copier, the granter's data unchanged."""
    shared: dict[str, int] = {}

    def granter(p: Process) -> int:
        buf = p.mmap(4 * P)
        p.mem[buf : buf + 4 * P] = pattern(4 * P)
        shared["grant"] = p.sys.grants.cpf_grant_direct(ANY, buf, 4 * P, CPF_READ | CPF_WRITE)
        shared["ep"] = p.endpoint
        # The child shares every page and waits, blocked, until we are done.
        pid = p.fork(lambda c: c.sys.sendrec(shared["ep"], Message(0)) and 0)
        waiting = [p.sys.receive()[1] for _ in range(2)]
        intact = p.mem[buf : buf + 4 * P] == pattern(4 * P)
        child = next(m for m in waiting if m.m_type != NOTIFY_MESSAGE)
        p.sys.send(child.m_source, Message(OK))
        p.waitpid(pid)
        return 0 if intact else 1

    def copier(p: Process) -> int:
        src = p.mmap(P)
        p.mem[src : src + 10] = b"0123456789"
        taken = exhaust(p)
        r = p.sys.sys_safecopyto(shared["ep"], shared["grant"], 5, src, 10)
        release(p, taken)
        p.sys.notify(shared["ep"])
        return -r

    g = small.spawn(granter, service=True)
    small.run_until_idle()
    assert small.run(copier, service=True) == ENOMEM
    assert small.wait(g) == 0
