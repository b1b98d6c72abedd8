"""A compiled program made wild: its first instruction replaced by a store to
an unmapped address, so it dies of SIGSEGV before doing anything else."""

from __future__ import annotations

import io
from pathlib import Path

from elftools.elf.elffile import ELFFile

UNMAPPED = 0x40000000


def wild(image: Path) -> bytes:
    """``image`` (an ELF) with ``movl $0, UNMAPPED`` at its entry point."""
    data = bytearray(image.read_bytes())
    elf = ELFFile(io.BytesIO(bytes(data)))
    text = next(s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD" and s["p_flags"] & 1)
    at = text["p_offset"] + elf["e_entry"] - text["p_vaddr"]
    data[at : at + 10] = bytes([0xC7, 0x05]) + UNMAPPED.to_bytes(4, "little") + bytes(4)
    return bytes(data)
