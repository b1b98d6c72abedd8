"""The disk driver (BDEV_* on /dev/c0d0) driven through lib/bdev from a
service: transfers reach the host image file or the in-memory image, the
protocol's rules hold, and every request gets an answer.

The ``test_bdev_*`` tests are the block-driver protocol; test_ramdisk.py
runs them again on the memory driver's RAM disk.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest
from blockdev import SECTOR, STRIDE, Client, pattern
from remote import Remote

from minixvm import System, boot
from minixvm.errors import EACCES, EINVAL, EIO, ENXIO, EPERM, EROFS
from minixvm.include.bdev import (
    BDEV_GATHER,
    BDEV_IOCTL,
    BDEV_R_BIT,
    BDEV_READ,
    BDEV_REPLY,
    BDEV_RQ_BASE,
    BDEV_W_BIT,
    DIOCGETSIZE,
    IOVEC_GRANT,
    NR_IOREQS,
    BdevIo,
    BdevIoctl,
    BdevOpen,
    BdevReply,
)
from minixvm.include.dev import DEV_READ
from minixvm.include.grant import CPF_READ, CPF_WRITE
from minixvm.include.ipc import Message
from minixvm.lib.blockdriver import is_bdev_request
from minixvm.lib.c import Process
from minixvm.servers.disk import media
from minixvm.servers.disk.main import Disk

SECTORS = 400
# A trailing part-sector: the device ends at the last whole sector.
IMAGE_SIZE = SECTORS * SECTOR + 100
IMAGE = pattern(IMAGE_SIZE, 1)


@dataclass
class Device:
    """A booted system, a client of its block device, and (for a disk) a
    view of the medium's bytes from outside."""

    system: System
    client: Client
    contents: Callable[[], bytes] | None


@pytest.fixture(params=["file", "memory"])
def device(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Device]:
    if request.param == "file":
        path = tmp_path / "disk.img"
        path.write_bytes(IMAGE)
        media: str | bytearray = str(path)
        contents = path.read_bytes
    else:
        image = bytearray(IMAGE)
        media = image
        contents = lambda: bytes(image)  # noqa: E731
    with System.boot(ram="32M", disk=media) as s:
        yield Device(s, Client(s, s.endpoint_of("disk")), contents)
        Remote.exit_all(s)


def boot_disk(media: object) -> tuple[System, Client]:
    s = System.boot(ram="32M", disk=media)
    return s, Client(s, s.endpoint_of("disk"))


# -- the protocol (every block device) ------------------------------------------------


def test_bdev_size_is_the_whole_sectors(device: Device) -> None:
    assert device.client.open() == 0
    assert device.client.size() == SECTORS * SECTOR


def test_bdev_write_then_read_round_trips(device: Device) -> None:
    c = device.client
    data = pattern(3 * SECTOR, 9)
    assert c.write(5 * SECTOR, data) == len(data)
    assert c.read(5 * SECTOR, len(data)) == (len(data), data)
    # The neighbours are untouched.
    before, after = c.read(4 * SECTOR, SECTOR)[1], c.read(8 * SECTOR, SECTOR)[1]
    if device.contents is not None:
        image = device.contents()
        assert image[5 * SECTOR : 8 * SECTOR] == data
        assert image[4 * SECTOR : 5 * SECTOR] == before
        assert image[8 * SECTOR : 9 * SECTOR] == after
        assert len(image) == IMAGE_SIZE


def test_bdev_large_transfer_round_trips(device: Device) -> None:
    c = device.client
    data = pattern(384 * SECTOR, 4)
    assert c.write(8 * SECTOR, data) == len(data)
    assert c.read(8 * SECTOR, len(data)) == (len(data), data)
    if device.contents is not None:
        assert device.contents()[8 * SECTOR : 392 * SECTOR] == data


def test_bdev_scatter_then_gather(device: Device) -> None:
    c = device.client
    chunks = [pattern(SECTOR, 1), pattern(4 * SECTOR, 2), pattern(2 * SECTOR, 3)]
    assert c.scatter(10 * SECTOR, chunks) == 7 * SECTOR
    whole = b"".join(chunks)
    assert c.read(10 * SECTOR, len(whole)) == (len(whole), whole)
    if device.contents is not None:
        assert device.contents()[10 * SECTOR : 17 * SECTOR] == whole
    r, parts = c.gather(10 * SECTOR, [2 * SECTOR, 3 * SECTOR, 2 * SECTOR])
    assert r == 7 * SECTOR
    assert b"".join(parts) == whole


def test_bdev_transfers_are_cut_at_the_end(device: Device) -> None:
    c = device.client
    end = SECTORS * SECTOR
    untouched = b"\xee" * SECTOR
    assert c.read(end, SECTOR) == (0, untouched)
    assert c.read(1 << 40, SECTOR) == (0, untouched)
    r, data = c.read(end - SECTOR, 3 * SECTOR)
    assert r == SECTOR
    assert data[SECTOR:] == untouched * 2
    r, parts = c.gather(end - 2 * SECTOR, [SECTOR, 2 * SECTOR, SECTOR])
    assert r == 2 * SECTOR
    assert parts[1][SECTOR:] == untouched and parts[2] == untouched
    assert c.write(end - SECTOR, pattern(2 * SECTOR, 5)) == SECTOR
    assert c.write(end, pattern(SECTOR, 5)) == 0
    assert c.read(end - SECTOR, SECTOR)[1] == pattern(SECTOR, 5)
    if device.contents is not None:
        image = device.contents()
        assert len(image) == IMAGE_SIZE
        assert image[end:] == IMAGE[end:]


