"""What the kernel tells the servers at boot (MINIX struct kinfo, GET_KINFO).

The kernel copies it, packed as below, into the caller's memory; the
servers unpack it. ``BootInfo`` is one boot process as the servers learn of
it: where it was loaded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_HEADER = struct.Struct("<QIIIII")  # ram_size, nr_procs, trace, #pdes, #chunks, #boot procs
_PAIR = struct.Struct("<II")
_BOOT = struct.Struct("<i16sIIII")  # slot, name, base, image, size, system
KINFO_MAX = 2048


@dataclass(frozen=True)
class BootInfo:
    """A boot process: where it was loaded."""

    slot: int
    name: str
    base: int
    image: int  # bytes of image at base; the rest up to size is heap and stack
    size: int
    system: bool


@dataclass(frozen=True)
class KernelInfo:
    """The machine as the kernel found it."""

    ram_size: int
    nr_procs: int
    trace: bool  # the kernel records a trace: servers send it their events
    kernel_pdes: tuple[tuple[int, int], ...]  # (PDE index, entry) mapped in every space
    free_chunks: tuple[tuple[int, int], ...]  # (physical base, size) VM may use
    boot_procs: tuple[BootInfo, ...]

    def pack(self) -> bytes:
        out = [_HEADER.pack(self.ram_size, self.nr_procs, self.trace, len(self.kernel_pdes),
                            len(self.free_chunks), len(self.boot_procs))]
        out += [_PAIR.pack(*pair) for pair in self.kernel_pdes + self.free_chunks]
        out += [_BOOT.pack(b.slot, b.name.encode(), b.base, b.image, b.size, b.system)
                for b in self.boot_procs]
        data = b"".join(out)
        assert len(data) <= KINFO_MAX
        return data

    @classmethod
    def unpack(cls, data: bytes) -> KernelInfo:
        ram_size, nr_procs, trace, npdes, nchunks, nboot = _HEADER.unpack_from(data, 0)
        off = _HEADER.size
        pairs = [_PAIR.unpack_from(data, off + i * _PAIR.size) for i in range(npdes + nchunks)]
        off += len(pairs) * _PAIR.size
        boot = []
        for i in range(nboot):
            slot, name, base, image, size, system = _BOOT.unpack_from(data, off + i * _BOOT.size)
            boot.append(BootInfo(slot, name.rstrip(b"\0").decode(), base, image, size,
                                 bool(system)))
        return cls(ram_size, nr_procs, bool(trace), tuple(pairs[:npdes]), tuple(pairs[npdes:]),
                   tuple(boot))
