"""Exec of programs stored in the file system: VFS as libexec's caller.

The program is looked up, checked (a regular file, executable, an ELF
header lib/elf.py accepts) and loaded by the FS straight into the new
image, or, with ``exec_copies=2``, through a VFS buffer. Every failure
before the point of no return leaves the caller running its old program.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fsutil import booted, errno_of, fresh_system, run_files
from vfscalls import Files

from minixvm import System
from minixvm.errors import EACCES, ENOENT, ENOEXEC, ENOTDIR
from minixvm.include.arch import VM_STACKTOP
from minixvm.include.vfs import F_SETFD, FD_CLOEXEC, O_CREAT, O_RDWR
from minixvm.lib.c import Process
from minixvm.lib.elf import elf_unpack
from minixvm.lib.exec import DEFAULT_STACK_LIMIT

BIN = Path(__file__).resolve().parents[1] / "userland" / "bin"
HELLO = (BIN / "hello").read_bytes()


def boot(**options: Any) -> System:
    return fresh_system(files={"/bin/hello": HELLO}, **options)


@pytest.fixture
def system() -> Iterator[System]:
    yield from booted(files={"/bin/hello": HELLO})


def exec_error(f: Files, path: str) -> int:
    return errno_of(lambda: f.p.execve(path, [path]))


def test_a_program_in_the_image_runs(system: System) -> None:
    assert system.run(lambda p: p.execve("/bin/hello", ["hello"])) == 0
    assert "hello, world\n" in system.console.text


def test_a_program_written_through_the_fs_runs(system: System) -> None:
    def install(f: Files) -> None:
        f.write_file("/bin/copy", HELLO, 0o755)

    run_files(system, install)
    assert system.run(lambda p: p.execve("/bin/copy", ["copy"])) == 0
    assert system.console.text.count("hello, world\n") == 1


@pytest.mark.parametrize(("setup", "path", "errno"), [
    (lambda f: f.write_file("/text", b"#!/bin/sh\necho not elf\n", 0o755), "/text", ENOEXEC),
    (lambda f: f.write_file("/short", HELLO[:40], 0o755), "/short", ENOEXEC),
    (lambda f: f.write_file("/noexec", HELLO, 0o644), "/noexec", EACCES),
    (lambda f: f.mkdir("/adir"), "/adir", ENOEXEC),
    (lambda f: None, "/dev/null", ENOEXEC),
    (lambda f: None, "/missing", ENOENT),
    (lambda f: f.write_file("/file", b""), "/file/x", ENOTDIR),
])
def test_refused_exec_leaves_the_caller_running(system: System, setup: Callable[[Files], Any],
                                                path: str, errno: int) -> None:
    def body(f: Files) -> tuple[int, bytes]:
        setup(f)
        r = exec_error(f, path)
        # The old image still works: its memory and its descriptors.
        f.write_file("/after", b"alive")
        return r, f.read_file("/after")

    assert run_files(system, body) == (errno, b"alive")


def test_close_on_exec(system: System) -> None:
    """hello writes to descriptor 1: the file dup2'ed there gets its output,
    unless 1 is close-on-exec (then the write fails and hello returns 1)."""

    def redirect(cloexec: bool) -> Callable[[Process], int]:
        def program(p: Process) -> int:
            f = Files(p)
            fd = f.open(f"/out{int(cloexec)}", O_RDWR | O_CREAT, 0o644)
            f.dup2(fd, 1)
            if cloexec:
                f.fcntl(1, F_SETFD, FD_CLOEXEC)
            p.execve("/bin/hello", ["hello"])

        return program

    assert system.run(redirect(False)) == 0
    assert system.run(redirect(True)) == 1
    assert run_files(system, lambda f: (f.read_file("/out0"), f.read_file("/out1"))) == (
        b"hello, world\n", b"")
    assert "hello, world" not in system.console.text


def vircopied_by_vfs(lines: list[str]) -> int:
    """The bytes VFS copied with SYS_VIRCOPY, from the trace."""
    total = 0
    for line in lines:
        if re.match(r"kcall +vfs\(", line) and " SYS_VIRCOPY " in line:
            m = re.search(r" bytes=(0x[0-9a-f]+|\d+)", line)
            assert m is not None
            total += int(m.group(1), 0)
    return total


@pytest.mark.parametrize("copies", [1, 2])
def test_one_copy_and_two_copy_exec(copies: int) -> None:
    """Both paths load the program; the old one copies every file byte of
    its segments once more, through VFS."""
    lines: list[str] = []
    with boot(exec_copies=copies, trace=True, trace_sink=lines.append) as system:
        lines.clear()
        assert system.run(lambda p: p.execve("/bin/hello", ["hello"])) == 0
        assert "hello, world\n" in system.console.text
    image = elf_unpack(HELLO, VM_STACKTOP - DEFAULT_STACK_LIMIT)
    file_bytes = sum(seg.filesz for seg in image.segments)
    copied = vircopied_by_vfs(lines)
    # VFS copies the frame in and out in both cases (less than a page).
    if copies == 1:
        assert copied < 4096
    else:
        assert file_bytes <= copied < file_bytes + 4096
