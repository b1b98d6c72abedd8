"""The committed i386 programs in userland/bin: what their ELF files must be
for MINIX's exec (static, i386, read-only text and rodata, MINIX's header
limits), that their message layout is MINIX 3.2's, and that the sources
rebuild them byte for byte where a 32-bit gcc exists."""

from __future__ import annotations

import filecmp
import shutil
import struct
import subprocess
from itertools import pairwise
from pathlib import Path

import pytest

pytest.importorskip("elftools", reason="pyelftools reads the ELF files")
from elftools.elf.constants import P_FLAGS  # noqa: E402
from elftools.elf.elffile import ELFFile  # noqa: E402

USERLAND = Path(__file__).resolve().parent.parent / "userland"
BIN = USERLAND / "bin"
PROGRAMS = sorted(p.stem for p in (USERLAND / "programs").glob("*.c"))
PAGE = 4096
STACK_BOTTOM = 0x7C000000  # the 64 MiB stack below 0x80000000 (reference A2)

# Reference B2: byte offset and size of every field of the 36-byte message.
MESSAGE_LAYOUT = {
    "m_source": (0, 4), "m_type": (4, 4),
    "m1_i1": (8, 4), "m1_i2": (12, 4), "m1_i3": (16, 4),
    "m1_p1": (20, 4), "m1_p2": (24, 4), "m1_p3": (28, 4),
    "m2_i1": (8, 4), "m2_i2": (12, 4), "m2_i3": (16, 4), "m2_l1": (20, 4),
    "m2_l2": (24, 4), "m2_p1": (28, 4), "m2_s1": (32, 2),
    "m3_i1": (8, 4), "m3_i2": (12, 4), "m3_p1": (16, 4), "m3_ca1": (20, 16),
    "m4_l1": (8, 4), "m4_l2": (12, 4), "m4_l3": (16, 4), "m4_l4": (20, 4), "m4_l5": (24, 4),
    "m5_s1": (8, 2), "m5_s2": (10, 2), "m5_i1": (12, 4), "m5_i2": (16, 4),
    "m5_l1": (20, 4), "m5_l2": (24, 4), "m5_l3": (28, 4),
    "m7_i1": (8, 4), "m7_i2": (12, 4), "m7_i3": (16, 4), "m7_i4": (20, 4),
    "m7_i5": (24, 4), "m7_p1": (28, 4), "m7_p2": (32, 4),
    "m9_l1": (8, 4), "m9_l2": (12, 4), "m9_l3": (16, 4), "m9_l4": (20, 4),
    "m9_l5": (24, 4), "m9_s1": (28, 2), "m9_s2": (30, 2), "m9_s3": (32, 2),
    "m9_s4": (34, 2),
    "m10_i1": (8, 4), "m10_i2": (12, 4), "m10_i3": (16, 4), "m10_i4": (20, 4),
    "m10_l1": (24, 4), "m10_l2": (28, 4), "m10_l3": (32, 4),
}


def loads(elf: ELFFile) -> list:
    return [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]


def segment_of(elf: ELFFile, vaddr: int):
    """The PT_LOAD whose memory holds vaddr."""
    found = [s for s in loads(elf) if s["p_vaddr"] <= vaddr < s["p_vaddr"] + s["p_memsz"]]
    assert len(found) == 1, f"{vaddr:#x} is in {len(found)} PT_LOADs"
    return found[0]


def read_vaddr(elf: ELFFile, vaddr: int, size: int) -> bytes:
    """File bytes behind [vaddr, vaddr + size) of an initialised segment."""
    seg = segment_of(elf, vaddr)
    assert vaddr + size <= seg["p_vaddr"] + seg["p_filesz"]
    elf.stream.seek(seg["p_offset"] + vaddr - seg["p_vaddr"])
    return elf.stream.read(size)


def symbol(elf: ELFFile, name: str):
    (sym,) = elf.get_section_by_name(".symtab").get_symbol_by_name(name)
    return sym


def test_every_program_is_built_and_committed() -> None:
    assert len(PROGRAMS) >= 15
    built = {p.name for p in BIN.iterdir()} - {"TOOLCHAIN"}
    assert built == set(PROGRAMS)


