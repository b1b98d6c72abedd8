"""DS's cost: publish + retrieve round trips per second, against the bare IPC
and copying they are made of.

1. u32: a client service publishes a number (DSF_OVERWRITE) and retrieves
   it, against two plain ``sendrec`` round trips to a server that answers
   at once.
2. 4 KiB memory values: the client publishes a page from its memory and
   retrieves it into another page, against a server that only copies a
   page in and a page out through grants the client makes the same way
   (DS's data path without the data store).

DS's overhead over the baseline is the key grant and copy-in, the lookup,
the label check and the bookkeeping. Both sides of each figure are
measured in the same run; the best of a few runs counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from minixvm import System
from minixvm.errors import OK
from minixvm.include.ds import DSF_OVERWRITE
from minixvm.include.grant import CPF_READ, CPF_WRITE
from minixvm.include.ipc import Message, layout, m1_i1
from minixvm.lib.c import Process
from minixvm.lib.ds import (
    ds_publish_mem,
    ds_publish_u32,
    ds_retrieve_label_num,
    ds_retrieve_mem,
    ds_retrieve_u32,
)
from minixvm.machine.ram import PAGE_SIZE

PAIRS = 4000  # publish + retrieve pairs per run
REPEATS = 3
VALUE = PAGE_SIZE

ECHO = 0x7100
COPY_IN = 0x7101
COPY_OUT = 0x7102


@layout(ECHO, COPY_IN, COPY_OUT)
class BenchRequest(Message):
    grant = m1_i1

Loop = Callable[[Process, int], None]


@dataclass(frozen=True)
class Figure:
    """A DS rate and its baseline rate, in pairs per second."""

    what: str
    ds: float
    baseline: float
    baseline_what: str

    def line(self) -> str:
        return (f"DS {self.what} publish+retrieve: {self.ds:,.0f} pairs/s vs "
                f"{self.baseline:,.0f}/s {self.baseline_what} "
                f"(ratio 1:{self.baseline / self.ds:.2f})")


def fail(what: str) -> None:
    raise RuntimeError(f"bench_ds: {what}")


# --- the baseline servers ---------------------------------------------------------------


def baseline_server(p: Process) -> int:
    """Answers ECHO at once; COPY_IN / COPY_OUT copy a page in / out through
    the caller's grant, to and from a page of its own."""
    sys, page = p.sys, p.mmap(VALUE)
    while True:
        r, m = sys.receive()
        if r != OK or m is None:
            continue
        if m.m_type == COPY_IN:
            m.m_type = sys.sys_safecopyfrom(m.m_source, m.grant, 0, page, VALUE)
        elif m.m_type == COPY_OUT:
            m.m_type = sys.sys_safecopyto(m.m_source, m.grant, 0, page, VALUE)
        else:
            m.m_type = OK
        sys.send(m.m_source, m)


def server_endpoint(p: Process) -> int:
    r, ep = ds_retrieve_label_num(p.sys, "baseline")
    if r != OK:
        fail("no baseline server")
    return ep


# --- the loops ---------------------------------------------------------------------------


def ds_u32(p: Process, n: int) -> None:
    for i in range(n):
        if ds_publish_u32(p.sys, "bench_u32", i, DSF_OVERWRITE) != OK:
            fail("publish_u32")
        if ds_retrieve_u32(p.sys, "bench_u32") != (OK, i):
            fail("retrieve_u32")


def echo(p: Process, n: int) -> None:
    sys, dst = p.sys, server_endpoint(p)
    for _ in range(2 * n):
        r, reply = sys.sendrec(dst, Message(ECHO))
        if r != OK or reply is None or reply.m_type != OK:
            fail("echo")


def ds_mem(p: Process, n: int) -> None:
    src, dst = p.mmap(VALUE), p.mmap(VALUE)
    p.mem[src : src + VALUE] = bytes(range(256)) * (VALUE // 256)
    for _ in range(n):
        if ds_publish_mem(p.sys, "bench_mem", src, VALUE, DSF_OVERWRITE) != OK:
            fail("publish_mem")
        if ds_retrieve_mem(p.sys, "bench_mem", dst, VALUE) != (OK, VALUE):
            fail("retrieve_mem")
    if p.mem[dst : dst + VALUE] != p.mem[src : src + VALUE]:
        fail("the retrieved page differs")


def copy_page(p: Process, n: int) -> None:
    sys, server = p.sys, server_endpoint(p)
    src, dst = p.mmap(VALUE), p.mmap(VALUE)
    p.mem[src : src + VALUE] = bytes(range(256)) * (VALUE // 256)
    for _ in range(n):
        for request, addr, access in ((COPY_IN, src, CPF_READ), (COPY_OUT, dst, CPF_WRITE)):
            grant = sys.grants.cpf_grant_direct(server, addr, VALUE, access)
            r, reply = sys.sendrec(server, Message(request, grant=grant))
            sys.grants.cpf_revoke(grant)
            if r != OK or reply is None or reply.m_type != OK:
                fail("copy")


# --- measuring --------------------------------------------------------------------------


def rate(system: System, loop: Loop, n: int = PAIRS) -> float:
    """Pairs per second ``loop`` does for ``n`` pairs in a client service (best run)."""
    seconds: list[float] = []

    def client(p: Process) -> int:
        loop(p, 10)  # warm up: buffers, grant table, DS's entry
        start = time.perf_counter()
        loop(p, n)
        seconds.append(time.perf_counter() - start)
        return 0

    for _ in range(REPEATS):
        if system.run(client, name="client", service=True) != 0:
            fail(f"{loop.__name__} failed")
    return n / min(seconds)


def figures() -> list[Figure]:
    with System.boot(ram="32M") as system:
        system.spawn(baseline_server, name="baseline", service=True)
        system.run_until_idle()
        return [
            Figure("u32", rate(system, ds_u32), rate(system, echo),
                   "pairs of sendrec round trips"),
            Figure("4 KiB mem", rate(system, ds_mem), rate(system, copy_page),
                   "pairs of 4 KiB grant copies (in, out)"),
        ]


def main() -> list[str]:
    return [figure.line() for figure in figures()]


if __name__ == "__main__":
    for text in main():
        print(text)
