"""Message passing: send, receive, sendrec, notify, and deadlock detection.

Semantics follow MINIX's proc.c: a send blocks until the destination takes
the message; a receive blocks until a message (or a pending notification)
arrives; sendrec is a send and a receive of the reply as one atomic step
(the caller accepts nothing but the reply, not even a notification);
notify never blocks and coalesces: any number of notifications from one
source before the destination receives arrive as one message.

A message is 36 bytes (``include/ipc.py``); the kernel stamps ``m_source``
and moves the bytes. ``trap`` is MINIX's ``do_ipc`` for a process whose
message lives in its own memory: the kernel copies it in and out through
the process's page tables, without VM (a bad address is EFAULT, as
MINIX's ``delivermsg``).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from minixvm.errors import ECALLDENIED, EDEADSRCDST, EFAULT, ELOCKED, ENOTREADY, ETRAPDENIED, OK
from minixvm.include.com import ANY, NONE, NOTIFY_MESSAGE
from minixvm.include.ipc import MESSAGE_SIZE
from minixvm.kernel.proc import (
    NOTIFY,
    RECEIVE,
    RTS_RECEIVING,
    RTS_SENDING,
    SEND,
    SENDNB,
    SENDREC,
    Proc,
)

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel

_HEADER = struct.Struct("<ii")
_SOURCE = struct.Struct("<i")
_PAYLOAD = bytes(MESSAGE_SIZE - _HEADER.size)


def notify_message(src_e: int) -> bytes:
    """The message a notification from ``src_e`` arrives as."""
    return _HEADER.pack(src_e, NOTIFY_MESSAGE) + _PAYLOAD


class IPC:
    """The kernel's message-passing primitives."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.messages = 0
        self.notifies = 0

    # -- the traps ------------------------------------------------------------

    def send(self, caller: Proc, dst_e: int, m: bytes, nonblock: bool = False) -> int:
        """Deliver ``m`` to ``dst_e``, blocking until it is taken."""
        if r := self._trap_denied(caller, SENDNB if nonblock else SEND):
            return r
        r = self._send(caller, dst_e, m, nonblock=nonblock)
        if r == OK and caller.rts_flags & RTS_SENDING:
            self.k.sched.block(caller)
            r = caller.ipc_result
        return r

    def receive(self, caller: Proc, src_e: int) -> tuple[int, bytes | None]:
        """Wait for a message from ``src_e`` (or ANY)."""
        if r := self._trap_denied(caller, RECEIVE):
            return r, None
        return self._receive(caller, src_e, accept_notify=True)

    def sendrec(self, caller: Proc, dst_e: int, m: bytes) -> tuple[int, bytes | None]:
        """Send ``m`` and wait for the reply from the same process."""
        if r := self._trap_denied(caller, SENDREC):
            return r, None
        caller.request_type = _HEADER.unpack_from(m)[1]
        r = self._send(caller, dst_e, m, nonblock=False)
        if r != OK:
            return r, None
        caller.reply_pending = True
        return self._receive(caller, dst_e, accept_notify=False)

    def notify(self, caller: Proc, dst_e: int) -> int:
        """Post a notification from ``caller``; never blocks."""
        if r := self._trap_denied(caller, NOTIFY):
            return r
        return self.mini_notify(caller, dst_e)

    def _trap_denied(self, caller: Proc, trap: int) -> int:
        return OK if trap in caller.priv.traps else -ETRAPDENIED

    def trap(self, caller: Proc, call: int, endpoint: int, msg_addr: int) -> int:
        """``int $0x21``: IPC trap ``call`` with the message at ``msg_addr`` in
        ``caller``'s memory (MINIX do_ipc). A received message or reply is
        written back there."""
        if call not in (SEND, SENDNB, RECEIVE, SENDREC, NOTIFY) or self._trap_denied(caller, call):
            return -ETRAPDENIED
        if call == NOTIFY:
            return self.notify(caller, endpoint)
        memory = self.k.memory
        # One translation: a send needs the message readable, anything that
        # waits for an answer needs it writable too.
        pieces = memory.msg_pieces(caller, msg_addr, write=call not in (SEND, SENDNB))
        if pieces is None:
            return -EFAULT
        if call in (SEND, SENDNB):
            return self.send(caller, endpoint, memory.gather(pieces), call == SENDNB)
        # Where the answer goes: a fork copies this, and VM makes it writable
        # in parent and child (the reply may land in a copy-on-write page).
        caller.msg_addr = msg_addr
        if call == SENDREC:
            r, reply = self.sendrec(caller, endpoint, memory.gather(pieces))
        else:
            r, reply = self.receive(caller, endpoint)
        return self._delivered(caller, r, reply)

    def complete_trap(self, p: Proc) -> int:
        """The result of the trap a forked CPU child was created inside: its
        copy of the parent's reply, delivered while it had not yet run."""
        reply, p.delivered = p.delivered, None
        return self._delivered(p, p.ipc_result, reply)

    def _delivered(self, p: Proc, r: int, reply: bytes | None) -> int:
        msg_addr, p.msg_addr = p.msg_addr, 0
        if reply is not None and not self.k.memory.msg_write(p, msg_addr, reply):
            return -EFAULT
        return r

    # -- the mechanisms -------------------------------------------------------

    def _send(self, caller: Proc, dst_e: int, m: bytes, nonblock: bool) -> int:
        dst = self.k.procs.isokendpt(dst_e)
        if dst is None:
            return -EDEADSRCDST
        if dst.nr < 0:
            return -ECALLDENIED  # kernel tasks take no messages: kernel calls are a trap
        msg = _SOURCE.pack(caller.endpoint) + m[4:]
        if self._willing(dst, caller):
            self._deliver(dst, msg)
            return OK
        if nonblock:
            return -ENOTREADY
        if self.deadlock(SEND, caller, dst_e):
            return -ELOCKED
        caller.sendmsg = msg
        caller.sendto_e = dst_e
        caller.ipc_result = OK
        dst.caller_q.append(caller)
        self.k.sched.rts_set(caller, RTS_SENDING)
        return OK

    def _willing(self, dst: Proc, src: Proc) -> bool:
        """Is ``dst`` blocked in a receive that accepts a message from ``src``?

        A sendrec caller is not willing while its own message is still queued."""
        return (
            dst.rts_flags & (RTS_RECEIVING | RTS_SENDING) == RTS_RECEIVING
            and dst.getfrom_e in (ANY, src.endpoint)
        )

    def _deliver(self, dst: Proc, msg: bytes) -> None:
        self.messages += 1
        self.k.trace.message(msg, dst)
        dst.delivered = msg
        dst.ipc_result = OK
        dst.getfrom_e = NONE
        dst.reply_pending = False
        self.k.sched.rts_unset(dst, RTS_RECEIVING)

    def _receive(
        self, caller: Proc, src_e: int, accept_notify: bool
    ) -> tuple[int, bytes | None]:
        if src_e != ANY and self.k.procs.isokendpt(src_e) is None:
            return -EDEADSRCDST, None
        if accept_notify and (msg := self._take_notify(caller, src_e)):
            self.k.trace.message(msg, caller)
            return OK, msg
        if sender := self._take_sender(caller, src_e):
            msg = sender.sendmsg
            assert msg is not None
            sender.sendmsg = None
            self.messages += 1
            self.k.trace.message(msg, caller)
            self._sender_done(sender)
            caller.reply_pending = False
            return OK, msg
        if not caller.rts_flags & RTS_SENDING and self.deadlock(RECEIVE, caller, src_e):
            caller.reply_pending = False
            return -ELOCKED, None
        caller.getfrom_e = src_e
        caller.delivered = None
        self.k.sched.rts_set(caller, RTS_RECEIVING)
        self.k.sched.block(caller)
        msg, caller.delivered = caller.delivered, None
        return caller.ipc_result, msg

    def _take_notify(self, caller: Proc, src_e: int) -> bytes | None:
        pending = caller.notify_pending
        if not pending:
            return None
        if src_e == ANY:
            nr = min(pending)
        else:
            src = self.k.procs.isokendpt(src_e)
            if src is None or src.nr not in pending:
                return None
            nr = src.nr
        pending.discard(nr)
        return notify_message(self.k.procs.slot(nr).endpoint)

    def _take_sender(self, caller: Proc, src_e: int) -> Proc | None:
        for sender in caller.caller_q:
            if src_e in (ANY, sender.endpoint):
                caller.caller_q.remove(sender)
                return sender
        return None

    def _sender_done(self, sender: Proc) -> None:
        """The message of a blocked sender was taken; a sendrec caller stays
        blocked receiving (it set RTS_RECEIVING before it blocked)."""
        sender.sendto_e = NONE
        self.k.sched.rts_unset(sender, RTS_SENDING)

    def mini_notify(self, src: Proc, dst_e: int) -> int:
        """Notify ``dst_e`` from ``src`` (a process or a kernel task)."""
        dst = self.k.procs.isokendpt(dst_e)
        if dst is None:
            return -EDEADSRCDST
        if dst.nr < 0:
            return -ECALLDENIED
        self.notifies += 1
        if self._willing(dst, src) and not dst.reply_pending:
            self._deliver(dst, notify_message(src.endpoint))
        else:
            dst.notify_pending.add(src.nr)
        return OK

    def deadlock(self, function: int, caller: Proc, src_dst_e: int) -> int:
        """Size of the cycle of blocked processes ``caller`` would close, or 0.

        A group of two in which one side sends and the other receives is a
        rendezvous, not a deadlock.
        """
        group = 1
        while src_dst_e != ANY:
            xp = self.k.procs.isokendpt(src_dst_e)
            if xp is None:
                return 0
            group += 1
            if xp.rts_flags & RTS_SENDING:
                src_dst_e = xp.sendto_e
            elif xp.rts_flags & RTS_RECEIVING:
                src_dst_e = xp.getfrom_e
            else:
                return 0
            if src_dst_e == caller.endpoint:
                caller_sends = function == SEND
                xp_sends = bool(xp.rts_flags & RTS_SENDING)
                if group == 2 and caller_sends != xp_sends:
                    return 0
                return group
        return 0

    # -- process death ----------------------------------------------------------

    def clear(self, p: Proc) -> None:
        """Undo every IPC relation of a process that is going away."""
        sched = self.k.sched
        if p.rts_flags & RTS_SENDING:
            dst = self.k.procs.isokendpt(p.sendto_e)
            if dst is not None and p in dst.caller_q:
                dst.caller_q.remove(p)
        for q in list(p.caller_q):
            self._fail(q)
        p.caller_q.clear()
        p.notify_pending.clear()
        for q in self.k.procs.live():
            q.notify_pending.discard(p.nr)
            if q.rts_flags & RTS_RECEIVING and q.getfrom_e == p.endpoint:
                self._fail(q)
        p.sendmsg = p.delivered = None
        p.sendto_e = p.getfrom_e = NONE
        p.reply_pending = False
        sched.rts_unset(p, RTS_SENDING | RTS_RECEIVING)

    def _fail(self, q: Proc) -> None:
        q.ipc_result = -EDEADSRCDST
        q.sendmsg = q.delivered = None
        q.sendto_e = q.getfrom_e = NONE
        q.reply_pending = False
        self.k.sched.rts_unset(q, RTS_SENDING | RTS_RECEIVING)

