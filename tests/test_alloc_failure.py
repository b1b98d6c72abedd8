"""Failure at every point: each workload runs once to count VM's
allocations, then once per N with the Nth allocation failing. Every run
must end in a clean error for the program (a MinixError it sees, ENOMEM
mostly, or init's failed fork) or its death by a signal where MINIX has no
way back; VM's full sanity check passes; and once the workload is over no
frame is lost. The same for the Nth transfer of the disk driver: EIO
reaches the program, and the image MFS leaves passes ``fsck.minix -f``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from campaign import count
from mfsimage import fsck

from minixvm import MinixError, System
from minixvm.commands.mkfs import make_image
from minixvm.include.ds import DSMF_COPY_SNAPSHOT, DSMF_MAP_MAPPED
from minixvm.include.vfs import O_CREAT, O_RDONLY, O_RDWR, O_TRUNC
from minixvm.include.vm import MAP_ANON, MAP_CONTIG, MAP_PREALLOC, MAP_PRIVATE
from minixvm.lib.c import Process
from minixvm.lib.ds import ds_delete_map, ds_publish_map, ds_retrieve_map, ds_snapshot_map
from minixvm.lib.rs import rs_restart
from minixvm.machine.ram import PAGE_SIZE

P = PAGE_SIZE
HELLO = (Path(__file__).resolve().parent.parent / "userland" / "bin" / "hello").read_bytes()
ENOMEM_EXIT = 12  # a workload's exit status when a call failed cleanly
CANNOT_EXEC = 127  # init's child could not exec the workload (it says why)
Workload = Callable[[Process], int]


def clean(body: Workload) -> Workload:
    """``body``, with a MinixError it meets turned into a plain exit status."""

    def program(p: Process) -> int:
        try:
            return body(p)
        except MinixError:
            return ENOMEM_EXIT

    program.__name__ = body.__name__
    return program


def fork_and_touch(p: Process) -> int:
    buf = p.mmap(8 * P)
    for i in range(8):
        p.mem[buf + i * P] = i + 1

    def child(c: Process) -> int:
        for i in range(8):
            c.mem[buf + i * P] = 0xC0  # copy-on-write breaks
        return 0

    pid = p.fork(clean(child))
    _, status = p.waitpid(pid)
    return status >> 8


def exec_a_file(p: Process) -> int:
    pid = p.fork(lambda c: c.execve("/bin/hello", ["hello"]))
    _, status = p.waitpid(pid)
    return 0 if status in (0, ENOMEM_EXIT << 8) or status & 0x7F else 1


def mmap_families(p: Process) -> int:
    a = p.mmap(4 * P)
    p.mem[a + P] = 1
    b = p.mmap(4 * P, flags=MAP_PRIVATE | MAP_ANON | MAP_PREALLOC | MAP_CONTIG)
    p.mem[b] = 2
    p.munmap(a, 4 * P)
    p.munmap(b, 4 * P)
    top = p.sbrk(3 * P)
    p.mem[top + 2 * P] = 3
    p.sbrk(-3 * P)
    return 0


def kernel_copies(p: Process) -> int:
    """Reads into untouched pages and, after a fork, into copy-on-write ones."""
    buf = p.mmap(4 * P)
    fd = p.open("/dev/zero", O_RDONLY)
    p.mem[buf] = 1
    assert p.read(fd, 2 * P) == bytes(2 * P)

    def child(c: Process) -> int:
        c.write(b"x" * 100, fd=1)
        return 0

    pid = p.fork(clean(child))
    p.waitpid(pid)
    p.close(fd)
    return 0


def file_writes(p: Process) -> int:
    fd = p.open("/tmp/data", O_RDWR | O_CREAT | O_TRUNC, 0o644)
    p.write(bytes(range(256)) * 64, fd)
    p.lseek(fd, 0)
    assert p.read(fd, 1 << 14) == bytes(range(256)) * 64
    p.close(fd)
    p.unlink("/tmp/data")
    return 0


def ds_map(p: Process) -> int:
    """A service publishes a map in DS (DS safemaps its pages), takes a
    snapshot, maps the live pages back read-only (safemap) and copies them."""
    buf = p.mmap(2 * P, flags=MAP_PRIVATE | MAP_ANON | MAP_PREALLOC)
    view, copy = p.mmap(2 * P), p.mmap(P)
    p.mem[buf] = 7
    checked(ds_publish_map(p.sys, "alloc.map", buf, 2 * P))
    checked(ds_snapshot_map(p.sys, "alloc.map")[0])
    p.mem[buf] = 8
    checked(ds_retrieve_map(p.sys, "alloc.map", view, 2 * P, flags=DSMF_MAP_MAPPED)[0])
    assert p.mem[view] == 8
    checked(ds_retrieve_map(p.sys, "alloc.map", copy, P, 0, DSMF_COPY_SNAPSHOT)[0])
    assert p.mem[copy] == 7
    checked(ds_delete_map(p.sys, "alloc.map"))
    return 0


def service_restart(p: Process) -> int:
    """A service has RS restart the disk driver (SRV_FORK, exec from RS's
    memory, a new label), then writes a file and syncs it: MFS reissues
    its requests to the new driver. A start that fails for want of memory
    is retried after RS's backoff."""
    checked(rs_restart(p.sys, "disk"))
    fd = p.open("/restart", O_RDWR | O_CREAT | O_TRUNC, 0o644)
    p.write(bytes(range(256)) * 16, fd)
    p.sync()
    p.lseek(fd, 0)
    assert p.read(fd, 4096) == bytes(range(256)) * 16
    p.close(fd)
    p.unlink("/restart")
    return 0


