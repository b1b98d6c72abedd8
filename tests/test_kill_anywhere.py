"""Kill anywhere: a workload of processes that fork, exec, map memory,
share it copy-on-write and use files runs on one system, and in each
seeded run a random one of its processes is killed at a random step of
its first 1,000. Whatever dies and wherever, nothing leaks: every frame,
process slot, VFS process entry, open inode, server grant and VM
bookkeeping object is back as it was, and VM's full sanity check passes.

``MINIXVM_FUZZ_KILL_RUNS`` sets the number of runs (200; ``make fuzz``: 1,000);
``MINIXVM_FUZZ_SEED`` the first seed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
from dataclasses import dataclass

import pytest
from campaign import count
from leaks import live_grants, live_slots, unleaked_frames, vm_objects

from minixvm import MinixError, System, boot
from minixvm.include.signal import SIGKILL
from minixvm.include.vfs import O_CREAT, O_RDWR, O_TRUNC
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE
from minixvm.observe import ps
from minixvm.servers.mfs.main import MfsOptions
from minixvm.servers.rs.service import UP

RUNS = int(os.environ.get("MINIXVM_FUZZ_KILL_RUNS", "200"))
SEED = int(os.environ.get("MINIXVM_FUZZ_SEED", "20261202"))
STEPS = 1_000  # the kill comes within this many scheduler steps
CACHE_BLOCKS = 64
PAGES = 64  # the toucher's
P = PAGE_SIZE


def writer(p: Process) -> int:
    """A file written, read back and removed (open descriptors and inodes)."""
    path = f"/tmp/w{p.getpid()}"
    fd = p.open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
    for _ in range(32):
        p.write(bytes(range(256)) * 16, fd)
    p.lseek(fd, 0)
    while p.read(fd, 4096):
        pass
    p.close(fd)
    p.unlink(path)
    return 0


def toucher(p: Process) -> int:
    """Memory touched, shared copy-on-write with a child that writes it."""
    buf = p.mmap(PAGES * P)
    for i in range(PAGES):
        p.mem[buf + i * P] = i

    def child(c: Process) -> int:
        for i in range(0, PAGES, 2):
            c.mem[buf + i * P] = 0xFF
        return 0

    pid = p.fork(child)
    p.waitpid(pid)
    p.munmap(buf, PAGES * P)
    return 0


def execer(p: Process) -> int:
    p.execve("/bin/hello", ["hello"])


def workload(p: Process) -> int:
    """Three children (files, memory, exec), waited for; first, the files
    of writers killed in earlier runs go (else the disk fills up run by run)."""
    for name in p.listdir("/tmp"):
        if name.startswith("w"):
            p.unlink(f"/tmp/{name}")
    pids = [p.fork(body) for body in (writer, toucher, execer)]
    for pid in pids:
        p.waitpid(pid)
    return 0


def tolerant(body: object) -> object:
    """A program that ends quietly when a call fails because a peer was killed."""
    def program(p: Process) -> int:
        try:
            return body(p)  # type: ignore[operator]
        except MinixError:
            return 1

    return program


@dataclass(frozen=True)
class Snapshot:
    """What must come back once the workload is over."""

    frames: int
    slots: int
    fprocs: int
    inodes: int
    grants: tuple[int, ...]
    vm_objects: dict[str, int]

    @classmethod
    def of(cls, system: System) -> Snapshot:
        assert system.vfs is not None and system.mfs is not None
        servers = (system.vfs, system.mfs)
        return cls(unleaked_frames(system), live_slots(system), len(system.vfs.fprocs),
                   len(system.mfs.inodes), tuple(live_grants(s.sys.grants) for s in servers),
                   vm_objects(system))


def victims(system: System, workload_pid: int) -> list[int]:
    """The workload's live processes (itself and its descendants), and the
    disk driver (RS restarts it; MFS reissues what it had asked)."""
    disk = system.service("disk")
    return [info.pid for info in ps(system)
            if not info.system and info.pid >= workload_pid and info.state != "ZOMBIE"
            and info.name not in ("kill",)] + ([disk.pid] if disk.state == UP else [])


def one_run(system: System, rng: random.Random, length: int) -> bool:
    """The workload, with one of its processes killed at a random step of
    its first ``length`` (if one is still there): whether one was."""
    handle = system.spawn(tolerant(workload), name="workload")
    at = rng.randrange(length)
    steps = iter(range(at + 1))
    system.kernel.sched.run(lambda: handle.done or next(steps, None) is None)
    alive = victims(system, handle.pid)
    killed = driver = False
    if not handle.done and alive:
        victim = rng.choice(alive)
        driver = victim == system.service("disk").pid
        with contextlib.suppress(MinixError):  # it may have ended meanwhile
            system.run(lambda p: p.kill(victim, SIGKILL), name="kill", service=driver)
            killed = True
    system.wait(handle)
    if killed and driver:
        system.run_until(lambda: system.service("disk").state == UP)
        system.run(fill_cache)  # the new driver maps its buffers as it works
    system.run_until_idle()
    return killed


def fill_cache(p: Process) -> int:
    """Read twice as many blocks as MFS's cache holds, so that every buffer
    has held one (its page is touched)."""
    fd = p.open("/bin/big")
    for _ in range(2 * CACHE_BLOCKS):
        p.read(fd, 1024)
    p.close(fd)
    return 0


def test_killing_any_process_at_any_step_leaks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # A small full cache, no VM cache: what memory MFS holds stays put.
    options = MfsOptions(cache_blocks=CACHE_BLOCKS, vm_cache=False)
    # The driver may be killed many times in a row here: RS must not give up.
    monkeypatch.setattr(boot, "DISK", dataclasses.replace(boot.DISK, max_restarts=RUNS))
    with System.boot(ram="32M", mfs=options) as system:
        system.run(tolerant(workload), name="workload")  # servers' buffers
        system.run(fill_cache)
        system.run_until_idle()
        # Kill within the workload's own run (the 1,000 steps bound it).
        switches = system.kernel.sched.switches
        system.run(tolerant(workload), name="workload")
        length = min(STEPS, system.kernel.sched.switches - switches)
        before = Snapshot.of(system)
        rng = random.Random(SEED)
        kills = 0
        for run in range(RUNS):
            kills += one_run(system, rng, length)
            assert system.kernel.panicked is None
            system.vm_sanity_check()
            assert Snapshot.of(system) == before, f"run {run} (seed {SEED})"
        restarts = system.service("disk").total_restarts
    count("kill anywhere", runs=RUNS, kills=kills, driver_kills=restarts, steps_per_run=length)
