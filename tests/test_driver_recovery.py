"""Driver recovery: the disk driver killed at random moments while programs
read and write files. MFS sees EDEADSRCDST on its request, waits for RS to
restart the driver and DS to name the new instance, reopens the device and
reissues the request: the programs never notice. Dirty blocks in MFS's
cache survive (they are in MFS, not in the driver), the image is clean for
``fsck.minix -f`` and holds the data in a fresh boot, and nothing leaks.

``MINIXVM_FUZZ_DRIVER_KILLS`` sets the number of kills (100; ``make fuzz``:
1,000), in tests of ``BATCH`` (each under pytest's timeout), spread over
systems of ``KILLS_PER_SYSTEM`` each (RS gives up on a driver that keeps
crashing, as it should; a new system starts its count afresh).
"""

from __future__ import annotations

import os
import random
import shutil

import pytest
from campaign import count
from leaks import live_grants, live_slots, unleaked_frames
from mfsimage import fsck, pattern, read_file

from minixvm import System
from minixvm.commands.mkfs import make_image
from minixvm.include.vfs import O_CREAT, O_RDWR, O_TRUNC
from minixvm.lib.c import Process
from minixvm.servers.mfs.main import MfsOptions
from minixvm.servers.rs.service import UP

KILLS = int(os.environ.get("MINIXVM_FUZZ_DRIVER_KILLS", "100"))
SEED = int(os.environ.get("MINIXVM_FUZZ_SEED", "20261202"))
BATCH = 100
KILLS_PER_SYSTEM = 4
FILES = 3
SIZE = 48 << 10
KIB = 1024


def data_of(n: int, round_: int) -> bytes:
    """What writer ``n`` writes in round ``round_`` (pattern's bytes, shifted)."""
    shift = (n + 7 * round_) & 0xFF
    return BASE.translate(bytes((b + shift) & 0xFF for b in range(256)))


BASE = pattern(SIZE)


def writer(n: int, round_: int):
    """Write file ``n`` of this round (no sync: dirty blocks stay in MFS's
    cache) and read it back; 0 if what came back is what went in."""

    def body(p: Process) -> int:
        data = data_of(n, round_)
        fd = p.open(f"/data{n}", O_RDWR | O_CREAT | O_TRUNC, 0o644)
        for at in range(0, SIZE, 4 * KIB):
            p.write(data[at : at + 4 * KIB], fd)
        p.lseek(fd, 0)
        back = b""
        while chunk := p.read(fd, 8 * KIB):
            back += chunk
        p.close(fd)
        return 0 if back == data else 1

    return body


def reader(p: Process) -> int:
    """Read a program file from the disk (blocks MFS does not have yet)."""
    return 0 if read_file(p, "/bin/big") == BIG else 1


BIG = pattern(300 * KIB, seed=99)


def kill_driver(system: System) -> int:
    """Kill the disk driver now; its endpoint."""
    endpoint = system.service("disk").endpoint
    system.kill_service("disk")
    return endpoint


def one_round(system: System, rng: random.Random, round_: int, steps: int) -> bool:
    """The workload, with the driver killed at a random step of it: whether
    the kill came while the workload ran."""
    handles = [system.spawn(writer(n, round_), name=f"writer{n}") for n in range(FILES)]
    handles.append(system.spawn(reader, name="reader"))
    at = rng.randrange(steps)
    ticks = iter(range(at + 1))
    system.kernel.sched.run(lambda: all(h.done for h in handles) or next(ticks, None) is None)
    during = not all(h.done for h in handles)
    if during and system.service("disk").state == UP:
        old = kill_driver(system)
        system.run_until(lambda: system.service("disk").state == UP
                         and system.service("disk").endpoint != old)
    codes = [system.wait(h) for h in handles]
    assert codes == [0] * len(handles), f"round {round_}: a program saw wrong data"
    return during


@pytest.mark.skipif(shutil.which("fsck.minix") is None, reason="fsck.minix (util-linux) needed")
@pytest.mark.parametrize("batch", range(-(-KILLS // BATCH)))
def test_the_disk_driver_dies_and_no_program_notices(batch: int) -> None:
    image = make_image(8 << 20, files={"/bin/big": BIG})
    rng = random.Random(SEED + batch)
    goal = min(BATCH, KILLS - batch * BATCH)
    kills = systems = rounds = recoveries = 0
    while kills < goal:
        systems += 1
        # A small cache and no VM cache: the driver is asked for blocks all along.
        with System.boot(ram="32M", disk=image, mfs=MfsOptions(cache_blocks=32,
                                                              vm_cache=False)) as system:
            # Warm up: buffers grow once, and a first restart (its buffers too).
            one_round(system, rng, 0, 1)
            old = kill_driver(system)
            system.run_until(lambda old=old: system.service("disk").endpoint != old)
            one_round(system, rng, 0, 1)  # a new driver maps its buffers as it works
            system.run_until_idle()
            frames, slots = unleaked_frames(system), live_slots(system)
            grants = live_grants(system.mfs.sys.grants)
            switches = system.kernel.sched.switches
            one_round(system, rng, 1, 1)
            steps = system.kernel.sched.switches - switches
            done_here = 0
            while done_here < KILLS_PER_SYSTEM and kills < goal:
                rounds += 1
                if one_round(system, rng, rounds, steps):
                    done_here += 1
                    kills += 1
            rounds += 1
            one_round(system, rng, rounds, 1)  # the last driver's buffers, as above
            system.run_until_idle()
            system.vm_sanity_check()
            assert system.kernel.panicked is None
            assert unleaked_frames(system) == frames, "a frame leaked"
            assert live_slots(system) == slots
            assert live_grants(system.mfs.sys.grants) == grants
            recoveries += system.mfs.mounted.driver.recoveries
            last = rounds
        code, said = fsck(image)
        assert code == 0, said
        # The data reached the disk: a new system reads the last round's files.
        with System.boot(ram="32M", disk=image) as again:
            for n in range(FILES):
                data = data_of(n, last)
                assert again.run(lambda p, n=n, d=data: 0 if read_file(p, f"/data{n}") == d
                                 else 1) == 0
    assert recoveries >= kills  # every kill is found by a request MFS reissues
    count("driver recovery", kills=kills, systems=systems, rounds=rounds,
          requests_reissued=recoveries)