@pytest.mark.parametrize("pos, n", [(100, SECTOR), (SECTOR, 100), (SECTOR + 1, 2 * SECTOR)])
def test_bdev_misaligned_transfer_is_einval(device: Device, pos: int, n: int) -> None:
    c = device.client
    assert c.read(pos, n)[0] == -EINVAL
    assert c.write(pos, bytes(n)) == -EINVAL
    if device.contents is not None:
        assert device.contents() == IMAGE


def test_bdev_misaligned_vector_element_is_einval(device: Device) -> None:
    c = device.client
    assert c.gather(0, [SECTOR, 100])[0] == -EINVAL
    assert c.scatter(0, [bytes(SECTOR), bytes(100)]) == -EINVAL


def test_bdev_bad_fields_are_einval(device: Device) -> None:
    c = device.client
    assert c.raw(BdevIo(BDEV_READ, count=-SECTOR)).status == -EINVAL
    assert c.raw(BdevIo(BDEV_READ, count=SECTOR, pos_hi=-1)).status == -EINVAL
    for count in (0, -1, NR_IOREQS + 1):
        assert c.raw(BdevIo(BDEV_GATHER, count=count)).status == -EINVAL


def test_bdev_unknown_minor_is_enxio(device: Device) -> None:
    c = device.client
    c.minor = 9
    assert c.open() == -ENXIO
    assert c.close() == -ENXIO
    assert c.size() == -ENXIO
    assert c.read(0, SECTOR)[0] == -ENXIO
    assert c.write(0, bytes(SECTOR)) == -ENXIO
    assert c.gather(0, [SECTOR])[0] == -ENXIO


def granted(c: Client, data: bytes, access: int) -> int:
    """A grant of the client's buffer holding ``data`` to the driver."""
    def run(p: Process) -> int:
        p.sys.mem_write(c.buf, data)
        return p.sys.grants.cpf_grant_direct(c.ep, c.buf, len(data), access)
    return c.do(run)


def test_bdev_bad_grant_is_the_safecopy_error(device: Device) -> None:
    c = device.client
    reply = c.raw(BdevIo(BDEV_READ, count=SECTOR, grant=12345, id=77))
    assert (reply.m_type, reply.status, reply.id) == (BDEV_REPLY, -EPERM, 77)
    # The driver may not write into a read-only grant, nor past a grant's end.
    ro = granted(c, bytes(SECTOR), CPF_READ)
    assert c.raw(BdevIo(BDEV_READ, count=SECTOR, grant=ro)).status == -EPERM
    small = granted(c, bytes(SECTOR), CPF_WRITE)
    assert c.raw(BdevIo(BDEV_READ, count=2 * SECTOR, grant=small)).status < 0
    # A bad vector grant, and a vector naming a bad grant.
    assert c.raw(BdevIo(BDEV_GATHER, count=1, grant=12345)).status == -EPERM
    vector = granted(c, IOVEC_GRANT.pack(12345, SECTOR), CPF_READ)
    assert c.raw(BdevIo(BDEV_GATHER, count=1, grant=vector)).status == -EPERM
    assert c.raw(BdevIoctl(BDEV_IOCTL, request=DIOCGETSIZE, grant=12345)).status == -EPERM
    if device.contents is not None:
        assert device.contents() == IMAGE


def test_bdev_unknown_request_is_einval(device: Device) -> None:
    c = device.client
    reply = c.raw(BdevOpen(BDEV_RQ_BASE + 7, id=5))
    assert (reply.m_type, reply.status, reply.id) == (BDEV_REPLY, -EINVAL, 5)
    assert c.raw(BdevIoctl(BDEV_IOCTL, request=0x1234, id=6)).status == -EINVAL


FUZZ_WORDS = [0, 1, 2, 3, 5, 8, 64, 65, 100, 511, 512, 1024, 4096, 0x10000, 0x7FFFFFFF,
              0x80000000, 0xFFFFFFFF, 0xFFFFFE00, 0xFFFFF000, 12345]


