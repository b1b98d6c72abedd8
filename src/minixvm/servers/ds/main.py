"""The data store server: its request loop, its memory, and its key buffer.

DS serves DS_PUBLISH, DS_RETRIEVE, DS_SUBSCRIBE, DS_CHECK, DS_DELETE,
DS_SNAPSHOT and DS_RETRIEVE_LABEL (MINIX servers/ds). Keys and values
reach it through grants: a key is copied into a buffer in DS's own memory
before it is read; strings live in a pool in DS's memory, memory values in
buffers DS maps for them, and mapped ranges are safemapped into DS. A
caller is known by its label (a LABEL entry): DS registers the boot
processes' labels when it starts, init publishes the label of each
service it starts. A client's bad request gets an error reply, never a
crash; only DS's own broken invariants panic.
"""

from __future__ import annotations

from typing import Any, NoReturn

from minixvm.errors import EINVAL, ENOMEM, OK, RequestError
from minixvm.include.ds import DS_MAX_KEYLEN, DS_MAX_STRLEN, DSF_KNOWN, NR_DS_KEYS, DsRequest
from minixvm.include.ipc import Message
from minixvm.include.vm import VM_MUNMAP
from minixvm.lib.sys import SysLib
from minixvm.servers.ds.calls import CALLS, map_service
from minixvm.servers.ds.request import check, page_ceil
from minixvm.servers.ds.store import Store


class DS:
    """The data store."""

    def __init__(self, sys: SysLib) -> None:
        self.sys = sys
        self.store = Store()
        self.keybuf = 0  # where keys are copied in and out
        self.strings = 0  # the string pool: DS_MAX_STRLEN bytes per slot

    def main(self) -> None:
        """Set up, then serve requests forever."""
        self.init()
        while True:
            r, m = self.sys.receive()
            if r != OK or m is None:
                continue
            m.m_type = self.result(m)
            # Non-blocking: a caller that does not wait for its reply cannot stall DS.
            self.sys.sendnb(m.m_source, m)

    def result(self, m: Message) -> int:
        """Serve request ``m`` (setting its reply fields): OK or -errno."""
        try:
            return self.dispatch(m)
        except RequestError as e:
            return -e.errno

    def dispatch(self, m: Message) -> int:
        """The handler of ``m``'s type, after the checks every request gets.

        A notification is only ever made by the kernel, and nothing makes
        one for DS: a NOTIFY_MESSAGE is a user's send, forged, and gets
        EINVAL like any type DS does not serve (MINIX DS answers both so).
        """
        handler = CALLS.get(m.m_type)
        if handler is None or not isinstance(m, DsRequest) or m.flags & ~DSF_KNOWN:
            raise RequestError(EINVAL)
        return handler(self, m)

    def init(self) -> None:
        """Map DS's buffers and register the boot processes' labels."""
        self.keybuf = self.must_alloc(DS_MAX_KEYLEN)
        self.strings = self.must_alloc(NR_DS_KEYS * DS_MAX_STRLEN)
        for b in self.sys.sys_getkinfo().boot_procs:
            # A boot process's endpoint is its slot (generation 0).
            map_service(self, b.name, b.slot)

    # -- keys -------------------------------------------------------------------------

    def get_key_name(self, m: DsRequest) -> str:
        """The key (or regex) of request ``m``, copied in through its key grant:
        2..DS_MAX_KEYLEN bytes including the NUL, a non-empty UTF-8 string."""
        n = key_length(m)
        check(self.sys.sys_safecopyfrom(m.m_source, m.key_grant, 0, self.keybuf, n))
        raw = self.sys.mem_read(self.keybuf, n)
        end = raw.find(b"\0")
        if end <= 0:
            raise RequestError(EINVAL)
        try:
            return raw[:end].decode()
        except UnicodeDecodeError:
            raise RequestError(EINVAL) from None

    def put_key_name(self, m: DsRequest, key: str) -> None:
        """Copy ``key`` and its NUL out through the caller's key grant, whose
        ``key_len`` bytes must hold them."""
        data = key.encode() + b"\0"
        if len(data) > key_length(m):
            raise RequestError(EINVAL)
        self.sys.mem_write(self.keybuf, data)
        check(self.sys.sys_safecopyto(m.m_source, m.key_grant, 0, self.keybuf, len(data)))

    # -- memory -----------------------------------------------------------------------

    def alloc(self, length: int) -> int:
        """Map ``length`` bytes (whole pages) of fresh memory in DS; ENOMEM if VM cannot."""
        addr = self.sys.minix_mmap(page_ceil(length))
        if addr < 0:
            raise RequestError(ENOMEM)
        return addr

    def must_alloc(self, length: int) -> int:
        """``alloc`` for DS's own buffers: failing is a panic."""
        try:
            return self.alloc(length)
        except RequestError:
            self.panic("cannot map %d bytes", length)

    def free(self, addr: int, length: int) -> None:
        """Unmap memory ``alloc`` gave."""
        r = self.sys.vm_call(VM_MUNMAP, addr=addr, len=page_ceil(length)).m_type
        if r != OK:
            self.panic("munmap of %#x failed: %d", addr, r)

    # -- who is who -------------------------------------------------------------------

    def label(self, endpoint: int, errno: int) -> str:
        """The label of ``endpoint``; the request fails with ``errno`` if it has none."""
        name = self.store.procname(endpoint)
        if name is None:
            raise RequestError(errno)
        return name

    def endpoint(self, label: str) -> int:
        """The endpoint of an owner's label (every owner has a label entry)."""
        ep = self.store.procep(label)
        if ep is None:
            self.panic("owner %s has no label entry", label)
        return ep

    def panic(self, fmt: str, *args: Any) -> NoReturn:
        """DS's own invariant is broken: panic (the process exits)."""
        self.sys.panic(fmt, *args)
        raise AssertionError("panic returned")


def key_length(m: DsRequest) -> int:
    """The request's key length: 2..DS_MAX_KEYLEN (a character and the NUL), else EINVAL."""
    n = m.key_len
    if not 2 <= n <= DS_MAX_KEYLEN:
        raise RequestError(EINVAL)
    return n
