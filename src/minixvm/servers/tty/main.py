"""The console driver: DEV_WRITE requests, data fetched through a grant.

Output goes to the System's console. The bytes are copied into TTY's own
memory with safecopy before they are shown, as a real driver copies them
into its output queue. Every request gets an answer: the bytes written,
or an error (a bad grant's safecopy error, ENXIO for a minor other than
the console's, EINVAL for anything else).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable

from minixvm.errors import EINVAL, ENXIO, OK
from minixvm.include.dev import CONSOLE_MINOR, DEV_WRITE, DevIo
from minixvm.include.ipc import Message
from minixvm.lib.sys import SysLib

BUF_SIZE = 4096


class TTY:
    """The console."""

    def __init__(self, sys: SysLib, console: Callable[[str], None]) -> None:
        self.sys = sys
        self.console = console
        self.buf = 0
        # Writers whose last write ended inside a character.
        self.decoders: dict[int, codecs.IncrementalDecoder] = {}

    def main(self) -> None:
        # Its buffer, allocated now: the console works on a full memory.
        self.buf = self.sys.minix_mmap(BUF_SIZE)
        if self.buf < 0:
            self.sys.panic("no memory for the console buffer: %d", self.buf)
        while True:
            r, m = self.sys.receive()
            # Kernel tasks send only notifications, and those take no reply.
            if r != OK or m is None or m.m_source < 0:
                continue
            result = self.do_write(DevIo.view(m.buf)) if m.m_type == DEV_WRITE else -EINVAL
            self.sys.sendnb(m.m_source, Message(result))

    def do_write(self, m: DevIo) -> int:
        """Copy ``m.count`` bytes from the caller's grant and show them."""
        if m.minor != CONSOLE_MINOR:
            return -ENXIO
        if m.count < 0:
            return -EINVAL
        done = 0
        while done < m.count:
            n = min(BUF_SIZE, m.count - done)
            r = self.sys.sys_safecopyfrom(m.m_source, m.grant, done, self.buf, n)
            if r != OK:
                return r
            self.show(m.endpt or m.m_source, self.sys.mem_read(self.buf, n))
            done += n
        return done

    def show(self, writer: int, data: bytes) -> None:
        """Put ``writer``'s bytes on the console. Text is decoded per writer and
        incrementally, so a character split across two writes stays whole; a
        decoder is kept only while it holds the start of one."""
        decoder = self.decoders.pop(writer, None) or codecs.getincrementaldecoder("utf-8")(
            errors="replace")
        self.console(decoder.decode(data))
        if decoder.getstate()[0]:
            self.decoders[writer] = decoder
