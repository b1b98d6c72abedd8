"""exec through libexec: the ELF checks, the load sequence, the initial
stack frame, and PM as the exec caller.

Every malformed-header class of reference A3 is refused with ENOEXEC
before the point of no return, and the process that tried keeps running
its old image; a failure after it kills the process (SIGKILL) and leaks
nothing.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from remote import Remote

from minixvm import MinixError, System
from minixvm.errors import (
    E2BIG,
    EFAULT,
    EINVAL,
    ENAMETOOLONG,
    ENOENT,
    ENOEXEC,
    ENOMEM,
    OK,
)
from minixvm.include.arch import VM_STACKTOP
from minixvm.include.com import PM_PROC_NR
from minixvm.include.pm import PATH_MAX, PM_EXEC
from minixvm.include.signal import SIGKILL
from minixvm.lib.c import Process
from minixvm.lib.elf import PF_R, PF_W, PF_X, ElfError, ElfImage, Segment, elf_unpack
from minixvm.lib.exec import (
    ARG_MAX,
    DEFAULT_STACK_LIMIT,
    ExecInfo,
    build_frame,
    libexec_load,
    libexec_patch_ptr,
)

BIN = Path(__file__).resolve().parents[1] / "userland" / "bin"
USER_TOP = VM_STACKTOP - DEFAULT_STACK_LIMIT
EHDR = struct.Struct("<16sHHIIIIIHHHHHH")
PHDR = struct.Struct("<IIIIIIII")
PT_LOAD, PT_INTERP = 1, 3
TEXT, DATA = 0x08048000, 0x0804A000


def tiny_elf(phdrs: list[tuple[int, ...]] | None = None, entry: int = TEXT + 0x100,
             **fields: Any) -> bytes:
    """A small valid i386 executable: text (R X, "jmp ." at its entry) and
    data+bss (R W) segments; ``fields`` override the ELF header's."""
    if phdrs is None:
        phdrs = [(PT_LOAD, 0, TEXT, TEXT, 0x102, 0x102, PF_R | PF_X, 0x1000),
                 (PT_LOAD, 0x200, DATA, DATA, 0x10, 0x3000, PF_R | PF_W, 0x1000)]
    hdr = {"ident": b"\x7fELF\x01\x01\x01" + bytes(9), "type": 2, "machine": 3, "version": 1,
           "entry": entry, "phoff": 52, "shoff": 0, "flags": 0, "ehsize": 52,
           "phentsize": 32, "phnum": len(phdrs), "shentsize": 0, "shnum": 0, "shstrndx": 0}
    hdr.update(fields)
    data = bytearray(0x210)
    EHDR.pack_into(data, 0, *hdr.values())
    for i, ph in enumerate(phdrs):
        PHDR.pack_into(data, 52 + 32 * i, *ph)
    data[0x100:0x102] = b"\xeb\xfe"
    data[0x200:0x210] = b"data segment\0\0\0\0"
    return bytes(data)


def text(**over: int) -> tuple[int, ...]:
    """The text PT_LOAD with some fields changed."""
    ph = dict(type=PT_LOAD, offset=0, vaddr=TEXT, paddr=TEXT, filesz=0x102, memsz=0x102,
              flags=PF_R | PF_X, align=0x1000)
    ph.update(over)
    return tuple(ph.values())


def data(**over: int) -> tuple[int, ...]:
    ph = dict(type=PT_LOAD, offset=0x200, vaddr=DATA, paddr=DATA, filesz=0x10, memsz=0x3000,
              flags=PF_R | PF_W, align=0x1000)
    ph.update(over)
    return tuple(ph.values())


