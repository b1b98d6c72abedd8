"""A model of the file tree against VFS and MFS: a hypothesis state machine
opens, writes, reads, seeks, truncates, unlinks, makes directories and
renames through one process, checks every read against an in-memory
model, and at the end walks the whole tree, unmounts, and has
``fsck.minix -f`` check the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fsutil import errno_or_0
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from mfsimage import fsck
from remote import Remote

from minixvm import System
from minixvm.commands.mkfs import make_image
from minixvm.errors import EEXIST, EISDIR, ENOENT, ENOTEMPTY
from minixvm.include.vfs import O_CREAT, O_RDWR, S_IFDIR, S_IFMT, SEEK_SET
from minixvm.lib.c import Process

NAMES = st.sampled_from(["a", "b", "c", "d"])
# Far enough to need single and double indirect blocks of 1 KiB (7 + 256 KiB).
POSITIONS = st.one_of(st.integers(0, 9000), st.integers(260 << 10, 300 << 10))
DATA = st.binary(min_size=1, max_size=3000)


@dataclass(eq=False)
class Node:
    """A file in the model: its bytes."""

    data: bytearray = field(default_factory=bytearray)


class FileTree(RuleBasedStateMachine):
    """One process's calls on a fresh 1 KiB-block file system."""

    def __init__(self) -> None:
        super().__init__()
        self.image = make_image(4 << 20)
        self.system = System.boot(ram="32M", disk=self.image)
        self.proc = Remote.start(self.system)
        self.files: dict[str, Node] = {}
        self.dirs: set[str] = {"/t"}
        self.fds: dict[int, list[Any]] = {}  # fd -> [node, position]
        self.do(lambda p: p.mkdir("/t", 0o755))

    def do(self, fn: Any) -> Any:
        return self.proc.do(fn)

    def path(self, directory: str, name: str) -> str:
        return f"{directory}/{name}"

    @rule(name=NAMES, data=st.data())
    def open_file(self, name: str, data: st.DataObject) -> None:
        where = data.draw(st.sampled_from(sorted(self.dirs)))
        path = self.path(where, name)
        if path in self.dirs:
            assert errno_or_0(lambda: self.do(lambda p: p.open(path, O_RDWR | O_CREAT))) == EISDIR
            return
        fd = self.do(lambda p: p.open(path, O_RDWR | O_CREAT, 0o644))
        node = self.files.setdefault(path, Node())
        assert fd not in self.fds
        self.fds[fd] = [node, 0]

    @precondition(lambda self: self.fds)
    @rule(data=st.data(), chunk=DATA)
    def write(self, data: st.DataObject, chunk: bytes) -> None:
        fd = data.draw(st.sampled_from(sorted(self.fds)))
        node, pos = self.fds[fd]
        assert self.do(lambda p: p.write(chunk, fd)) == len(chunk)
        if pos > len(node.data):
            node.data.extend(bytes(pos - len(node.data)))
        node.data[pos : pos + len(chunk)] = chunk
        self.fds[fd][1] = pos + len(chunk)

    @precondition(lambda self: self.fds)
    @rule(data=st.data(), n=st.integers(0, 12000))
    def read(self, data: st.DataObject, n: int) -> None:
        fd = data.draw(st.sampled_from(sorted(self.fds)))
        node, pos = self.fds[fd]
        got = self.do(lambda p: p.read(fd, n))
        assert got == bytes(node.data[pos : pos + n])
        self.fds[fd][1] = pos + len(got)

    @precondition(lambda self: self.fds)
    @rule(data=st.data(), pos=POSITIONS)
    def lseek(self, data: st.DataObject, pos: int) -> None:
        fd = data.draw(st.sampled_from(sorted(self.fds)))
        assert self.do(lambda p: p.lseek(fd, pos, SEEK_SET)) == pos
        self.fds[fd][1] = pos

    @precondition(lambda self: self.fds)
    @rule(data=st.data(), length=POSITIONS)
    def ftruncate(self, data: st.DataObject, length: int) -> None:
        fd = data.draw(st.sampled_from(sorted(self.fds)))
        node = self.fds[fd][0]
        self.do(lambda p: p.ftruncate(fd, length))
        if length < len(node.data):
            del node.data[length:]
        else:
            node.data.extend(bytes(length - len(node.data)))

    @precondition(lambda self: self.fds)
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        fd = data.draw(st.sampled_from(sorted(self.fds)))
        self.do(lambda p: p.close(fd))
        del self.fds[fd]

    @precondition(lambda self: self.files)
    @rule(data=st.data())
    def unlink(self, data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(sorted(self.files)))
        self.do(lambda p: p.unlink(path))
        del self.files[path]  # an open descriptor keeps the node

    @rule(name=NAMES, data=st.data())
    def mkdir(self, name: str, data: st.DataObject) -> None:
        path = self.path(data.draw(st.sampled_from(sorted(self.dirs))), name)
        expected = EEXIST if path in self.dirs or path in self.files else 0
        assert errno_or_0(lambda: self.do(lambda p: p.mkdir(path, 0o755))) == expected
        if not expected:
            self.dirs.add(path)

    @precondition(lambda self: len(self.dirs) > 1)
    @rule(data=st.data())
    def rmdir(self, data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(sorted(self.dirs - {"/t"})))
        inside = [p for p in (*self.dirs, *self.files) if p.startswith(path + "/")]
        expected = ENOTEMPTY if inside else 0
        assert errno_or_0(lambda: self.do(lambda p: p.rmdir(path))) == expected
        if not inside:
            self.dirs.remove(path)

    @precondition(lambda self: self.files)
    @rule(data=st.data(), name=NAMES)
    def rename(self, data: st.DataObject, name: str) -> None:
        old = data.draw(st.sampled_from(sorted(self.files)))
        new = self.path(data.draw(st.sampled_from(sorted(self.dirs))), name)
        if new in self.dirs:
            assert errno_or_0(lambda: self.do(lambda p: p.rename(old, new))) == EISDIR
            return
        self.do(lambda p: p.rename(old, new))
        self.files[new] = self.files.pop(old)

    @invariant()
    def sizes_agree(self) -> None:
        for path, node in self.files.items():
            assert self.do(lambda p, path=path: p.stat(path).st_size) == len(node.data), path

    def teardown(self) -> None:
        try:
            for fd in list(self.fds):
                self.do(lambda p, fd=fd: p.close(fd))
            self.check_tree()
            Remote.exit_all(self.system)
            self.system.run_until_idle()
            self.system.vm_sanity_check()
        finally:
            self.system.close()
        rc, out = fsck(self.image)
        assert rc == 0, out

    def check_tree(self) -> None:
        """Every directory lists what the model holds; every file reads back."""
        def walk(p: Process) -> tuple[dict[str, bytes], set[str]]:
            files: dict[str, bytes] = {}
            dirs: set[str] = set()
            todo = ["/t"]
            while todo:
                d = todo.pop()
                dirs.add(d)
                for name in p.listdir(d):
                    if name in (".", ".."):
                        continue
                    path = f"{d}/{name}"
                    if p.lstat(path).st_mode & S_IFMT == S_IFDIR:
                        todo.append(path)
                    else:
                        fd = p.open(path)
                        files[path] = p.read(fd, 1 << 20)
                        p.close(fd)
            return files, dirs

        files, dirs = self.do(walk)
        assert dirs == self.dirs
        assert files == {path: bytes(node.data) for path, node in self.files.items()}
        assert errno_or_0(lambda: self.do(lambda p: p.stat("/t/none"))) == ENOENT


FileTree.TestCase.settings = settings(
    max_examples=40, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_file_tree = FileTree.TestCase

