"""The ELF reader of libexec: a whole image checked into what exec loads.

``elf_unpack`` reads an i386 executable with pyelftools and checks every
header field exec depends on *before* anything is done to the process
that execs it: MINIX's checks (``check_header``, ``elf_sane``,
``elf_ph_sane`` of 769af5727) and the ones MINIX forgot (the class, the
machine, sizes, wrap-around, overlap, the entry point; reference A3). A
file that fails is an ``ElfError``, which exec answers with ENOEXEC.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from elftools.common.exceptions import ELFError
from elftools.common.utils import struct_parse
from elftools.elf.structs import ELFStructs

from minixvm.errors import ENOEXEC, MinixError
from minixvm.include.arch import USER_BASE
from minixvm.machine.ram import PAGE_SIZE

ELFMAG = b"\x7fELF"
ELFCLASS32 = 1
ELFDATA2LSB = 1
EV_CURRENT = 1
EHDR_SIZE = 52  # sizeof(Elf32_Ehdr)
PHDR_SIZE = 32  # sizeof(Elf32_Phdr)
# MINIX reads the program headers from the file's first sector only.
SECTOR_SIZE = 512
PF_X, PF_W, PF_R = 1, 2, 4


class ElfError(MinixError):
    """The image is not an executable exec can load (ENOEXEC); the message
    names what is wrong."""

    def __init__(self, what: str) -> None:
        super().__init__(ENOEXEC, f"elf: {what}")


@dataclass(frozen=True)
class Segment:
    """A PT_LOAD: ``memsz`` bytes at ``vaddr``, the first ``filesz`` of them
    from the file at ``offset``, the rest zero."""

    vaddr: int
    memsz: int
    offset: int
    filesz: int
    flags: int  # PF_R | PF_W | PF_X


@dataclass(frozen=True)
class ElfImage:
    """A checked executable: where it starts and what to load."""

    entry: int
    segments: tuple[Segment, ...]


def trunc_page(v: int) -> int:
    return v - v % PAGE_SIZE


def round_page(v: int) -> int:
    return -(-v // PAGE_SIZE) * PAGE_SIZE


def elf_unpack(data: bytes, user_top: int, file_size: int | None = None) -> ElfImage:
    """``data`` checked, with every segment in [USER_BASE, user_top); raises
    ElfError. ``data`` is the whole file, or (``file_size`` given) its
    first bytes, as VFS reads them: at least the program headers, which
    must lie in the first sector."""
    if file_size is None:
        file_size = len(data)
    check_ident(data)
    stream, structs = io.BytesIO(data), elf32_i386()
    try:
        elf = struct_parse(structs.Elf_Ehdr, stream, 0)
        check_header(elf, len(data))
        phdrs = [struct_parse(structs.Elf_Phdr, stream, elf["e_phoff"] + i * PHDR_SIZE)
                 for i in range(elf["e_phnum"])]
    except ELFError as e:  # pyelftools' word on garbage it cannot parse
        raise ElfError(str(e)) from None
    if any(ph["p_type"] == "PT_INTERP" for ph in phdrs):
        raise ElfError("PT_INTERP: a dynamically linked program")
    segments = tuple(load_segment(ph, file_size, user_top) for ph in phdrs
                     if ph["p_type"] == "PT_LOAD" and ph["p_memsz"] > 0)
    check_layout(segments)
    entry = elf["e_entry"]
    if not any(s.flags & PF_X and s.vaddr <= entry < s.vaddr + s.memsz for s in segments):
        raise ElfError(f"entry point {entry:#x} is not in an executable segment")
    return ElfImage(entry, segments)


@functools.cache
def elf32_i386() -> ELFStructs:
    """pyelftools' structures of a little-endian Elf32 file for EM_386, built
    once: building them costs ten times what parsing a header does. (Its
    ELFFile would also read section headers, which exec never needs.)"""
    structs = ELFStructs(little_endian=True, elfclass=32)
    structs.create_basic_structs()
    structs.create_advanced_structs("ET_EXEC", "EM_386", "ELFOSABI_SYSV")
    return structs


def check_ident(data: bytes) -> None:
    """e_ident: an ELF file of the one kind pyelftools is then asked to read."""
    if len(data) < EHDR_SIZE:
        raise ElfError(f"{len(data)} bytes: shorter than an ELF header")
    if data[:4] != ELFMAG:
        raise ElfError("no ELF magic")
    if data[4] != ELFCLASS32:
        raise ElfError(f"EI_CLASS {data[4]}: not ELFCLASS32")
    if data[5] != ELFDATA2LSB:
        raise ElfError(f"EI_DATA {data[5]}: not little-endian")
    if data[6] != EV_CURRENT:
        raise ElfError(f"EI_VERSION {data[6]}: not EV_CURRENT")


def check_header(elf: Mapping[str, Any], file_size: int) -> None:
    """The ELF header: an i386 executable whose program headers lie in the
    file's first sector."""
    if elf["e_version"] != "EV_CURRENT":
        raise ElfError(f"e_version {elf['e_version']}: not EV_CURRENT")
    if elf["e_machine"] != "EM_386":
        raise ElfError(f"e_machine {elf['e_machine']}: not EM_386")
    if elf["e_type"] == "ET_DYN":
        raise ElfError("ET_DYN: position-independent, and exec does not relocate")
    if elf["e_type"] != "ET_EXEC":
        raise ElfError(f"e_type {elf['e_type']}: not an executable")
    if elf["e_phentsize"] != PHDR_SIZE:
        raise ElfError(f"e_phentsize {elf['e_phentsize']}: not {PHDR_SIZE}")
    phoff, phnum = elf["e_phoff"], elf["e_phnum"]
    if phnum == 0:
        raise ElfError("no program headers")
    if phoff % 4:
        raise ElfError(f"e_phoff {phoff:#x}: program headers not 4-byte aligned")
    end = phoff + phnum * PHDR_SIZE
    if end > file_size:
        raise ElfError(f"program headers end at {end:#x}, beyond the file ({file_size:#x})")
    if end > SECTOR_SIZE:
        raise ElfError(f"program headers end at {end:#x}, beyond MINIX's first "
                       f"{SECTOR_SIZE} bytes")