def checked(r: int) -> None:
    if r < 0:
        raise MinixError(r, "ds")


WORKLOADS = [fork_and_touch, exec_a_file, mmap_families, kernel_copies, file_writes, ds_map,
             service_restart]
SERVICES = {ds_map, service_restart}


def boot() -> System:
    return System.boot(ram="32M", disk=make_image(4 << 20, files={"/bin/hello": HELLO}))


def attempt(workload: Workload, fail_at: int | None) -> tuple[int, int, int]:
    """(return code, allocations VM made, frames free after) of one run of
    ``workload`` on a fresh system, the ``fail_at``th allocation failing."""
    with boot() as system:
        assert system.vm is not None
        system.run(lambda p: 0, name="warm")  # init's first fork and the like
        system.run(lambda p: 0, name="warm", service=True)  # RS's first start
        system.run_until_idle()
        start = system.vm.stats.allocations
        if fail_at is not None:
            system.vm.fail_alloc = lambda n: n == start + fail_at
        try:
            code = system.run(clean(workload), name=workload.__name__,
                              service=workload in SERVICES)
        except MinixError:
            code = ENOMEM_EXIT  # init could not start it: a clean error too
        system.vm.fail_alloc = None
        system.run_until_idle()
        assert system.kernel.panicked is None
        system.vm_sanity_check()
        return code, system.vm.stats.allocations - start, system.statistics().frames_free


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.__name__)
def test_every_allocation_failure_is_clean(workload: Workload) -> None:
    code, count_, frames = attempt(workload, None)
    assert code == 0 and count_ > 0
    outcomes = set()
    for n in range(1, count_ + 1):
        failed_code, _, failed_frames = attempt(workload, n)
        # A clean error for the program, or its death by a signal (a fault
        # VM could not serve); never a server crash (attempt checks that).
        assert failed_code in (0, 1, ENOMEM_EXIT, CANNOT_EXEC) or failed_code < 0, (n, failed_code)
        # Everything the workload had is free again: a failure may leave
        # less in a server's cache, never more memory taken.
        assert failed_frames >= frames, (n, failed_frames, frames)
        outcomes.add(failed_code)
    count("allocation failures", workloads=1, runs=count_, allocations_failed=count_)
    assert outcomes != {0}, "no failure reached the program"


def disk_attempt(fail_at: int | None) -> tuple[int, int, bytearray]:
    """(return code, disk transfers, the image after unmount) of file_writes
    and a sync, the ``fail_at``th transfer of the disk driver failing."""
    image = make_image(4 << 20)
    transfers = 0

    def fail(pos: int) -> bool:
        nonlocal transfers
        transfers += 1
        return transfers == fail_at

    with System.boot(ram="32M", disk=image) as system:
        assert system.disk_driver is not None
        system.disk_driver.fail_io = fail
        code = system.run(clean(lambda p: file_writes(p) or p.sync() or 0), name="writes")
        system.run_until_idle()
        assert system.kernel.panicked is None
        system.vm_sanity_check()
    return code, transfers, image


def test_every_disk_failure_is_eio_and_leaves_a_sound_file_system() -> None:
    code, transfers, _ = disk_attempt(None)
    assert code == 0 and transfers > 0
    outcomes = set()
    for n in range(1, transfers + 1):
        failed_code, _, image = disk_attempt(n)
        assert failed_code in (0, ENOMEM_EXIT), (n, failed_code)
        outcomes.add(failed_code)
        rc, out = fsck(image)
        assert rc == 0, (n, out)
    count("disk failures", transfers_failed=transfers, images_checked=transfers)
    assert ENOMEM_EXIT in outcomes, "no failure reached the program"

