"""The i386 file programs of userland/ (cat, ls, cp, statsizes, statcmp,
test10) on a MINIX file system: what they print, and that their C library
sends what VFS answers (struct stat's layouts, directory records, exec of
freshly written files).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fsutil import booted, run

from minixvm import MinixError, System
from minixvm.errors import ENOENT
from minixvm.include.stat import (
    PREV_STAT_LAYOUT,
    PREV_STAT_OFFSETS,
    STAT_LAYOUT,
    STAT_OFFSETS,
    Stat,
)
from minixvm.include.vfs import O_CREAT, O_WRONLY, S_IFLNK, S_IFMT
from minixvm.lib.c import Process

BIN = Path(__file__).resolve().parent.parent / "userland" / "bin"
PROGRAMS = ("cat", "cp", "hello", "ls", "statcmp", "test10")
MOTD = b"Welcome to minixvm.\nA second line.\n"
# The fields both struct stat layouts have, in minix_prev_stat's order.
PREV_FIELDS = ("st_dev", "st_ino", "st_mode", "st_nlink", "st_uid", "st_gid", "st_rdev",
               "st_size", "st_atime", "st_mtime", "st_ctime")


@pytest.fixture
def system() -> Iterator[System]:
    files = {f"/bin/{name}": (BIN / name).read_bytes() for name in PROGRAMS}
    files["/etc/motd"] = MOTD
    yield from booted(8 << 20, files)


def execute(system: System, path: str, *args: str) -> tuple[int, str]:
    """Run the program at ``path`` with ``args``: its exit code and output."""
    before = len(system.console.text)
    code = system.run(lambda p: p.execve(path, [path.rsplit("/", 1)[-1], *args]))
    return code, system.console.text[before:]


# -- cat, cp --------------------------------------------------------------------------


def test_cat_copies_files_to_standard_output(system: System) -> None:
    assert execute(system, "/bin/cat", "/etc/motd") == (0, MOTD.decode())
    assert execute(system, "/bin/cat", "/etc/motd", "/etc/motd") == (0, 2 * MOTD.decode())


def test_cat_of_standard_input_reads_the_console_to_its_end(system: System) -> None:
    assert execute(system, "/bin/cat") == (0, "")


def test_cat_reports_a_missing_file_and_goes_on(system: System) -> None:
    code, out = execute(system, "/bin/cat", "/missing", "/etc/motd")
    assert (code, out) == (1, f"cat: /missing: errno {ENOENT}\n" + MOTD.decode())


def test_cp_copies_bytes_and_permissions_and_the_copy_runs(system: System) -> None:
    assert execute(system, "/bin/cp", "/bin/hello", "/hello2") == (0, "")

    def read_back(p: Process) -> tuple[bytes, int, int]:
        fd = p.open("/hello2")
        data = p.read(fd, 1 << 20)
        p.close(fd)
        return data, p.stat("/hello2").st_mode, p.stat("/bin/hello").st_mode

    data, mode, original_mode = run(system, read_back)
    assert data == (BIN / "hello").read_bytes()
    assert mode == original_mode
    assert execute(system, "/hello2") == (0, "hello, world\n")


def test_cp_of_a_missing_file_fails(system: System) -> None:
    assert execute(system, "/bin/cp", "/missing", "/x") == (1, f"cp: /missing: errno {ENOENT}\n")


# -- ls -------------------------------------------------------------------------------


def mode_string(mode: int) -> str:
    kind = {0o040000: "d", 0o120000: "l", 0o020000: "c", 0o060000: "b",
            0o010000: "p"}.get(mode & S_IFMT, "-")
    return kind + "".join(c if mode & (0o400 >> i) else "-" for i, c in enumerate("rwx" * 3))


def make_tree(p: Process) -> dict[str, Stat]:
    """/d with a file, a symbolic link to it and a directory; their lstat."""
    p.mkdir("/d", 0o755)
    fd = p.open("/d/a", O_WRONLY | O_CREAT, 0o644)
    p.write(b"12345", fd)
    p.close(fd)
    p.symlink("a", "/d/l")
    p.mkdir("/d/sub", 0o700)
    return {name: p.lstat(f"/d/{name}") for name in ("a", "l", "sub")}


def test_ls_l_shows_mode_links_size_and_link_targets(system: System) -> None:
    st = run(system, make_tree)
    code, out = execute(system, "/bin/ls", "-l", "/d")
    assert code == 0
    lines = out.splitlines()
    assert lines == [
        f"{mode_string(st['a'].st_mode)} {st['a'].st_nlink:2} {5:6} a",
        f"{mode_string(st['l'].st_mode)} {st['l'].st_nlink:2} {1:6} l -> a",
        f"{mode_string(st['sub'].st_mode)} {2:2} {st['sub'].st_size:6} sub",
    ]
    assert lines[0].startswith("-rw-r--r--  1 ")
    assert lines[1].startswith("l") and lines[2].startswith("drwx------  2 ")


def test_ls_names_hides_dot_files_unless_asked(system: System) -> None:
    run(system, make_tree)
    assert execute(system, "/bin/ls", "/d") == (0, "a\nl\nsub\n")
    assert execute(system, "/bin/ls", "-a", "/d") == (0, ".\n..\na\nl\nsub\n")


def test_ls_of_a_missing_path_fails(system: System) -> None:
    assert execute(system, "/bin/ls", "-l", "/missing") == (1, f"ls: /missing: errno {ENOENT}\n")


# -- struct stat ----------------------------------------------------------------------


def test_statsizes_matches_the_reference_layouts() -> None:
    with System.boot(ram="32M") as system:
        before = len(system.console.text)
        assert system.exec(BIN / "statsizes") == 0
        out = system.console.text[before:]
    printed = {name: int(value)
               for name, value in (line.rsplit(" ", 1) for line in out.splitlines())}
    want = {"sizeof(struct stat)": STAT_LAYOUT.size,
            "sizeof(struct minix_prev_stat)": PREV_STAT_LAYOUT.size}
    want |= {f"stat.{field}": offset for field, offset in STAT_OFFSETS.items()}
    want |= {f"minix_prev_stat.{field}": offset for field, offset in PREV_STAT_OFFSETS.items()}
    assert printed == want


def statcmp(system: System, path: str) -> dict[str, bytes]:
    """statcmp's six results for ``path``, by call."""
    code, out = execute(system, "/bin/statcmp", path)
    assert code == 0, out
    results = dict(line.split(" ", 1) for line in out.splitlines())
    assert "errno" not in out, out
    return {call: bytes.fromhex(value) for call, value in results.items()}


