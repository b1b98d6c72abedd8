"""A message fuzz: random requests to every server, from a user program and
from a service. Every request gets an answer, no server crashes, and
afterwards every server still serves a normal request, VM's invariants
hold and no frame or slot has leaked.

A sender that a request ends (it asked PM to exit, or unmapped its own
memory and then faulted) is replaced by a new one: that is the request
doing what it says, not a crash.
"""

from __future__ import annotations

import os
import random
import struct
from collections import Counter
from collections.abc import Iterator

import pytest
from campaign import count
from leaks import live_slots, unleaked_frames
from remote import ProcessDied, Remote

from minixvm import System
from minixvm.include.bdev import BDEV_RQ_BASE
from minixvm.include.com import (
    KERNEL_CALL,
    NOTIFY_MESSAGE,
    SYSTEM,
    VFS_PROC_NR,
)
from minixvm.include.dev import DEV_RQ_BASE
from minixvm.include.ds import DS_RQ_BASE
from minixvm.include.ipc import MESSAGE_SIZE, Message
from minixvm.include.pm import PM_EXEC, PM_EXIT, PM_REBOOT
from minixvm.include.rs import RS_RQ_BASE
from minixvm.include.vfs import O_CREAT, O_RDWR, O_TRUNC, WRITE
from minixvm.include.vfsif import VFS_BASE
from minixvm.include.vm import VM_INFO, VM_RQ_BASE, VMIW_STATS, VMStatsInfo
from minixvm.lib.c import Process
from minixvm.lib.ds import ds_publish_u32, ds_retrieve_u32

MESSAGES = 100_000
BATCH = 500
# A run is reproducible from its seed (printed); set MINIXVM_FUZZ_SEED to try others.
SEED = int(os.environ.get("MINIXVM_FUZZ_SEED", "20261202"))

# Each server's request range: (label, first type, number of types).
SERVERS = {
    "pm": (0, 0x60),
    "vm": (VM_RQ_BASE, 0x50),
    "ds": (DS_RQ_BASE, 0x10),
    "tty": (DEV_RQ_BASE, 0x20),
    "memory": (DEV_RQ_BASE, 0x20),
    "vfs": (0, 0x60),
    "disk": (BDEV_RQ_BASE, 0x10),
    "mfs": (VFS_BASE, 0x30),
    "rs": (RS_RQ_BASE, 0x30),
}
# Values a careless or hostile program is likely to put in a field.
WORDS = [0, 1, 2, 3, 4, 5, 8, 15, 16, 255, 0x1000, 0x1001, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
         0x08048000, 0x80000000 - 0x1000, 0x7FFFFFFF, 0x80000000, 0xFFFFF000, 0xFFFFFFFF,
         0xFFFFFFFE, 0xF0000000, 0x00800000]
# Requests that end or replace the sender when they succeed.
ENDS_SENDER = {PM_EXIT, PM_EXEC}
# A service's REBOOT unmounts every file system, as it should: not fuzzed.
STOPS_SYSTEM = {PM_REBOOT}


def random_message(rng: random.Random) -> tuple[str, bytes]:
    """A destination (a label) and a random request: a type in or near a
    server's range (or anywhere), a payload of likely and random words."""
    name = rng.choice(list(SERVERS))
    first, count = SERVERS[name]
    roll = rng.random()
    if roll < 0.8:
        m_type = first + rng.randrange(count)
    elif roll < 0.9:
        m_type = rng.choice([NOTIFY_MESSAGE, KERNEL_CALL + rng.randrange(64), -1, 0x7FFFFFFF])
    else:
        m_type = rng.randrange(-(1 << 31), 1 << 31)
    if m_type in ENDS_SENDER | STOPS_SYSTEM and name in ("pm", "vfs"):
        m_type = first + count + 1
    words = [rng.choice(WORDS) if rng.random() < 0.7 else rng.getrandbits(32) for _ in range(7)]
    payload = struct.pack("<7I", *words)
    return name, struct.pack("<ii", 0, m_type) + payload


def send_batch(batch: list[tuple[int, bytes]]):
    """A command for a Remote: sendrec every message; the servers' answers."""

    def run(p: Process) -> list[int]:
        results = []
        for endpoint, raw in batch:
            r, reply = p.sys.sendrec(endpoint, Message.decode(raw))
            assert r == 0 and reply is not None and reply.m_source == endpoint, (r, raw.hex())
            results.append(reply.m_type)
        return results

    return run


