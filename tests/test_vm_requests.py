"""VM's requests as 36-byte messages: every layout round-trips through its
bytes at MINIX 3.2's offsets, and every malformed request gets an error
reply, leaving VM answering, its invariants whole and no frame leaked."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from remote import Remote

from minixvm import System
from minixvm.errors import EFAULT, EINVAL, ENOMEM, ENOSYS, EPERM, ESRCH, OK
from minixvm.include.com import ANY, KERNEL, NONE, NR_PROCS, PM_PROC_NR, SELF, SYSTEM, VM_PROC_NR
from minixvm.include.ipc import MESSAGE_SIZE, Message, layout_of
from minixvm.include.vm import (
    MAP_ALIGN64K,
    MAP_ANON,
    MAP_FIXED,
    MAP_PRIVATE,
    MAP_THIRDPARTY,
    PROT_READ,
    VM_BLOCKID_NONE,
    VM_BRK,
    VM_EXIT,
    VM_FORGETBLOCK,
    VM_FORGETBLOCKS,
    VM_FORK,
    VM_GETPHYS,
    VM_GETREF,
    VM_INFO,
    VM_MAP_PHYS,
    VM_MMAP,
    VM_MUNMAP,
    VM_MUNMAP_TEXT,
    VM_PAGEFAULT,
    VM_PROCCTL,
    VM_REMAP,
    VM_RQ_BASE,
    VM_RS_SET_PRIV,
    VM_SHM_UNMAP,
    VM_UNMAP_PHYS,
    VM_WILLEXIT,
    VM_YIELDBLOCKGETBLOCK,
    VMIW_REGION,
    VMIW_STATS,
    VMIW_USAGE,
    VMPPARAM_CLEAR,
    VMPPARAM_HANDLEMEM,
    VmPagefault,
    make64,
    split64,
)
from minixvm.lib.c import Process
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.main import CALLS
from minixvm.servers.vm.region import map_lookup

P = PAGE_SIZE
ANON = MAP_PRIVATE | MAP_ANON

# -- the layouts -------------------------------------------------------------------------


def sample(m: Message) -> dict[str, int]:
    """A distinct value for every field of ``m``'s layout that has a slot of
    its own (an alias of a slot already given one, such as a reply field in a
    request's slot, is left out)."""
    values: dict[str, int] = {}
    taken: set[int] = set()
    for i, (name, slot) in enumerate(m.FIELDS.items()):
        if slot.offset in taken:
            continue
        taken.add(slot.offset)
        values[name] = 0x101 + 0x22 * i
    return values


@pytest.mark.parametrize("m_type", sorted(CALLS))
def test_every_request_layout_round_trips_through_its_36_bytes(m_type: int) -> None:
    cls = layout_of(m_type)
    assert cls is not Message and m_type in cls.TYPES, "every VM request has a layout"
    m = Message(m_type)
    assert all(getattr(m, name) == 0 for name in m.FIELDS), "an unset field reads zero"
    values = sample(m)
    for name, value in values.items():
        setattr(m, name, value)
    data = bytes(m)
    assert len(data) == MESSAGE_SIZE
    back = Message.decode(data)
    assert type(back) is cls and back.m_type == m_type
    assert {name: getattr(back, name) for name in values} == values
    assert bytes(back) == data
    reply = m.reply_view(data)
    assert type(reply) is cls, "the reply is read in the request's layout"


def test_mmap_and_munmap_use_minix_slots() -> None:
    m = Message(VM_MMAP, prot=PROT_READ, flags=ANON | MAP_FIXED, fd=-1, offset=5,
                addr=0xF0000000, len=0x80000000, forwhom=7)
    prot, flags, fd, offset, addr, length, forwhom = struct.unpack_from("<hHiiIIi", bytes(m), 8)
    assert (prot, flags, fd, offset) == (PROT_READ, ANON | MAP_FIXED, -1, 5)
    assert (addr, length, forwhom) == (0xF0000000, 0x80000000, 7)
    assert m.addr == 0xF0000000 and m.len == 0x80000000, "addresses and sizes read unsigned"
    m.retaddr = 0xEFFFF000
    assert struct.unpack_from("<I", bytes(m), 20)[0] == 0xEFFFF000
    u = Message(VM_MUNMAP, addr=0xC0000000, len=3 * P)
    assert struct.unpack_from("<i", bytes(u), 8)[0] == 3 * P  # VMUM_LEN m1_i1
    assert struct.unpack_from("<I", bytes(u), 20)[0] == 0xC0000000  # VMUM_ADDR m1_p1


def test_block_ids_take_two_slots_high_half_first() -> None:
    hi, lo = split64(0x1122334455667788)
    m = Message(VM_YIELDBLOCKGETBLOCK, getid_hi=hi, getid_lo=lo, yieldid_hi=0xFFFFFFFF,
                yieldid_lo=0xFFFFFFFF)
    data = bytes(m)
    assert struct.unpack_from("<II", data, 8) == (0x11223344, 0x55667788)  # m2_i1, m2_i2
    assert struct.unpack_from("<II", data, 20) == (0xFFFFFFFF, 0xFFFFFFFF)  # m2_l1, m2_l2
    back = Message.decode(data)
    assert make64(back.getid_hi, back.getid_lo) == 0x1122334455667788
    assert make64(back.yieldid_hi, back.yieldid_lo) == VM_BLOCKID_NONE
    f = Message(VM_FORGETBLOCK, id_hi=5, id_lo=-1)
    assert struct.unpack_from("<ii", bytes(f), 8) == (5, -1)  # VMFB_IDHI m1_i1, VMFB_IDLO m1_i2
    assert make64(f.id_hi, f.id_lo) == 5 << 32 | 0xFFFFFFFF, "the halves read unsigned"


# -- the case of the issue ----------------------------------------------------------------------


def test_munmap_without_fields_is_an_error_and_vm_keeps_answering(system: System) -> None:
    def prog(p: Process) -> int:
        assert p.sys.vm_call(VM_MUNMAP).m_type == -EINVAL
        assert p.sys.vm_call(VM_MUNMAP_TEXT).m_type == -EINVAL
        a = p.mmap(P)
        p.mem[a] = 7
        return p.mem[a]

    assert system.run(prog) == 7
    assert system.run(lambda p: p.mmap(2 * P) and 0) == 0, "VM answers the next process too"


def test_a_forged_pagefault_message_is_answered_and_maps_nothing(system: System) -> None:
    vm = system.vm
    assert vm is not None

    def prog(p: Process) -> int:
        a = p.mmap(P)
        faults = vm.stats.pagefaults
        r, reply = p.sys.sendrec(VM_PROC_NR, VmPagefault(addr=a, flags=6))
        assert r == OK and reply is not None and reply.m_type == -ENOSYS
        assert vm.stats.pagefaults == faults
        region = map_lookup(vm.proc(p.endpoint), a)
        assert region is not None and not region.phys, "no page behind it yet"
        p.mem[a] = 5  # the real fault that follows is the kernel's
        assert vm.stats.pagefaults == faults + 1
        return p.mem[a]

    assert VmPagefault().m_type == VM_PAGEFAULT
    assert system.run(prog) == 5


# -- malformed requests, table-driven -------------------------------------------------------------


@dataclass
class Caller:
    """What a row may refer to: the requesting process and its memory."""

    endpoint: int
    buf: int  # two pages, read-write, present
    ro_buf: int  # a read-only page
    stale: int  # the endpoint of a process that has exited


Fields = Callable[[Caller], dict[str, int]]


@dataclass(frozen=True)
class Case:
    name: str
    m_type: int
    fields: Fields
    err: int  # the reply's m_type, negated
    privileged: bool = True  # a system process with every VM call allowed

    def __str__(self) -> str:
        return self.name


def none(c: Caller) -> dict[str, int]:
    return {}


def bad_endpoints(c: Caller) -> dict[str, int]:
    """Endpoints that name no process a request may be about (VM: none may
    change VM's own memory, though anyone may look at it)."""
    return {"NONE": NONE, "ANY": ANY, "KERNEL": KERNEL, "SYSTEM": SYSTEM, "stale": c.stale,
            "unused": 12345, "max": 2**31 - 1, "min": -(2**31), "vm": VM_PROC_NR}


BAD_ENDPOINTS = ["NONE", "ANY", "KERNEL", "SYSTEM", "stale", "unused", "max", "min", "vm"]


def ep(which: str, **more: int) -> Fields:
    """Fields with ``field=`` a bad endpoint, named by ``which``."""
    field = more.pop("field")

    def fields(c: Caller) -> dict[str, int]:
        return {field: bad_endpoints(c)[which], **more}

    return fields


def mmap(**fields: int) -> Fields:
    base = {"len": P, "flags": ANON, "fd": -1, "prot": PROT_READ}
    return lambda c: {**base, **fields}


NO_GET = {"getid_hi": 0xFFFFFFFF, "getid_lo": 0xFFFFFFFF}  # VM_BLOCKID_NONE
NO_YIELD = {"yieldid_hi": 0xFFFFFFFF, "yieldid_lo": 0xFFFFFFFF}

CASES = [
    # VM_MUNMAP / VM_MUNMAP_TEXT
    Case("munmap-empty", VM_MUNMAP, none, EINVAL),
    Case("munmap-text-empty", VM_MUNMAP_TEXT, none, EINVAL),
    Case("munmap-negative", VM_MUNMAP, lambda c: {"addr": c.buf, "len": -P}, EINVAL),
    Case("munmap-min", VM_MUNMAP, lambda c: {"addr": c.buf, "len": -(2**31)}, EINVAL),
    Case("munmap-unaligned", VM_MUNMAP, lambda c: {"addr": c.buf + 1, "len": P}, EINVAL),
    Case("munmap-wraps", VM_MUNMAP, lambda c: {"addr": 0xFFFFF000, "len": 2 * P}, EINVAL),
    Case("munmap-no-region", VM_MUNMAP, lambda c: {"addr": 0x1000, "len": P}, EFAULT),
    # VM_MMAP
    Case("mmap-empty", VM_MMAP, none, EINVAL),
    Case("mmap-unknown-flag", VM_MMAP, mmap(flags=ANON | 0x8000), EINVAL),
    Case("mmap-flag-bit0", VM_MMAP, mmap(flags=ANON | 1), EINVAL),
    Case("mmap-align64k", VM_MMAP, mmap(flags=ANON | MAP_ALIGN64K), EINVAL),
    Case("mmap-unknown-prot", VM_MMAP, mmap(prot=0x100), EINVAL),
    Case("mmap-negative-prot", VM_MMAP, mmap(prot=-1), EINVAL),
    Case("mmap-fd", VM_MMAP, mmap(fd=0), EINVAL),
    Case("mmap-len-max", VM_MMAP, mmap(len=0xFFFFFFFF), ENOMEM),
    Case("mmap-fixed-wraps", VM_MMAP, mmap(flags=ANON | MAP_FIXED, addr=0xFFFFF000, len=2 * P),
         ENOMEM),
    Case("mmap-fixed-kernel", VM_MMAP, mmap(flags=ANON | MAP_FIXED, addr=0), ENOMEM),
    Case("mmap-thirdparty", VM_MMAP, mmap(flags=ANON | MAP_THIRDPARTY, forwhom=PM_PROC_NR),
         EPERM),
    # VM_MAP_PHYS, VM_UNMAP_PHYS
    Case("map-phys-empty", VM_MAP_PHYS, none, EINVAL),
    Case("map-phys-negative", VM_MAP_PHYS, lambda c: {"endpoint": SELF, "phys": 0x100000,
                                                      "len": -P}, EINVAL),
    Case("map-phys-past-ram", VM_MAP_PHYS, lambda c: {"endpoint": SELF, "phys": 0xFFFFF000,
                                                      "len": 2**31 - 1}, EINVAL),
    Case("unmap-phys-empty", VM_UNMAP_PHYS, none, EINVAL),
    Case("unmap-phys-ordinary", VM_UNMAP_PHYS, lambda c: {"endpoint": SELF, "addr": c.buf},
         EINVAL),
    # the yielded-block cache
    Case("ygb-empty", VM_YIELDBLOCKGETBLOCK, none, EINVAL),
    Case("ygb-negative", VM_YIELDBLOCKGETBLOCK, lambda c: {"vaddr": c.buf, "len": -P}, EINVAL),
    Case("ygb-unaligned", VM_YIELDBLOCKGETBLOCK, lambda c: {"vaddr": c.buf + 8, "len": P},
         EINVAL),
    Case("ygb-no-region", VM_YIELDBLOCKGETBLOCK,
         lambda c: {"vaddr": 0xFFFFF000, "len": P, "yieldid_lo": 1, **NO_GET}, ESRCH),
    Case("ygb-unknown-get", VM_YIELDBLOCKGETBLOCK,
         lambda c: {"vaddr": c.buf, "len": P, **NO_YIELD, "getid_lo": 77}, ESRCH),
    Case("forget-unknown", VM_FORGETBLOCK, lambda c: {"id_lo": 12345}, OK),
    Case("forget-none", VM_FORGETBLOCK, lambda c: {"id_hi": -1, "id_lo": -1}, OK),
    Case("forget-all", VM_FORGETBLOCKS, none, OK),
    # shared memory and page queries
    Case("remap-empty", VM_REMAP, none, EINVAL),
    Case("remap-negative", VM_REMAP, lambda c: {"destination": SELF, "source": SELF,
                                                "src_addr": c.buf, "size": -P}, EINVAL),
    Case("remap-no-region", VM_REMAP, lambda c: {"destination": SELF, "source": SELF,
                                                 "src_addr": 0xFFFFF000, "size": P}, EINVAL),
    Case("remap-private", VM_REMAP, lambda c: {"destination": SELF, "source": SELF,
                                               "src_addr": c.buf, "size": 2 * P}, EFAULT),
    Case("shm-unmap-empty", VM_SHM_UNMAP, none, EFAULT),
    Case("shm-unmap-private", VM_SHM_UNMAP, lambda c: {"endpoint": SELF, "addr": c.buf}, EFAULT),
    Case("getphys-empty", VM_GETPHYS, none, EINVAL),
    Case("getphys-top", VM_GETPHYS, lambda c: {"endpoint": SELF, "addr": 0xFFFFFFFF}, EINVAL),
    Case("getref-empty", VM_GETREF, none, EINVAL),
    # VM_INFO
    Case("info-empty", VM_INFO, none, EINVAL),
    Case("info-bad-what", VM_INFO, lambda c: {"what": 99, "ptr": c.buf}, EINVAL),
    Case("info-negative-what", VM_INFO, lambda c: {"what": -1, "ptr": c.buf}, EINVAL),
    Case("info-null-buffer", VM_INFO, lambda c: {"what": VMIW_STATS}, EFAULT),
    Case("info-top-buffer", VM_INFO, lambda c: {"what": VMIW_STATS, "ptr": 0xFFFFFFF8}, EFAULT),
    Case("info-read-only-buffer", VM_INFO, lambda c: {"what": VMIW_USAGE, "endpoint": SELF,
                                                      "ptr": c.ro_buf}, EFAULT),
    Case("info-buffer-partly-read-only", VM_INFO,
         lambda c: {"what": VMIW_REGION, "endpoint": SELF, "count": 64, "ptr": c.ro_buf + P - 8},
         EFAULT),
    Case("info-zero-count", VM_INFO, lambda c: {"what": VMIW_REGION, "endpoint": SELF,
                                                "ptr": c.buf}, EINVAL),
    Case("info-negative-count", VM_INFO, lambda c: {"what": VMIW_REGION, "endpoint": SELF,
                                                    "count": -5, "ptr": c.buf}, EINVAL),
    # PM's calls (the test process is given PM's rights)
    Case("exit-empty", VM_EXIT, none, EINVAL),
    Case("exit-vm", VM_EXIT, lambda c: {"endpoint": VM_PROC_NR}, EINVAL),
    Case("willexit-vm", VM_WILLEXIT, lambda c: {"endpoint": VM_PROC_NR}, EINVAL),
    Case("willexit-self", VM_WILLEXIT, lambda c: {"endpoint": SELF}, EINVAL),
    Case("fork-empty", VM_FORK, none, EINVAL),
    Case("fork-vm", VM_FORK, lambda c: {"parent": VM_PROC_NR, "slot": 200}, EINVAL),
    Case("fork-negative-slot", VM_FORK, lambda c: {"parent": c.endpoint, "slot": -1}, EINVAL),
    Case("fork-slot-past-table", VM_FORK, lambda c: {"parent": c.endpoint, "slot": NR_PROCS},
         EINVAL),
    Case("fork-huge-slot", VM_FORK, lambda c: {"parent": c.endpoint, "slot": 2**31 - 1},
         EINVAL),
    Case("brk-empty", VM_BRK, none, ENOMEM),
    Case("brk-vm", VM_BRK, lambda c: {"endpoint": VM_PROC_NR, "addr": 0x1000, "old": 0x1000},
         EINVAL),
    Case("brk-top", VM_BRK, lambda c: {"endpoint": c.endpoint, "addr": 0xFFFFFFFF,
                                       "old": c.buf + P}, ENOMEM),
    Case("procctl-empty", VM_PROCCTL, none, EINVAL),
    Case("procctl-clear-vm", VM_PROCCTL, lambda c: {"who": VM_PROC_NR, "param": VMPPARAM_CLEAR},
         EINVAL),
    Case("procctl-handlemem-negative", VM_PROCCTL,
         lambda c: {"who": c.endpoint, "param": VMPPARAM_HANDLEMEM, "addr": c.buf, "len": -1},
         EINVAL),
    Case("procctl-handlemem-flags", VM_PROCCTL,
         lambda c: {"who": c.endpoint, "param": VMPPARAM_HANDLEMEM, "addr": c.buf, "len": P,
                    "write": 7}, EINVAL),
    Case("procctl-handlemem-wraps", VM_PROCCTL,
         lambda c: {"who": c.endpoint, "param": VMPPARAM_HANDLEMEM, "addr": 0xFFFFF000,
                    "len": 2 * P}, EFAULT),
    Case("procctl-handlemem-read-only", VM_PROCCTL,
         lambda c: {"who": c.endpoint, "param": VMPPARAM_HANDLEMEM, "addr": c.ro_buf, "len": P,
                    "write": 1}, EFAULT),
    Case("rs-set-priv-vm", VM_RS_SET_PRIV, lambda c: {"endpoint": VM_PROC_NR}, EINVAL),
    # every endpoint field, given an endpoint that names no process
    *(Case(f"{name}-{which}", m_type, ep(which, field=field, **extra), err)
      for which in BAD_ENDPOINTS
      for name, m_type, field, extra, err in [
          ("exit", VM_EXIT, "endpoint", {}, EINVAL),
          ("willexit", VM_WILLEXIT, "endpoint", {}, EINVAL),
          ("fork", VM_FORK, "parent", {"slot": 200}, EINVAL),
          ("brk", VM_BRK, "endpoint", {}, EINVAL),
          ("procctl", VM_PROCCTL, "who", {"param": VMPPARAM_HANDLEMEM}, EINVAL),
          ("rs-set-priv", VM_RS_SET_PRIV, "endpoint", {}, EINVAL),
          ("map-phys", VM_MAP_PHYS, "endpoint", {"phys": 0x100000, "len": P}, EINVAL),
          ("unmap-phys", VM_UNMAP_PHYS, "endpoint", {}, EINVAL),
          ("remap-dst", VM_REMAP, "destination", {"size": P}, EINVAL),
          ("remap-src", VM_REMAP, "source", {"destination": SELF, "size": P}, EINVAL),
          ("shm-unmap", VM_SHM_UNMAP, "endpoint", {}, EINVAL),
          ("getphys", VM_GETPHYS, "endpoint", {}, EINVAL),
          ("getref", VM_GETREF, "endpoint", {}, EINVAL),
          ("info-usage", VM_INFO, "endpoint", {"what": VMIW_USAGE}, EINVAL),
      ]
      if not (which == "vm" and m_type == VM_INFO)),
    # requests VM does not know, and requests outside an ordinary process's rights
    *(Case(f"unknown-{t:#x}", t, none, ENOSYS)
      for t in (0, -1, 1, VM_RQ_BASE + 3, VM_RQ_BASE + 11, VM_RQ_BASE + 46, VM_RQ_BASE + 0xFF,
                VM_RQ_BASE + 0x100, VM_RQ_BASE - 1, 0x1000, 2**31 - 1, -(2**31))),
    *(Case(f"user-{t:#x}", t, none, ENOSYS, privileged=False)
      for t in (VM_EXIT, VM_WILLEXIT, VM_FORK, VM_BRK, VM_PROCCTL, VM_RS_SET_PRIV, VM_REMAP,
                VM_SHM_UNMAP, VM_GETPHYS, VM_GETREF)),
    Case("user-map-phys", VM_MAP_PHYS, lambda c: {"endpoint": SELF, "phys": 0x100000, "len": P},
         EPERM, privileged=False),
    Case("user-uninitialized", VM_MMAP, mmap(flags=ANON | 0x800), EPERM, privileged=False),
]


def send_raw(p: Process, m_type: int, fields: dict[str, int]) -> int:
    """Send a request, built in its layout (a type with none gets the plain
    message), and return the reply's m_type."""
    r, reply = p.sys.sendrec(VM_PROC_NR, Message(m_type, **fields))
    assert r == OK and reply is not None
    return reply.m_type


def start_caller(system: System, privileged: bool) -> tuple[Remote, Caller]:
    stale = system.run(lambda p: p.endpoint)
    remote = Remote.start(system, "caller", service=privileged)
    if privileged:
        vmp = system.vm.proc(remote.endpoint)
        vmp.acl = vmp.acl | frozenset(CALLS)
        vmp.map_phys_ok = True

    def setup(p: Process) -> Caller:
        buf = p.mmap(2 * P)
        p.mem[buf : buf + 2 * P] = b"b" * 2 * P
        ro_buf = p.mmap(P, prot=PROT_READ)
        assert p.mem[ro_buf] == 0
        return Caller(p.endpoint, buf, ro_buf, stale)

    return remote, remote.do(setup)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_malformed_request_gets_an_error_reply(system: System, case: Case) -> None:
    # The servers' own memory grows once, as the first service (RS) and the
    # first program (init) start.
    warm_up = Remote.start(system, "warm-up", service=True)
    warm_up.exit()
    system.run(lambda p: 0)
    system.run_until_idle()
    free = system.statistics().frames_free
    remote, caller = start_caller(system, case.privileged)
    fields = case.fields(caller)
    assert remote.do(lambda p: send_raw(p, case.m_type, fields)) == -case.err
    # VM still answers, and the caller's memory is as it was.
    assert remote.do(lambda p: p.mem[caller.buf : caller.buf + 2 * P]) == b"b" * 2 * P
    assert remote.do(lambda p: p.mmap(P) > 0)
    remote.exit()
    system.run_until_idle()
    system.vm_sanity_check()
    assert system.statistics().frames_free == free, "no frame leaked"
