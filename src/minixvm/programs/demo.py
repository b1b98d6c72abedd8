"""init's default demo workload: programs that fork, map, fault and exit."""

from __future__ import annotations

import functools

from minixvm.errors import OK
from minixvm.include.signal import WEXITSTATUS, WIFSIGNALED, WTERMSIG
from minixvm.include.vm import (
    MAP_ANON,
    MAP_CONTIG,
    MAP_PREALLOC,
    MAP_PRIVATE,
    VM_BLOCKID_NONE,
    VM_YIELDBLOCKGETBLOCK,
    split64,
)
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE


def hello(p: Process) -> int:
    """Demand-zero faults on first touch, then a partial munmap."""
    buf = p.mmap(16 * PAGE_SIZE)
    for i in range(16):
        p.mem[buf + i * PAGE_SIZE] = i
    p.munmap(buf + 4 * PAGE_SIZE, 8 * PAGE_SIZE)
    p.printf("hello: pid %d touched 16 pages at %#x, unmapped 8 of them\n", p.getpid(), buf)
    return 0


def forker(p: Process) -> int:
    """Children share the parent's pages copy-on-write; each write breaks one."""
    buf = p.mmap(8 * PAGE_SIZE)
    p.mem[buf : buf + 8 * PAGE_SIZE] = b"parent.." * PAGE_SIZE

    def child(c: Process, n: int) -> int:
        c.mem[buf + n * PAGE_SIZE : buf + n * PAGE_SIZE + 5] = b"child"
        return n

    pids = [p.fork(functools.partial(child, n=n)) for n in range(3)]
    for _ in pids:
        pid, status = p.wait()
        p.printf("forker: child %d exited with %d\n", pid, WEXITSTATUS(status))
    intact = p.mem[buf : buf + 8] == b"parent.."
    p.printf("forker: parent's pages %s\n", "intact" if intact else "CORRUPTED")
    return 0 if intact else 1


def cache(p: Process) -> int:
    """The yielded-block cache, as MFS uses it: yield one block, get another."""
    flags = MAP_PRIVATE | MAP_ANON | MAP_PREALLOC | MAP_CONTIG
    buf = p.mmap(PAGE_SIZE, flags=flags)
    hits = 0
    for block in range(4):
        p.mem[buf : buf + 8] = block.to_bytes(8, "little")
        yield_and_get(p, buf, block, VM_BLOCKID_NONE)
    for block in (1, 3):
        r = yield_and_get(p, buf, VM_BLOCKID_NONE, block)
        if r == OK and int.from_bytes(p.mem[buf : buf + 8], "little") == block:
            hits += 1
    p.printf("cache: got %d of 2 yielded blocks back from VM\n", hits)
    return 0 if hits == 2 else 1


def segv(p: Process) -> int:
    """A child touches memory it never mapped and is killed; the parent goes on."""
    pid = p.fork(lambda c: c.mem[0x40000000])
    _, status = p.waitpid(pid)
    if WIFSIGNALED(status):
        p.printf("segv: child %d killed by signal %d, as it should be\n", pid, WTERMSIG(status))
    return 0


DEMO = (hello, forker, cache, segv)


def yield_and_get(p: Process, buf: int, yieldid: int, getid: int) -> int:
    """VM_YIELDBLOCKGETBLOCK on one page: give block ``yieldid`` to VM's cache,
    take block ``getid`` from it into ``buf``; VM's answer."""
    (yield_hi, yield_lo), (get_hi, get_lo) = split64(yieldid), split64(getid)
    reply = p.sys.vm_call(VM_YIELDBLOCKGETBLOCK, vaddr=buf, len=PAGE_SIZE, yieldid_hi=yield_hi,
                          yieldid_lo=yield_lo, getid_hi=get_hi, getid_lo=get_lo)
    return int(reply.m_type)
