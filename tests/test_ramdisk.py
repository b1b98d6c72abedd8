"""The memory driver's RAM disk (/dev/ram: BDEV_* on minor 0): its first
contents, its memory in the driver's address space, and the block-driver
protocol (test_disk.py's ``test_bdev_*`` tests, run here on the RAM disk).
The character minors work as before, with or without a RAM disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from blockdev import SECTOR, Client, pattern
from remote import Remote
from test_disk import (  # noqa: F401 - collected here again, on the RAM disk
    IMAGE,
    Device,
    test_bdev_bad_fields_are_einval,
    test_bdev_bad_grant_is_the_safecopy_error,
    test_bdev_fuzz_every_request_is_answered,
    test_bdev_large_transfer_round_trips,
    test_bdev_misaligned_transfer_is_einval,
    test_bdev_misaligned_vector_element_is_einval,
    test_bdev_scatter_then_gather,
    test_bdev_size_is_the_whole_sectors,
    test_bdev_transfers_are_cut_at_the_end,
    test_bdev_unknown_minor_is_enxio,
    test_bdev_unknown_request_is_einval,
    test_bdev_write_then_read_round_trips,
)

from minixvm import System, boot
from minixvm.errors import ENXIO
from minixvm.include.com import MEM_PROC_NR
from minixvm.include.dev import DEV_READ, DEV_WRITE, NULL_DEV, ZERO_DEV
from minixvm.include.grant import CPF_READ, CPF_WRITE
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.memory.main import MemoryDriver

RamDisk = bytes | int | None


def boot_ramdisk(monkeypatch: pytest.MonkeyPatch, ramdisk: RamDisk) -> System:
    """A system whose memory driver has ``ramdisk``."""
    make: Callable[..., MemoryDriver] = lambda sys: MemoryDriver(sys, ramdisk)  # noqa: E731
    monkeypatch.setattr(boot, "MemoryDriver", make)
    return System.boot(ram="32M")


@pytest.fixture
def device(monkeypatch: pytest.MonkeyPatch) -> Iterator[Device]:
    with boot_ramdisk(monkeypatch, IMAGE) as s:
        yield Device(s, Client(s, MEM_PROC_NR), None)
        Remote.exit_all(s)


def test_the_ramdisk_holds_its_first_contents(device: Device) -> None:
    c = device.client
    assert c.open() == 0
    assert c.read(0, 4 * SECTOR) == (4 * SECTOR, IMAGE[: 4 * SECTOR])
    r, parts = c.gather(100 * SECTOR, [SECTOR, 2 * SECTOR])
    assert r == 3 * SECTOR
    assert b"".join(parts) == IMAGE[100 * SECTOR : 103 * SECTOR]


def test_a_ramdisk_of_a_size_starts_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    with boot_ramdisk(monkeypatch, 64 * SECTOR) as s:
        c = Client(s, MEM_PROC_NR)
        assert c.size() == 64 * SECTOR
        assert c.read(0, 64 * SECTOR) == (64 * SECTOR, bytes(64 * SECTOR))
        assert c.write(63 * SECTOR, pattern(SECTOR, 2)) == SECTOR
        assert c.read(63 * SECTOR, 2 * SECTOR) == (SECTOR, pattern(SECTOR, 2) + b"\xee" * SECTOR)
        Remote.exit_all(s)


def test_the_ramdisk_memory_is_the_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk's pages are simulated RAM the memory driver allocates on first use."""
    size = 256 * PAGE_SIZE
    with boot_ramdisk(monkeypatch, size) as s:
        before = s.statistics().frames_free
        c = Client(s, MEM_PROC_NR)
        assert c.size() == size
        for pos in range(0, size, 64 * PAGE_SIZE):
            assert c.write(pos, pattern(64 * PAGE_SIZE, pos)) == 64 * PAGE_SIZE
        assert before - s.statistics().frames_free >= size // PAGE_SIZE
        for pos in range(0, size, 64 * PAGE_SIZE):
            assert c.read(pos, 64 * PAGE_SIZE)[1] == pattern(64 * PAGE_SIZE, pos)
        Remote.exit_all(s)


def char_device_reads(c: Client) -> tuple[int, bytes, int]:
    """(read of /dev/zero, its bytes, write to /dev/null) through DEV_* requests."""
    def run(p: Process) -> tuple[int, bytes, int]:
        p.sys.mem_write(c.buf, b"\xee" * 64)
        grant = p.sys.grants.cpf_grant_direct(MEM_PROC_NR, c.buf, 64, CPF_READ | CPF_WRITE)
        zero = p.sys.taskcall(MEM_PROC_NR, DEV_READ, minor=ZERO_DEV, count=64, grant=grant)
        null = p.sys.taskcall(MEM_PROC_NR, DEV_WRITE, minor=NULL_DEV, count=64, grant=grant)
        p.sys.grants.cpf_revoke(grant)
        return zero.m_type, p.sys.mem_read(c.buf, 64), null.m_type
    return c.do(run)


@pytest.mark.parametrize("ramdisk", [None, 16 * SECTOR], ids=["no-ramdisk", "ramdisk"])
def test_character_minors_keep_working(monkeypatch: pytest.MonkeyPatch,
                                       ramdisk: RamDisk) -> None:
    with boot_ramdisk(monkeypatch, ramdisk) as s:
        c = Client(s, MEM_PROC_NR)
        assert char_device_reads(c) == (64, bytes(64), 64)
        Remote.exit_all(s)


def test_no_ramdisk_is_enxio() -> None:
    with System.boot(ram="32M") as s:
        c = Client(s, MEM_PROC_NR)
        assert c.open() == -ENXIO
        assert c.size() == -ENXIO
        assert c.read(0, SECTOR)[0] == -ENXIO
        assert c.write(0, bytes(SECTOR)) == -ENXIO
        assert char_device_reads(c) == (64, bytes(64), 64)
        Remote.exit_all(s)


def test_a_block_request_on_a_character_minor_is_enxio(device: Device) -> None:
    c = device.client
    c.minor = ZERO_DEV
    assert c.read(0, SECTOR)[0] == -ENXIO
    assert c.open() == -ENXIO
