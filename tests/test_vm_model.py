"""A hypothesis state machine driving VM against a model of memory.

Random sequences of mmap, partial munmap, mprotect, brk, fork, exit,
writes, the yielded-block cache, grants, safecopy and safemap run across several
processes. VM runs its full sanity check after every request; after every
step each process's memory is read back and compared with what the model
says it must hold. At the end every process exits and every frame is free
again. The model knows each page's protection: writes go only where it
allows them, and a fault rule checks that a store to a read-only page and
a load from a PROT_NONE page kill a forked child with SIGSEGV.

Memory shared through safemap is modelled by aliasing: the grantee's page
is the very bytearray of the grantor's page until the mapping ends, when
the grantee gets a copy (its snapshot).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Any

from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)
from remote import ProcessDied, Remote

from minixvm import MinixError, System
from minixvm.errors import EBUSY, EFAULT, EINVAL, ENOMEM, ESRCH, OK
from minixvm.include.com import ANY
from minixvm.include.grant import CPF_MAP, CPF_READ, CPF_WRITE
from minixvm.include.signal import SIGSEGV
from minixvm.include.vm import (
    MAP_ANON,
    MAP_CONTIG,
    MAP_PREALLOC,
    MAP_PRIVATE,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    VM_BLOCKID_NONE,
    VM_FORGETBLOCK,
    VM_YIELDBLOCKGETBLOCK,
    split64,
)
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE

P = PAGE_SIZE
RW = PROT_READ | PROT_WRITE
MAX_PROCS = 4
_tokens = itertools.count(1)


@dataclass
class Buffer:
    """A contiguous preallocated buffer, as MFS keeps them. ``token`` names the
    memory behind it: processes sharing a token share it copy-on-write.
    ``whole`` says it is still one physical block: a partial munmap by any
    sharer cuts the shared block in two for all of them, and only a block
    coming back from the cache makes it whole again."""

    addr: int
    pages: int
    token: int = field(default_factory=lambda: next(_tokens))
    whole: bool = True


@dataclass(eq=False)
class Model:
    """What one process must see."""

    remote: Remote = field(repr=False)
    service: bool = False
    pages: dict[int, bytearray] = field(default_factory=dict, repr=False)
    regions: list[tuple[int, int]] = field(default_factory=list)  # (start, pages)
    brk: int = 0
    buffers: dict[int, Buffer] = field(default_factory=dict)
    yielded: dict[int, bytes] = field(default_factory=dict, repr=False)
    prot: dict[int, int] = field(default_factory=dict)  # pages not read-write

    def map(self, start: int, npages: int) -> None:
        for i in range(npages):
            self.pages[start + i * P] = bytearray(P)
            self.prot.pop(start + i * P, None)

    def unmap(self, start: int, npages: int) -> None:
        for i in range(npages):
            self.pages.pop(start + i * P, None)
            self.prot.pop(start + i * P, None)

    def protected(self, start: int, npages: int) -> bool:
        """Is any page of the range not read-write?"""
        return any(a in self.prot for a in self.region_pages(start, npages))

    def region_pages(self, start: int, npages: int) -> list[int]:
        return [start + i * P for i in range(npages)]

    def copy_for(self, remote: Remote) -> Model:
        child = Model(remote)
        child.pages = {a: bytearray(b) for a, b in self.pages.items()}
        child.regions = list(self.regions)
        child.brk = self.brk
        child.prot = dict(self.prot)
        child.buffers = {a: Buffer(b.addr, b.pages, b.token, b.whole)
                         for a, b in self.buffers.items()}
        return child


@dataclass(eq=False)
class Grant:
    """A grant a service made over one of its (non-buffer) regions."""

    owner: Model = field(repr=False)
    gid: int
    start: int
    npages: int

    def intact(self) -> bool:
        """Is all the granted memory still mapped in its owner?"""
        return (self.start, self.npages) in self.owner.regions


@dataclass(eq=False)
class Mapping:
    """Part of a grant mapped into a grantee's region (safemap)."""

    grant: Grant = field(repr=False)
    grantee: Model = field(repr=False)
    addr: int
    npages: int
    writable: bool

    def end(self, machine: VMMachine) -> None:
        """The grantee keeps a private snapshot of what it saw."""
        for a in self.grantee.region_pages(self.addr, self.npages):
            self.grantee.pages[a] = bytearray(self.grantee.pages[a])
        machine.mappings.remove(self)


class VMMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.system = System.boot(ram="32M", sanity_checks=True)
        # Servers keep what the first program and service make them allocate.
        self.system.run(lambda p: p.printf("warm up\n"))
        self.system.run(lambda p: p.printf("warm up\n"), service=True)
        self.system.run_until_idle()
        self.free_at_start = self.system.statistics().frames_free
        self.procs = []
        for name in ("svc1", "svc2"):
            remote = Remote.start(self.system, name, service=True)
            self.procs.append(Model(remote, service=True, brk=remote.do(lambda p: p.sbrk(0))))
        self.grants: list[Grant] = []
        self.mappings: list[Mapping] = []

    def teardown(self) -> None:
        try:
            for model in reversed(self.procs):
                model.remote.exit()
            self.system.run_until_idle()
            self.system.vm_sanity_check()
            assert self.system.statistics().frames_free == self.free_at_start, \
                "every frame is free again"
        finally:
            self.system.close()

    def pick(self, data: st.DataObject, where: list | None = None) -> Any:
        """One of ``where`` (default: the processes), drawn by index so that a
        failing example prints small."""
        items = self.procs if where is None else where
        return items[data.draw(st.integers(0, len(items) - 1))]

    # -- rules ---------------------------------------------------------------------

    @rule(data=st.data(), npages=st.integers(1, 6), prealloc=st.booleans())
    def mmap(self, data: st.DataObject, npages: int, prealloc: bool) -> None:
        model = self.pick(data)
        flags = MAP_PRIVATE | MAP_ANON | (MAP_PREALLOC | MAP_CONTIG if prealloc else 0)
        addr = model.remote.do(lambda p: p.mmap(npages * P, flags=flags))
        model.map(addr, npages)
        model.regions.append((addr, npages))
        if prealloc:
            model.buffers[addr] = Buffer(addr, npages)

    def unpinned(self, model: Model) -> list[tuple[int, int]]:
        """Regions of ``model`` that no live mapping involves."""
        pinned = {(m.grant.owner, m.grant.start) for m in self.mappings}
        pinned |= {(m.grantee, r[0]) for m in self.mappings for r in m.grantee.regions
                   if r[0] <= m.addr < r[0] + r[1] * P}
        return [r for r in model.regions if (model, r[0]) not in pinned]

    @precondition(lambda self: any(self.unpinned(m) for m in self.procs))
    @rule(data=st.data())
    def munmap(self, data: st.DataObject) -> None:
        model = self.pick(data, [m for m in self.procs if self.unpinned(m)])
        start, npages = self.pick(data, self.unpinned(model))
        first = data.draw(st.integers(0, npages - 1))
        count = data.draw(st.integers(1, npages - first))
        addr = start + first * P
        model.remote.do(lambda p: p.munmap(addr, count * P))
        model.unmap(addr, count)
        model.regions.remove((start, npages))
        if first:
            model.regions.append((start, first))
        if first + count < npages:
            model.regions.append((addr + count * P, npages - first - count))
        gone = model.buffers.pop(start, None)
        if gone is not None and count < npages:
            for buf in self.buffers_with(gone.token):
                buf.whole = False

    @rule(data=st.data(), delta=st.integers(-2, 3))
    def brk(self, data: st.DataObject, delta: int) -> None:
        model = self.pick(data)
        base = model.remote.do(lambda p: p.sbrk(0))
        assert base == model.brk
        heap_start = _heap_start()
        new = max(heap_start, model.brk + delta * P)
        model.remote.do(lambda p: p.brk(new))
        if new < model.brk:
            model.unmap(new, (model.brk - new) // P)
        else:
            model.map(model.brk, (new - model.brk) // P)
        model.brk = new

    @precondition(lambda self: any(m.pages for m in self.procs))
    @rule(data=st.data(), payload=st.binary(min_size=1, max_size=96))
    def write(self, data: st.DataObject, payload: bytes) -> None:
        model = self.pick(data, [m for m in self.procs if m.pages])
        readonly = {a for m in self.mappings if m.grantee is model and not m.writable
                    for a in model.region_pages(m.addr, m.npages)}
        writable = sorted(set(model.pages) - readonly - set(model.prot))
        if not writable:
            return
        page = self.pick(data, writable)
        offset = data.draw(st.integers(0, P - len(payload)))
        model.remote.do(lambda p: p.mem.__setitem__(slice(page + offset,
                                                          page + offset + len(payload)),
                                                    payload))
        model.pages[page][offset : offset + len(payload)] = payload
        for buf in model.buffers.values():
            if buf.addr <= page < buf.addr + buf.pages * P:
                buf.token = next(_tokens)  # a write gives us our own copy

    @precondition(lambda self: len(self.procs) < MAX_PROCS)
    @rule(data=st.data())
    def fork(self, data: st.DataObject) -> None:
        model = self.pick(data)
        try:
            child = model.remote.fork()
        except MinixError as e:
            assert e.errno == ENOMEM
            return
        self.procs.append(model.copy_for(child))

    @precondition(lambda self: len(self.procs) > 1)
    @rule(data=st.data())
    def exit(self, data: st.DataObject) -> None:
        model = self.pick(data)
        model.remote.exit()
        self.procs.remove(model)
        for mapping in list(self.mappings):
            if mapping.grantee is model:
                self.mappings.remove(mapping)
            elif mapping.grant.owner is model:
                mapping.end(self)
        self.grants = [g for g in self.grants if g.owner is not model]

    @precondition(lambda self: any(m.buffers for m in self.procs))
    @rule(data=st.data(), block=st.integers(0, 5))
    def yield_block(self, data: st.DataObject, block: int) -> None:
        model = self.pick(data, [m for m in self.procs if m.buffers])
        buf = self.pick(data, sorted(model.buffers.values(), key=lambda b: b.addr))
        model.remote.do(lambda p: _ygb(p, buf, block, VM_BLOCKID_NONE))
        alone = len(self.buffers_with(buf.token)) == 1
        if buf.whole and alone and block not in model.yielded:
            model.yielded[block] = b"".join(model.pages[buf.addr + i * P]
                                            for i in range(buf.pages))
            model.map(buf.addr, buf.pages)
            buf.token = next(_tokens)

    @precondition(lambda self: any(m.buffers for m in self.procs))
    @rule(data=st.data(), block=st.integers(0, 5))
    def get_block(self, data: st.DataObject, block: int) -> None:
        model = self.pick(data, [m for m in self.procs if m.buffers])
        buf = self.pick(data, sorted(model.buffers.values(), key=lambda b: b.addr))
        r = model.remote.do(lambda p: _ygb(p, buf, VM_BLOCKID_NONE, block))
        content = model.yielded.get(block)
        if content is not None and len(content) == buf.pages * P:
            assert r == OK
            del model.yielded[block]
            for i in range(buf.pages):
                model.pages[buf.addr + i * P] = bytearray(content[i * P : (i + 1) * P])
            buf.token, buf.whole = next(_tokens), True
        else:
            assert r in (-ESRCH, -EINVAL)

    @precondition(lambda self: any(m.yielded for m in self.procs))
    @rule(data=st.data())
    def forget(self, data: st.DataObject) -> None:
        model = self.pick(data, [m for m in self.procs if m.yielded])
        block = self.pick(data, sorted(model.yielded))
        r = model.remote.do(lambda p: p.sys.vm_call(VM_FORGETBLOCK, id_lo=block).m_type)
        assert r == OK
        del model.yielded[block]

    def protectable(self, model: Model) -> list[tuple[int, int]]:
        """Regions of ``model`` no grant, mapping or buffer involves."""
        granted = {g.start for g in self.grants if g.owner is model}
        return [r for r in self.unpinned(model)
                if r[0] not in model.buffers and r[0] not in granted]

    @precondition(lambda self: any(self.protectable(m) for m in self.procs))
    @rule(data=st.data(), prot=st.sampled_from([PROT_NONE, PROT_READ, RW]))
    def mprotect(self, data: st.DataObject, prot: int) -> None:
        model = self.pick(data, [m for m in self.procs if self.protectable(m)])
        start, npages = self.pick(data, self.protectable(model))
        first = data.draw(st.integers(0, npages - 1))
        count = data.draw(st.integers(1, npages - first))
        addr = start + first * P
        model.remote.do(lambda p: p.mprotect(addr, count * P, prot))
        for a in model.region_pages(addr, count):
            if prot == RW:
                model.prot.pop(a, None)
            else:
                model.prot[a] = prot

    @precondition(lambda self: any(m.prot for m in self.procs))
    @rule(data=st.data())
    def fault(self, data: st.DataObject) -> None:
        """A store to a read-only page or a load from a PROT_NONE one, in a
        forked child: SIGSEGV, and the parent is untouched."""
        model = self.pick(data, [m for m in self.procs if m.prot])
        page = self.pick(data, sorted(model.prot))
        try:
            child = model.remote.fork()
        except MinixError as e:
            assert e.errno == ENOMEM
            return
        if model.prot[page] == PROT_NONE:
            def access(c: Process) -> object:
                return c.mem[page]
        else:
            def access(c: Process) -> object:
                c.mem[page] = 0xEE
                return None
        try:
            child.do(access)
        except ProcessDied:
            pass
        else:
            raise AssertionError(f"no fault at {page:#x} ({model.prot[page]})")
        _, status = model.remote.do(lambda p: p.waitpid(child.pid))
        assert status & 0x7F == SIGSEGV

    def buffers_with(self, token: int) -> list[Buffer]:
        return [b for m in self.procs for b in m.buffers.values() if b.token == token]

    # -- grants ----------------------------------------------------------------------

    def services(self) -> list[Model]:
        return [m for m in self.procs if m.service]

    def grantable(self, model: Model) -> list[tuple[int, int]]:
        return [r for r in model.regions if r[0] not in model.buffers
                and not model.protected(*r)]

    @precondition(lambda self: any(self.grantable(m) for m in self.services()))
    @rule(data=st.data())
    def grant(self, data: st.DataObject) -> None:
        model = self.pick(data, [m for m in self.services() if self.grantable(m)])
        start, npages = self.pick(data, self.grantable(model))
        access = CPF_READ | CPF_WRITE | CPF_MAP
        gid = model.remote.do(lambda p: p.sys.grants.cpf_grant_direct(ANY, start, npages * P,
                                                                      access))
        self.grants.append(Grant(model, gid, start, npages))

    def usable_grants(self) -> list[Grant]:
        return [g for g in self.grants if g.intact()]

    @precondition(lambda self: self.usable_grants())
    @rule(data=st.data(), to_granter=st.booleans())
    def safecopy(self, data: st.DataObject, to_granter: bool) -> None:
        grant = self.pick(data, self.usable_grants())
        requestor = self.pick(data, self.services())
        read_only = {(m.grantee, m.addr) for m in self.mappings if not m.writable}
        regions = [r for r in self.grantable(requestor) if (requestor, r[0]) not in read_only]
        if requestor is grant.owner or not regions:
            return
        start, npages = self.pick(data, regions)
        size = min(npages, grant.npages) * P
        length = data.draw(st.integers(1, size))
        offset = data.draw(st.integers(0, size - length))
        src_off = data.draw(st.integers(0, size - length))
        granter = grant.owner.remote.endpoint

        def copy(p: Process) -> int:
            call = p.sys.sys_safecopyto if to_granter else p.sys.sys_safecopyfrom
            return call(granter, grant.gid, offset, start + src_off, length)

        r = requestor.remote.do(copy)
        if to_granter and (grant.owner, grant.start) in read_only:
            assert r == -EFAULT, "the granted region is a read-only mapping now"
            return
        assert r == OK
        src, src_base, dst, dst_base = (
            (requestor, start + src_off, grant.owner, grant.start + offset) if to_granter else
            (grant.owner, grant.start + offset, requestor, start + src_off))
        write_model(dst, dst_base, read_model(src, src_base, length))

    @precondition(lambda self: self.usable_grants())
    @rule(data=st.data(), writable=st.booleans())
    def safemap(self, data: st.DataObject, writable: bool) -> None:
        grant = self.pick(data, self.usable_grants())
        grantee = self.pick(data, self.services())
        free = [r for r in self.unpinned(grantee) if r[0] not in grantee.buffers
                and not grantee.protected(*r)]
        if grantee is grant.owner or not free:
            return
        start, npages = self.pick(data, free)
        n = min(npages, grant.npages)
        granter = grant.owner.remote.endpoint
        r = grantee.remote.do(lambda p: p.sys.sys_safemap(granter, grant.gid, 0, start, n * P,
                                                          writable))
        if r == -EBUSY:
            return
        assert r == OK
        for i in range(n):
            grantee.pages[start + i * P] = grant.owner.pages[grant.start + i * P]
        self.mappings.append(Mapping(grant, grantee, start, n, writable))

    @precondition(lambda self: self.mappings)
    @rule(data=st.data())
    def safeunmap(self, data: st.DataObject) -> None:
        mapping = self.pick(data, self.mappings)
        r = mapping.grantee.remote.do(lambda p: p.sys.sys_safeunmap(mapping.addr))
        assert r == OK
        mapping.end(self)

    @precondition(lambda self: self.mappings)
    @rule(data=st.data())
    def saferevmap(self, data: st.DataObject) -> None:
        grant = self.pick(data, self.mappings).grant
        r = grant.owner.remote.do(lambda p: p.sys.sys_saferevmap_gid(grant.gid))
        assert r == OK
        for mapping in [m for m in self.mappings if m.grant is grant]:
            mapping.end(self)

    # -- what must hold after every step ---------------------------------------------

    @invariant()
    def memory_matches_the_model(self) -> None:
        for model in self.procs:
            addrs = sorted(model.pages)
            hidden = {a for a, prot in model.prot.items() if prot == PROT_NONE}
            seen = model.remote.do(lambda p, addrs=addrs, hidden=hidden: [
                None if a in hidden else p.mem[a : a + P] for a in addrs])
            for addr, got in zip(addrs, seen, strict=True):
                assert got is None or got == model.pages[addr], \
                    f"process {model.remote.pid} at {addr:#x}"

    @invariant()
    def sane(self) -> None:
        self.system.vm_sanity_check()


def _heap_start() -> int:
    from minixvm.include.arch import PY_DATA_BASE

    return PY_DATA_BASE + P


def _ygb(p: Process, buf: Buffer, yield_id: int, get_id: int) -> int:
    (yhi, ylo), (ghi, glo) = split64(yield_id), split64(get_id)
    r = p.sys.vm_call(VM_YIELDBLOCKGETBLOCK, vaddr=buf.addr, len=buf.pages * P,
                      yieldid_hi=yhi, yieldid_lo=ylo, getid_hi=ghi, getid_lo=glo).m_type
    assert r in (OK, -ESRCH, -EINVAL), r
    return r


VMMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("VM_MODEL_EXAMPLES", 30)),
    stateful_step_count=40,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
TestVMModel = VMMachine.TestCase


def read_model(model: Model, addr: int, length: int) -> bytes:
    out = bytearray()
    while len(out) < length:
        a = addr + len(out)
        page, off = a - a % P, a % P
        n = min(P - off, length - len(out))
        out += model.pages[page][off : off + n]
    return bytes(out)


def write_model(model: Model, addr: int, data: bytes) -> None:
    done = 0
    while done < len(data):
        a = addr + done
        page, off = a - a % P, a % P
        n = min(P - off, len(data) - done)
        model.pages[page][off : off + n] = data[done : done + n]
        done += n
