"""MFS, the MINIX v3 file system server (skeleton: every request is ENOSYS)."""

from __future__ import annotations

from dataclasses import dataclass

from minixvm.errors import ENOSYS, OK
from minixvm.include.ipc import Message
from minixvm.lib.sys import SysLib


@dataclass(frozen=True)
class MfsOptions:
    cache_blocks: int | None = None  # MFS's own buffers (None: MINIX's heuristic)
    vm_cache: bool = True  # yield evicted blocks to VM (f78d8e74f)


class MFS:
    def __init__(self, sys: SysLib, options: MfsOptions) -> None:
        self.sys = sys
        self.options = options

    def main(self) -> None:
        while True:
            r, m = self.sys.receive()
            if r != OK or m is None or m.m_source < 0:
                continue
            self.sys.sendnb(m.m_source, Message(-ENOSYS))