@pytest.mark.parametrize("name", PROGRAMS)
def test_program_is_a_static_i386_executable(name: str) -> None:
    with open(BIN / name, "rb") as f:
        elf = ELFFile(f)
        assert (elf.elfclass, elf.little_endian) == (32, True)
        assert elf["e_machine"] == "EM_386"
        assert elf["e_type"] == "ET_EXEC"
        assert elf["e_phentsize"] == 32
        # MINIX reads the program headers from the file's first 512 bytes.
        assert elf["e_phoff"] + 32 * elf["e_phnum"] <= 512
        types = {s["p_type"] for s in elf.iter_segments()}
        assert "PT_INTERP" not in types and "PT_DYNAMIC" not in types
        entry = segment_of(elf, elf["e_entry"])
        assert entry["p_flags"] & P_FLAGS.PF_X


@pytest.mark.parametrize("name", PROGRAMS)
def test_segments_are_separate_pages_with_honest_permissions(name: str) -> None:
    path = BIN / name
    with open(path, "rb") as f:
        elf = ELFFile(f)
        segs = loads(elf)
        pages = []
        for s in segs:
            assert s["p_filesz"] <= s["p_memsz"]
            assert s["p_offset"] + s["p_filesz"] <= path.stat().st_size
            assert s["p_vaddr"] % PAGE == s["p_offset"] % PAGE
            assert not (s["p_flags"] & P_FLAGS.PF_W and s["p_flags"] & P_FLAGS.PF_X)
            first = s["p_vaddr"] // PAGE
            last = (s["p_vaddr"] + s["p_memsz"] - 1) // PAGE
            pages.append((first, last))
            assert s["p_vaddr"] >= 0x08048000 and (last + 1) * PAGE <= STACK_BOTTOM
        pages.sort()
        assert all(a[1] < b[0] for a, b in pairwise(pages))
        for section, writable in ((".text", False), (".rodata", False),
                                  (".data", True), (".bss", True)):
            sec = elf.get_section_by_name(section)
            if sec is not None and sec["sh_size"] > 0:
                flags = segment_of(elf, sec["sh_addr"])["p_flags"]
                assert bool(flags & P_FLAGS.PF_W) == writable, section


def test_message_layout_is_minix_3_2() -> None:
    """sizes records the offsets as the library compiled them; compare them
    with the reference's table without running it."""
    with open(BIN / "sizes", "rb") as f:
        elf = ELFFile(f)
        size = symbol(elf, "message_size")
        assert struct.unpack("<I", read_vaddr(elf, size["st_value"], 4)) == (36,)
        table = symbol(elf, "message_fields")
        raw = read_vaddr(elf, table["st_value"], table["st_size"])
        layout = {}
        for name_ptr, offset, length in struct.iter_unpack("<III", raw):
            name = read_vaddr(elf, name_ptr, 16).split(b"\0")[0].decode()
            layout[name] = (offset, length)
    assert layout == MESSAGE_LAYOUT


def test_big_carries_a_mebibyte_in_the_file() -> None:
    with open(BIN / "big", "rb") as f:
        elf = ELFFile(f)
        assert max(s["p_filesz"] for s in loads(elf)) >= 1 << 20
    assert (BIN / "big").stat().st_size < (1 << 20) + 64 * 1024


def gcc_m32_reason(tmp: Path) -> str | None:
    """Why the programs cannot be rebuilt here, or None if they can."""
    if shutil.which("make") is None or shutil.which("gcc") is None:
        return "make or gcc is missing"
    src = tmp / "probe.c"
    src.write_text("void _start(void) { for (;;) ; }\n")
    probe = subprocess.run(
        ["gcc", "-m32", "-ffreestanding", "-nostdlib", "-static", "-no-pie",
         "-o", str(tmp / "probe"), str(src)], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"gcc -m32 does not link here: {probe.stderr.strip()[:200]}"
    return None


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    reason = gcc_m32_reason(tmp_path)
    if reason is not None:
        pytest.skip(reason)
    out, build = tmp_path / "bin", tmp_path / "build"
    subprocess.run(["make", "-s", "-C", str(USERLAND), f"OUT={out}", f"BUILD={build}"],
                   check=True, capture_output=True)
    toolchain = (out / "TOOLCHAIN").read_text()
    if toolchain != (BIN / "TOOLCHAIN").read_text():
        pytest.skip(f"the fixtures were built with another toolchain: {toolchain!r}")
    differ = [n for n in PROGRAMS if not filecmp.cmp(out / n, BIN / n, shallow=False)]
    assert differ == []
