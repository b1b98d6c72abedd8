"""Fuzz: 10,000 mutated ELF headers exec'ed through PM and refused.

Each case is a real program with its header (the ELF header and the
program header table) mutated by seeded bit flips or field edits; cases
are made until 10,000 of them are refused (a batch: ``make fuzz`` sets
MINIXVM_FUZZ_ELF_CASES for the long run, in batches of 10,000, each on a
machine of its own). The run comes from MINIXVM_FUZZ_SEED (printed).
One long-lived Python process execs every case PM must refuse: it must
get ENOEXEC and go on running, and no server may crash (a server's crash
is a KernelPanic at the next call). The mutations that pass
the checks are loadable programs: a sample of them is run on the CPU, in a
process of its own, and killed if it does not end. At the end no frame has
leaked and VM's invariants hold.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import struct
from pathlib import Path

import pytest
from campaign import count
from test_exec import tiny_elf

from minixvm import MinixError, System
from minixvm.errors import ENOEXEC
from minixvm.include.arch import VM_STACKTOP
from minixvm.include.com import PM_PROC_NR
from minixvm.include.pm import PM_EXEC
from minixvm.include.signal import SIGKILL
from minixvm.include.vfs import O_CREAT, O_TRUNC, O_WRONLY
from minixvm.lib.c import Process
from minixvm.lib.elf import ElfError, elf_unpack
from minixvm.lib.exec import DEFAULT_STACK_LIMIT, build_frame

SEED = int(os.environ.get("MINIXVM_FUZZ_SEED", "9"))
CASES = int(os.environ.get("MINIXVM_FUZZ_ELF_CASES", "10000"))  # refused ones
BATCH = 10_000  # refused cases per test, on one machine
HEADERS = 512  # the bytes a mutation may change (the ELF header and program headers)
RUN_AT_MOST = 300  # loadable mutants run on the CPU (each is a whole program run)
STEPS = 3_000  # scheduler steps a mutant may take before it is killed
HELLO = Path(__file__).resolve().parents[1] / "userland" / "bin" / "hello"
USER_TOP = VM_STACKTOP - DEFAULT_STACK_LIMIT
# Words of the header worth setting to edge values: the ELF header's
# fields, then the first program headers' (offset, size).
FIELDS = [(16, 2), (18, 2), (20, 4), (24, 4), (28, 4), (42, 2), (44, 2), (4, 1), (5, 1), (6, 1),
          *((52 + 32 * i + o, 4) for i in range(4) for o in range(0, 32, 4))]
EDGES = [0, 1, 2, 3, 4, 0x1F, 0x20, 0x34, 0x200, 0x1000, 0x08048000, 0x7C000000, 0x7FFFF000,
         0x80000000, 0xFFFFF000, 0xFFFFFFFF]


def original() -> bytes:
    return HELLO.read_bytes() if HELLO.exists() else tiny_elf()


def mutate(rng: random.Random, image: bytes) -> bytes:
    """``image`` with its headers bit-flipped or a header field edited."""
    out = bytearray(image)
    phoff, phnum = struct.unpack_from("<I", image, 28)[0], struct.unpack_from("<H", image, 44)[0]
    if rng.random() < 0.5:
        for _ in range(rng.randint(1, 4)):
            bit = rng.randrange((phoff + 32 * phnum) * 8)
            out[bit // 8] ^= 1 << bit % 8
    else:
        offset, size = rng.choice(FIELDS)
        value = rng.choice(EDGES) if rng.random() < 0.7 else rng.getrandbits(32)
        value %= 1 << 8 * size
        out[offset : offset + size] = value.to_bytes(size, "little")
    return bytes(out)


def loadable(image: bytes) -> bool:
    try:
        elf_unpack(image, USER_TOP)
    except ElfError:
        return False
    return True


def refused(system: System, base: bytes, cases: list[bytes]) -> int:
    """Exec every case from one Python process; each must be ENOEXEC, and
    the process must still run. The number refused. A case differs from
    ``base`` only in its headers, its first HEADERS bytes (all a case
    holds), so only those are rewritten in the file."""
    def fuzzer(p: Process) -> int:
        buf = p.mmap(4096)
        path, frame = b"/bin/fuzz\0", build_frame(["fuzz"], ["FUZZ=1"])
        p.mem[buf : buf + len(path)] = path
        p.mem[buf + 64 : buf + 64 + len(frame)] = frame
        pid = p.getpid()
        fd = p.open("/bin/fuzz", O_WRONLY | O_CREAT | O_TRUNC, 0o755)
        p.write(base, fd)
        for header in cases:
            assert len(header) == HEADERS
            p.lseek(fd, 0)
            p.write(header, fd)
            r = p.sys.taskcall(PM_PROC_NR, PM_EXEC, path_len=len(path), frame_len=len(frame),
                               path=buf, frame=buf + 64).m_type
            assert r == -ENOEXEC, r
            assert p.getpid() == pid and p.mem[buf : buf + len(path)] == path
        p.close(fd)
        return 0

    assert system.run(fuzzer, name="fuzzer") == 0
    return len(cases)


def run_mutant(system: System, image: bytes) -> int:
    """Run a loadable mutant (a program of its own) for a while; its return code."""
    handle = system.spawn_exec(image, name="mutant")
    steps = itertools.count()
    system.kernel.sched.run(lambda: handle.done or next(steps) > STEPS)
    if not handle.done:
        with contextlib.suppress(MinixError):  # it may end by itself meanwhile
            system.run(lambda p: p.kill(handle.pid, SIGKILL))
    return system.wait(handle)


@pytest.mark.parametrize("batch", range(-(-CASES // BATCH)))
def test_mutated_headers_are_refused_or_run(batch: int) -> None:
    rng = random.Random(SEED if batch == 0 else f"{SEED}:{batch}")
    base = original()
    phoff, phnum = struct.unpack_from("<I", base, 28)[0], struct.unpack_from("<H", base, 44)[0]
    assert phoff + 32 * phnum <= HEADERS and max(o + n for o, n in FIELDS) <= HEADERS
    good: list[bytes] = []
    bad: list[bytes] = []
    n_good = 0
    while len(bad) < min(BATCH, CASES - batch * BATCH):
        case = mutate(rng, base)
        if not loadable(case):
            bad.append(case[:HEADERS])
            continue
        n_good += 1
        if len(good) < RUN_AT_MOST:
            good.append(case)
    with System.boot(ram="32M") as system:
        # The files' blocks in MFS's cache, and VFS's buffers: the baseline comes after.
        assert system.exec(base, name="mutant") == 0
        refused(system, base, bad[:1])
        system.run_until_idle()
        before = system.statistics().frames_free
        n_refused = refused(system, base, bad)
        # Each rewrites "/bin/mutant", a file of the same size.
        ran = [run_mutant(system, c) for c in good[:RUN_AT_MOST]]
        system.run_until_idle()
        assert system.kernel.panicked is None
        system.vm_sanity_check()
        assert system.statistics().frames_free == before
    count("ELF fuzz", cases=n_refused + n_good, refused_ENOEXEC=n_refused, ran=len(ran))
    print(f"\nexec fuzz: seed {SEED}, batch {batch}: "
          f"{n_refused + n_good} cases, {n_refused} ENOEXEC, {n_good} loadable, "
          f"{len(ran)} of them ran on the CPU (return codes {sorted(set(ran))})")


def test_a_phdr_table_word_edit_is_caught() -> None:
    """A spot check of the mutator's reach: p_filesz > p_memsz of the first PT_LOAD."""
    image = bytearray(original())
    struct.pack_into("<I", image, 52 + 16, 0xFFFF)
    assert not loadable(bytes(image))