def load_segment(ph: Mapping[str, Any], file_size: int, user_top: int) -> Segment:
    """One PT_LOAD (of nonzero size), checked on its own."""
    vaddr, memsz, offset, filesz = ph["p_vaddr"], ph["p_memsz"], ph["p_offset"], ph["p_filesz"]
    where = f"segment at {vaddr:#x}"
    if filesz > memsz:
        raise ElfError(f"{where}: p_filesz {filesz:#x} > p_memsz {memsz:#x}")
    if offset + filesz > file_size:
        raise ElfError(f"{where}: file bytes [{offset:#x}, {offset + filesz:#x}) "
                       f"beyond the file ({file_size:#x})")
    if vaddr + memsz > 1 << 32:
        raise ElfError(f"{where}: p_vaddr + p_memsz wraps around")
    if trunc_page(vaddr) < USER_BASE:
        raise ElfError(f"{where}: below the user area ({USER_BASE:#x})")
    if round_page(vaddr + memsz) > user_top:
        raise ElfError(f"{where}: ends at {vaddr + memsz:#x}, in or above the stack "
                       f"({user_top:#x})")
    return Segment(vaddr, memsz, offset, filesz, ph["p_flags"])


def check_layout(segments: tuple[Segment, ...]) -> None:
    """PT_LOAD segments neither overlap nor share a page (each page is one
    region, mapped once)."""
    ordered = sorted(segments, key=lambda s: s.vaddr)
    for prev, seg in zip(ordered, ordered[1:], strict=False):
        if trunc_page(seg.vaddr) < round_page(prev.vaddr + prev.memsz):
            raise ElfError(f"segments at {prev.vaddr:#x} and {seg.vaddr:#x} share a page")
