"""``minixvm run``: an i386 program from the command line, with its output
and its exit status."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from wild import wild

from minixvm import cli

BIN = Path(__file__).resolve().parent.parent / "userland" / "bin"


def test_run_a_built_in_program_prints_its_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--ram", "32M", "hello"]) == 0
    assert capsys.readouterr().out == "hello, world\n"


def test_run_an_elf_file_with_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", str(BIN / "execprint"), "a", "b c"]) == 0
    out = capsys.readouterr().out
    assert 'execprint: argv[1] = "a"\n' in out and 'execprint: argv[2] = "b c"\n' in out


def test_run_exits_with_the_programs_status(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--ram", "32M", "test6"]) == 0
    (tmp_path / "wild").write_bytes(wild(BIN / "hello"))
    assert cli.main(["run", str(tmp_path / "wild")]) == 128 + 11  # SIGSEGV, as a shell says
    capsys.readouterr()
    not_elf = tmp_path / "not-elf"
    not_elf.write_bytes(b"#!/bin/sh\n")
    assert cli.main(["run", str(not_elf)]) == 2
    out = capsys.readouterr().out
    assert "minixvm:" in out and "Traceback" not in out


def test_run_of_a_missing_program_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "no-such-program"]) == 2
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "no such file or built-in program" in out


def test_boot_demo_runs_compiled_programs(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["boot", "--ram", "32M"]) == 0
    out = capsys.readouterr().out
    assert "cow ok" in out and "segv ok" in out


def test_a_disk_made_by_mkfs_boots_and_runs_its_programs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """mkfs --from a directory, run a program stored in the image with its
    arguments (ls -l, which uses lstat and getdents), boot from it; the
    image is left clean (fsck.minix, where util-linux has it)."""
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    shutil.copy(BIN / "ls", tree / "bin" / "ls")
    (tree / "notes.txt").write_text("minixvm\n")
    image = tmp_path / "disk.img"
    assert cli.main(["mkfs", str(image), "4M", "--from", str(tree)]) == 0
    assert cli.main(["run", "--disk", str(image), "/bin/ls", "-l", "/"]) == 0
    out = capsys.readouterr().out
    assert "notes.txt" in out and "bin" in out and "dev" in out
    assert cli.main(["boot", "--ram", "32M", "--disk", str(image)]) == 0
    capsys.readouterr()
    assert cli.main(["run", "--disk", str(image), "/bin/none"]) == 127
    assert "cannot exec /bin/none: ENOENT" in capsys.readouterr().out
    fsck = shutil.which("fsck.minix")
    if fsck is not None:
        result = subprocess.run([fsck, "-f", str(image)], capture_output=True, check=False)
        assert result.returncode == 0, result.stdout


def test_a_missing_disk_image_is_one_clear_line(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["boot", "--disk", str(tmp_path / "none.img")]) == 2
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "none.img" in out and "Traceback" not in out
