"""``minixvm run``: an i386 program from the command line, with its output
and its exit status."""

from __future__ import annotations

from pathlib import Path

import pytest
from wild import wild

from minixvm import cli

BIN = Path(__file__).resolve().parent.parent / "userland" / "bin"


def test_run_a_built_in_program_prints_its_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "hello", "--ram", "32M"]) == 0
    assert capsys.readouterr().out == "hello, world\n"


def test_run_an_elf_file_with_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", str(BIN / "execprint"), "a", "b c"]) == 0
    out = capsys.readouterr().out
    assert 'execprint: argv[1] = "a"\n' in out and 'execprint: argv[2] = "b c"\n' in out


def test_run_exits_with_the_programs_status(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "test6", "--ram", "32M"]) == 0
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
