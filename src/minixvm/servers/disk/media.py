"""What the disk driver's disk holds: a host image file or an image in memory.

Only the disk driver opens a medium, and a host file is opened once, when
the driver starts: read-write if the host allows it, else read-only. An
in-memory image is the caller's own ``bytearray`` (written in place, so its
owner sees every write), or ``bytes`` for a read-only disk.
"""

from __future__ import annotations

import os

# What the disk holds: a host image path, or an image in memory (bytes: read
# only).
Media = str | os.PathLike[str] | bytearray | bytes


class Medium:
    """The bytes of a disk, read and written at byte positions."""

    readonly: bool

    def size(self) -> int:
        """Bytes on the medium."""
        raise NotImplementedError

    def read(self, pos: int, n: int) -> bytes:
        """The ``n`` bytes at ``pos`` (inside the medium)."""
        raise NotImplementedError

    def write(self, pos: int, data: bytes) -> None:
        """Store ``data`` at ``pos`` (inside the medium, which is writable)."""
        raise NotImplementedError


class HostFile(Medium):
    """An image file of the host, through one descriptor (closed with the object)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            self.file = open(path, "r+b", buffering=0)  # noqa: SIM115 - lives as long as the disk
            self.readonly = False
        except PermissionError:
            self.file = open(path, "rb", buffering=0)  # noqa: SIM115
            self.readonly = True
        self.fd = self.file.fileno()

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def read(self, pos: int, n: int) -> bytes:
        data = os.pread(self.fd, n, pos)
        # The host file shrank under us: what is gone reads as zeros.
        return data if len(data) == n else data.ljust(n, b"\0")

    def write(self, pos: int, data: bytes) -> None:
        done = 0
        while done < len(data):
            done += os.pwrite(self.fd, memoryview(data)[done:], pos + done)


class InMemory(Medium):
    """An image held in a ``bytearray`` (or, read-only, ``bytes``)."""

    def __init__(self, image: bytearray | bytes) -> None:
        self.image = image
        self.readonly = not isinstance(image, bytearray)

    def size(self) -> int:
        return len(self.image)

    def read(self, pos: int, n: int) -> bytes:
        return bytes(memoryview(self.image)[pos : pos + n])

    def write(self, pos: int, data: bytes) -> None:
        assert isinstance(self.image, bytearray)
        self.image[pos : pos + len(data)] = data


def open_medium(media: Media) -> Medium:
    """The medium ``media`` names; OSError if a host file cannot be opened."""
    if isinstance(media, bytearray | bytes):
        return InMemory(media)
    return HostFile(media)
