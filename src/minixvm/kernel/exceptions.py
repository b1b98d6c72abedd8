"""How a kernel call's handler waits for VM (an error is errors.RequestError)."""

from __future__ import annotations


class VMSuspend(Exception):
    """The call touched memory that VM must first make present (MINIX's
    VMSUSPEND): the caller is suspended, VM handles [addr, addr+length) of
    ``target``, and the call restarts from the beginning."""

    def __init__(
        self, req_type: int, target: int, addr: int, length: int, write: bool,
        ep2: int = 0, addr2: int = 0,
    ) -> None:
        super().__init__(req_type, target, addr, length, write)
        self.req_type = req_type
        self.target = target
        self.addr = addr
        self.length = length
        self.write = write
        self.ep2 = ep2
        self.addr2 = addr2