def patched(image: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(image)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


# Each malformed-header class (A3): how to make it, and a word of the message.
BAD: dict[str, tuple[Callable[[], bytes], str]] = {
    "short": (lambda: tiny_elf()[:40], "shorter than an ELF header"),
    "magic": (lambda: b"\x7fELG" + tiny_elf()[4:], "magic"),
    "class64": (lambda: patched(tiny_elf(), 4, "B", 2), "ELFCLASS32"),
    "big-endian": (lambda: patched(tiny_elf(), 5, "B", 2), "little-endian"),
    "ei-version": (lambda: patched(tiny_elf(), 6, "B", 0), "EI_VERSION"),
    "e-version": (lambda: tiny_elf(version=0), "e_version"),
    "arm": (lambda: tiny_elf(machine=40), "EM_386"),
    "et-dyn": (lambda: tiny_elf(type=3), "ET_DYN"),
    "et-rel": (lambda: tiny_elf(type=1), "not an executable"),
    "phentsize": (lambda: tiny_elf(phentsize=56), "e_phentsize"),
    "no-phdrs": (lambda: tiny_elf(phnum=0), "no program headers"),
    "phoff-unaligned": (lambda: tiny_elf(phoff=54), "4-byte aligned"),
    "phdrs-past-file": (lambda: tiny_elf()[:100], "beyond the file"),
    "phdrs-past-512": (lambda: tiny_elf(phoff=0x1F0) + bytes(0x100), "512"),
    "interp": (lambda: tiny_elf([text(), data(), (PT_INTERP, 0x200, 0, 0, 4, 4, PF_R, 1)]),
               "PT_INTERP"),
    "filesz-over-memsz": (lambda: tiny_elf([text(), data(filesz=0x10, memsz=0x8)]),
                          "p_filesz"),
    "file-bytes-past-file": (lambda: tiny_elf([text(), data(filesz=0x100, memsz=0x3000)]),
                             "beyond the file"),
    "wrap": (lambda: tiny_elf([text(), data(vaddr=0xFFFFF000, memsz=0x2000)]), "wraps"),
    "low-vaddr": (lambda: tiny_elf([text(), data(vaddr=0x1000)]), "below the user area"),
    "into-stack": (lambda: tiny_elf([text(), data(vaddr=USER_TOP - 0x1000)]), "stack"),
    "overlap": (lambda: tiny_elf([text(), data(vaddr=TEXT + 0x80)]), "share a page"),
    "shared-page": (lambda: tiny_elf([text(), data(vaddr=TEXT + 0x200)]), "share a page"),
    "entry-outside": (lambda: tiny_elf(entry=0x09000000), "entry point"),
    "entry-not-executable": (lambda: tiny_elf(entry=DATA + 4), "entry point"),
}


@pytest.fixture
def remote(system: System) -> Iterator[Remote]:
    yield Remote.start(system)


def intact(remote: Remote) -> None:
    """The exec'ing process still runs its old image: it can ask and print."""
    assert remote.do(lambda p: p.getpid()) == remote.pid
    assert remote.do(lambda p: p.printf("still here\n")) == len("still here\n")


def exec_error(remote: Remote, path: str, argv: list[str] | None = None) -> int:
    """The errno of ``path``'s exec by ``remote``, which must fail."""
    def try_exec(p: Process) -> int:
        try:
            p.execve(path, argv or ["x"], [])
        except MinixError as e:
            return e.errno
    return int(remote.do(try_exec))


# -- the ELF reader ----------------------------------------------------------------------


def test_the_tiny_elf_is_valid() -> None:
    image = elf_unpack(tiny_elf(), USER_TOP)
    assert image == ElfImage(TEXT + 0x100, (Segment(TEXT, 0x102, 0, 0x102, PF_R | PF_X),
                                            Segment(DATA, 0x3000, 0x200, 0x10, PF_R | PF_W)))


@pytest.mark.parametrize("case", list(BAD))
def test_a_malformed_header_is_named(case: str) -> None:
    make, words = BAD[case]
    with pytest.raises(ElfError, match=re.escape(words)) as e:
        elf_unpack(make(), USER_TOP)
    assert e.value.errno == ENOEXEC


def test_garbage_is_enoexec() -> None:
    for junk in (b"", b"\x7fELF", bytes(100), b"\x7fELF\x01\x01\x01" + bytes(200)):
        with pytest.raises(ElfError):
            elf_unpack(junk, USER_TOP)


def built_programs() -> list[Path]:
    return sorted(p for p in BIN.glob("*") if p.read_bytes()[:4] == b"\x7fELF")


@pytest.mark.skipif(shutil.which("readelf") is None, reason="needs binutils' readelf")
@pytest.mark.parametrize("program", built_programs(), ids=lambda p: p.name)
def test_segments_are_what_readelf_says(program: Path) -> None:
    """Golden: every LOAD line of ``readelf -lW`` is a segment, and the entry matches."""
    out = subprocess.run(["readelf", "-lW", str(program)], capture_output=True, text=True,
                         check=True).stdout
    loads = [line.split() for line in out.splitlines() if line.split()[:1] == ["LOAD"]]
    flags = {"R": PF_R, "W": PF_W, "E": PF_X}
    expected = tuple(
        Segment(int(f[2], 16), int(f[5], 16), int(f[1], 16), int(f[4], 16),
                sum(flags[c] for c in "".join(f[6:-1])))
        for f in loads if int(f[5], 16) > 0)
    entry = int(re.search(r"Entry point (0x[0-9a-f]+)", out).group(1), 16)  # type: ignore[union-attr]
    assert elf_unpack(program.read_bytes(), USER_TOP) == ElfImage(entry, expected)


# -- libexec with fake callbacks ------------------------------------------------------------


def recording_info(calls: list[tuple[Any, ...]], fail_at: int = -1) -> ExecInfo:
    """An ExecInfo whose callbacks record each call; call ``fail_at`` fails."""
    def cb(name: str) -> Callable[..., int]:
        def record(info: ExecInfo, *args: int) -> int:
            calls.append((name, *args))
            return -ENOMEM if len(calls) - 1 == fail_at else OK
        return record

    return ExecInfo(proc_e=77, progname="p", frame=build_frame(["p"], []),
                    clearproc=cb("clearproc"), allocmem_prealloc=cb("prealloc"),
                    allocmem_ondemand=cb("ondemand"), copymem=cb("copymem"),
                    clearmem=cb("clearmem"), protect=cb("protect"))


EXPECTED_CALLS = [
    ("clearproc",),
    ("prealloc", TEXT, 0x1000),
    ("copymem", 0, TEXT, 0x102),
    ("clearmem", TEXT + 0x102, 0x1000 - 0x102),
    ("protect", TEXT, 0x1000),  # text has no PF_W
    ("prealloc", DATA, 0x1000),  # the page holding file bytes ...
    ("copymem", 0x200, DATA, 0x10),
    ("clearmem", DATA + 0x10, 0x1000 - 0x10),
    ("ondemand", DATA + 0x1000, 0x2000),  # ... and a demand-zero .bss after it
    ("ondemand", USER_TOP, DEFAULT_STACK_LIMIT),
]


def test_libexec_clears_then_loads_every_segment_then_the_stack() -> None:
    calls: list[tuple[Any, ...]] = []
    info = recording_info(calls)
    assert libexec_load(info, elf_unpack(tiny_elf(), USER_TOP)) == OK
    assert calls == EXPECTED_CALLS
    assert (info.pc, info.load_base, info.stack_high) == (TEXT + 0x100, TEXT, VM_STACKTOP)
    assert info.partial


def test_libexec_clears_below_an_unaligned_segment() -> None:
    calls: list[tuple[Any, ...]] = []
    image = ElfImage(TEXT, (Segment(TEXT + 0x10, 0x20, 0x10, 0x8, PF_R | PF_X),))
    assert libexec_load(recording_info(calls), image) == OK
    assert calls[1:5] == [("prealloc", TEXT, 0x1000), ("copymem", 0x10, TEXT + 0x10, 8),
                          ("clearmem", TEXT, 0x10), ("clearmem", TEXT + 0x18, 0x1000 - 0x18)]


@pytest.mark.parametrize("fail_at", range(len(EXPECTED_CALLS)))
def test_libexec_stops_at_the_first_failure(fail_at: int) -> None:
    calls: list[tuple[Any, ...]] = []
    info = recording_info(calls, fail_at)
    assert libexec_load(info, elf_unpack(tiny_elf(), USER_TOP)) == -ENOMEM
    assert calls == EXPECTED_CALLS[: fail_at + 1]
    assert info.partial  # past clearproc: the caller must kill the process


def test_a_bad_frame_fails_before_the_point_of_no_return() -> None:
    calls: list[tuple[Any, ...]] = []
    info = recording_info(calls)
    info.frame = bytes(ARG_MAX + 4)
    assert libexec_load(info, elf_unpack(tiny_elf(), USER_TOP)) == -E2BIG
    assert calls == [] and not info.partial


# -- the initial stack frame ------------------------------------------------------------------


def test_the_frame_is_laid_out_as_libc_does() -> None:
    frame = build_frame(["ls", "-l"], ["A=1"])
    assert struct.unpack_from("<6I", frame) == (2, 24, 27, 0, 30, 0)
    assert frame[24:] == b"ls\0-l\0A=1\0\0\0"
    assert build_frame([], []) == bytes(12)


def read_vector(frame: bytes, vsp: int, index: int) -> tuple[list[str], int]:
    """The strings of the NULL-ended vector at word ``index`` of a patched frame."""
    out = []
    while (addr := struct.unpack_from("<I", frame, 4 * index)[0]) != 0:
        start = addr - vsp
        out.append(frame[start : frame.index(0, start)].decode())
        index += 1
    return out, index + 1


def test_frame_patch_round_trips() -> None:
    argv, envp = ["execprint", "one", "two"], ["FOO=bar", "X="]
    frame = build_frame(argv, envp)
    vsp = VM_STACKTOP - len(frame)
    r, patched_frame = libexec_patch_ptr(frame, vsp)
    assert r == OK and len(patched_frame) == len(frame)
    assert struct.unpack_from("<I", patched_frame)[0] == len(argv)
    got_argv, next_index = read_vector(patched_frame, vsp, 1)
    got_envp, _ = read_vector(patched_frame, vsp, next_index)
    assert (got_argv, got_envp) == (argv, envp)


@pytest.mark.parametrize(("frame", "error"), [
    (bytes(ARG_MAX + 4), -E2BIG),
    (bytes(8), -EINVAL),  # no room for argc and two NULLs
    (bytes(13), -EINVAL),  # not whole words
    (struct.pack("<4I", 1, 400, 0, 0), -EINVAL),  # an offset outside the frame
    (struct.pack("<4I", 2, 12, 0, 0), -EINVAL),  # argc says 2, argv has 1
    (struct.pack("<4I", 0, 0, 12, 12), -EINVAL),  # no second NULL
], ids=["too-big", "too-small", "unaligned", "offset-outside", "argc-wrong", "one-null"])
def test_a_malformed_frame_is_refused(frame: bytes, error: int) -> None:
    assert libexec_patch_ptr(frame, 0x7FFF0000)[0] == error


def test_an_argument_with_a_nul_is_einval() -> None:
    with pytest.raises(MinixError) as e:
        build_frame(["a\0b"], [])
    assert e.value.errno == EINVAL


# -- PM as the exec caller ----------------------------------------------------------------------


@pytest.mark.parametrize("case", list(BAD))
def test_enoexec_leaves_the_process_running(system: System, remote: Remote, case: str) -> None:
    system.install("/bin/bad", BAD[case][0]())
    assert exec_error(remote, "/bin/bad") == ENOEXEC
    intact(remote)


def test_an_unknown_path_is_enoent(remote: Remote) -> None:
    assert exec_error(remote, "/bin/no-such-program") == ENOENT
    assert exec_error(remote, "") == ENOENT
    intact(remote)


def raw_exec(remote: Remote, **fields: int) -> int:
    """EXEC with these fields, from a process with a good path and frame
    in a mapping of its own (``path`` and ``frame`` are offsets into it)."""
    def call(p: Process) -> int:
        buf = p.mmap(4096)
        p.mem[buf : buf + 8] = b"/bin/ok\0"
        p.mem[buf + 8 : buf + 20] = build_frame([], [])
        req = {"path_len": 8, "frame_len": 12, "path": 0, "frame": 8} | fields
        req["path"] += buf if "path" not in fields else 0
        req["frame"] += buf + 8 if "frame" not in fields else 0
        return int(p.sys.taskcall(PM_PROC_NR, PM_EXEC, **req).m_type)
    return int(remote.do(call))


@pytest.mark.parametrize(("fields", "error"), [
    ({"path_len": 0}, -EINVAL),
    ({"path_len": PATH_MAX + 1}, -ENAMETOOLONG),
    ({"frame_len": 0}, -EINVAL),
    ({"frame_len": ARG_MAX + 1}, -E2BIG),
    ({"path": 0}, -EFAULT),
    ({"path": 0x7F000000}, -EFAULT),
    ({"frame": 0x7F000000}, -EFAULT),
    ({"path_len": 4}, -EINVAL),  # the path's NUL is not where its length says
    ({"frame_len": 8}, -EINVAL),
], ids=["no-path", "path-too-long", "no-frame", "frame-too-big", "path-null", "path-unmapped",
        "frame-unmapped", "path-unterminated", "frame-short"])
def test_malformed_exec_requests_get_errors(system: System, remote: Remote,
                                            fields: dict[str, int], error: int) -> None:
    system.install("/bin/ok", tiny_elf())
    assert raw_exec(remote, **fields) == error
    intact(remote)


def huge_bss_elf() -> bytes:
    """Valid, but a read-only segment (preallocated whole, unlike a writable
    segment's .bss) larger than any RAM: the load fails after the point of
    no return."""
    return tiny_elf([text(), data(memsz=USER_TOP - DATA - 0x1000, flags=PF_R)])


def test_a_failure_after_the_point_of_no_return_kills_and_leaks_nothing(
        system: System) -> None:
    system.install("/bin/huge", huge_bss_elf())

    def huge(p: Process) -> int:
        p.execve("/bin/huge", ["huge"], [])

    assert system.run(huge) == -SIGKILL  # PM's first exec of it sets up its buffers
    system.run_until_idle()
    before = system.statistics().frames_free
    assert system.run(huge) == -SIGKILL
    system.run_until_idle()
    assert system.statistics().frames_free == before


def test_a_python_program_execs_another_by_path(system: System) -> None:
    first = system.spawn(lambda p: 42, name="answer")
    assert system.wait(first) == 42

    def caller(p: Process) -> int:
        pid = p.getpid()
        p.execve(first.request.path, ["answer"], [])
        return pid  # not reached

    assert system.run(caller, name="caller") == 42


def test_system_exec_refuses_a_bad_file_at_once(system: System) -> None:
    with pytest.raises(ElfError, match="EM_386"):
        system.exec(tiny_elf(machine=40))


def test_install_wants_an_absolute_path(system: System) -> None:
    with pytest.raises(ValueError):
        system.install("bin/x", tiny_elf())
    with pytest.raises(ValueError):
        system.install("/" + "x" * PATH_MAX, tiny_elf())


# -- running ELF programs (they need the CPU) -------------------------------------------------

needs_programs = pytest.mark.skipif(not (BIN / "hello").exists(), reason="userland not built")


def test_the_tiny_elf_runs_until_killed(system: System) -> None:
    """It loads and spins on the CPU ("jmp ."), preempted like any program."""
    handle = system.spawn_exec(tiny_elf(), name="spin")
    system.kernel.sched.run(lambda: any(p.name == "spin" for p in system.kernel.procs.live()))
    system.run(lambda p: p.kill(handle.pid, SIGKILL))
    assert system.wait(handle) == -SIGKILL


@needs_programs
@pytest.mark.parametrize("copies", [1, 2])
def test_hello_runs_through_either_exec_path(copies: int) -> None:
    with System.boot(ram="32M", sanity_checks=True, exec_copies=copies) as system:
        assert system.exec(BIN / "hello") == 0
        assert "hello, world" in system.console.text


@needs_programs
def test_a_python_program_execs_an_elf_with_arguments(system: System) -> None:
    system.install("/bin/execprint", (BIN / "execprint").read_bytes())

    def chain(p: Process) -> int:
        p.execve("/bin/execprint", ["execprint", "one", "two"], ["FOO=bar"])

    assert system.run(chain) == 0
    lines = [line for line in system.console.text.splitlines() if line.startswith("execprint")]
    assert lines == ["execprint: argc = 3", 'execprint: argv[0] = "execprint"',
                     'execprint: argv[1] = "one"', 'execprint: argv[2] = "two"',
                     'execprint: envp[0] = "FOO=bar"']