def test_bdev_fuzz_every_request_is_answered(device: Device) -> None:
    """Random requests of every BDEV type (and near it), with likely, random
    and real grant values: every one gets its BDEV_REPLY, and the driver
    still works afterwards."""
    c = device.client
    rng = random.Random(20260601)
    read_grant = granted(c, bytes(STRIDE), CPF_READ | CPF_WRITE)
    vector = granted(c, b"".join(IOVEC_GRANT.pack(read_grant, SECTOR) for _ in range(4)),
                     CPF_READ)
    words = FUZZ_WORDS + [read_grant, vector]
    requests = []
    for i in range(2000):
        m_type = BDEV_RQ_BASE + rng.randrange(9) if rng.random() < 0.95 else rng.getrandbits(31)
        fields = [rng.choice(words) if rng.random() < 0.8 else rng.getrandbits(32)
                  for _ in range(7)]
        fields[4] = i  # BDEV_ID (m10_l1)
        requests.append(struct.pack("<ii7I", 0, m_type, *fields))

    def run(p: Process) -> list[tuple[int, int, int]]:
        answers = []
        for raw in requests:
            r, reply = p.sys.sendrec(c.ep, Message.decode(raw))
            assert r == 0 and reply is not None
            answer = BdevReply.view(reply.buf)
            answers.append((answer.m_type, answer.status, answer.id))
        return answers

    answers = c.do(run)
    # A block request is answered BDEV_REPLY with its id; another request is
    # answered too (sendrec returned), as the driver's other protocol says.
    block = [i for i, raw in enumerate(requests) if is_bdev_request(Message.decode(raw).m_type)]
    assert len(block) > 1800
    assert [answers[i][:3:2] for i in block] == [(BDEV_REPLY, i) for i in block]
    assert all(status <= 0 or status % SECTOR == 0 for _, status, _ in answers)
    data = pattern(2 * SECTOR, 8)
    assert c.write(0, data) == len(data)
    assert c.read(0, len(data)) == (len(data), data)


# -- the disk's media -------------------------------------------------------------------


def test_read_only_medium() -> None:
    s, c = boot_disk(bytes(IMAGE))
    with s:
        assert c.open(BDEV_R_BIT | BDEV_W_BIT) == -EACCES
        assert c.open(BDEV_R_BIT) == 0
        assert c.write(0, bytes(SECTOR)) == -EROFS
        assert c.scatter(0, [bytes(SECTOR)]) == -EROFS
        assert c.read(0, SECTOR) == (SECTOR, IMAGE[:SECTOR])
        Remote.exit_all(s)


def test_read_only_host_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A host file the host will not open for writing is a read-only disk."""
    path = tmp_path / "ro.img"
    path.write_bytes(IMAGE)

    def host_open(file: str, mode: str, buffering: int) -> BinaryIO:
        if "+" in mode:
            raise PermissionError(13, "Permission denied", file)
        return open(file, mode, buffering=buffering)  # noqa: SIM115 - the medium closes it

    monkeypatch.setattr(media, "open", host_open, raising=False)
    s, c = boot_disk(str(path))
    with s:
        assert c.open(BDEV_W_BIT) == -EACCES
        assert c.write(0, bytes(SECTOR)) == -EROFS
        assert c.read(0, SECTOR) == (SECTOR, IMAGE[:SECTOR])
        Remote.exit_all(s)
    assert path.read_bytes() == IMAGE


def test_no_medium_is_enxio(tmp_path: Path) -> None:
    s, c = boot_disk(str(tmp_path / "missing"))
    with s:
        assert "disk: cannot open" in s.console.text
        assert c.open(BDEV_R_BIT) == -ENXIO
        assert c.size() == -ENXIO
        assert c.read(0, SECTOR)[0] == -ENXIO
        assert c.write(0, bytes(SECTOR)) == -ENXIO
        Remote.exit_all(s)


def test_a_request_of_another_protocol_is_einval() -> None:
    s, c = boot_disk(bytearray(IMAGE))
    with s:
        reply = c.raw(Message(DEV_READ))
        assert (reply.m_type, reply.status) == (BDEV_REPLY, -EINVAL)
        Remote.exit_all(s)


def test_fail_io_makes_a_transfer_eio(monkeypatch: pytest.MonkeyPatch) -> None:
    class FailingDisk(Disk):
        def main(self) -> None:
            self.fail_io = lambda pos: pos == 2 * SECTOR
            super().main()

    monkeypatch.setattr(boot, "Disk", FailingDisk)
    image = bytearray(IMAGE)
    s, c = boot_disk(image)
    with s:
        assert c.read(2 * SECTOR, SECTOR)[0] == -EIO
        assert c.write(2 * SECTOR, bytes(SECTOR)) == -EIO
        assert c.read(3 * SECTOR, SECTOR) == (SECTOR, IMAGE[3 * SECTOR : 4 * SECTOR])
        Remote.exit_all(s)
    assert image == IMAGE


def test_the_open_host_file_sees_host_changes(tmp_path: Path) -> None:
    """One descriptor, no private copy: what the host writes, the disk reads."""
    path = tmp_path / "disk.img"
    path.write_bytes(IMAGE)
    s, c = boot_disk(str(path))
    with s:
        with path.open("r+b") as f:
            f.seek(SECTOR)
            f.write(b"\x42" * SECTOR)
        assert c.read(SECTOR, SECTOR) == (SECTOR, b"\x42" * SECTOR)
        assert c.write(0, pattern(SECTOR, 3)) == SECTOR
        Remote.exit_all(s)
    assert path.read_bytes()[:SECTOR] == pattern(SECTOR, 3)
