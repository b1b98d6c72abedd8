"""Bad input to any verb (a missing file, an unknown pid, a malformed ELF,
a bad size, a bad step) is one clear line on stderr and exit status 2,
never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from minixvm import cli

MISSING = "{tmp}/no-such-file"
NOT_ELF = "{tmp}/not-elf"
NOT_RECORD = "{tmp}/not-a-recording"
BAD_JSON = "{tmp}/bad-events"

CASES = {
    "run: missing program": (["run", "no-such-program"], "no such file or built-in program"),
    "run: malformed ELF": (["run", NOT_ELF], "ENOEXEC"),
    "run: bad size": (["run", "--ram", "12Q", "hello"], "bad size '12Q'"),
    "run: missing disk": (["run", "--disk", MISSING, "/bin/ls"], "no such disk image"),
    "boot: bad size": (["boot", "--ram", "12Q"], "bad size '12Q'"),
    "boot: size out of range": (["boot", "--ram", "8M"], "out of range"),
    "ps: bad step": (["ps", "--run", "cow", "--at", "fault:x"], "bad step 'fault:x'"),
    "ps: unknown kind": (["ps", "--run", "cow", "--at", "faults:1"], "bad step 'faults:1'"),
    "ps: step past the end": (["ps", "--run", "cow", "--at", "fault:1000"],
                              "before fault:1000"),
    "ps: missing program": (["ps", "--run", "no-such-program"], "no such file"),
    "ps: malformed ELF": (["ps", "--run", NOT_ELF], "ENOEXEC"),
    "ps: missing recording": (["ps", "--from-record", MISSING], "No such file"),
    "maps: unknown pid": (["maps", "--run", "cow", "999"], "no process 999"),
    "maps: unknown pid at a step": (["maps", "--run", "cow", "--at", "10", "999"],
                                    "no process 999"),
    "maps: bad pid": (["maps", "seven"], "invalid int value: 'seven'"),
    "maps: bad size": (["maps", "--ram", "12Q", "1"], "bad size '12Q'"),
    "phys: not a recording": (["phys", "--from-record", NOT_RECORD], "not a minixvm recording"),
    "phys: step 0": (["phys", "--at", "0"], "bad step '0'"),
    "phys: bad picture name": (["phys", "--run", "cow", "--png", "{tmp}/map.gif"],
                               "must end in .png or .svg"),
    "trace: missing recording": (["trace", MISSING], "No such file"),
    "trace: unknown kind": (["trace", NOT_RECORD, "--kind", "fault,bogus"],
                            "no event kind bogus"),
    "trace: bad step": (["trace", NOT_RECORD, "--from", "x"], "bad number 'x'"),
    "trace: bad pattern": (["trace", NOT_RECORD, "--grep", "("], "bad regular expression"),
    "trace: bad events": (["trace", BAD_JSON], "not an event (bad JSON)"),
    "replay: missing recording": (["replay", MISSING], "No such file"),
    "replay: not a recording": (["replay", NOT_RECORD], "not a minixvm recording"),
    "bench: no such benchmark": (["bench", "no-such-benchmark"], "no benchmark matches"),
    "mkfs: bad size": (["mkfs", "{tmp}/disk.img", "12Q"], "bad size '12Q'"),
    "mkfs: no size": (["mkfs", "{tmp}/disk.img"], "the following arguments are required: size"),
    "report: bad step": (["report", "-o", "{tmp}/r.html", "--at", "cow:"], "bad step 'cow:'"),
    "services: unknown label": (["services", "--run", "cow", "--kill", "nosuch"],
                                "nosuch: no such service"),
    "services: a boot process": (["services", "--restart", "pm"], "a boot process"),
    "services: bad --up": (["services", "--up", "noequals"], "LABEL=ELF expected"),
    "services: malformed ELF": (["services", "--up", "x=" + NOT_ELF], "ENOEXEC"),
    "no such verb": (["frobnicate"], "invalid choice: 'frobnicate'"),
}


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    (tmp_path / "not-elf").write_bytes(b"#!/bin/sh\necho hi\n")
    (tmp_path / "not-a-recording").write_text("hello\n")
    (tmp_path / "bad-events").write_text(
        '{"kind": "header", "version": 1, "workload": {"verb": "boot"}, "ram": "32M"}\n{oops\n')
    return tmp_path


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_and_status_2(case: str, tmp: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    words, says = CASES[case]
    assert cli.main([w.format(tmp=tmp) for w in words]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("minixvm"), err
    assert says in err and "Traceback" not in err
