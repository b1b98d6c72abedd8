"""Physical memory: one host buffer cut into 4 KiB frames.

The buffer is an anonymous mmap, so a large RAM costs nothing until it is
touched. Every bulk operation is a memoryview slice operation (memcpy
speed); nothing here loops over bytes in Python.
"""

from __future__ import annotations

import mmap
import re

import numpy as np
import numpy.typing as npt

PAGE_SIZE = 4096
PAGE_SHIFT = 12
MIN_RAM = 16 << 20
MAX_RAM = 3 << 30

_CHUNK = 1 << 20
_ZERO = memoryview(bytes(_CHUNK))
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str | int) -> int:
    """Parse a size such as ``"64M"``, ``"1G"``, ``"512K"`` or ``"65536"``."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not m:
        raise ValueError(f"bad size {text!r}: expected a number with K, M or G, e.g. 64M")
    return int(m.group(1)) * _UNITS[m.group(2).upper()]


class RAM:
    """The machine's physical memory."""

    def __init__(self, size: int | str = "64M") -> None:
        size = parse_size(size)
        if size % PAGE_SIZE:
            raise ValueError(f"RAM size {size} is not a multiple of the {PAGE_SIZE}-byte frame")
        if not MIN_RAM <= size <= MAX_RAM:
            raise ValueError(
                f"RAM size {size >> 20} MiB out of range: "
                f"{MIN_RAM >> 20} MiB to {MAX_RAM >> 30} GiB"
            )
        self.size = size
        self.frames = size >> PAGE_SHIFT
        self._buf = mmap.mmap(-1, size)
        self.mv = memoryview(self._buf)
        self.words = self.mv.cast("I")
        # The same words as an array, for operations on many page-table entries
        # at once. Use it through the attribute, never keep it: close() drops it.
        self.array: npt.NDArray[np.uint32] = np.frombuffer(self._buf, dtype=np.uint32)

    def _check(self, paddr: int, n: int) -> None:
        if paddr < 0 or n < 0 or paddr + n > self.size:
            raise IndexError(f"physical range {paddr:#x}+{n:#x} outside RAM of {self.size:#x}")

    def read(self, paddr: int, n: int) -> bytes:
        """Bytes at physical [paddr, paddr+n)."""
        self._check(paddr, n)
        return self.mv[paddr : paddr + n].tobytes()

    def write(self, paddr: int, data: bytes | bytearray | memoryview) -> None:
        """Store ``data`` at physical ``paddr``."""
        self._check(paddr, len(data))
        self.mv[paddr : paddr + len(data)] = data

    def zero(self, paddr: int, n: int) -> None:
        """Clear physical [paddr, paddr+n)."""
        self.fill(paddr, n, 0)

    def fill(self, paddr: int, n: int, byte: int) -> None:
        """Set every byte of physical [paddr, paddr+n) to ``byte``."""
        self._check(paddr, n)
        pattern = _ZERO if byte == 0 else memoryview(bytes([byte]) * min(n, _CHUNK))
        end = paddr + n
        while paddr < end:
            chunk = min(end - paddr, len(pattern))
            self.mv[paddr : paddr + chunk] = pattern[:chunk]
            paddr += chunk

    def copy(self, dst: int, src: int, n: int) -> None:
        """Copy physical [src, src+n) to dst (overlap allowed)."""
        self._check(src, n)
        self._check(dst, n)
        self.mv[dst : dst + n] = self.mv[src : src + n]

    def read_u32(self, paddr: int) -> int:
        """The aligned 32-bit little-endian word at ``paddr``."""
        return self.words[paddr >> 2]

    def write_u32(self, paddr: int, value: int) -> None:
        """Store an aligned 32-bit word."""
        self.words[paddr >> 2] = value

    def close(self) -> None:
        """Release the host buffer."""
        self.array = np.empty(0, dtype=np.uint32)
        self.words.release()
        self.mv.release()
        self._buf.close()
