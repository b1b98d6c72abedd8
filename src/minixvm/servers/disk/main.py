"""The block driver of the root disk (skeleton: every request is ENOSYS)."""

from __future__ import annotations

import os

from minixvm.errors import ENOSYS, OK
from minixvm.include.ipc import Message
from minixvm.lib.sys import SysLib

# What the disk holds: a host image file, or the bytes of an image in memory.
Media = str | os.PathLike[str] | bytearray


class Disk:
    def __init__(self, sys: SysLib, media: Media | None) -> None:
        self.sys = sys
        self.media = media

    def main(self) -> None:
        while True:
            r, m = self.sys.receive()
            if r != OK or m is None or m.m_source < 0:
                continue
            self.sys.sendnb(m.m_source, Message(-ENOSYS))
