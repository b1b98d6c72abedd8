"""The trace: one line per message, kernel call and fault, the same every run."""

from __future__ import annotations

import re

from minixvm import System
from minixvm.include.com import VM_PROC_NR
from minixvm.include.signal import WIFSIGNALED
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE

P = PAGE_SIZE
WHO = r"[\w?-]+\(-?\d+\)"  # name(endpoint)
LINE = re.compile(
    rf"^(?:msg    {WHO} -> {WHO} <.*>"
    rf"|kcall  {WHO} \w+ .*-> -?\d+"
    rf"|fault  {WHO} 0x[0-9a-f]{{8}} (?:read|write) (?:not-present|protection)"
    rf"|cow    {WHO} 0x[0-9a-f]{{8}}\+0x[0-9a-f]+"
    rf"|\w+ +{WHO} .*)$"
)


def workload(p: Process) -> int:
    """A little of everything: mmap, faults, fork with copy-on-write, a
    child killed by SIGSEGV, munmap, console output."""
    buf = p.mmap(4 * P)
    for i in range(4):
        p.mem[buf + i * P] = i
    pid = p.fork(lambda c: c.mem.__setitem__(buf, 9) or 0)
    p.waitpid(pid)
    pid = p.fork(lambda c: c.mem[0x40000000])
    _, status = p.waitpid(pid)
    p.munmap(buf + P, 2 * P)
    p.printf("workload done: %d\n", WIFSIGNALED(status))
    return 0


BOOTED: list[System] = []  # the system of the latest traced_run, for a program's test code


def traced_run(program=workload, name: str = "workload") -> tuple[System, list[str]]:
    system = System.boot(ram="32M", trace=True)
    BOOTED[:] = [system]
    assert system.run(program, name=name) == 0
    system.run_until_idle()
    return system, list(system.kernel.trace.lines)


def test_the_same_program_gives_the_same_trace() -> None:
    first, lines1 = traced_run()
    second, lines2 = traced_run()
    try:
        assert lines1 == lines2
        assert len(lines1) > 100
        kinds = {line.split()[0] for line in lines1}
        assert {"msg", "kcall", "fault"} <= kinds
        assert first.console.text == second.console.text
    finally:
        first.close()
        second.close()


def test_trace_is_the_same_whatever_ran_in_the_host_before() -> None:
    """Host state (object addresses, what ran before) leaves no mark."""
    baseline, lines = traced_run()
    junk = [bytearray(P) for _ in range(1000)]  # disturb the host heap
    with System.boot(ram="32M") as untraced:
        untraced.run(workload)
    again, lines_again = traced_run()
    try:
        assert junk and lines_again == lines
    finally:
        baseline.close()
        again.close()


def test_every_line_names_processes_as_name_and_endpoint() -> None:
    system, lines = traced_run()
    try:
        assert [line for line in lines if "\n" in line] == []  # one line each, really
        bad = [line for line in lines if not LINE.match(line)]
        assert bad == []
        vm = f"vm({VM_PROC_NR})"
        assert any(line.startswith(f"kcall  {vm} SYS_VMCTL ") for line in lines)
        assert any(re.match(rf"msg    workload\(\d+\) -> {re.escape(vm)} <VM_MMAP ", line)
                   for line in lines)
        assert any(re.match(r"fault  workload\(\d+\) 0x[0-9a-f]{8} write not-present", line)
                   for line in lines)
        assert any(re.match(r"msg    system\(-2\) -> vm\(8\) ", line) for line in lines)
    finally:
        system.close()


def test_first_touch_of_a_fresh_mmap_page_is_one_fault_line() -> None:
    """Golden: the fault for each first touch, at the very address touched."""
    seen: dict[str, object] = {}

    def toucher(p: Process) -> int:
        trace = BOOTED[0].kernel.trace  # the test looks from outside: the program cannot
        buf = p.mmap(3 * P)
        seen["ep"], seen["buf"] = p.endpoint, buf
        start = len(trace.lines)
        p.mem[buf + P + 0x123] = 1  # first touch of page 1: a write
        seen["write"] = trace.lines[start:]
        start = len(trace.lines)
        p.mem[buf + 2 * P + 8]  # first touch of page 2: a read
        seen["read"] = trace.lines[start:]
        start = len(trace.lines)
        p.mem[buf + P + 0x456] = 2  # page 1 again: no fault
        p.mem[buf + P]
        seen["again"] = trace.lines[start:]
        return 0

    system, _ = traced_run(toucher, "toucher")
    try:
        ep, buf = seen["ep"], seen["buf"]
        assert isinstance(buf, int)
        write, read = seen["write"], seen["read"]
        assert isinstance(write, list) and isinstance(read, list)
        assert write[0] == f"fault  toucher({ep}) {buf + P + 0x123:#010x} write not-present"
        assert read[0] == f"fault  toucher({ep}) {buf + 2 * P + 8:#010x} read not-present"
        # The kernel tells VM as from the program (user write not-present:
        # flags 6), and VM resumes it.
        assert write[1] == (f"msg    toucher({ep}) -> vm(8) "
                            f"<VM_PAGEFAULT addr={buf + P + 0x123:#x} flags=6>")
        assert any(re.match(rf"kcall  vm\(8\) SYS_VMCTL who={ep} "
                            r"param=VMCTL_CLEAR_PAGEFAULT .*-> 0", line)
                   for line in write)
        assert sum(line.startswith("fault") for line in write) == 1
        assert sum(line.startswith("fault") for line in read) == 1
        assert seen["again"] == []
    finally:
        system.close()


def test_copy_on_write_breaks_are_traced() -> None:
    seen: dict[str, int] = {}

    def cow(p: Process) -> int:
        buf = p.mmap(P)
        p.mem[buf] = 1
        seen["buf"] = buf

        def child(c: Process) -> int:
            seen["child"] = c.endpoint
            c.mem[buf + 5] = 2
            return 0

        p.waitpid(p.fork(child))
        return 0

    system, lines = traced_run(cow, "cow")
    try:
        child, buf = seen["child"], seen["buf"]
        fault = f"fault  cow({child}) {buf + 5:#010x} write protection"
        assert fault in lines
        after = lines[lines.index(fault):]
        assert f"cow    cow({child}) {buf:#010x}+0x1000" in after
    finally:
        system.close()


def test_no_trace_unless_asked_and_the_sink_sees_every_line() -> None:
    with System.boot(ram="32M") as quiet:
        quiet.run(workload)
        assert quiet.kernel.trace.lines == []
    sunk: list[str] = []
    with System.boot(ram="32M", trace=True, trace_sink=sunk.append) as loud:
        loud.run(workload)
        assert sunk == loud.kernel.trace.lines != []


def test_messages_to_pm_are_traced_by_their_own_names() -> None:
    def forker(p: Process) -> int:
        p.waitpid(p.fork(lambda c: 0))
        return 7

    system = System.boot(ram="32M", trace=True)
    try:
        assert system.run(forker, name="forker") == 7
        lines = system.kernel.trace.lines
        assert any(re.match(r"msg    forker\(\d+\) -> pm\(0\) <PM_FORK>$", ln) for ln in lines)
        assert any(re.match(r"msg    forker\(\d+\) -> pm\(0\) <PM_EXIT status=7>$", ln)
                   for ln in lines)
    finally:
        system.close()