@pytest.fixture
def fuzz_system() -> Iterator[System]:
    """A machine with VM's sanity check run by the test, not after each of
    the 100,000 requests (that would take minutes)."""
    with System.boot(ram="64M") as s:
        yield s
        Remote.exit_all(s)


def normal_requests(system: System) -> None:
    """Each server answers an ordinary request correctly, from a user program
    and from a service."""
    user = Remote.start(system, name="normal")
    assert user.do(lambda p: p.getpid()) == user.pid
    addr = user.do(lambda p: p.mmap(8192))
    user.do(lambda p: p.mem.__setitem__(slice(addr, addr + 3), b"abc"))
    assert user.do(lambda p: p.mem[addr : addr + 3]) == b"abc"
    reply = user.do(lambda p: p.sys.vm_call(VM_INFO, what=VMIW_STATS, ptr=addr))
    assert reply.m_type == 0
    stats = VMStatsInfo.unpack(user.do(lambda p: p.mem[addr : addr + VMStatsInfo.FORMAT.size]))
    assert 0 < stats.free_pages < stats.total_pages
    user.do(lambda p: p.mem.__setitem__(slice(addr, addr + 8), b"via vfs\n"))
    reply = user.do(lambda p: p.sys.taskcall(VFS_PROC_NR, WRITE, fd=1, nbytes=8, buffer=addr))
    assert reply.m_type == 8
    user.do(lambda p: p.munmap(addr, 8192))
    assert user.do(file_round_trip) == b"through MFS\n" * 1000
    assert user.do(lambda p: p.printf("still here\n")) == len("still here\n")
    user.exit()
    assert "still here" in system.console.text and "via vfs\n" in system.console.text
    service = Remote.start(system, name="normalsvc", service=True)
    assert service.do(lambda p: ds_publish_u32(p.sys, "fuzz.check", 7, 0)) == 0
    assert service.do(lambda p: ds_retrieve_u32(p.sys, "fuzz.check")) == (0, 7)
    service.exit()


def file_round_trip(p: Process) -> bytes:
    """Write, sync, stat and read back a file."""
    fd = p.open("/tmp/fuzz.txt", O_RDWR | O_CREAT | O_TRUNC, 0o644)
    p.write(b"through MFS\n" * 1000, fd)
    p.sync()
    assert p.fstat(fd).st_size == 12000 and p.lseek(fd, 0) == 0
    data = p.read(fd, 20000)
    p.close(fd)
    p.unlink("/tmp/fuzz.txt")
    return data


def test_random_messages_to_every_server_all_get_answers(fuzz_system: System) -> None:
    system = fuzz_system
    normal_requests(system)  # servers allocate their buffers once: the baseline comes after
    system.run_until_idle()
    frames, slots = unleaked_frames(system), live_slots(system)

    rng = random.Random(SEED)
    results: Counter[int] = Counter()
    replaced = 0
    sent = 0
    senders = [Remote.start(system, name=sender_name(i), service=i == 1) for i in range(2)]
    while sent < MESSAGES:
        for i, sender in enumerate(senders):
            endpoints = {label: system.endpoint_of(label) for label in SERVERS}
            batch = [(endpoints[label], raw)
                     for label, raw in (random_message(rng) for _ in range(BATCH))]
            try:
                results.update(sender.do(send_batch(batch)))
            except ProcessDied:
                replaced += 1
                senders[i] = Remote.start(system, name=sender_name(i), service=i == 1)
            sent += len(batch)
    for sender in senders:
        if not sender.exited:
            sender.exit()
    system.run_until_idle()
    count("message fuzz", messages=sent, senders_replaced=replaced)
    print(f"fuzz (seed {SEED}): {sent} messages, {replaced} senders replaced, "
          f"results {dict(results.most_common(8))}")

    normal_requests(system)
    system.run_until_idle()
    system.vm_sanity_check()
    assert system.kernel.panicked is None
    assert live_slots(system) == slots
    assert unleaked_frames(system) == frames
    assert sum(n for r, n in results.items() if r < 0) > MESSAGES // 2  # mostly refused


def sender_name(i: int) -> str:
    return "fuzzsvc" if i else "fuzz"


def test_a_request_to_a_kernel_task_is_refused_not_left_waiting(system: System) -> None:
    user = Remote.start(system)
    r, _ = user.do(lambda p: p.sys.sendrec(SYSTEM, Message.decode(bytes(MESSAGE_SIZE))))
    assert r < 0