def shared_fields(new: bytes, old: bytes) -> tuple[tuple[int, ...], tuple[int, ...]]:
    st = Stat.unpack(new)
    return (tuple(getattr(st, name) for name in PREV_FIELDS), PREV_STAT_LAYOUT.unpack(old))


@pytest.mark.parametrize("path", ["/bin/hello", "/etc", "/", "/dev/null", "/d/l"])
def test_statcmp_old_and_new_stat_agree_on_every_shared_field(system: System,
                                                              path: str) -> None:
    run(system, make_tree)
    results = statcmp(system, path)
    assert len(results["stat"]) == STAT_LAYOUT.size
    assert len(results["prev_stat"]) == PREV_STAT_LAYOUT.size
    for new, old in (("stat", "prev_stat"), ("lstat", "prev_lstat"), ("fstat", "prev_fstat")):
        ours, theirs = shared_fields(results[new], results[old])
        assert ours == theirs, new
    assert results["stat"] == results["fstat"]
    assert Stat.unpack(results["stat"]) == run(system, lambda p: p.stat(path))
    assert Stat.unpack(results["lstat"]) == run(system, lambda p: p.lstat(path))


def test_statcmp_sees_a_symbolic_link_only_through_lstat(system: System) -> None:
    run(system, make_tree)
    results = statcmp(system, "/d/l")
    assert Stat.unpack(results["lstat"]).st_mode & S_IFMT == S_IFLNK
    assert Stat.unpack(results["stat"]) == run(system, lambda p: p.stat("/d/a"))


# -- exec of files written through the file system ------------------------------------


def test10_writes_copies_of_a_program_and_execs_them(system: System) -> None:
    code, out = execute(system, "/bin/test10")
    assert code == 0, out[-2000:]
    assert out.endswith("Test 10 ok\n")
    assert out.count("hello, world\n") == 4 * 9

    def directory_gone(p: Process) -> int | None:
        with pytest.raises(MinixError) as e:
            p.stat("/DIR_10")
        return e.value.errno

    assert run(system, directory_gone) == ENOENT
